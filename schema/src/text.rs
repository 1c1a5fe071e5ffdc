//! What the text fields of events may hold (a complaint's, and the reasons, replies and
//! notes of the events that act on an order): the limits every client is held to, the
//! engine's own pages included (they check a form with these very functions before
//! submitting it, so a person is told at the field what a client would be told in a
//! rejection).
//!
//! Lengths are counted in characters (a Chinese character is one), after trimming. A phone
//! number is what a person dials: digits with the separators people write (spaces, `+`,
//! `-`, parentheses, `/` or `,` between two numbers, `转` or `#` before an extension),
//! at least 3 digits (`110`, `12345`) and at most 30 characters; letters are refused.

use crate::body::ComplaintReceived;
use crate::named_enum;
use crate::rejection::{RejectCode, Rejection};

named_enum! {
    /// A checked text field of `complaint.received`, by its JSON path.
    pub enum TextField("text field") {
        Title = "title",
        Content = "content",
        Address = "address",
        CitizenName = "citizen.name",
        CitizenPhone = "citizen.phone",
        /// A department's reply (答复, 协办答复) or an answer at intake.
        Reply = "reply",
        /// Why a return, an extension, an appeal or a suspension.
        Reason = "reason",
        /// A decision's or an urging's note (审核意见, 督办意见).
        Note = "note",
        /// The citizen's words at the callback.
        Comment = "comment",
    }
}

impl TextField {
    /// The most characters the field may hold.
    pub const fn max_chars(self) -> usize {
        match self {
            TextField::Title => 200,
            TextField::Content => 5000,
            TextField::Address => 200,
            TextField::CitizenName => 50,
            TextField::CitizenPhone => 30,
            TextField::Reply => 5000,
            TextField::Reason | TextField::Note | TextField::Comment => 1000,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Required, and empty or only spaces.
    Blank,
    /// Longer than [`TextField::max_chars`].
    TooLong,
    /// Not a phone number a person could dial.
    NotAPhone,
}

/// One field's fault: what a rejection says (in English, by the field's path) and what
/// a form shows beside the field (in the pages' words, from the same value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldFault {
    pub field: TextField,
    pub fault: Fault,
}

impl FieldFault {
    /// The rejection a client gets: `invalid_field`, the path and what was expected,
    /// never the value.
    pub fn rejection(self) -> Rejection {
        let what = match self.fault {
            Fault::Blank => "must not be blank".to_owned(),
            Fault::TooLong => format!("at most {} characters", self.field.max_chars()),
            Fault::NotAPhone => format!(
                "expected a phone number: at least 3 digits, with spaces, +, -, (), /, commas, \
                 # or 转 between them, at most {} characters",
                self.field.max_chars()
            ),
        };
        Rejection::new(RejectCode::InvalidField, format!("{}: {what}", self.field))
    }
}

/// Every fault of `complaint`'s text fields, in the order of [`TextField::ALL`].
pub fn complaint_faults(complaint: &ComplaintReceived) -> Vec<FieldFault> {
    let required = [
        (TextField::Title, Some(complaint.title.as_str())),
        (TextField::Content, Some(complaint.content.as_str())),
    ];
    let optional = [
        (TextField::Address, complaint.address.as_deref()),
        (TextField::CitizenName, complaint.citizen.name.as_deref()),
        (TextField::CitizenPhone, complaint.citizen.phone.as_deref()),
    ];
    let mut faults = Vec::new();
    for (field, text) in required.into_iter().chain(optional) {
        let fault = match text.map(str::trim) {
            None => None,
            Some("") if required.iter().any(|(f, _)| *f == field) => Some(Fault::Blank),
            Some(text) if text.chars().count() > field.max_chars() => Some(Fault::TooLong),
            Some(text) if field == TextField::CitizenPhone && !text.is_empty() => {
                (!is_phone(text)).then_some(Fault::NotAPhone)
            }
            Some(_) => None,
        };
        if let Some(fault) = fault {
            faults.push(FieldFault { field, fault });
        }
    }
    faults
}

/// Every fault of the text fields of an event acting on an order (its reasons, replies
/// and notes): those the contract requires not blank, and every one within its length.
pub fn action_faults(body: &crate::body::EventBody) -> Vec<FieldFault> {
    use crate::body::EventBody as B;
    use TextField::{Comment, Note, Reason, Reply};
    // (field, text, required)
    let fields: Vec<(TextField, Option<&str>, bool)> = match body {
        B::ComplaintReceived(c) => {
            vec![(Reply, c.answer.as_ref().map(|a| a.reply.as_str()), false)]
        }
        B::OrderReturned(r) => vec![(Reason, Some(&r.reason), true)],
        B::ExtensionRequested(r) => vec![(Reason, Some(&r.reason), false)],
        B::OrderSuspended(n) | B::OrderResumed(n) => vec![(Reason, n.reason.as_deref(), false)],
        B::OrderReplied(r) => vec![(Reply, Some(&r.reply), false)],
        B::OrderUrged(u) => vec![(Note, u.note.as_deref(), false)],
        B::OrderCoReplied(r) => vec![(Reply, Some(&r.reply), true)],
        B::ReturnDecided(d) => vec![(Note, Some(&d.note), true)],
        B::RatingAppealed(r) => vec![(Reason, Some(&r.reason), true)],
        B::AppealDecided(d) => vec![(Note, Some(&d.note), true)],
        B::OrderFeedback(f) => vec![(Comment, f.comment.as_deref(), false)],
        B::AppointmentBooked(_)
        | B::AppointmentCheckedIn(_)
        | B::AppointmentCalled(_)
        | B::AppointmentCompleted
        | B::OrderAccepted(_)
        | B::OrderDispatched(_)
        | B::ExtensionDecided(_) => vec![],
    };
    fields
        .into_iter()
        .filter_map(|(field, text, required)| {
            let text = text?.trim();
            let fault = if text.is_empty() {
                required.then_some(Fault::Blank)
            } else {
                (text.chars().count() > field.max_chars()).then_some(Fault::TooLong)
            }?;
            Some(FieldFault { field, fault })
        })
        .collect()
}

/// Whether `text` (trimmed, within its length) reads as a phone number.
fn is_phone(text: &str) -> bool {
    let separators = [' ', '+', '-', '(', ')', '/', ',', '#', '转'];
    text.chars()
        .all(|c| c.is_ascii_digit() || separators.contains(&c))
        && text.chars().filter(char::is_ascii_digit).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Channel, Citizen, RequestKind, Urgency};

