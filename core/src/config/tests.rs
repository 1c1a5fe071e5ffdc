use super::*;

#[test]
fn the_test_catalog_loads() {
    let config = Config::test_catalog();
    assert_eq!(config.departments.len(), 6);
    assert_eq!(config.routing.manual_department, "MANUAL");
    assert_eq!(config.routing.district_fallback, "ZFYJJ");
    let matters = config.matter_index();
    assert_eq!(matters["SC-0101"].statutory_limit, Limit::WorkingDays(5));
    assert_eq!(matters["PQ-0001"].assignee, Assignee::District);
    assert_eq!(
        matters["PQ-0001"].statutory_limit,
        Limit::Natural(Duration::from_secs(4 * 3600))
    );
    assert_eq!(config.intake.max_body_bytes, 4096);
    assert_eq!(config.intake.batch_size, 64);
    assert_eq!(config.intake.prefetch, IntakeSettings::default().prefetch);
    assert_eq!(
        config.routing.duplicate_window,
        Duration::from_secs(24 * 3600)
    );
    assert_eq!(config.scheduler, SchedulerSettings::default());
    assert!(config.transfers.is_empty());
    assert_eq!(
        matters["XT-0001"].co_departments,
        vec!["ZFYJJ".to_string(), "YSBZX".to_string()]
    );
    assert!(matters["SC-0101"].co_departments.is_empty());
}

#[test]
fn the_practice_settings_have_their_defaults_and_read_what_is_given() {
    let minimal = "[[department]]\ncode = \"MANUAL\"\nname = \"人工派单\"\nkind = \"manual\"\n";
    let config = Config::parse(minimal, "minimal.toml").unwrap();
    assert_eq!(config.sla.co_reply_ratio, 0.6);
    assert!(config.routing.return_review);
    assert_eq!(config.routing.return_window, Limit::WorkingDays(2));
    assert_eq!(config.kpi.appeal_window, Limit::WorkingDays(5));
    assert_eq!(
        config.kpi.ranking,
        RankingSettings {
            response_weight: 0.3,
            resolution_weight: 0.35,
            satisfaction_weight: 0.35,
            yellow_below: 90.0,
            red_below: 80.0,
        }
    );
    let text = format!(
        "{minimal}[sla]\nco_reply_ratio = 0.5\n[routing]\nreturn_review = false\nreturn_window = \"4h\"\n\
         [kpi]\nappeal_window = \"3wd\"\nweights = {{ response = 0.5, resolution = 0.5, satisfaction = 0 }}\n\
         yellow_below = 85\nred_below = 70\n"
    );
    let config = Config::parse(&text, "practice.toml").unwrap();
    assert_eq!(config.sla.co_reply_ratio, 0.5);
    assert!(!config.routing.return_review);
    assert_eq!(
        config.routing.return_window,
        Limit::Natural(Duration::from_secs(4 * 3600))
    );
    assert_eq!(config.kpi.appeal_window, Limit::WorkingDays(3));
    assert_eq!(
        config.kpi.ranking,
        RankingSettings {
            response_weight: 0.5,
            resolution_weight: 0.5,
            satisfaction_weight: 0.0,
            yellow_below: 85.0,
            red_below: 70.0,
        }
    );
}

#[test]
fn the_intake_window_and_the_boards_figures_read_what_is_given() {
    let text = "[[department]]\ncode = \"MANUAL\"\nname = \"人工派单\"\nkind = \"manual\"\n\
                [intake]\nbatch_window_ms = 20\n\
                [kpi]\nsatisfaction_window_days = 30\nresponse_marks = [0.9, 0.7]\n";
    let config = Config::parse(text, "given.toml").unwrap();
    assert_eq!(config.intake.batch_window, Duration::from_millis(20));
    assert_eq!(config.kpi.satisfaction_window_days, 30);
    assert_eq!(
        config.kpi.response_marks,
        Marks {
            green: 0.9,
            yellow: 0.7
        }
    );
    // Each beside its default.
    let defaults = KpiSettings::default();
    assert_eq!(
        (
            IntakeSettings::default().batch_window,
            defaults.satisfaction_window_days,
            defaults.response_marks
        ),
        (
            Duration::from_millis(5),
            90,
            Marks {
                green: 0.95,
                yellow: 0.85
            }
        )
    );
}

