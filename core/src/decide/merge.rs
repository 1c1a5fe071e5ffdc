//! Duplicate reports (重复件): the same matter at the same address from the same phone
//! within `[routing] duplicate_window` is merged into the first open order, not dispatched
//! again.

use crate::order::Order;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// The key under which duplicate reports are recognised: (matter, address, phone).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MergeKey {
    matter: String,
    address: String,
    phone: String,
}

impl MergeKey {
    /// The key under which a later report of the same matter, place and phone is merged
    /// into `order` (重复件); `None` without a matter, a place or a phone. (Here, not on
    /// `Order`: the work order knows nothing of the batch decision that merges.)
    pub fn of_order(order: &Order) -> Option<MergeKey> {
        MergeKey::of(
            order.matter.as_ref().map(|m| m.code.as_str()),
            order.report.address.as_deref(),
            order.report.citizen.phone.as_deref(),
        )
    }

    /// Same matter, same address (ignoring white space), same phone; `None` when any of
    /// them is unknown, so that reports without a place or a phone are never merged.
    pub fn of(
        matter: Option<&str>,
        address: Option<&str>,
        phone: Option<&str>,
    ) -> Option<MergeKey> {
        let address: String = address?.chars().filter(|c| !c.is_whitespace()).collect();
        let phone = phone?.trim();
        if address.is_empty() || phone.is_empty() {
            return None;
        }
        Some(MergeKey {
            matter: matter?.to_owned(),
            address,
            phone: phone.to_owned(),
        })
    }
}

impl MergeKey {
    /// The key as the store indexes it: SHA-256 of `<bytes of matter>:<matter><address>`
    /// `\n<phone>` (the address holds no white space, so the parts cannot run into each
    /// other). `store/migrations/0030_duplicate_key.sql` computes the same digest in SQL
    /// for the orders written before the column existed.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(format!("{}:", self.matter.len()).as_bytes());
        hasher.update(self.matter.as_bytes());
        hasher.update(self.address.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.phone.as_bytes());
        hasher.finalize().into()
    }
}

/// An open, unmerged order a new report may be merged into, as the store found it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeCandidate {
    pub order_no: String,
    pub matter_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// The first open order per key, and the window within which a report joins it.
#[derive(Debug, Clone, Default)]
pub struct MergeTargets {
    first: HashMap<MergeKey, (String, DateTime<Utc>)>,
    window: TimeDelta,
}

impl MergeTargets {
    /// From candidates in any order: the earliest received wins a key.
    pub fn new(mut candidates: Vec<MergeCandidate>, window: Duration) -> MergeTargets {
        candidates.sort_by_key(|c| c.received_at);
        let mut targets = MergeTargets {
            first: HashMap::new(),
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
        };
        for c in candidates {
            let key = MergeKey::of(
                c.matter_code.as_deref(),
                c.address.as_deref(),
                c.phone.as_deref(),
            );
            if let Some(key) = key {
                targets
                    .first
                    .entry(key)
                    .or_insert((c.order_no, c.received_at));
            }
        }
        targets
    }

    /// The order a report with `key`, received at `received_at`, is a duplicate of.
    pub fn duplicate_of(&self, key: &MergeKey, received_at: DateTime<Utc>) -> Option<&str> {
        self.first
            .get(key)
            .filter(|(_, first_at)| received_at - *first_at <= self.window)
            .map(|(first, _)| first.as_str())
    }

    /// Records a new order as the first of its key (for later reports in the same batch).
    pub fn remember(&mut self, key: MergeKey, order_no: &str, received_at: DateTime<Utc>) {
        self.first
            .entry(key)
            .or_insert_with(|| (order_no.to_owned(), received_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn candidate(no: &str, address: &str, phone: &str, at: &str) -> MergeCandidate {
        MergeCandidate {
            order_no: no.into(),
            matter_code: Some("SC-0101".into()),
            address: Some(address.into()),
            phone: Some(phone.into()),
            received_at: t(at),
        }
    }

    #[test]
    fn keys_ignore_white_space_and_need_every_part() {
        let key = |m, a, p| MergeKey::of(m, a, p);
        assert_eq!(
            key(Some("SC-0101"), Some("海坛 大道 1 号"), Some(" 139 ")),
            key(Some("SC-0101"), Some("海坛大道1号"), Some("139"))
        );
        assert_ne!(
            key(Some("SC-0101"), Some("海坛大道1号"), Some("139")),
            key(Some("YB-0101"), Some("海坛大道1号"), Some("139"))
        );
        for (m, a, p) in [
            (None, Some("x"), Some("1")),
            (Some("m"), None, Some("1")),
            (Some("m"), Some("  "), Some("1")),
            (Some("m"), Some("x"), None),
            (Some("m"), Some("x"), Some(" ")),
        ] {
            assert_eq!(key(m, a, p), None, "{m:?} {a:?} {p:?}");
        }
    }

    #[test]
    fn the_digest_is_the_key_and_nothing_else() {
        let digest = |m, a, p| MergeKey::of(Some(m), Some(a), Some(p)).unwrap().digest();
        // The SQL of migration 0030 gives this for ('SC-0101', '海坛大道1号', '139'):
        // sha256('7:SC-0101海坛大道1号' || E'\n' || '139').
        let expected: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest("7:SC-0101海坛大道1号\n139".as_bytes()).into()
        };
        assert_eq!(
            digest("SC-0101", "海坛 大道\u{3000}1 号", " 139\t"),
            expected
        );
        // Parts never run into each other.
        assert_ne!(
            digest("SC-0101", "1号", "139"),
            digest("SC-01011", "号", "139")
        );
        assert_ne!(digest("SC-0101", "海坛大道1", "号139"), expected);
    }

    #[test]
    fn the_earliest_open_order_within_the_window_is_the_target() {
        let window = Duration::from_secs(24 * 3600);
        let targets = MergeTargets::new(
            vec![
                candidate("LATER", "海坛大道1号", "139", "2026-11-25T12:00:00+08:00"),
                candidate("FIRST", "海坛大道1号", "139", "2026-11-25T09:00:00+08:00"),
                candidate("OTHER", "海坛大道2号", "139", "2026-11-25T08:00:00+08:00"),
            ],
            window,
        );
        let key = MergeKey::of(Some("SC-0101"), Some("海坛大道1号"), Some("139")).unwrap();
        // (received at, duplicate of)
        let cases = [
            ("2026-11-25T18:00:00+08:00", Some("FIRST")),
            ("2026-11-26T09:00:00+08:00", Some("FIRST")),
            ("2026-11-26T09:00:01+08:00", None),
        ];
        for (at, expected) in cases {
            assert_eq!(targets.duplicate_of(&key, t(at)), expected, "{at}");
        }
        let elsewhere = MergeKey::of(Some("SC-0101"), Some("海坛大道3号"), Some("139")).unwrap();
        assert_eq!(
            targets.duplicate_of(&elsewhere, t("2026-11-25T10:00:00+08:00")),
            None
        );
    }

    #[test]
    fn a_new_order_becomes_the_target_of_later_reports_in_the_batch() {
        let mut targets = MergeTargets::new(vec![], Duration::from_secs(3600));
        let key = MergeKey::of(Some("SC-0101"), Some("x"), Some("1")).unwrap();
        let at = t("2026-11-25T10:00:00+08:00");
        assert_eq!(targets.duplicate_of(&key, at), None);
        targets.remember(key.clone(), "NEW", at);
        targets.remember(key.clone(), "NEWER", at);
        assert_eq!(targets.duplicate_of(&key, at), Some("NEW"));
    }
}