    fn complaint() -> ComplaintReceived {
        ComplaintReceived {
            kind: RequestKind::Complaint,
            channel: Channel::Phone,
            category: "SC-0101".into(),
            district: None,
            address: None,
            urgency: Urgency::Normal,
            title: "超市销售过期食品".into(),
            content: "市民反映超市销售过期牛奶。".into(),
            citizen: Citizen::default(),
            confidential: false,
            answer: None,
        }
    }

    #[test]
    fn each_field_is_held_to_its_limit() {
        let long = |n: usize| "很".repeat(n);
        type Change = fn(&mut ComplaintReceived, String);
        // (change, text, expected faults)
        type Case = (Change, String, Vec<(TextField, Fault)>);
        let cases: [Case; 16] = [
            (|c, t| c.title = t, long(200), vec![]),
            (
                |c, t| c.title = t,
                long(201),
                vec![(TextField::Title, Fault::TooLong)],
            ),
            (
                |c, t| c.title = t,
                "  \t ".into(),
                vec![(TextField::Title, Fault::Blank)],
            ),
            (|c, t| c.content = t, long(5000), vec![]),
            (
                |c, t| c.content = t,
                long(5001),
                vec![(TextField::Content, Fault::TooLong)],
            ),
            (
                |c, t| c.content = t,
                String::new(),
                vec![(TextField::Content, Fault::Blank)],
            ),
            (
                |c, t| c.address = Some(t),
                long(201),
                vec![(TextField::Address, Fault::TooLong)],
            ),
            (|c, t| c.address = Some(t), "  ".into(), vec![]),
            (
                |c, t| c.citizen.name = Some(t),
                long(51),
                vec![(TextField::CitizenName, Fault::TooLong)],
            ),
            (
                |c, t| c.citizen.phone = Some(t),
                "13812345678".into(),
                vec![],
            ),
            (
                |c, t| c.citizen.phone = Some(t),
                "+86 (571) 8888-8888 转 123".into(),
                vec![],
            ),
            (|c, t| c.citizen.phone = Some(t), "110".into(), vec![]),
            (
                |c, t| c.citizen.phone = Some(t),
                "abc-not-a-phone!!".into(),
                vec![(TextField::CitizenPhone, Fault::NotAPhone)],
            ),
            (
                |c, t| c.citizen.phone = Some(t),
                "12".into(),
                vec![(TextField::CitizenPhone, Fault::NotAPhone)],
            ),
            (
                |c, t| c.citizen.phone = Some(t),
                "１３８１２３４５６７８".into(),
                vec![(TextField::CitizenPhone, Fault::NotAPhone)],
            ),
            (
                |c, t| c.citizen.phone = Some(t),
                "1".repeat(31),
                vec![(TextField::CitizenPhone, Fault::TooLong)],
            ),
        ];
        for (change, text, expected) in cases {
            let mut c = complaint();
            change(&mut c, text.clone());
            let faults: Vec<(TextField, Fault)> = complaint_faults(&c)
                .into_iter()
                .map(|f| (f.field, f.fault))
                .collect();
            assert_eq!(faults, expected, "{text:?}");
        }
    }