#[test]
fn without_sections_every_setting_has_its_default() {
    let text = "[[department]]\ncode = \"MANUAL\"\nname = \"人工派单\"\nkind = \"manual\"\n";
    let config = Config::parse(text, "minimal.toml").unwrap();
    assert_eq!(config.intake, IntakeSettings::default());
    assert_eq!(config.kpi, KpiSettings::default());
    assert_eq!(config.sla.commitment_ratio, 0.5);
    assert_eq!(config.sla.warning_ratio, 0.8);
    assert_eq!(config.sla.sign_limit, Limit::WorkingDays(1));
    assert_eq!(
        config.sla.urgent_sign_limit,
        Limit::Natural(Duration::from_secs(30 * 60))
    );
    assert_eq!(
        config.sla.emergency_sign_limit,
        Limit::Natural(Duration::from_secs(15 * 60))
    );
    assert_eq!(config.sla.max_extension_days, 10);
    assert_eq!(
        config.calendar.working_day_length(),
        Duration::from_secs(7 * 3600)
    );
    assert_eq!(
        config.attachments,
        crate::attachment::AttachmentSettings::default()
    );
}

#[test]
fn attachments_read_their_location_and_limits_and_name_a_fault_by_line() {
    use crate::attachment::StoreLocation;
    let base = "[[department]]\ncode = \"MANUAL\"\nname = \"人工派单\"\nkind = \"manual\"\n";
    let config = Config::parse(
        &format!("{base}[attachments]\nlocation = \"s3://hotline-files/prod\"\nmax_bytes = 2048\nper_order = 5\n"),
        "a.toml",
    )
    .unwrap();
    assert_eq!(
        config.attachments.location,
        StoreLocation::S3 {
            bucket: "hotline-files".into(),
            prefix: "prod".into()
        }
    );
    assert_eq!(
        (config.attachments.max_bytes, config.attachments.per_order),
        (2048, 5)
    );
    for (section, says) in [
        ("location = \"ftp://x/y\"", "a.toml:7: attachments.location"),
        ("max_bytes = 10", "attachments.max_bytes"),
        ("per_order = 0", "attachments.per_order"),
        ("colour = \"red\"", "colour"),
    ] {
        let text = format!("{base}\n[attachments]\n{section}\n");
        let fault = Config::parse(&text, "a.toml").unwrap_err().to_string();
        assert!(fault.contains(says), "{section}: {fault}");
    }
}

#[test]
fn sign_limits_are_read_per_urgency_and_per_matter() {
    let text = TEST_CATALOG
        .replace(
            "sign_limit = \"1wd\"",
            "sign_limit = \"2wd\"\nurgent_sign_limit = \"1h\"\nemergency_sign_limit = \"20m\"",
        )
        .replace(
            "statutory_limit = \"1m\"\n",
            "statutory_limit = \"1m\"\nsign_limit = \"10m\"\n",
        );
    let config = Config::parse(&text, "t.toml").unwrap();
    assert_eq!(config.sla.sign_limit, Limit::WorkingDays(2));
    assert_eq!(
        config.sla.urgent_sign_limit,
        Limit::Natural(Duration::from_secs(3600))
    );
    assert_eq!(
        config.sla.emergency_sign_limit,
        Limit::Natural(Duration::from_secs(20 * 60))
    );
    let matters = config.matter_index();
    assert_eq!(
        matters["JJ-0001"].sign_limit,
        Some(Limit::Natural(Duration::from_secs(600)))
    );
    assert_eq!(matters["SC-0101"].sign_limit, None);
}

