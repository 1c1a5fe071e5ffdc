//! Enums whose variants have one wire name each, written once.
//!
//! Event types, states, levels and the like travel as snake_case strings (in JSON, in
//! AMQP routing keys, in database columns, in metric labels). [`named_enum!`] declares such
//! an enum from a single list of `Variant = "name"` pairs and derives everything else from
//! that list: `ALL`, `as_str`, `parse`, `Display`, `FromStr`, `TryFrom<String>` and serde.
//! Adding a variant is one line, and every `match` on the enum then says where it must be
//! handled.

use std::fmt;

/// A string that names no variant of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being read, e.g. `order state`.
    pub what: &'static str,
    pub found: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a known {}", self.found, self.what)
    }
}

impl std::error::Error for UnknownName {}

/// Declares a C-like enum with one wire name per variant. See the module documentation.
///
/// ```
/// hotline_schema::named_enum! {
///     /// A colour.
///     pub enum Colour("colour") { Red = "red", DarkBlue = "dark_blue" }
/// }
/// assert_eq!(Colour::DarkBlue.as_str(), "dark_blue");
/// assert_eq!("red".parse::<Colour>(), Ok(Colour::Red));
/// assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
/// assert!(Colour::parse("green").is_none());
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant a wire name stands for.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;
            fn from_str(text: &str) -> Result<$name, Self::Err> {
                $name::parse(text).ok_or_else(|| $crate::names::UnknownName {
                    what: $what,
                    found: text.to_owned(),
                })
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::names::UnknownName;
            fn try_from(text: String) -> Result<$name, Self::Error> {
                text.parse()
            }
        }

        impl $crate::serde::Serialize for $name {
            fn serialize<S: $crate::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                struct Visitor;
                impl $crate::serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {}", $what)
                    }
                    fn visit_str<E: $crate::serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        $name::parse(text).ok_or_else(|| E::unknown_variant(text, $name::NAMES))
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}
