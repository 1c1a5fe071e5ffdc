//! The stored tokens (`api_tokens`, made by `hotline token create`), reloaded by every
//! process, and the registry that answers for them and the configured ones together.

use super::{Caller, Role, Tokens};
use hotline_store::{PgPool, StoreError};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Prefix of the tokens `hotline token create` makes, so that secret scanners and people
/// recognise one.
pub const TOKEN_PREFIX: &str = "hl_";

/// A new random token: [`TOKEN_PREFIX`] and 256 random bits, base64url without padding.
pub fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the database keeps of a secret.
pub fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// A stored token's name: 1–64 of `A-Z a-z 0-9 . _ -`. Names appear in logs and, as the
/// actor, on timelines: an account (`call-centre-07`, `scjgj-system`), never a person's
/// name or phone.
pub fn check_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if name.is_empty() || name.len() > 64 || !name.bytes().all(allowed) {
        return Err(format!(
            "a token name is 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-' (an account such as call-centre-07, not a person's name); found {} characters",
            name.chars().count()
        ));
    }
    Ok(())
}

/// Every token a process accepts: those configured at start, and those stored in the
/// database as last reloaded.
pub struct Registry {
    configured: Tokens,
    stored: RwLock<HashMap<[u8; 32], Caller>>,
    /// Names of stored tokens used since `last_used_at` was last written.
    used: Mutex<HashSet<String>>,
}

impl Registry {
    pub fn new(configured: Tokens) -> Registry {
        Registry {
            configured,
            stored: RwLock::new(HashMap::new()),
            used: Mutex::new(HashSet::new()),
        }
    }

    /// Notes that `caller`'s stored token was used (written at the next refresh).
    fn mark_used(&self, caller: &Caller) {
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(caller.name.clone());
    }