#[test]
fn transfers_parse_dates_and_instants_in_business_time() {
    let text = format!(
        "{TEST_CATALOG}\n[[transfer]]\nname = \"第二批\"\neffective = \"2027-01-01\"\nmatters = [\"SC-0101\"]\ndepartment = \"@district\"\n\n[[transfer]]\nname = \"第一批\"\neffective = \"2026-12-01T09:00:00+08:00\"\nmatters = [\"SC-0101\"]\ndepartment = \"JJPQ\"\n"
    );
    let config = Config::parse(&text, "t.toml").unwrap();
    assert_eq!(config.transfers.len(), 2);
    assert_eq!(
        config.transfers[0].name, "第一批",
        "sorted by effective instant"
    );
    assert_eq!(
        config.transfers[0].effective.to_rfc3339(),
        "2026-12-01T01:00:00+00:00"
    );
    assert_eq!(
        config.transfers[1].effective.to_rfc3339(),
        "2026-12-31T16:00:00+00:00"
    );
    assert_eq!(config.transfers[1].assignee, Assignee::District);
}

#[test]
fn the_builtin_catalog_is_valid() {
    let config = Config::builtin();
    assert!(config.departments.len() >= 16);
    assert!(config.matters.len() >= 30);
    assert_eq!(config.districts.len(), 4);
}

#[test]
fn calendar_days_and_schedules_are_parsed_once_into_values() {
    let text = format!(
        "{}\n[scheduler]\ndigest_cron = \"0 30 9 * * *\"\n",
        TEST_CATALOG.replace(
            "[calendar]\n",
            "[calendar]\ndays = [{ date = \"2027-01-04\", off = true, name = \"测试假日\" }]\n"
        )
    );
    let config = Config::parse(&text, "t.toml").unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
    assert!(
        !config.calendar.is_working_day(day),
        "a Monday made a day off"
    );
    assert_eq!(config.calendar.special_day(day).unwrap().name, "测试假日");
    assert_eq!(config.scheduler.digest, "0 30 9 * * *".parse().unwrap());
}

