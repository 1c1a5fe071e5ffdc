//! Sessions of the pages: a browser signs in with an API token and gets a random session
//! id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS). The database keeps the
//! id's digest, the token's name and the session's form token (CSRF); every request
//! checks that the token is still live, so revoking a token ends its sessions.

use super::api::tokens::{Caller, Registry, digest};
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use hotline_store::{PgPool, StoreError};
use std::time::Duration;

/// The session cookie's name.
pub const COOKIE: &str = "hotline_session";
/// How long a session lasts from sign-in: a working day and its overtime.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The header a script sends the form token in (`POST` to `/api` with the cookie).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in browser: who, and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

/// 256 random bits, base64url: session ids and form tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// Whether the browser reached the engine over TLS (through a terminating proxy that says
/// so): cookies are then marked `Secure`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    ))
    .expect("cookie values are base64url")
}

/// Opens a session for `caller`; the cookie value to set.
pub async fn open(pool: &PgPool, caller: &Caller) -> Result<(String, String), StoreError> {
    let id = random_token();
    let csrf = random_token();
    hotline_store::sessions::open(pool, &digest(id.as_bytes()), &caller.name, &csrf, LIFETIME)
        .await?;
    Ok((id, csrf))
}

/// The session a request's cookie names, if it is open and its token still live.
pub async fn of_request(
    pool: &PgPool,
    tokens: &Registry,
    headers: &HeaderMap,
) -> Result<Option<Session>, StoreError> {
    let Some(id) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    let Some(record) = hotline_store::sessions::find(pool, &digest(id.as_bytes())).await? else {
        return Ok(None);
    };
    Ok(tokens
        .caller_named(&record.token_name)
        .map(|caller| Session {
            caller,
            csrf: record.csrf,
        }))
}

/// Closes the session a request's cookie names.
pub async fn close(pool: &PgPool, headers: &HeaderMap) -> Result<(), StoreError> {
    match cookie(headers, COOKIE) {
        Some(id) => hotline_store::sessions::close(pool, &digest(id.as_bytes())).await,
        None => Ok(()),
    }
}

/// Compares a presented form token with the session's, in constant time.
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), presented.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bits_in_base64url_and_never_repeat() {
        let tokens: Vec<String> = (0..4).map(|_| random_token()).collect();
        for token in &tokens {
            // 32 bytes in base64url without padding: 43 characters.
            assert_eq!(token.len(), 43, "{token}");
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
        }
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
    }

    #[test]
    fn reads_cookies_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; hotline_session=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        // (name, value)
        let cases = [
            ("hotline_session", Some("abc")),
            ("a", Some("1")),
            ("b", Some("2")),
            ("hotline", None),
            ("c", None),
        ];
        for (name, value) in cases {
            assert_eq!(cookie(&headers, name), value, "{name}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_tls() {
        let plain = set_cookie(COOKIE, "v", LIFETIME, false);
        assert_eq!(
            plain,
            "hotline_session=v; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"
        );
        let secure = set_cookie(COOKIE, "v", Duration::ZERO, true);
        assert!(
            secure
                .to_str()
                .unwrap()
                .ends_with("; Max-Age=0; HttpOnly; SameSite=Strict; Secure")
        );
        let mut headers = HeaderMap::new();
        assert!(!over_tls(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_tls(&headers));
    }

    #[test]
    fn form_tokens_must_match_exactly() {
        let session = Session {
            caller: Caller {
                name: "n".into(),
                role: crate::api::tokens::Role::Operator,
            },
            csrf: "abcdef".into(),
        };
        for (presented, ok) in [
            ("abcdef", true),
            ("abcdeg", false),
            // Two bytes off by the same bits: differences must add up, not cancel out.
            ("bacdef", false),
            ("abcde", false),
            ("", false),
        ] {
            assert_eq!(csrf_matches(&session, presented), ok, "{presented}");
        }
    }
}
