//! Appointments for in-person services (预约办事) and the service hall's queue:
//! booked → checked in → called → completed; a booking never checked in by the end of its
//! slot's day is marked a no-show by the periodic sweep. Pure.

use crate::lifecycle::Observation;
use chrono::{DateTime, Utc};
use hotline_schema::event::{EventBody, InboundEvent, RejectCode, Rejection};
use serde::Serialize;

pub mod state {
    pub const BOOKED: &str = "booked";
    pub const CHECKED_IN: &str = "checked_in";
    pub const CALLED: &str = "called";
    pub const COMPLETED: &str = "completed";
    pub const NO_SHOW: &str = "no_show";
}

/// One row of `appointments`. Holds the citizen's name and phone: no `Debug`.
#[derive(Clone, sqlx::FromRow, Serialize)]
pub struct Appointment {
    pub order_no: String,
    pub category: String,
    pub service_point: String,
    pub slot_start: DateTime<Utc>,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub state: String,
    pub booked_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub called_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub service_window: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Hall metrics are observed per service point.
#[derive(Debug, Clone, PartialEq)]
pub enum HallObservation {
    Waiting { service_point: String, seconds: f64 },
    Handling { service_point: String, seconds: f64 },
}

impl From<HallObservation> for Observation {
    fn from(o: HallObservation) -> Observation {
        Observation::Hall(o)
    }
}

/// A new appointment from `appointment.booked`.
pub fn book(event: &InboundEvent, at: DateTime<Utc>) -> Option<Appointment> {
    let EventBody::AppointmentBooked(booked) = &event.body else {
        return None;
    };
    Some(Appointment {
        order_no: event.envelope.order_no.as_str().to_owned(),
        category: booked.category.clone(),
        service_point: booked.service_point.clone(),
        slot_start: booked.slot_start.with_timezone(&Utc),
        citizen_name: booked.citizen.name.clone(),
        citizen_phone: booked.citizen.phone.clone(),
        state: state::BOOKED.into(),
        booked_at: at,
        checked_in_at: None,
        called_at: None,
        completed_at: None,
        service_window: None,
        version: 0,
        created_at: at,
        updated_at: at,
    })
}

/// Applies a hall event at `at`; on a rejection the appointment is unchanged.
pub fn apply(
    appointment: &mut Appointment,
    event: &InboundEvent,
    at: DateTime<Utc>,
) -> Result<Vec<Observation>, Rejection> {
    let not_allowed = |a: &Appointment| {
        Rejection::new(
            RejectCode::InvalidState,
            format!(
                "appointment {} is {}: {} is not allowed in that state",
                a.order_no,
                a.state,
                event.type_name()
            ),
        )
    };
    let seconds = |from: Option<DateTime<Utc>>| {
        from.map_or(0.0, |f| (at - f).num_milliseconds().max(0) as f64 / 1000.0)
    };
    match &event.body {
        EventBody::AppointmentCheckedIn(e) => {
            // A late arrival after a no-show mark is still served.
            if !matches!(appointment.state.as_str(), state::BOOKED | state::NO_SHOW) {
                return Err(not_allowed(appointment));
            }
            appointment.state = state::CHECKED_IN.into();
            appointment.checked_in_at = Some(at);
            appointment.service_point = e.service_point.clone();
            Ok(vec![])
        }
        EventBody::AppointmentCalled(e) => {
            if appointment.state != state::CHECKED_IN {
                return Err(not_allowed(appointment));
            }
            appointment.state = state::CALLED.into();
            appointment.called_at = Some(at);
            appointment.service_window = e.window.clone();
            Ok(vec![
                HallObservation::Waiting {
                    service_point: appointment.service_point.clone(),
                    seconds: seconds(appointment.checked_in_at),
                }
                .into(),
            ])
        }
        EventBody::AppointmentCompleted => {
            if appointment.state != state::CALLED {
                return Err(not_allowed(appointment));
            }
            appointment.state = state::COMPLETED.into();
            appointment.completed_at = Some(at);
            Ok(vec![
                HallObservation::Handling {
                    service_point: appointment.service_point.clone(),
                    seconds: seconds(appointment.called_at),
                }
                .into(),
            ])
        }
        EventBody::AppointmentBooked(_) => Err(Rejection::new(
            RejectCode::DuplicateOrder,
            format!("appointment {} already exists", appointment.order_no),
        )),
        _ => Err(Rejection::new(
            RejectCode::InvalidState,
            format!(
                "{} is an appointment: {} is for work orders",
                appointment.order_no,
                event.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, fields: serde_json::Value) -> InboundEvent {
        let mut v = json!({
            "event_id": uuid::Uuid::new_v4(), "type": event_type,
            "occurred_at": "2026-11-26T09:00:00+08:00", "order_no": "YY1",
        });
        for (k, val) in fields.as_object().unwrap() {
            v[k] = val.clone();
        }
        InboundEvent::parse(v.to_string().as_bytes(), 1 << 16).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_state_and_hall_event_pair() {
        use state::*;
        let booked = event(
            "appointment.booked",
            json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-11-26T09:30:00+08:00"}),
        );
        let checked_in = event("appointment.checked_in", json!({"service_point": "ZX"}));
        let called = event("appointment.called", json!({"window": "A3"}));
        let completed = event("appointment.completed", json!({}));
        let accepted = event("order.accepted", json!({"department": "X"}));
        let states = [BOOKED, CHECKED_IN, CALLED, COMPLETED, NO_SHOW];
        let table: [(&InboundEvent, [Option<&str>; 5]); 5] = [
            (
                &checked_in,
                [Some(CHECKED_IN), None, None, None, Some(CHECKED_IN)],
            ),
            (&called, [None, Some(CALLED), None, None, None]),
            (&completed, [None, None, Some(COMPLETED), None, None]),
            (&booked, [None, None, None, None, None]),
            (&accepted, [None, None, None, None, None]),
        ];
        for (e, expected) in table {
            for (from, want) in states.iter().zip(expected) {
                let mut a = book(&booked, t("2026-11-25T10:00:00+08:00")).unwrap();
                a.state = from.to_string();
                let result = apply(&mut a, e, t("2026-11-26T09:10:00+08:00"));
                match want {
                    Some(to) => assert_eq!(a.state, to, "{} from {from}", e.type_name()),
                    None => {
                        assert!(result.is_err(), "{} from {from}", e.type_name());
                        assert_eq!(a.state, *from);
                    }
                }
            }
        }
    }

    #[test]
    fn waiting_and_handling_times_are_measured_per_service_point() {
        let booked = event(
            "appointment.booked",
            json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-11-26T09:30:00+08:00"}),
        );
        let mut a = book(&booked, t("2026-11-25T10:00:00+08:00")).unwrap();
        let steps = [
            (
                event("appointment.checked_in", json!({"service_point": "FZX1"})),
                "2026-11-26T09:00:00+08:00",
            ),
            (
                event("appointment.called", json!({})),
                "2026-11-26T09:19:00+08:00",
            ),
            (
                event("appointment.completed", json!({})),
                "2026-11-26T09:28:00+08:00",
            ),
        ];
        let mut seen = vec![];
        for (e, at) in &steps {
            seen.extend(apply(&mut a, e, t(at)).unwrap());
        }
        assert_eq!(
            seen,
            vec![
                Observation::Hall(HallObservation::Waiting {
                    service_point: "FZX1".into(),
                    seconds: 19.0 * 60.0
                }),
                Observation::Hall(HallObservation::Handling {
                    service_point: "FZX1".into(),
                    seconds: 9.0 * 60.0
                }),
            ]
        );
    }
}