#[test]
fn faults_name_the_line_and_the_fault() {
    // (what, replace this, with this, the part of it the fault is reported at,
    //  expected words in the message)
    let cases = [
        (
            "unknown department",
            "department = \"SCJGJ\"",
            "department = \"NOPE\"",
            "department",
            "unknown department \"NOPE\"",
        ),
        (
            "bad limit",
            "statutory_limit = \"4h\"",
            "statutory_limit = \"4 weeks\"",
            "statutory_limit",
            "statutory_limit",
        ),
        (
            "zero limit",
            "statutory_limit = \"5wd\"",
            "statutory_limit = \"0wd\"",
            "statutory_limit",
            "greater than zero",
        ),
        (
            "duplicate matter",
            "code = \"PQ-0001\"",
            "code = \"SC-0101\"",
            "code",
            "duplicate matter code",
        ),
        (
            "duplicate department",
            "code = \"JJPQ\"",
            "code = \"SCJGJ\"",
            "code",
            "duplicate department code",
        ),
        (
            "ratio out of range",
            "warning_ratio = 0.8",
            "warning_ratio = 1.8",
            "warning_ratio",
            "warning_ratio",
        ),
        (
            "bad sign limit",
            "sign_limit = \"1wd\"",
            "sign_limit = \"1 day\"",
            "sign_limit",
            "sign_limit",
        ),
        (
            "bad urgent sign limit",
            "sign_limit = \"1wd\"",
            "sign_limit = \"1wd\"\nurgent_sign_limit = \"soon\"",
            "urgent_sign_limit",
            "sla.urgent_sign_limit",
        ),
        (
            "bad matter sign limit",
            "statutory_limit = \"4h\"",
            "statutory_limit = \"4h\"\nsign_limit = \"0m\"",
            "sign_limit",
            "greater than zero",
        ),
        (
            "unknown key",
            "warning_ratio = 0.8",
            "warning_ratio = 0.8\nwarn_ratio = 0.9",
            "warn_ratio",
            "unknown field",
        ),
        (
            "bad hours",
            "\"14:30-17:30\"]",
            "\"11:30-17:30\"]",
            "\"11:30",
            "working_hours",
        ),
        (
            "district bureau unknown",
            "department = \"JJPQ\"",
            "department = \"XXPQ\"",
            "department",
            "unknown department \"XXPQ\"",
        ),
        ("not toml", "[sla]", "[sla", "[sla", ""),
        (
            "bad cron",
            "[calendar]",
            "[scheduler]\ndigest_cron = \"every morning\"\n\n[calendar]",
            "digest_cron",
            "scheduler.digest_cron",
        ),
        (
            "transfer of an unknown matter",
            "keywords = [\"过期\", \"变质\"]",
            "keywords = []\n[[transfer]]\nname = \"b\"\neffective = \"2027-01-01\"\nmatters = [\"NOPE\"]\ndepartment = \"SCJGJ\"",
            "matters",
            "unknown matter \"NOPE\"",
        ),
        (
            "transfer with a bad date",
            "keywords = [\"过期\", \"变质\"]",
            "keywords = []\n[[transfer]]\nname = \"b\"\neffective = \"2027-13-01\"\nmatters = []\ndepartment = \"SCJGJ\"",
            "effective",
            "transfer.effective",
        ),
        (
            "batch size out of range",
            "batch_size = 64",
            "batch_size = 0",
            "batch_size",
            "intake.batch_size must be between 1 and 10000, found 0",
        ),
        (
            "too many consumers",
            "batch_size = 64",
            "batch_size = 64\nconsumers = 17",
            "consumers",
            "intake.consumers must be between 1 and 16, found 17",
        ),
        (
            "tiny body limit",
            "max_body_bytes = 4096",
            "max_body_bytes = 10",
            "max_body_bytes",
            "intake.max_body_bytes must be between",
        ),
        (
            "board marks in the wrong order",
            "batch_size = 64",
            "batch_size = 64\n[kpi]\nsatisfaction_marks = [0.8, 0.9]",
            "[0.8",
            "kpi.satisfaction_marks must be [green, yellow]",
        ),
        (
            "a board mark past 100%",
            "batch_size = 64",
            "batch_size = 64\n[kpi]\non_time_marks = [1.5]",
            "[1.5",
            "kpi.on_time_marks must be [green, yellow]",
        ),
        (
            "a dot in a department code",
            "code = \"JJPQ\"",
            "code = \"JJ.PQ\"",
            "code",
            "department.code must be 1-200 bytes without '.', '*', '#'",
        ),
        (
            "a service point of no district",
            "district = \"海坛\"",
            "district = \"火星\"",
            "district",
            "unknown district \"火星\"",
        ),
        (
            "an unknown co-handling department",
            "co_departments = [\"ZFYJJ\", \"YSBZX\"]",
            "co_departments = [\"ZFYJJ\", \"NOPE\"]",
            "co_departments",
            "matter \"XT-0001\": unknown co-handling department \"NOPE\"",
        ),
        (
            "a co-reply ratio past 1",
            "warning_ratio = 0.8",
            "warning_ratio = 0.8\nco_reply_ratio = 1.5",
            "co_reply_ratio",
            "sla.co_reply_ratio must be in (0, 1]",
        ),
        (
            "a bad return window",
            "district_fallback = \"ZFYJJ\"",
            "district_fallback = \"ZFYJJ\"\nreturn_window = \"2 days\"",
            "return_window",
            "routing.return_window",
        ),
        (
            "negative ranking weights",
            "batch_size = 64",
            "batch_size = 64\n[kpi]\nweights = { response = -1 }",
            "weights",
            "kpi.weights must be numbers >= 0",
        ),
        (
            "red above yellow",
            "batch_size = 64",
            "batch_size = 64\n[kpi]\nyellow_below = 70\nred_below = 80",
            "red_below",
            "kpi.red_below must not be above kpi.yellow_below",
        ),
        (
            "a score past 100",
            "batch_size = 64",
            "batch_size = 64\n[kpi]\nyellow_below = 190",
            "yellow_below",
            "kpi.yellow_below must be a score from 0 to 100",
        ),
        (
            "bad calendar day",
            "[calendar]\n",
            "[calendar]\ndays = [{ date = \"2027-02-30\", off = true }]\n",
            "date",
            "calendar.days",
        ),
    ];
    for (what, from, to, at, words) in cases {
        let replaced_at = TEST_CATALOG
            .find(from)
            .unwrap_or_else(|| panic!("{what}: not in the test catalog"));
        let text = TEST_CATALOG.replacen(from, to, 1);
        let fault_at = replaced_at + to.find(at).expect("marker inside the replacement");
        let line = text[..fault_at].matches('\n').count() + 1;
        let err = Config::parse(&text, "ops.toml").expect_err(what);
        assert_eq!(err.file, "ops.toml", "{what}");
        assert_eq!(err.line, Some(line), "{what}: {err}");
        assert!(err.message.contains(words), "{what}: {err}");
        assert!(err.to_string().starts_with(&format!("ops.toml:{line}: ")));
    }
}

