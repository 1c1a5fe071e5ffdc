//! Who sees a citizen's name and phone in full, and what everyone else sees (脱敏).
//!
//! The holding department has to call the citizen back, and the operators registered the
//! call: they see the citizen in full. Supervisors compare departments and chase
//! deadlines, which needs no personal data: they see it masked, as does any other reader.
//! A confidential case (保密件) is shown in full to the holding department's handlers only
//! (the task message sent to that department carries the citizen as well). An export
//! leaves the engine's control, so a confidential case is masked in every export; the
//! others follow the reader's role. The supervision digest carries no citizen data at all.
//!
//! Masking keeps what a person on the phone needs to recognise a case ("张*",
//! "138****5678") and never more: a value that does not look like a name or a phone
//! number is masked whole.

use hotline_schema::values::Citizen;

/// Who is reading, in the core's terms (the HTTP layer maps its token roles onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader<'a> {
    /// Hotline operators (话务员/派单员), the call centre's front ends, the callback team.
    Operator,
    /// A department's handlers (承办单位).
    Handler { department: &'a str },
    /// The supervision office (督办).
    Supervisor,
    /// Anyone else (a reader the rules do not name sees everything masked).
    Other,
}

/// Where what is read ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// On the reader's screen: the API's order view and order list.
    View,
    /// A file that leaves the engine (the CSV export).
    Export,
}

/// Whether the citizen is shown as is or masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    Full,
    Masked,
}

/// How `reader` sees the citizen of an order held by `holding_department`.
pub fn disclosure(
    reader: Reader<'_>,
    holding_department: &str,
    confidential: bool,
    purpose: Purpose,
) -> Disclosure {
    let holds =
        matches!(reader, Reader::Handler { department } if department == holding_department);
    let full = if confidential {
        holds && purpose == Purpose::View
    } else {
        holds || reader == Reader::Operator
    };
    if full {
        Disclosure::Full
    } else {
        Disclosure::Masked
    }
}

/// Which orders a reader may find by the citizen's phone: exactly those whose phone
/// [`disclosure`] shows it in full for the same purpose, so that a search can never tell a
/// reader whose phone a masked order holds. `None` from [`phone_reach`]: no order (a
/// supervisor, or a reader the rules do not name, sees every phone masked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhoneReach {
    /// Only the orders this department holds (a handler's reach); every order without.
    pub held_by: Option<String>,
    /// Whether confidential cases (保密件) are among them.
    pub confidential: bool,
}

impl PhoneReach {
    /// Whether an order held by `holding_department` is within the reach.
    pub fn includes(&self, holding_department: &str, confidential: bool) -> bool {
        (self.confidential || !confidential)
            && self
                .held_by
                .as_deref()
                .is_none_or(|own| own == holding_department)
    }
}

/// Where `reader` may search by the citizen's phone, for `purpose` (see [`PhoneReach`]).
pub fn phone_reach(reader: Reader<'_>, purpose: Purpose) -> Option<PhoneReach> {
    match reader {
        Reader::Operator => Some(PhoneReach {
            held_by: None,
            confidential: false,
        }),
        Reader::Handler { department } => Some(PhoneReach {
            held_by: Some(department.to_owned()),
            confidential: purpose == Purpose::View,
        }),
        Reader::Supervisor | Reader::Other => None,
    }
}

/// The citizen as `disclosure` says to show it.
pub fn shown(citizen: &Citizen, disclosure: Disclosure) -> Citizen {
    match disclosure {
        Disclosure::Full => citizen.clone(),
        Disclosure::Masked => Citizen {
            name: citizen.name.as_deref().map(mask_name),
            phone: citizen.phone.as_deref().map(mask_phone),
        },
    }
}

/// The first character kept, one `*` for every further one: "张三" → "张*", "欧阳娜娜" →
/// "欧***"; a one-character name becomes "*". Surrounding whitespace is dropped first.
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            if rest == 0 {
                "*".to_owned()
            } else {
                let mut masked = String::with_capacity(first.len_utf8() + rest);
                masked.push(first);
                masked.extend(std::iter::repeat_n('*', rest));
                masked
            }
        }
    }
}

/// The shortest phone value whose first 3 and last 4 characters are shown.
pub const PHONE_SHOWN_FROM: usize = 8;

