//! The rules every decision needs, built once from a configuration: the routing table, the
//! SLA clock and the limits.

use crate::config::{Config, Department, Limit, Matter, ServicePoint};
use crate::order::Order;
use crate::routing::Router;
use crate::sla::SlaClock;
use hotline_schema::values::Urgency;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// What the catalog offers the people who pick from it (departments, districts, matters
/// and their limits, service points), as the configuration in force defines it.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub departments: Vec<Department>,
    /// District name → the code of its district bureau.
    pub districts: Vec<(String, String)>,
    pub matters: Vec<Matter>,
    pub service_points: Vec<ServicePoint>,
}

impl Catalog {
    /// The department of this code, if the catalog has one.
    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }

    /// The matter of this code, if the catalog has one.
    pub fn matter(&self, code: &str) -> Option<&Matter> {
        self.matters.iter().find(|m| m.code == code)
    }
}

#[derive(Debug, Clone)]
pub struct Rules {
    pub router: Router,
    pub clock: SlaClock,
    /// The most extra working days one extension may grant.
    pub max_extension_days: u32,
    /// Reports of the same matter, place and phone within this window are merged.
    pub duplicate_window: Duration,
    /// The service points appointments may name.
    pub service_points: HashSet<String>,
    pub catalog: Arc<Catalog>,
    /// Whether returns wait for an operator's review (`[routing] return_review`).
    pub return_review: bool,
    /// Returns later than this after the dispatch are refused (`[routing] return_window`).
    pub return_window: Limit,
    /// Dissatisfied ratings may be appealed within this of the callback.
    pub appeal_window: Limit,
    /// Matter code → the departments that co-handle its orders.
    pub co_departments: HashMap<String, Vec<String>>,
    /// The calendar's version, stamped on every order whose deadlines it computes.
    pub calendar_version: String,
}

impl Rules {
    /// The sign limit of an order of this matter (as recognised), urgency and statutory
    /// limit ([`SlaClock::sign_limit`]), the matter's own limit read from the catalog in
    /// force.
    pub fn sign_limit(&self, matter: Option<&str>, urgency: Urgency, statutory: Limit) -> Limit {
        let own = matter
            .and_then(|code| self.catalog.matter(code))
            .and_then(|m| m.sign_limit);
        self.clock.sign_limit(statutory, urgency, own)
    }

    /// [`Rules::sign_limit`] of an order: the same for as long as the catalog keeps its
    /// matter's limit.
    pub fn sign_limit_of(&self, order: &Order) -> Limit {
        let matter = order.matter.as_ref().map(|m| m.code.as_str());
        self.sign_limit(matter, order.report.urgency, order.statutory_limit)
    }

    pub fn new(config: &Config) -> Rules {
        Rules {
            router: Router::new(config),
            clock: SlaClock::from_config(config),
            max_extension_days: config.sla.max_extension_days,
            duplicate_window: config.routing.duplicate_window,
            service_points: config
                .service_points
                .iter()
                .map(|p| p.code.clone())
                .collect(),
            return_review: config.routing.return_review,
            return_window: config.routing.return_window,
            appeal_window: config.kpi.appeal_window,
            co_departments: config.co_departments_by_matter(),
            calendar_version: config.calendar.version(),
            catalog: Arc::new(Catalog {
                departments: config.departments.clone(),
                districts: config.districts.clone(),
                matters: config.matters.clone(),
                service_points: config.service_points.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TEST_CATALOG;

    #[test]
    fn an_orders_sign_limit_is_its_matters_own_where_the_catalog_gives_one() {
        let text = TEST_CATALOG.replace(
            "statutory_limit = \"1m\"\n",
            "statutory_limit = \"1m\"\nsign_limit = \"10m\"\n",
        );
        let rules = Rules::new(&Config::parse(&text, "t.toml").unwrap());
        let minutes = |m: u64| Limit::Natural(Duration::from_secs(m * 60));
        // (matter, statutory limit, sign limit)
        let cases = [
            (Some("JJ-0001"), minutes(1), minutes(10)),
            (
                Some("SC-0101"),
                Limit::WorkingDays(5),
                Limit::WorkingDays(1),
            ),
            // Not in the catalog (or none recognised): by its class.
            (Some("NO-SUCH"), minutes(240), minutes(30)),
            (None, Limit::WorkingDays(15), Limit::WorkingDays(1)),
        ];
        for (matter, statutory, want) in cases {
            assert_eq!(
                rules.sign_limit(matter, Urgency::Normal, statutory),
                want,
                "{matter:?}"
            );
        }
    }
}
