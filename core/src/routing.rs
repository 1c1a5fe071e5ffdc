//! Routing: which one department answers for a case, and by which rule. Pure and IO-free.
//!
//! The rules, tried in order (the common practice of 12345 centres):
//! 1. catalogue: the matter code names the responsible department (派单目录);
//! 2. jurisdiction: `@district` matters go to the district bureau of the order's place, or
//!    to the configured fallback when the place is unknown (属地);
//! 3. keywords on title, then content, for orders filed without a known code;
//! 4. anything else goes to the operators' manual-dispatch desk.
//!
//! Every decision carries the name of the rule that made it, and the order records it.
//! Rules are data with an effective instant: a `[[transfer]]` of the configuration moves
//! matters to other departments from then on, and bumps those matters' rule version.

use crate::config::{Assignee, Config, Limit, Matter, Transfer};
use chrono::{DateTime, Utc};
use hotline_schema::values::RequestKind;
use std::collections::HashMap;

/// Where a case goes and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub department: String,
    /// e.g. `catalog:SC-0101`, `district:PQ-0001@金井`, `keyword:过期→SC-0101`, `manual`.
    pub rule: String,
    /// The matter the case was recognised as, if any.
    pub matter_code: Option<String>,
    pub matter_name: Option<String>,
    pub statutory_limit: Limit,
    /// 1 + the number of transfers in effect for the matter when it was routed.
    pub rule_version: i32,
}

/// The routing table built from a configuration.
#[derive(Debug, Clone)]
pub struct Router {
    matters: Vec<Matter>,
    by_code: HashMap<String, usize>,
    transfers: Vec<Transfer>,
    districts: HashMap<String, String>,
    manual_department: String,
    district_fallback: String,
    departments: std::collections::HashSet<String>,
}

/// Statutory limits for cases no rule recognised, by request kind (Guangdong 2022 practice:
/// consultation 2, help and suggestion 10, complaint and report 15 working days). The
/// operator who dispatches such a case by hand may set a tighter one.
pub fn default_limit(kind: RequestKind) -> Limit {
    match kind {
        RequestKind::Consultation => Limit::WorkingDays(2),
        RequestKind::Help | RequestKind::Suggestion => Limit::WorkingDays(10),
        RequestKind::Complaint | RequestKind::Report => Limit::WorkingDays(15),
    }
}