#[test]
fn a_file_with_only_the_contracts_keys_starts_with_a_manual_desk() {
    // The contract's own example: one department, one district, one matter, no [routing].
    let text = r#"
[sla]
commitment_ratio = 0.5
warning_ratio = 0.8
sign_limit = "1wd"

[calendar]
working_hours = ["08:00-12:00", "14:30-17:30"]

[[department]]
code = "SCJGJ"
name = "市场监督管理局"

[[district]]
name = "金井"
department = "SCJGJ"

[[matter]]
code = "SC-0101"
name = "食品安全投诉"
department = "SCJGJ"
statutory_limit = "5wd"
keywords = ["食品", "过期"]
"#;
    let config = Config::parse(text, "contract.toml").unwrap();
    let (code, name) = DEFAULT_MANUAL_DESK;
    assert_eq!(config.routing.manual_department, code);
    assert_eq!(
        config.routing.district_fallback, code,
        "the fallback is the manual desk"
    );
    let desk = config.department(code).unwrap();
    assert_eq!(
        (desk.name.as_str(), desk.kind),
        (name, DepartmentKind::Manual)
    );
    assert_eq!(config.department_codes(), ["SCJGJ", "MANUAL"]);

    // A named desk is used as it is, and is the fallback too.
    let named = text.replace(
        "[[district]]",
        "[routing]\nmanual_department = \"SCJGJ\"\n\n[[district]]",
    );
    let config = Config::parse(&named, "named.toml").unwrap();
    assert_eq!(
        (
            config.routing.manual_department.as_str(),
            config.routing.district_fallback.as_str()
        ),
        ("SCJGJ", "SCJGJ")
    );
    assert_eq!(config.departments.len(), 1, "no desk added");
}

#[test]
fn department_codes_take_what_amqp_names_allow_but_dots_and_wildcards() {
    let with_code =
        |code: &str| format!("[[department]]\ncode = {code:?}\nname = \"x\"\nkind = \"manual\"\n");
    // (code, accepted)
    let cases = [
        ("SCJGJ", true),
        ("dept-01", true),
        ("市场监督管理局", true),
        ("a b_c:d/e", true),
        (&"x".repeat(200), true),
        (&"x".repeat(201), false),
        ("", false),
        ("a.b", false),
        ("a*", false),
        ("#", false),
        ("tab\there", false),
    ];
    for (code, accepted) in cases {
        let parsed = Config::parse(&with_code(code), "codes.toml");
        assert_eq!(parsed.is_ok(), accepted, "{code:?}: {parsed:?}");
    }
}

#[test]
fn faults_without_a_line_name_the_file_and_the_key() {
    let missing = Config::load(std::path::Path::new("/nonexistent/hotline.toml")).unwrap_err();
    assert_eq!(missing.line, None);
    assert!(
        missing
            .to_string()
            .starts_with("/nonexistent/hotline.toml: cannot read"),
        "{missing}"
    );
    let empty = Config::parse("", "empty.toml").unwrap_err();
    assert_eq!(
        empty.to_string(),
        "empty.toml: [[department]]: the catalog names no department"
    );
    let taken = "[[department]]\ncode = \"MANUAL\"\nname = \"x\"\n";
    let err = Config::parse(taken, "taken.toml").unwrap_err();
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with("taken.toml: [routing] manual_department"),
        "{err}"
    );
}

mod properties {
    //! The configuration parser against arbitrary edits of a good file: it never panics,
    //! and a fault names the file and either a line of it or the key.
    use super::*;
    use proptest::prelude::*;

