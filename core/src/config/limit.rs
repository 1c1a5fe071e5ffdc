//! Time limits as operators write them.

use std::fmt;
use std::time::Duration;

/// A time limit: `"5wd"` (working days on the business calendar), `"4h"` or `"30m"`
/// (natural time, day and night, for urgent classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    WorkingDays(u32),
    Natural(Duration),
}

impl Limit {
    pub fn parse(raw: &str) -> Result<Limit, String> {
        let raw = raw.trim();
        let split = raw
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("limit {raw:?} needs a unit: wd, h or m"))?;
        let (number, unit) = raw.split_at(split);
        let n: u32 = number
            .parse()
            .map_err(|_| format!("limit {raw:?} must start with a whole number"))?;
        if n == 0 {
            return Err(format!("limit {raw:?} must be greater than zero"));
        }
        match unit {
            "wd" => Ok(Limit::WorkingDays(n)),
            "h" => Ok(Limit::Natural(Duration::from_secs(u64::from(n) * 3600))),
            "m" => Ok(Limit::Natural(Duration::from_secs(u64::from(n) * 60))),
            _ => Err(format!(
                "limit {raw:?} has unknown unit {unit:?} (use wd, h or m)"
            )),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::WorkingDays(n) => write!(f, "{n}wd"),
            Limit::Natural(d) if d.as_secs() % 3600 == 0 => write!(f, "{}h", d.as_secs() / 3600),
            Limit::Natural(d) => write!(f, "{}m", d.as_secs() / 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print() {
        let cases = [
            ("5wd", Some(Limit::WorkingDays(5))),
            ("15wd", Some(Limit::WorkingDays(15))),
            ("2h", Some(Limit::Natural(Duration::from_secs(7200)))),
            ("30m", Some(Limit::Natural(Duration::from_secs(1800)))),
            ("wd", None),
            ("5", None),
            ("5d", None),
            ("-1wd", None),
            ("0h", None),
            ("", None),
        ];
        for (text, expected) in cases {
            let parsed = Limit::parse(text).ok();
            assert_eq!(parsed, expected, "{text}");
            if let Some(limit) = parsed {
                assert_eq!(limit.to_string(), text);
            }
        }
    }
}
