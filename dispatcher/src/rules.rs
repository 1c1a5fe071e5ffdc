//! The rules in force, swappable while the engine runs: a configuration reload (SIGHUP or a
//! changed file) replaces them between two batches, never during one.

use hotline_core::rules::Rules;
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct RulesHandle(Arc<RwLock<Arc<Rules>>>);

impl RulesHandle {
    pub fn new(rules: Rules) -> RulesHandle {
        RulesHandle(Arc::new(RwLock::new(Arc::new(rules))))
    }

    /// The rules for the next batch.
    pub fn current(&self) -> Arc<Rules> {
        self.0.read().expect("rules lock").clone()
    }

    pub fn replace(&self, rules: Rules) {
        *self.0.write().expect("rules lock") = Arc::new(rules);
    }
}
