//! Where a fault of the configuration file is, and the readers of its kinds of values
//! (codes, ratios, ranges, limits, marks, cron expressions), each refusing with the line.

use super::{ConfigError, Limit, Marks, line_of};
use std::ops::{Range, RangeInclusive};
use toml::Spanned;

/// Reports faults at a place in the file.
pub(super) struct Faults<'a> {
    pub(super) text: &'a str,
    pub(super) source: &'a str,
}

impl Faults<'_> {
    pub(super) fn at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.source.to_owned(),
            line: Some(line_of(self.text, span.start)),
            message: message.into(),
        }
    }

    /// A fault of the file as a whole (a missing table): no line, the message names it.
    pub(super) fn whole(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.source.to_owned(),
            line: None,
            message: message.into(),
        }
    }

    /// A code that becomes part of AMQP names and a metric label: anything an AMQP name
    /// allows (1-200 bytes of UTF-8), but `.`, `*` and `#`, which would break routing keys
    /// like `<level>.<DEPT>`, and control characters.
    pub(super) fn code(&self, value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
        let code = value.get_ref();
        let fits = !code.is_empty() && code.len() <= 200;
        let forbidden = code
            .chars()
            .any(|c| matches!(c, '.' | '*' | '#') || c.is_control());
        if fits && !forbidden {
            Ok(code.clone())
        } else {
            Err(self.at(
                value.span(),
                format!("{what} must be 1-200 bytes without '.', '*', '#' or control characters"),
            ))
        }
    }

    pub(super) fn limit(&self, value: &Spanned<String>, what: &str) -> Result<Limit, ConfigError> {
        Limit::parse(value.get_ref()).map_err(|e| self.at(value.span(), format!("{what}: {e}")))
    }

    pub(super) fn ratio(
        &self,
        value: &Option<Spanned<f64>>,
        default: f64,
        what: &str,
    ) -> Result<f64, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Ok(*v.get_ref()),
            Some(v) => Err(self.at(
                v.span(),
                format!("{what} must be in (0, 1], found {}", v.get_ref()),
            )),
        }
    }

    /// A whole number within `range`, or `default` when absent.
    pub(super) fn within<T>(
        &self,
        value: &Option<Spanned<T>>,
        range: RangeInclusive<T>,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        match value {
            None => Ok(default),
            Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.at(
                v.span(),
                format!(
                    "{what} must be between {} and {}, found {}",
                    range.start(),
                    range.end(),
                    v.get_ref()
                ),
            )),
        }
    }

    /// `[green, yellow]`: two rates, 0 ≤ yellow ≤ green ≤ 1.
    pub(super) fn marks(
        &self,
        value: &Option<Spanned<Vec<f64>>>,
        default: Marks,
        what: &str,
    ) -> Result<Marks, ConfigError> {
        let Some(v) = value else {
            return Ok(default);
        };
        match v.get_ref().as_slice() {
            [green, yellow] if (0.0..=1.0).contains(green) && (0.0..=*green).contains(yellow) => {
                Ok(Marks {
                    green: *green,
                    yellow: *yellow,
                })
            }
            _ => Err(self.at(
                v.span(),
                format!("{what} must be [green, yellow]: two rates with 0 <= yellow <= green <= 1"),
            )),
        }
    }

    pub(super) fn cron(
        &self,
        value: &Option<Spanned<String>>,
        default: &str,
        what: &str,
    ) -> Result<cron::Schedule, ConfigError> {
        let Some(v) = value else {
            return Ok(default.parse().expect("the default schedules are valid"));
        };
        v.get_ref().parse().map_err(|e| {
            self.at(
                v.span(),
                format!(
                    "{what} {:?} is not a 6-field cron expression: {e}",
                    v.get_ref()
                ),
            )
        })
    }
}