    /// The caller a presented token belongs to.
    pub fn authenticate(&self, presented: &[u8]) -> Option<Caller> {
        if let Some(caller) = self.configured.authenticate(presented) {
            return Some(caller.clone());
        }
        let caller = self
            .stored
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&digest(presented))
            .cloned()?;
        self.mark_used(&caller);
        Some(caller)
    }

    /// Like [`Registry::authenticate`], and a token made since the last reload (one that
    /// looks like `hotline token create`'s) is looked up in the database at once, so that
    /// a new token works the moment it is printed.
    pub async fn authenticate_now(
        &self,
        pool: &PgPool,
        presented: &[u8],
    ) -> Result<Option<Caller>, StoreError> {
        if let Some(caller) = self.authenticate(presented) {
            return Ok(Some(caller));
        }
        let made_here = presented.len() == TOKEN_PREFIX.len() + 43
            && presented.starts_with(TOKEN_PREFIX.as_bytes());
        if !made_here {
            return Ok(None);
        }
        let digest = digest(presented);
        let Some(token) = hotline_store::tokens::active_by_digest(pool, &digest).await? else {
            return Ok(None);
        };
        let Ok(role) = Role::parse(&token.role, token.department.as_deref()) else {
            return Ok(None);
        };
        let caller = Caller {
            name: token.name,
            role,
        };
        self.stored
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(digest, caller.clone());
        self.mark_used(&caller);
        Ok(Some(caller))
    }

    /// The caller whose token is named `name`, while that token is live (a session opened
    /// with a token ends when the token is revoked or removed).
    pub fn caller_named(&self, name: &str) -> Option<Caller> {
        if let Some(entry) = self
            .configured
            .entries
            .iter()
            .find(|e| e.caller.name == name)
        {
            return Some(entry.caller.clone());
        }
        let caller = self
            .stored
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .find(|caller| caller.name == name)
            .cloned()?;
        self.mark_used(&caller);
        Some(caller)
    }

    /// Reloads the stored tokens and writes when the ones used meanwhile were last used.
    /// Returns how many stored tokens are active.
    pub async fn refresh(&self, pool: &PgPool) -> Result<usize, StoreError> {
        let used: Vec<String> = std::mem::take(
            &mut *self
                .used
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
        .into_iter()
        .collect();
        hotline_store::tokens::touch(pool, &used).await?;
        let mut stored = HashMap::new();
        for token in hotline_store::tokens::active(pool).await? {
            let Ok(digest) = <[u8; 32]>::try_from(token.digest.as_slice()) else {
                tracing::warn!(token = %token.name, "stored token has a malformed digest; ignored");
                continue;
            };
            match Role::parse(&token.role, token.department.as_deref()) {
                Ok(role) => {
                    stored.insert(
                        digest,
                        Caller {
                            name: token.name,
                            role,
                        },
                    );
                }
                Err(fault) => {
                    tracing::warn!(token = %token.name, %fault, "stored token ignored");
                }
            }
        }
        let count = stored.len();
        *self
            .stored
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = stored;
        Ok(count)
    }

    /// Reloads every [`REFRESH_EVERY`] until `stop`. While the database does not answer,
    /// the tokens last loaded stay in force (no revocation can be recorded meanwhile).
    pub async fn run(&self, pool: PgPool, stop: CancellationToken) {
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
            }
            match self.refresh(&pool).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("stored API tokens reloaded again");
                }
                Ok(_) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(error = %err, "cannot reload the stored API tokens; keeping the last ones");
                }
                Err(_) => {}
            }
        }
    }

    /// The configured tokens' summary, for the start-up log line (no secrets).
    pub fn summary(&self) -> String {
        let count = self
            .stored
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        format!(
            "configured: [{}]; stored in the database: {count}",
            self.configured.summary()
        )
    }

    pub fn is_empty(&self) -> bool {
        self.configured.is_empty()
            && self
                .stored
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tokens::{TOKENS_ENV, check_secret};

    #[test]
    fn new_secrets_are_long_random_and_url_safe() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        // 256 bits in base64url without padding: 43 characters.
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43, "{a}");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{a}"
        );
        assert!(check_secret(&a).is_ok());
        assert_eq!(digest(a.as_bytes()).len(), 32);
        assert_ne!(digest(a.as_bytes()), digest(b.as_bytes()));
    }

    #[test]
    fn token_names_are_accounts() {
        let cases = [
            ("call-centre-07", true),
            ("scjgj.system_2", true),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
            ("", false),
            ("张三", false),
            ("env#1", false),
            ("two words", false),
            ("13812345678@x", false),
        ];
        for (name, ok) in cases {
            assert_eq!(check_name(name).is_ok(), ok, "{name}");
        }
    }

    /// A registry with one configured operator token and one stored handler token.
    fn registry() -> Registry {
        let configured = Tokens::parse_list(
            "op-0123456789abcdef:operator",
            TOKENS_ENV,
            &["SCJGJ".to_owned()],
        )
        .unwrap();
        let registry = Registry::new(configured);
        registry.stored.write().unwrap().insert(
            digest(b"hl_stored"),
            Caller {
                name: "scjgj-system".into(),
                role: Role::Handler {
                    department: "SCJGJ".into(),
                },
            },
        );
        registry
    }

    fn used(registry: &Registry) -> Vec<String> {
        let mut used: Vec<String> = registry.used.lock().unwrap().iter().cloned().collect();
        used.sort();
        used
    }

    #[test]
    fn stored_tokens_authenticate_by_digest_and_are_noted_as_used() {
        let registry = registry();
        assert_eq!(
            registry.authenticate(b"hl_stored").map(|c| c.name),
            Some("scjgj-system".to_owned())
        );
        assert_eq!(used(&registry), ["scjgj-system"]);
        assert!(registry.authenticate(b"hl_other").is_none());
        assert_eq!(
            registry
                .authenticate(b"op-0123456789abcdef")
                .map(|c| c.name),
            Some("env#1".to_owned())
        );
        assert_eq!(
            used(&registry),
            ["scjgj-system"],
            "configured ones are not stored"
        );
    }

    #[test]
    fn a_session_finds_its_caller_by_the_token_name_while_the_token_lives() {
        let registry = registry();
        // (token name, the caller's role)
        let cases = [
            ("env#1", Some(Role::Operator)),
            (
                "scjgj-system",
                Some(Role::Handler {
                    department: "SCJGJ".into(),
                }),
            ),
            ("env#2", None),
            ("revoked", None),
        ];
        for (name, role) in cases {
            let caller = registry.caller_named(name);
            assert_eq!(
                caller.as_ref().map(|c| c.name.as_str()),
                role.as_ref().map(|_| name)
            );
            assert_eq!(caller.map(|c| c.role), role, "{name}");
        }
        assert_eq!(used(&registry), ["scjgj-system"]);
    }

    #[test]
    fn the_summary_names_configured_tokens_and_counts_stored_ones() {
        let registry = registry();
        assert_eq!(
            registry.summary(),
            "configured: [env#1 (operator)]; stored in the database: 1"
        );
        assert!(!registry.is_empty());
        let stored_only = Registry::new(Tokens::default());
        assert!(stored_only.is_empty());
        stored_only.stored.write().unwrap().insert(
            digest(b"hl_stored"),
            Caller {
                name: "n".into(),
                role: Role::Operator,
            },
        );
        assert!(!stored_only.is_empty());
        assert_eq!(
            stored_only.summary(),
            "configured: []; stored in the database: 1"
        );
    }

    #[test]
    fn configured_tokens_authenticate_through_the_registry() {
        let configured = Tokens::parse_list(
            "op-0123456789abcdef:operator",
            TOKENS_ENV,
            &["SCJGJ".to_owned()],
        )
        .unwrap();
        let registry = Registry::new(configured);
        assert_eq!(
            registry.authenticate(b"op-0123456789abcdef").unwrap().role,
            Role::Operator
        );
        assert!(registry.authenticate(b"hl_unknown").is_none());
        assert!(!registry.is_empty());
    }
}
