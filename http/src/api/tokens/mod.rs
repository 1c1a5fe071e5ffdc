//! API tokens: who may call `/api`, and as which role.
//!
//! Tokens come from two places, both optional, merged:
//! - `HOTLINE_API_TOKENS`: a comma-separated list of `token:role[:DEPT]`, e.g.
//!   `Zq3…:operator,Hx9…:handler:SCJGJ,Pk2…:supervisor` (handy for containers and tests);
//! - `HOTLINE_API_TOKENS_FILE`: a TOML file of `[[api_token]]` tables with `name`, `token`,
//!   `role` and, for a handler, `department` (what operators keep in a secret store).
//!
//! - the database (`api_tokens`): tokens made with `hotline token create`, kept as the
//!   SHA-256 digest of their secret, reloaded every [`REFRESH_EVERY`] by every process so
//!   that `hotline token revoke` reaches them all without a restart ([`Registry`]).
//!
//! A faulty entry stops the engine at start with a message naming the file and line (or
//! the entry's position in the variable), never the token itself. Configured tokens are
//! compared in constant time, stored ones by digest, and only a token's `name` is ever
//! logged.

mod registry;

pub use registry::{REFRESH_EVERY, Registry, check_name, digest, new_secret};

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// The variable holding inline tokens.
pub const TOKENS_ENV: &str = "HOTLINE_API_TOKENS";
/// The variable naming a TOML file of tokens.
pub const TOKENS_FILE_ENV: &str = "HOTLINE_API_TOKENS_FILE";

/// Shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LEN: usize = 16;
const MAX_TOKEN_LEN: usize = 512;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// Hotline operators (话务员/派单员), the call centre's front ends and the callback
    /// team (回访): register cases and appointments, dispatch by hand, record feedback.
    Operator,
    /// A department's handlers (承办单位): act on that department's orders only.
    Handler { department: String },
    /// The supervision office (督办): sees everything, decides extensions, suspends,
    /// resumes and urges.
    Supervisor,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Handler { .. } => "handler",
            Role::Supervisor => "supervisor",
        }
    }

    /// The department a handler acts for; `None` for roles that see every department.
    pub fn department(&self) -> Option<&str> {
        match self {
            Role::Handler { department } => Some(department),
            Role::Operator | Role::Supervisor => None,
        }
    }

    pub fn parse(role: &str, department: Option<&str>) -> Result<Role, String> {
        match (role, department) {
            ("operator", None) => Ok(Role::Operator),
            ("supervisor", None) => Ok(Role::Supervisor),
            ("handler", Some(department)) => Ok(Role::Handler {
                department: department.to_owned(),
            }),
            ("handler", None) => Err("a handler token needs a department".into()),
            ("operator" | "supervisor", Some(_)) => Err(format!(
                "a {role} token sees every department: remove its department"
            )),
            (other, _) => Err(format!(
                "unknown role {other:?} (roles: operator, handler, supervisor)"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Handler { department } => write!(f, "handler:{department}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Who is calling: the role of the token presented and its name (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: from the file, or `env#N` for the N-th entry of the variable.
    pub name: String,
    pub role: Role,
}

/// A token could not be configured. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {message}")]
pub struct TokenError {
    /// The file, or the variable, the entry came from.
    pub source_name: String,
    /// Line in the file, or position of the entry in the variable (1-based).
    pub line: usize,
    pub message: String,
}

struct Entry {
    secret: Vec<u8>,
    caller: Caller,
}

/// The configured tokens. Its `Debug` shows names and roles only.
#[derive(Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.entries
                    .iter()
                    .map(|e| format!("{} ({})", e.caller.name, e.caller.role)),
            )
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    api_token: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    token: Spanned<String>,
    role: Spanned<String>,
    #[serde(default)]
    department: Option<Spanned<String>>,
}

impl Tokens {
    /// Reads `HOTLINE_API_TOKENS` and the file `HOTLINE_API_TOKENS_FILE` names.
    /// `departments` are the configured department codes a handler token may name.
    pub fn from_env(departments: &[String]) -> Result<Tokens, TokenError> {
        let inline = std::env::var(TOKENS_ENV).ok();
        let file = std::env::var_os(TOKENS_FILE_ENV).filter(|f| !f.is_empty());
        let mut tokens = match inline.as_deref() {
            Some(list) if !list.trim().is_empty() => {
                Tokens::parse_list(list, TOKENS_ENV, departments)?
            }
            _ => Tokens::default(),
        };
        if let Some(path) = file {
            let path = Path::new(&path);
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| TokenError {
                source_name: name.clone(),
                line: 0,
                message: format!("cannot read: {e}"),
            })?;
            let from_file = Tokens::parse_file(&text, &name, departments)?;
            tokens.merge(from_file, &name)?;
        }
        Ok(tokens)
    }

    /// Parses `token:role[:DEPT]` entries separated by commas (whitespace around entries
    /// is ignored). `source` names the list in errors.
    pub fn parse_list(
        list: &str,
        source: &str,
        departments: &[String],
    ) -> Result<Tokens, TokenError> {
        let mut tokens = Tokens::default();
        for (index, entry) in list.split(',').map(str::trim).enumerate() {
            let position = index + 1;
            let fault = |message: String| TokenError {
                source_name: source.to_owned(),
                line: position,
                message: format!("entry {position}: {message}"),
            };
            if entry.is_empty() {
                continue;
            }
            let mut parts = entry.split(':');
            let secret = parts.next().unwrap_or_default();
            let role = parts
                .next()
                .ok_or_else(|| fault("expected token:role[:DEPARTMENT]".into()))?;
            let department = parts.next();
            if parts.next().is_some() {
                return Err(fault("expected token:role[:DEPARTMENT]".into()));
            }
            check_secret(secret).map_err(fault)?;
            let role = Role::parse(role, department).map_err(fault)?;
            check_department(&role, departments).map_err(fault)?;
            tokens
                .push(secret, format!("env#{position}"), role)
                .map_err(fault)?;
        }
        Ok(tokens)
    }

    /// Parses a TOML file of `[[api_token]]` tables. `source` names it in errors.
    pub fn parse_file(
        text: &str,
        source: &str,
        departments: &[String],
    ) -> Result<Tokens, TokenError> {
        let fault = |at: usize, message: String| TokenError {
            source_name: source.to_owned(),
            line: line_of(text, at),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            // toml's message may quote the offending value (a token): keep only the kind.
            let at = e.span().map_or(0, |s| s.start);
            fault(at, redacted_toml_message(e.message()))
        })?;
        let mut tokens = Tokens::default();
        let mut names = HashSet::new();
        for t in raw.api_token {
            let name = t.name.get_ref().trim();
            if name.is_empty() || !names.insert(name.to_owned()) {
                return Err(fault(
                    t.name.span().start,
                    format!("api_token name {name:?} must be non-empty and unique"),
                ));
            }
            check_secret(t.token.get_ref())
                .map_err(|m| fault(t.token.span().start, format!("api_token {name:?}: {m}")))?;
            let role = Role::parse(
                t.role.get_ref(),
                t.department.as_ref().map(|d| d.get_ref().as_str()),
            )
            .map_err(|m| fault(t.role.span().start, format!("api_token {name:?}: {m}")))?;
            let at = t.department.as_ref().map_or(t.role.span(), |d| d.span());
            check_department(&role, departments)
                .map_err(|m| fault(at.start, format!("api_token {name:?}: {m}")))?;
            tokens
                .push(t.token.get_ref(), name.to_owned(), role)
                .map_err(|m| fault(t.token.span().start, format!("api_token {name:?}: {m}")))?;
        }
        Ok(tokens)
    }

    fn push(&mut self, secret: &str, name: String, role: Role) -> Result<(), String> {
        if self.find(secret.as_bytes()).is_some() {
            return Err("the same token is configured twice".into());
        }
        self.entries.push(Entry {
            secret: secret.as_bytes().to_vec(),
            caller: Caller { name, role },
        });
        Ok(())
    }

    fn merge(&mut self, other: Tokens, source: &str) -> Result<(), TokenError> {
        for entry in other.entries {
            if self.find(&entry.secret).is_some() {
                return Err(TokenError {
                    source_name: source.to_owned(),
                    line: 0,
                    message: format!(
                        "api_token {:?}: the same token is also in {TOKENS_ENV}",
                        entry.caller.name
                    ),
                });
            }
            self.entries.push(entry);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Roles configured, for the start-up log line (no secrets).
    pub fn summary(&self) -> String {
        let names: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} ({})", e.caller.name, e.caller.role))
            .collect();
        names.join(", ")
    }

    /// The caller a presented token belongs to. Every configured token is compared, each
    /// in constant time, so the time taken does not tell how much of a guess was right.
    pub fn authenticate(&self, presented: &[u8]) -> Option<&Caller> {
        self.find(presented).map(|e| &e.caller)
    }

    fn find(&self, presented: &[u8]) -> Option<&Entry> {
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(presented, &entry.secret) {
                found = Some(entry);
            }
        }
        found
    }
}