/// The fields of a case that routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub kind: RequestKind,
    pub category: &'a str,
    pub district: Option<&'a str>,
    pub title: &'a str,
    pub content: &'a str,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        Router {
            by_code: config
                .matters
                .iter()
                .enumerate()
                .map(|(i, m)| (m.code.clone(), i))
                .collect(),
            matters: config.matters.clone(),
            transfers: config.transfers.clone(),
            districts: config.districts.iter().cloned().collect(),
            departments: config.departments.iter().map(|d| d.code.clone()).collect(),
            manual_department: config.routing.manual_department.clone(),
            district_fallback: config.routing.district_fallback.clone(),
        }
    }

    pub fn knows_department(&self, code: &str) -> bool {
        self.departments.contains(code)
    }

    pub fn manual_department(&self) -> &str {
        &self.manual_department
    }

    /// Routes a new case at instant `at`.
    pub fn route(&self, case: Case<'_>, at: DateTime<Utc>) -> Route {
        self.route_avoiding(case, at, &[])
    }

    /// Routes a case that `excluded` departments returned (退单): the first rule that
    /// places it elsewhere wins, and when rules run out it goes to the manual desk.
    pub fn route_avoiding(&self, case: Case<'_>, at: DateTime<Utc>, excluded: &[String]) -> Route {
        let allowed = |route: &Route| !excluded.contains(&route.department);
        if let Some(&i) = self.by_code.get(case.category.trim()) {
            let matter = &self.matters[i];
            let route = self.assign(
                matter,
                case.district,
                at,
                format!("catalog:{}", matter.code),
            );
            if allowed(&route) {
                return route;
            }
        }
        for text in [case.title, case.content] {
            for matter in &self.matters {
                if let Some(keyword) = matter.keywords.iter().find(|k| text.contains(k.as_str())) {
                    let rule = format!("keyword:{keyword}→{}", matter.code);
                    let route = self.assign(matter, case.district, at, rule);
                    if allowed(&route) {
                        return route;
                    }
                }
            }
        }
        Route {
            department: self.manual_department.clone(),
            rule: "manual".into(),
            matter_code: None,
            matter_name: None,
            statutory_limit: default_limit(case.kind),
            rule_version: 1,
        }
    }

    /// Who answers for `matter` at `at`, after the transfers in effect by then.
    fn assignee_at<'a>(&'a self, matter: &'a Matter, at: DateTime<Utc>) -> (&'a Assignee, i32) {
        let mut assignee = &matter.assignee;
        let mut version = 1;
        for transfer in self.transfers.iter().take_while(|t| t.effective <= at) {
            if transfer.matters.contains(&matter.code) {
                assignee = &transfer.assignee;
                version += 1;
            }
        }
        (assignee, version)
    }

    fn assign(
        &self,
        matter: &Matter,
        district: Option<&str>,
        at: DateTime<Utc>,
        rule: String,
    ) -> Route {
        let (assignee, rule_version) = self.assignee_at(matter, at);
        let (department, rule) = match assignee {
            Assignee::Department(code) => (code.clone(), rule),
            Assignee::District => match district.and_then(|d| self.districts.get(d.trim())) {
                Some(bureau) => (
                    bureau.clone(),
                    format!("{rule}+district:{}", district.unwrap_or_default().trim()),
                ),
                None => (
                    self.district_fallback.clone(),
                    format!("{rule}+district-fallback"),
                ),
            },
        };
        Route {
            department,
            rule,
            matter_code: Some(matter.code.clone()),
            matter_name: Some(matter.name.clone()),
            statutory_limit: matter.statutory_limit,
            rule_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(&Config::test_catalog())
    }

    fn now() -> DateTime<Utc> {
        "2026-11-27T02:00:00Z".parse().unwrap()
    }

    fn case<'a>(category: &'a str, district: Option<&'a str>, title: &'a str) -> Case<'a> {
        Case {
            kind: RequestKind::Complaint,
            category,
            district,
            title,
            content: "",
        }
    }

    #[test]
    fn routes_by_catalog_district_keyword_then_manual() {
        // (category, district, title, content, department, rule, matter)
        let cases = [
            (
                "SC-0101",
                None,
                "t",
                "c",
                "SCJGJ",
                "catalog:SC-0101",
                Some("SC-0101"),
            ),
            (
                " SC-0101 ",
                Some("金井"),
                "t",
                "c",
                "SCJGJ",
                "catalog:SC-0101",
                Some("SC-0101"),
            ),
            (
                "PQ-0001",
                Some("金井"),
                "t",
                "c",
                "JJPQ",
                "catalog:PQ-0001+district:金井",
                Some("PQ-0001"),
            ),
            (
                "PQ-0001",
                Some("海坛"),
                "t",
                "c",
                "HTPQ",
                "catalog:PQ-0001+district:海坛",
                Some("PQ-0001"),
            ),
            (
                "PQ-0001",
                None,
                "t",
                "c",
                "ZFYJJ",
                "catalog:PQ-0001+district-fallback",
                Some("PQ-0001"),
            ),
            (
                "PQ-0001",
                Some("火星"),
                "t",
                "c",
                "ZFYJJ",
                "catalog:PQ-0001+district-fallback",
                Some("PQ-0001"),
            ),
            (
                "",
                None,
                "超市卖过期酸奶",
                "c",
                "SCJGJ",
                "keyword:过期→SC-0101",
                Some("SC-0101"),
            ),
            (
                "UNKNOWN-9",
                Some("海坛"),
                "路边",
                "有人摆摊",
                "HTPQ",
                "keyword:摆摊→PQ-0001+district:海坛",
                Some("PQ-0001"),
            ),
            // The title wins over the content.
            (
                "",
                None,
                "占道卖菜",
                "菜已变质",
                "ZFYJJ",
                "keyword:占道→PQ-0001+district-fallback",
                Some("PQ-0001"),
            ),
            ("", None, "路灯不亮", "晚上很黑", "MANUAL", "manual", None),
        ];
        let router = router();
        for (category, district, title, content, department, rule, matter) in cases {
            let route = router.route(
                Case {
                    kind: RequestKind::Complaint,
                    category,
                    district,
                    title,
                    content,
                },
                now(),
            );
            assert_eq!(route.department, department, "{category} {title}");
            assert_eq!(route.rule, rule, "{category} {title}");
            assert_eq!(route.matter_code.as_deref(), matter, "{category} {title}");
        }
    }

    #[test]
    fn unrecognised_cases_get_the_kind_default_limit() {
        let router = router();
        for (kind, limit) in [
            (RequestKind::Consultation, Limit::WorkingDays(2)),
            (RequestKind::Help, Limit::WorkingDays(10)),
            (RequestKind::Suggestion, Limit::WorkingDays(10)),
            (RequestKind::Complaint, Limit::WorkingDays(15)),
            (RequestKind::Report, Limit::WorkingDays(15)),
        ] {
            let route = router.route(
                Case {
                    kind,
                    category: "",
                    district: None,
                    title: "x",
                    content: "y",
                },
                now(),
            );
            assert_eq!(route.statutory_limit, limit, "{kind}");
        }
    }

    #[test]
    fn the_builtin_catalog_routes_every_matter_to_a_known_department() {
        let config = Config::builtin();
        let router = Router::new(&config);
        for matter in &config.matters {
            for district in [None, Some("金井"), Some("苏平")] {
                let route = router.route(
                    Case {
                        kind: RequestKind::Complaint,
                        category: &matter.code,
                        district,
                        title: "",
                        content: "",
                    },
                    now(),
                );
                assert!(
                    config.department(&route.department).is_some(),
                    "{}",
                    matter.code
                );
                assert_eq!(route.matter_code.as_deref(), Some(matter.code.as_str()));
            }
        }
    }

    #[test]
    fn a_return_never_goes_back_to_a_department_that_returned_it() {
        let router = router();
        let ex = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        // (category, district, title, excluded, department, rule)
        let cases = [
            // The catalog's department returned it; a keyword of another matter places it.
            (
                "SC-0101",
                Some("金井"),
                "门口占道卖过期食品",
                ex(&["SCJGJ"]),
                "JJPQ",
                "keyword:占道→PQ-0001+district:金井",
            ),
            // Nothing else matches: the manual desk.
            ("SC-0101", None, "过期", ex(&["SCJGJ"]), "MANUAL", "manual"),
            // Both candidates returned it.
            (
                "SC-0101",
                Some("金井"),
                "占道过期",
                ex(&["SCJGJ", "JJPQ"]),
                "MANUAL",
                "manual",
            ),
            // Not excluded: the catalog still wins.
            (
                "SC-0101",
                None,
                "过期",
                ex(&["JJPQ"]),
                "SCJGJ",
                "catalog:SC-0101",
            ),
        ];
        for (category, district, title, excluded, department, rule) in cases {
            let route = router.route_avoiding(case(category, district, title), now(), &excluded);
            assert_eq!(
                (route.department.as_str(), route.rule.as_str()),
                (department, rule),
                "{title} {excluded:?}"
            );
        }
    }

    #[test]
    fn transfers_take_effect_at_their_instant_and_bump_the_version() {
        let text = format!(
            "{}\n[[transfer]]\nname = \"第二批赋权\"\neffective = \"2026-12-01\"\nmatters = [\"SC-0101\"]\ndepartment = \"@district\"\n",
            crate::config::TEST_CATALOG
        );
        let router = Router::new(&Config::parse(&text, "t.toml").unwrap());
        let before: DateTime<Utc> = "2026-11-30T15:59:59Z".parse().unwrap();
        let from: DateTime<Utc> = "2026-11-30T16:00:00Z".parse().unwrap(); // 00:00 +08:00
        let route = router.route(case("SC-0101", Some("海坛"), "t"), before);
        assert_eq!(
            (route.department.as_str(), route.rule_version),
            ("SCJGJ", 1)
        );
        let route = router.route(case("SC-0101", Some("海坛"), "t"), from);
        assert_eq!((route.department.as_str(), route.rule_version), ("HTPQ", 2));
        assert_eq!(route.rule, "catalog:SC-0101+district:海坛");
        // Other matters are untouched.
        let route = router.route(case("PQ-0001", Some("海坛"), "t"), from);
        assert_eq!(route.rule_version, 1);
    }

    #[test]
    fn only_catalog_departments_are_known() {
        let router = router();
        // (code, known?)
        let cases = [
            ("SCJGJ", true),
            ("JJPQ", true),
            ("MANUAL", true),
            ("NOPE", false),
            ("scjgj", false),
            ("", false),
        ];
        for (code, known) in cases {
            assert_eq!(router.knows_department(code), known, "{code:?}");
        }
        assert_eq!(router.manual_department(), "MANUAL");
    }
}