    fn edit() -> impl Strategy<Value = (usize, u8, String)> {
        let value = prop_oneof![
            Just(String::new()),
            Just("\"\"".to_owned()),
            "-?[0-9]{1,12}".prop_map(|s| s),
            "\"[ -~]{0,12}\"".prop_map(|s| s),
            Just("[]".to_owned()),
            Just("{ a = 1 }".to_owned()),
            Just("true".to_owned()),
            Just("\"0wd\"".to_owned()),
            Just("\"*.#\"".to_owned()),
            Just("\"99999999999999wd\"".to_owned()),
        ];
        (0..200usize, 0..4u8, value)
    }

    fn apply(text: &str, (line, how, value): &(usize, u8, String)) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let at = line % lines.len();
        match how {
            0 => {
                if let Some((key, _)) = lines[at].split_once('=') {
                    lines[at] = format!("{key}= {value}");
                }
            }
            1 => {
                lines.remove(at);
            }
            2 => {
                let copy = lines[at].clone();
                lines.insert(at, copy);
            }
            _ => lines.insert(at, format!("unknown_key = {value}")),
        }
        lines.join("\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_edit_of_a_good_file_is_accepted_or_refused_by_file_and_line(
            edits in prop::collection::vec(edit(), 1..4),
        ) {
            let mut text = TEST_CATALOG.to_owned();
            for e in &edits {
                text = apply(&text, e);
            }
            if let Err(err) = Config::parse(&text, "p.toml") {
                prop_assert_eq!(&err.file, "p.toml");
                let shown = err.to_string();
                match err.line {
                    Some(line) => {
                        prop_assert!(line >= 1 && line <= text.lines().count() + 1, "{}", shown);
                        let prefix = format!("p.toml:{}: ", line);
                        prop_assert!(shown.starts_with(&prefix), "{}", shown);
                    }
                    None => prop_assert!(shown.contains('['), "names no key: {}", shown),
                }
                prop_assert!(!err.message.is_empty());
            }
        }
    }
}

/// The notices beside a configuration file: read after the embedded days and before the
/// file's own `[calendar] days`; a faulty one refuses the configuration, naming the file.
#[test]
fn notices_beside_the_file_join_the_calendar_in_their_place() {
    use chrono::NaiveDate;
    let dir = std::env::temp_dir().join(format!("hotline-notices-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join(NOTICES_DIR)).unwrap();
    let file = dir.join("hotline.toml");
    let corrected = TEST_CATALOG.replacen(
        "[calendar]\n",
        "[calendar]\ndays = [{ date = \"2027-01-09\", off = true, name = \"更正\" }]\n",
        1,
    );
    std::fs::write(&file, &corrected).unwrap();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();

    let without = Config::load(&file).unwrap();
    assert!(without.calendar.is_working_day(day("2027-01-04")));
    assert_eq!(without.calendar.covered_until(), Some(day("2027-12-31")));

    std::fs::write(
        dir.join(NOTICES_DIR).join("2027.json"),
        Notice::parse("2027-01-01 休 元旦\n2027-01-04 休 元旦\n2027-01-09 班 元旦\n")
            .unwrap()
            .holiday_cn(2027),
    )
    .unwrap();
    std::fs::write(dir.join(NOTICES_DIR).join("README.txt"), "not a notice").unwrap();
    let with = Config::load(&file).unwrap();
    assert!(
        !with.calendar.is_working_day(day("2027-01-04")),
        "the notice counts"
    );
    assert!(
        !with.calendar.is_working_day(day("2027-01-09")),
        "[calendar] days correct a notice"
    );
    assert_ne!(with.calendar.version(), without.calendar.version());

    std::fs::write(
        dir.join(NOTICES_DIR).join("2028.json"),
        r#"{"year": 2028, "days": [{"name": "x", "date": "2028-01-03", "isOffDay": false}]}"#,
    )
    .unwrap();
    let fault = Config::load(&file).unwrap_err();
    assert!(fault.to_string().contains("2028.json"), "{fault}");
    assert!(fault.to_string().contains("falls on a Mon"), "{fault}");
    std::fs::remove_dir_all(&dir).unwrap();
}
