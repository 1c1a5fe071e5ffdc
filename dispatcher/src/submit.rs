//! The submit path: events in, outcomes out, whatever the transport. The AMQP intake and
//! `POST /api/events` both hand their messages here, so an event has the same effect
//! however it came, and one policy decides what a failure costs:
//!
//! - a **conflict** with a concurrent writer or an **unavailable** database: the whole
//!   batch again after a growing pause, for as long as the caller's [`Patience`] lasts;
//!   then [`SubmitError::NotCommitted`] (nothing was committed: acknowledge nothing);
//! - a **defect** (the database refuses the input for good): the batch is split in
//!   halves until the refused delivery stands alone, and that one is dead-lettered as
//!   `unprocessable`, so that it can never block the queue.

use crate::rules::RulesHandle;
use hotline_core::decide::{self, Incoming, Outcome};
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_store::{BatchTx, PgPool, StoreError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// How long a caller waits for the database before giving up on a batch.
#[derive(Clone, Copy)]
pub enum Patience<'a> {
    /// As long as it takes, until shutdown: the AMQP intake (the broker keeps what was not
    /// acknowledged and delivers it again).
    UntilShutdown(&'a CancellationToken),
    /// Until an instant: an HTTP request, answered 503 after it.
    Until(Instant),
}

impl Patience<'_> {
    /// Sleeps `pause` unless patience runs out first; `false` when it has.
    async fn wait(&self, pause: Duration) -> bool {
        match self {
            Patience::UntilShutdown(shutdown) => tokio::select! {
                _ = shutdown.cancelled() => false,
                _ = tokio::time::sleep(pause) => true,
            },
            Patience::Until(deadline) => {
                if Instant::now() + pause > *deadline {
                    return false;
                }
                tokio::time::sleep(pause).await;
                true
            }
        }
    }
}

/// Why a batch was not committed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The database stayed unavailable or contended past the caller's patience, or refused
    /// even the dead letter: nothing was committed. Acknowledge nothing; the sender's
    /// retry (same `event_id`) is safe.
    #[error("not committed: {0}")]
    NotCommitted(StoreError),
}

/// Applies batches of inbound events to the database with the rules in force.
#[derive(Clone)]
pub struct Submitter {
    pub pool: PgPool,
    pub rules: RulesHandle,
}

impl Submitter {
    /// Applies `batch` in one transaction if it can, one by one if it must; one outcome
    /// per delivery, in order.
    pub async fn submit(
        &self,
        batch: &[Incoming],
        patience: Patience<'_>,
    ) -> Result<Vec<Outcome>, SubmitError> {
        match self.retrying(batch, patience).await {
            Ok(outcomes) => Ok(outcomes),
            Err(StoreError::Defect(reason)) if batch.len() > 1 => {
                // Halves until the deliveries the database refuses stand alone: one bad
                // delivery among n costs about 2·log2(n) transactions, not n.
                tracing::error!(%reason, size = batch.len(), "batch refused; splitting it");
                let (first, second) = batch.split_at(batch.len() / 2);
                let mut outcomes = Box::pin(self.submit(first, patience)).await?;
                outcomes.extend(Box::pin(self.submit(second, patience)).await?);
                Ok(outcomes)
            }
            Err(StoreError::Defect(_)) => self
                .submit_alone(&batch[0], patience)
                .await
                .map(|o| vec![o]),
            Err(err) => Err(SubmitError::NotCommitted(err)),
        }
    }

    /// One delivery alone; dead-lettered as `unprocessable` if the database refuses it.
    async fn submit_alone(
        &self,
        item: &Incoming,
        patience: Patience<'_>,
    ) -> Result<Outcome, SubmitError> {
        let single = std::slice::from_ref(item);
        match self.retrying(single, patience).await {
            Ok(mut outcomes) => Ok(outcomes.remove(0)),
            Err(StoreError::Defect(reason)) => {
                tracing::error!(%reason, r#type = item.type_label(), "event refused by the database; dead-lettering it");
                let dead = item.refused(Rejection::new(
                    RejectCode::Unprocessable,
                    format!("the database refused it: {reason}"),
                ));
                let mut outcomes = self
                    .retrying(std::slice::from_ref(&dead), patience)
                    .await
                    .map_err(SubmitError::NotCommitted)?;
                Ok(outcomes.remove(0))
            }
            Err(err) => Err(SubmitError::NotCommitted(err)),
        }
    }

    /// [`Self::apply_once`] again after conflicts and outages, while patience lasts.
    async fn retrying(
        &self,
        batch: &[Incoming],
        patience: Patience<'_>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut pause = FIRST_PAUSE;
        loop {
            match self.apply_once(batch).await {
                Err(err @ (StoreError::Conflict(_) | StoreError::Unavailable(_))) => {
                    tracing::warn!(error = %err, size = batch.len(), retry_in = ?pause, "batch not committed; retrying");
                    if !patience.wait(pause).await {
                        return Err(err);
                    }
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                done => return done,
            }
        }
    }

    /// Claim → load → decide → write, in one transaction.
    async fn apply_once(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        let rules = self.rules.current();
        let mut tx = BatchTx::begin(&self.pool).await?;
        let keys: Vec<&str> = batch
            .iter()
            .filter_map(|i| i.idempotency_key.as_deref())
            .collect();
        let claimed = tx.claim(&keys).await?;
        let fresh = decide::freshness(batch, &claimed);
        let wanted = decide::wanted(&rules, batch, &fresh, tx.now());
        let loaded = tx.load(&wanted, rules.duplicate_window).await?;
        let decided = decide::decide(&rules, batch, &fresh, loaded, tx.now());
        tx.write(&decided).await?;
        tx.commit().await?;
        Ok(decided.outcomes)
    }
}
