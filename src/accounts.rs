//! `hotline token …`: the API's accounts, kept in the database. A new token is printed
//! once and stored only as its digest; a revocation reaches every running process within
//! a few seconds ([`hotline_http::api::tokens::REFRESH_EVERY`]).

use anyhow::{Context, bail};
use clap::Subcommand;
use hotline_core::calendar::business_time;
use hotline_http::api::tokens::{self, Role};
use hotline_runtime::settings::Settings;
use hotline_store::tokens::Revoked;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints it on standard output, once: store it now, it cannot be
    /// shown again (the database keeps only its SHA-256 digest).
    Create {
        /// operator, handler or supervisor.
        #[arg(long)]
        role: String,
        /// For a handler: the department (catalog code) it acts for.
        #[arg(long)]
        department: Option<String>,
        /// A unique account name (`call-centre-07`, `scjgj-system`): it is logged and
        /// recorded as the actor of every event posted with the token. Not a person's name.
        #[arg(long)]
        name: String,
    },
    /// Lists every token: name, role, department, created, last used, revoked.
    List,
    /// Revokes a token for good, in every running process within a few seconds.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub async fn run(settings: &Settings, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            role,
            department,
            name,
        } => {
            tokens::check_name(&name).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role, department.as_deref()).map_err(anyhow::Error::msg)?;
            if let Some(code) = role.department() {
                let config = settings.load_config()?;
                config.department(code).with_context(|| {
                    format!("no department {code:?} in the catalog of {}", config.source)
                })?;
            }
            let pool = crate::database::migrated(settings, 2).await?;
            let secret = tokens::new_secret();
            let created = hotline_store::tokens::create(
                &pool,
                &name,
                &tokens::digest(secret.as_bytes()),
                role.name(),
                role.department(),
            )
            .await?;
            if !created {
                bail!(
                    "a token named {name:?} exists already (names stay taken after a revocation)"
                );
            }
            eprintln!("created token {name:?} ({role}); it is not shown again:");
            println!("{secret}");
            Ok(())
        }
        TokenCommand::List => {
            let pool = crate::database::migrated(settings, 2).await?;
            let records = hotline_store::tokens::list(&pool).await?;
            let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map(business_time).unwrap_or_else(|| "-".into())
            };
            println!(
                "{:<24} {:<10} {:<12} {:<25} {:<25} revoked",
                "name", "role", "department", "created", "last used"
            );
            for r in records {
                println!(
                    "{:<24} {:<10} {:<12} {:<25} {:<25} {}",
                    r.name,
                    r.role,
                    r.department.as_deref().unwrap_or("-"),
                    business_time(r.created_at),
                    time(r.last_used_at),
                    time(r.revoked_at),
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { name } => {
            let pool = crate::database::migrated(settings, 2).await?;
            match hotline_store::tokens::revoke(&pool, &name).await? {
                Revoked::Now => {
                    println!(
                        "revoked {name:?}: every engine refuses it within {} s",
                        tokens::REFRESH_EVERY.as_secs() + 1
                    );
                    Ok(())
                }
                Revoked::Already(at) => {
                    println!("{name:?} was revoked already, at {}", business_time(at));
                    Ok(())
                }
                Revoked::NoSuchToken => bail!("no token named {name:?}"),
            }
        }
    }
}
