//! Appeals of ratings (评价复核): the rated department may appeal a dissatisfied callback
//! once, within `[kpi] appeal_window`; an upheld appeal takes the rating out of the KPI
//! rates. A file of its own because it acts on the callback, not the order's handling:
//! it is allowed in every state but merged, closed orders included, and changes no state.

use super::{Effect, invalid_state, quoted};
use crate::calendar::business_time;
use crate::observation::Observation;
use crate::order::{Appeal, AppealDecision, Order};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use hotline_schema::body::{AppealDecided, RatingAppealed};
use hotline_schema::rejection::{RejectCode, Rejection};

pub(super) fn appealed(
    order: &mut Order,
    e: &RatingAppealed,
    at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Vec<Effect>, Rejection> {
    let order_no = order.order_no.clone();
    let Some(callback) = order.callback.as_mut() else {
        return Err(invalid_state(format!(
            "order {order_no} has no callback to appeal"
        )));
    };
    if !callback.rating.is_unsatisfied() {
        return Err(invalid_state(format!(
            "order {order_no} was rated {}: only dissatisfied and very dissatisfied ratings may be appealed",
            callback.rating
        )));
    }
    if callback.department != e.department {
        let sender = quoted(&e.department, rules);
        return Err(Rejection::new(
            RejectCode::WrongDepartment,
            format!(
                "the rating of order {order_no} is {}'s, not {sender}'s",
                callback.department
            ),
        ));
    }
    if callback.appeal.is_some() {
        return Err(invalid_state(format!(
            "the rating of order {order_no} was appealed already: one appeal per callback"
        )));
    }
    let until = rules.clock.after(callback.at, rules.appeal_window, 1.0);
    if at > until {
        return Err(invalid_state(format!(
            "order {order_no} was rated at {}: an appeal is accepted within {} of the callback (until {})",
            business_time(callback.at),
            rules.appeal_window,
            business_time(until)
        )));
    }
    callback.appeal = Some(Appeal {
        department: e.department.clone(),
        reason: e.reason.clone(),
        appealed_at: at,
        decision: None,
    });
    Ok(vec![])
}

pub(super) fn decided(
    order: &mut Order,
    e: &AppealDecided,
    at: DateTime<Utc>,
) -> Result<Vec<Effect>, Rejection> {
    let order_no = order.order_no.clone();
    let pending = order
        .callback
        .as_mut()
        .filter(|c| c.appeal.as_ref().is_some_and(|a| a.decision.is_none()));
    let Some(callback) = pending else {
        return Err(invalid_state(format!(
            "order {order_no} has no appeal of a rating pending"
        )));
    };
    let (department, rating) = (callback.department.clone(), callback.rating);
    if let Some(appeal) = callback.appeal.as_mut() {
        appeal.decision = Some(AppealDecision {
            upheld: e.upheld,
            note: e.note.clone(),
            decided_at: at,
        });
    }
    Ok(if e.upheld {
        vec![Effect::Observe(Observation::FeedbackExcluded {
            department,
            rating,
        })]
    } else {
        vec![]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::apply;
    use crate::lifecycle::test_support::{at, event, order, rules};
    use hotline_schema::event::EventType;
    use hotline_schema::values::{OrderState, Rating};
    use serde_json::json;

    #[test]
    fn one_appeal_per_dissatisfied_callback_within_its_window_by_the_rated_department() {
        let rules = rules();
        let rated_at = at("2026-11-26T09:00:00+08:00");
        let rated = |rating: &str| {
            let mut o = order(OrderState::Replied);
            let feedback = event(
                EventType::OrderFeedback,
                json!({"rating": rating, "resolved": true}),
            );
            apply(&mut o, &feedback, rated_at, &rules).unwrap();
            o
        };
        let appeal = |department: &str| {
            event(
                EventType::RatingAppealed,
                json!({"department": department, "reason": "诉求超出职责范围"}),
            )
        };
        // Rated Thu 11-26 09:00: 5 working days later is Thu 12-03 09:00.
        let late = "order PT1 was rated at 2026-11-26T09:00:00+08:00: an appeal is accepted within 5wd of the callback (until 2026-12-03T09:00:00+08:00)";
        // (rating, appealing department, when, rejection)
        type Case<'a> = (&'a str, &'a str, &'a str, Option<(RejectCode, &'a str)>);
        let cases: [Case; 6] = [
            ("dissatisfied", "SCJGJ", "2026-12-03T09:00:00+08:00", None),
            (
                "very_dissatisfied",
                "SCJGJ",
                "2026-11-26T10:00:00+08:00",
                None,
            ),
            (
                "dissatisfied",
                "SCJGJ",
                "2026-12-03T09:00:01+08:00",
                Some((RejectCode::InvalidState, late)),
            ),
            (
                "basically_satisfied",
                "SCJGJ",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::InvalidState,
                    "order PT1 was rated basically_satisfied: only dissatisfied and very dissatisfied ratings may be appealed",
                )),
            ),
            (
                "dissatisfied",
                "YSBZX",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::WrongDepartment,
                    "the rating of order PT1 is SCJGJ's, not YSBZX's",
                )),
            ),
            (
                "dissatisfied",
                "NOPE",
                "2026-11-26T10:00:00+08:00",
                Some((
                    RejectCode::WrongDepartment,
                    "the rating of order PT1 is SCJGJ's, not a department outside the catalog's",
                )),
            ),
        ];
        for (rating, department, when, refusal) in cases {
            let mut o = rated(rating);
            let result = apply(&mut o, &appeal(department), at(when), &rules);
            match refusal {
                None => {
                    assert!(result.is_ok(), "{rating} {when}: {:?}", result.err());
                    let again = apply(&mut o, &appeal(department), at(when), &rules).unwrap_err();
                    assert_eq!(
                        again.detail,
                        "the rating of order PT1 was appealed already: one appeal per callback"
                    );
                }
                Some((code, detail)) => {
                    let r = result.unwrap_err();
                    assert_eq!(
                        (r.code, r.detail.as_str()),
                        (code, detail),
                        "{rating} {when}"
                    );
                }
            }
        }
        // Without a callback there is nothing to appeal.
        let mut o = order(OrderState::Replied);
        let r = apply(&mut o, &appeal("SCJGJ"), rated_at, &rules).unwrap_err();
        assert_eq!(r.detail, "order PT1 has no callback to appeal");
    }

    #[test]
    fn an_upheld_appeal_excludes_the_rating_and_a_rejected_one_changes_nothing() {
        let rules = rules();
        let feedback = event(
            EventType::OrderFeedback,
            json!({"rating": "very_dissatisfied", "resolved": true}),
        );
        let appeal = event(
            EventType::RatingAppealed,
            json!({"department": "SCJGJ", "reason": "r"}),
        );
        for upheld in [true, false] {
            let mut o = order(OrderState::Replied);
            apply(&mut o, &feedback, at("2026-11-26T09:00:00+08:00"), &rules).unwrap();
            apply(&mut o, &appeal, at("2026-11-26T10:00:00+08:00"), &rules).unwrap();
            let decide = event(
                EventType::AppealDecided,
                json!({"upheld": upheld, "note": "n"}),
            );
            let effects = apply(&mut o, &decide, at("2026-11-26T11:00:00+08:00"), &rules).unwrap();
            assert_eq!(o.rating_excluded(), upheld);
            assert_eq!(o.rating, Some(Rating::VeryDissatisfied), "the rating stays");
            assert_eq!(o.state, OrderState::Closed);
            let excluded = Effect::Observe(Observation::FeedbackExcluded {
                department: "SCJGJ".into(),
                rating: Rating::VeryDissatisfied,
            });
            assert_eq!(effects, if upheld { vec![excluded] } else { vec![] });
            let r = apply(&mut o, &decide, at("2026-11-26T12:00:00+08:00"), &rules).unwrap_err();
            assert_eq!(r.detail, "order PT1 has no appeal of a rating pending");
        }
    }
}
