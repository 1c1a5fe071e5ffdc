//! Appointments for in-person services (预约办事) and the service hall's queue:
//! booked → checked in → called → completed; a booking never checked in by the end of its
//! slot's day is marked a no-show by the periodic sweep. Pure.

use crate::observation::{HallObservation, Observation};
use chrono::{DateTime, Utc};
use hotline_schema::body::EventBody;
use hotline_schema::event::InboundEvent;
use hotline_schema::named_enum;
use hotline_schema::rejection::{RejectCode, Rejection};
use hotline_schema::values::Citizen;

named_enum! {
    /// Where an appointment stands in the service hall.
    pub enum AppointmentState("appointment state") {
        Booked = "booked",
        CheckedIn = "checked_in",
        Called = "called",
        Completed = "completed",
        /// Never checked in by the end of its slot's day (marked by the repair sweep).
        NoShow = "no_show",
    }
}

/// One appointment. Holds the citizen's name and phone: no `Debug`.
#[derive(Clone, PartialEq)]
pub struct Appointment {
    pub order_no: String,
    pub category: String,
    pub service_point: String,
    pub slot_start: DateTime<Utc>,
    pub citizen: Citizen,
    pub state: AppointmentState,
    pub booked_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub called_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub service_window: Option<String>,
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
        citizen: booked.citizen.clone(),
        state: AppointmentState::Booked,
        booked_at: at,
        checked_in_at: None,
        called_at: None,
        completed_at: None,
        service_window: None,
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
                event.event_type()
            ),
        )
    };
    let seconds = |from: Option<DateTime<Utc>>| {
        from.map_or(0.0, |f| (at - f).num_milliseconds().max(0) as f64 / 1000.0)
    };
    match &event.body {
        EventBody::AppointmentCheckedIn(e) => {
            // A late arrival after a no-show mark is still served.
            if !matches!(
                appointment.state,
                AppointmentState::Booked | AppointmentState::NoShow
            ) {
                return Err(not_allowed(appointment));
            }
            appointment.state = AppointmentState::CheckedIn;
            appointment.checked_in_at = Some(at);
            appointment.service_point = e.service_point.clone();
            Ok(vec![])
        }
        EventBody::AppointmentCalled(e) => {
            if appointment.state != AppointmentState::CheckedIn {
                return Err(not_allowed(appointment));
            }
            appointment.state = AppointmentState::Called;
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
            if appointment.state != AppointmentState::Called {
                return Err(not_allowed(appointment));
            }
            appointment.state = AppointmentState::Completed;
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
        EventBody::ComplaintReceived(_)
        | EventBody::OrderAccepted(_)
        | EventBody::OrderDispatched(_)
        | EventBody::OrderReturned(_)
        | EventBody::ExtensionRequested(_)
        | EventBody::ExtensionDecided(_)
        | EventBody::OrderSuspended(_)
        | EventBody::OrderResumed(_)
        | EventBody::OrderReplied(_)
        | EventBody::OrderUrged(_)
        | EventBody::OrderFeedback(_)
        | EventBody::OrderCoReplied(_)
        | EventBody::ReturnDecided(_)
        | EventBody::RatingAppealed(_)
        | EventBody::AppealDecided(_) => Err(Rejection::new(
            RejectCode::InvalidState,
            format!(
                "{} is an appointment: {} is for work orders",
                appointment.order_no,
                event.event_type()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_schema::event::EventType;
    use serde_json::json;

    fn event(event_type: EventType, fields: serde_json::Value) -> InboundEvent {
        let mut v = json!({
            "event_id": uuid::Uuid::new_v4(), "type": event_type.as_str(),
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
        use AppointmentState::*;
        let booked = event(
            EventType::AppointmentBooked,
            json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-11-26T09:30:00+08:00"}),
        );
        let checked_in = event(
            EventType::AppointmentCheckedIn,
            json!({"service_point": "ZX"}),
        );
        let called = event(EventType::AppointmentCalled, json!({"window": "A3"}));
        let completed = event(EventType::AppointmentCompleted, json!({}));
        let accepted = event(EventType::OrderAccepted, json!({"department": "X"}));
        let states = [Booked, CheckedIn, Called, Completed, NoShow];
        let table: [(&InboundEvent, [Option<AppointmentState>; 5]); 5] = [
            (
                &checked_in,
                [Some(CheckedIn), None, None, None, Some(CheckedIn)],
            ),
            (&called, [None, Some(Called), None, None, None]),
            (&completed, [None, None, Some(Completed), None, None]),
            (&booked, [None, None, None, None, None]),
            (&accepted, [None, None, None, None, None]),
        ];
        for (e, expected) in table {
            for (from, want) in states.iter().zip(expected) {
                let mut a = book(&booked, t("2026-11-25T10:00:00+08:00")).unwrap();
                a.state = *from;
                let result = apply(&mut a, e, t("2026-11-26T09:10:00+08:00"));
                match want {
                    Some(to) => assert_eq!(a.state, to, "{} from {from}", e.event_type()),
                    None => {
                        assert!(result.is_err(), "{} from {from}", e.event_type());
                        assert_eq!(a.state, *from);
                    }
                }
            }
        }
    }

    #[test]
    fn waiting_and_handling_times_are_measured_per_service_point() {
        let booked = event(
            EventType::AppointmentBooked,
            json!({"category": "SP-0101", "service_point": "ZX", "slot_start": "2026-11-26T09:30:00+08:00"}),
        );
        let mut a = book(&booked, t("2026-11-25T10:00:00+08:00")).unwrap();
        let steps = [
            (
                event(
                    EventType::AppointmentCheckedIn,
                    json!({"service_point": "FZX1"}),
                ),
                "2026-11-26T09:00:00+08:00",
            ),
            (
                event(EventType::AppointmentCalled, json!({})),
                "2026-11-26T09:19:00+08:00",
            ),
            (
                event(EventType::AppointmentCompleted, json!({})),
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