/// How often each process reloads the stored tokens (a revocation takes effect within
/// this, plus a query).
/// Compares two byte strings in time that depends only on `expected`'s length.
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(presented.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(!*e);
        diff |= p ^ e;
    }
    std::hint::black_box(diff) == 0
}

fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_TOKEN_LEN || secret.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "a token must be {MIN_TOKEN_LEN}-{MAX_TOKEN_LEN} characters long (found {})",
            secret.len()
        ));
    }
    // Visible ASCII, as an HTTP header carries it; no ',' or ':' so that it fits the list.
    if !secret
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
    {
        return Err("a token must be visible ASCII without ',' or ':'".into());
    }
    Ok(())
}

fn check_department(role: &Role, departments: &[String]) -> Result<(), String> {
    match role.department() {
        Some(code) if !departments.iter().any(|d| d == code) => Err(format!(
            "department {code:?} is not in the configuration's catalog"
        )),
        _ => Ok(()),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn redacted_toml_message(message: &str) -> String {
    // Messages like `invalid type: integer, expected a string` are safe; anything that
    // quotes input is cut at the first quote.
    let message = message.trim();
    match message.find(['"', '\'', '`']) {
        Some(at) => format!("{} …", message[..at].trim_end()),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departments() -> Vec<String> {
        vec!["SCJGJ".into(), "YSBZX".into()]
    }

    #[test]
    fn parses_an_inline_list() {
        let tokens = Tokens::parse_list(
            " op-0123456789abcdef:operator , h-0123456789abcdef:handler:SCJGJ,,sv-0123456789abcdef:supervisor",
            TOKENS_ENV,
            &departments(),
        )
        .unwrap();
        assert_eq!(tokens.len(), 3);
        let caller = tokens.authenticate(b"h-0123456789abcdef").unwrap();
        assert_eq!(
            caller.role,
            Role::Handler {
                department: "SCJGJ".into()
            }
        );
        assert_eq!(caller.name, "env#2");
        assert_eq!(
            tokens.authenticate(b"sv-0123456789abcdef").unwrap().role,
            Role::Supervisor
        );
        assert!(tokens.authenticate(b"sv-0123456789abcde").is_none());
        assert!(tokens.authenticate(b"sv-0123456789abcdefg").is_none());
        assert!(tokens.authenticate(b"").is_none());
    }

    #[test]
    fn faults_name_the_entry_and_never_the_token() {
        let cases = [
            ("short:operator", "characters long"),
            ("op-0123456789abcdef", "expected token:role"),
            ("op-0123456789abcdef:admin", "unknown role"),
            ("op-0123456789abcdef:handler", "needs a department"),
            (
                "op-0123456789abcdef:handler:XXX",
                "not in the configuration",
            ),
            (
                "op-0123456789abcdef:operator:SCJGJ",
                "remove its department",
            ),
            (
                "op-0123456789abcdef:operator,op-0123456789abcdef:supervisor",
                "twice",
            ),
        ];
        for (list, expected) in cases {
            let err = Tokens::parse_list(list, TOKENS_ENV, &departments()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{list}: {text}");
            assert!(!text.contains("0123456789abcdef"), "{text}");
            assert!(text.starts_with("HOTLINE_API_TOKENS:"), "{text}");
        }
    }

    #[test]
    fn parses_a_file_and_locates_faults() {
        let text = r#"
[[api_token]]
name = "call-centre"
token = "cc-0123456789abcdef"
role = "operator"

[[api_token]]
name = "scjgj-system"
token = "sc-0123456789abcdef"
role = "handler"
department = "SCJGJ"
"#;
        let tokens = Tokens::parse_file(text, "tokens.toml", &departments()).unwrap();
        let caller = tokens.authenticate(b"cc-0123456789abcdef").unwrap();
        assert_eq!(caller.name, "call-centre");
        assert_eq!(caller.role, Role::Operator);

        let bad = text.replace("\"SCJGJ\"", "\"NOPE\"");
        let err = Tokens::parse_file(&bad, "tokens.toml", &departments()).unwrap_err();
        assert_eq!(err.line, 11, "{err}");
        assert!(err.to_string().starts_with("tokens.toml:11:"), "{err}");

        let typo = text.replace("role = \"operator\"", "rol = \"operator\"");
        let err = Tokens::parse_file(&typo, "tokens.toml", &departments()).unwrap_err();
        assert!(!err.to_string().contains("cc-0123456789abcdef"), "{err}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let tokens =
            Tokens::parse_list("op-0123456789abcdef:operator", TOKENS_ENV, &departments()).unwrap();
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(debug.contains("env#1 (operator)"), "{debug}");
    }

    #[test]
    fn a_secret_is_16_to_512_visible_ascii_characters_without_comma_or_colon() {
        // (secret, accepted)
        let cases = [
            ("a".repeat(15), false),
            ("a".repeat(16), true),
            ("a".repeat(512), true),
            ("a".repeat(513), false),
            ("0123456789abcdef!~".to_owned(), true),
            ("0123456789abcdef,x".to_owned(), false),
            ("0123456789abcdef:x".to_owned(), false),
            ("0123456789abcdef x".to_owned(), false),
            ("0123456789abcdef\tx".to_owned(), false),
            ("0123456789abcdef键".to_owned(), false),
        ];
        for (secret, accepted) in cases {
            assert_eq!(check_secret(&secret).is_ok(), accepted, "{secret:?}");
        }
    }

    #[test]
    fn names_in_a_file_are_non_empty_and_unique() {
        let entry = |name: &str, token: &str| {
            format!("[[api_token]]\nname = \"{name}\"\ntoken = \"{token}\"\nrole = \"operator\"\n")
        };
        let a = entry("call-centre", "cc-0123456789abcdef");
        // (file, line of the fault, or accepted)
        let cases = [
            (format!("{a}{}", entry("desk", "dk-0123456789abcdef")), None),
            (
                format!("{a}{}", entry("call-centre", "dk-0123456789abcdef")),
                Some(6),
            ),
            (
                format!("{a}{}", entry(" call-centre ", "dk-0123456789abcdef")),
                Some(6),
            ),
            (
                format!("{a}{}", entry("  ", "dk-0123456789abcdef")),
                Some(6),
            ),
            (entry("", "dk-0123456789abcdef"), Some(2)),
        ];
        for (text, fault_line) in cases {
            let parsed = Tokens::parse_file(&text, "tokens.toml", &departments());
            match (parsed, fault_line) {
                (Ok(tokens), None) => assert_eq!(tokens.len(), 2),
                (Err(err), Some(line)) => {
                    assert_eq!(err.line, line, "{err}");
                    assert!(
                        err.message.contains("must be non-empty and unique"),
                        "{err}"
                    );
                }
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_token_in_both_the_variable_and_the_file_is_refused_naming_the_file_entry() {
        let mut inline =
            Tokens::parse_list("op-0123456789abcdef:operator", TOKENS_ENV, &departments()).unwrap();
        let text = "[[api_token]]\nname = \"desk\"\ntoken = \"dk-0123456789abcdef\"\nrole = \"supervisor\"\n";
        let file = Tokens::parse_file(text, "tokens.toml", &departments()).unwrap();
        inline.merge(file, "tokens.toml").unwrap();
        assert_eq!(inline.len(), 2);
        assert_eq!(inline.summary(), "env#1 (operator), desk (supervisor)");
        let again = Tokens::parse_file(
            &text.replace("dk-", "op-").replace("desk", "again"),
            "tokens.toml",
            &departments(),
        )
        .unwrap();
        let err = inline.merge(again, "tokens.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tokens.toml:0: api_token \"again\": the same token is also in HOTLINE_API_TOKENS"
        );
    }

    #[test]
    fn toml_messages_are_cut_before_anything_they_quote() {
        // (toml's message, the one shown)
        let cases = [
            (
                "invalid type: integer `3`, expected a string",
                "invalid type: integer …",
            ),
            (
                "unknown field \"tokne\", expected one of ...",
                "unknown field …",
            ),
            ("invalid value 'x'", "invalid value …"),
            ("  missing field name \n", "missing field name"),
        ];
        for (message, shown) in cases {
            assert_eq!(redacted_toml_message(message), shown, "{message:?}");
        }
    }

    #[test]
    fn no_tokens_is_empty_and_summarised_as_nothing() {
        let none = Tokens::default();
        assert!(none.is_empty());
        assert_eq!(none.summary(), "");
        let some = Tokens::parse_list(
            "op-0123456789abcdef:operator,h-0123456789abcdef:handler:SCJGJ",
            TOKENS_ENV,
            &departments(),
        )
        .unwrap();
        assert!(!some.is_empty());
        assert_eq!(some.summary(), "env#1 (operator), env#2 (handler:SCJGJ)");
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }
}