    #[test]
    fn every_fault_is_reported_and_none_quotes_the_value() {
        let mut c = complaint();
        c.title = "很".repeat(300);
        c.content = " ".into();
        c.citizen.phone = Some("13812345678abc".into());
        let faults = complaint_faults(&c);
        assert_eq!(
            faults.iter().map(|f| f.field).collect::<Vec<_>>(),
            [
                TextField::Title,
                TextField::Content,
                TextField::CitizenPhone
            ]
        );
        let details: Vec<String> = faults.iter().map(|f| f.rejection().detail).collect();
        assert_eq!(details[0], "title: at most 200 characters");
        assert_eq!(details[1], "content: must not be blank");
        assert!(details[2].starts_with("citizen.phone: expected a phone number"));
        for f in &faults {
            assert_eq!(f.rejection().code, RejectCode::InvalidField);
            assert!(!f.rejection().detail.contains("13812345678"));
        }
    }

    #[test]
    fn reasons_replies_and_notes_are_required_where_the_contract_says_and_bounded() {
        use crate::body::{EventBody, OrderCoReplied, OrderReplied, OrderReturned, OrderUrged};
        let long = |n: usize| "很".repeat(n);
        let returned = |reason: String| {
            EventBody::OrderReturned(OrderReturned {
                department: "SCJGJ".into(),
                reason,
            })
        };
        let replied = |reply: String| {
            EventBody::OrderReplied(OrderReplied {
                department: "SCJGJ".into(),
                reply,
                resolved: true,
            })
        };
        let co_replied = |reply: String| {
            EventBody::OrderCoReplied(OrderCoReplied {
                department: "YSBZX".into(),
                reply,
            })
        };
        let cases = [
            (returned(long(1000)), vec![]),
            (
                returned(long(1001)),
                vec![(TextField::Reason, Fault::TooLong)],
            ),
            (
                returned("  ".into()),
                vec![(TextField::Reason, Fault::Blank)],
            ),
            (replied(long(5000)), vec![]),
            (
                replied(long(5001)),
                vec![(TextField::Reply, Fault::TooLong)],
            ),
            // A reply may be blank (the contract never required one); a co-reply may not.
            (replied(String::new()), vec![]),
            (
                co_replied(String::new()),
                vec![(TextField::Reply, Fault::Blank)],
            ),
            (
                EventBody::OrderUrged(OrderUrged {
                    level: crate::values::UrgeLevel::Reminder,
                    note: Some(long(1001)),
                }),
                vec![(TextField::Note, Fault::TooLong)],
            ),
        ];
        for (body, want) in cases {
            let got: Vec<(TextField, Fault)> = action_faults(&body)
                .into_iter()
                .map(|f| (f.field, f.fault))
                .collect();
            assert_eq!(got, want, "{:?}", body.event_type());
        }
    }
}