/// The first 3 and last 4 characters kept, the others `*`: "13812345678" → "138****5678",
/// "0591-87654321" → "059******4321". A value shorter than [`PHONE_SHOWN_FROM`] characters,
/// or holding anything but digits, `+`, `-` and spaces, is all `*` (one per character):
/// it is not a phone number, and may be anything.
pub fn mask_phone(phone: &str) -> String {
    let phone = phone.trim();
    let n = phone.chars().count();
    let looks_like_a_number = phone.chars().any(|c| c.is_ascii_digit())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
    if n < PHONE_SHOWN_FROM || !looks_like_a_number {
        return "*".repeat(n);
    }
    phone
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 3 || i >= n - 4 { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_first_character_only() {
        let cases = [
            ("张三", "张*"),
            ("张", "*"),
            ("欧阳娜娜", "欧***"),
            ("李小明", "李**"),
            ("Li Lei", "L*****"),
            (" 王五 ", "王*"),
            ("", ""),
            ("   ", ""),
        ];
        for (name, want) in cases {
            assert_eq!(mask_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn phones_keep_the_first_three_and_the_last_four_characters() {
        let cases = [
            ("13812345678", "138****5678"),
            ("13900000000", "139****0000"),
            ("0591-87654321", "059******4321"),
            ("+8613812345678", "+86*******5678"),
            ("12345678", "123*5678"),
            // Shorter than 8: all masked.
            ("1234567", "*******"),
            ("110", "***"),
            ("", ""),
            // Not a phone number: all masked, whatever its length.
            ("13812345678 ext 9", "*****************"),
            ("张三的电话号码是一三八", "***********"),
            ("--------", "********"),
            ("abcdefghij", "**********"),
        ];
        for (phone, want) in cases {
            let masked = mask_phone(phone);
            assert_eq!(masked, want, "{phone:?}");
            if phone.chars().count() >= 8 {
                assert_ne!(masked, phone, "a phone is never shown whole");
            }
        }
    }

    #[test]
    fn a_phone_search_reaches_exactly_the_orders_whose_phone_the_reader_sees_in_full() {
        let readers = [
            Reader::Operator,
            Reader::Handler {
                department: "SCJGJ",
            },
            Reader::Handler {
                department: "YSBZX",
            },
            Reader::Supervisor,
            Reader::Other,
        ];
        for reader in readers {
            for purpose in [Purpose::View, Purpose::Export] {
                let reach = phone_reach(reader, purpose);
                for holding in ["SCJGJ", "YSBZX"] {
                    for confidential in [false, true] {
                        let full =
                            disclosure(reader, holding, confidential, purpose) == Disclosure::Full;
                        let found = reach
                            .as_ref()
                            .is_some_and(|r| r.includes(holding, confidential));
                        assert_eq!(
                            found, full,
                            "{reader:?} {purpose:?} {holding} confidential={confidential}"
                        );
                    }
                }
            }
        }
        // (reader, purpose, reach)
        let cases = [
            (Reader::Supervisor, Purpose::View, None),
            (Reader::Operator, Purpose::View, Some((None, false))),
            (
                Reader::Handler {
                    department: "SCJGJ",
                },
                Purpose::View,
                Some((Some("SCJGJ"), true)),
            ),
            (
                Reader::Handler {
                    department: "SCJGJ",
                },
                Purpose::Export,
                Some((Some("SCJGJ"), false)),
            ),
        ];
        for (reader, purpose, want) in cases {
            let got = phone_reach(reader, purpose);
            assert_eq!(
                got.as_ref().map(|r| (r.held_by.as_deref(), r.confidential)),
                want,
                "{reader:?} {purpose:?}"
            );
        }
    }

    #[test]
    fn the_holding_department_and_operators_see_the_citizen_others_see_it_masked() {
        use Disclosure::{Full, Masked};
        use Purpose::{Export, View};
        let holder = Reader::Handler {
            department: "SCJGJ",
        };
        let other = Reader::Handler {
            department: "YSBZX",
        };
        // (reader, confidential, purpose, disclosure)
        let cases = [
            (Reader::Operator, false, View, Full),
            (holder, false, View, Full),
            (other, false, View, Masked),
            (Reader::Supervisor, false, View, Masked),
            (Reader::Other, false, View, Masked),
            (Reader::Operator, false, Export, Full),
            (holder, false, Export, Full),
            (other, false, Export, Masked),
            (Reader::Supervisor, false, Export, Masked),
            (Reader::Other, false, Export, Masked),
            // 保密件: the holding department's handlers only, and never in an export.
            (Reader::Operator, true, View, Masked),
            (holder, true, View, Full),
            (other, true, View, Masked),
            (Reader::Supervisor, true, View, Masked),
            (Reader::Other, true, View, Masked),
            (Reader::Operator, true, Export, Masked),
            (holder, true, Export, Masked),
            (other, true, Export, Masked),
            (Reader::Supervisor, true, Export, Masked),
            (Reader::Other, true, Export, Masked),
        ];
        for (reader, confidential, purpose, want) in cases {
            assert_eq!(
                disclosure(reader, "SCJGJ", confidential, purpose),
                want,
                "{reader:?} confidential={confidential} {purpose:?}"
            );
        }
    }

    #[test]
    fn a_masked_citizen_keeps_absent_fields_absent() {
        let citizen = Citizen {
            name: Some("张三".into()),
            phone: Some("13812345678".into()),
        };
        let cases = [
            (Disclosure::Full, Some("张三"), Some("13812345678")),
            (Disclosure::Masked, Some("张*"), Some("138****5678")),
        ];
        for (disclosure, name, phone) in cases {
            let seen = shown(&citizen, disclosure);
            assert_eq!(seen.name.as_deref(), name);
            assert_eq!(seen.phone.as_deref(), phone);
        }
        let nobody = shown(&Citizen::default(), Disclosure::Masked);
        assert_eq!((nobody.name, nobody.phone), (None, None));
    }
}
