//! Who may log in: the authentication method the server runs with, the superuser made on a
//! data directory's first start, and the SCRAM-SHA-256 keys of roles.
//!
//! # Layout
//! - this file: [`AuthMethod`] and the rule that picks it ([`choose_method`]), the first
//!   start's superuser ([`create_first_superuser`]), and [`scram_key`], which turns a password
//!   into what the catalog stores.
//! - [`source`]: [`CatalogAuthSource`](source::CatalogAuthSource), pgwire's `AuthSource` over
//!   the catalog's roles, with the mock answer for names that are not roles.
//!
//! The wire side (the startup handler, TLS policy, connection slots) is
//! `crate::wire::startup`'s; roles themselves are stored by `oxbow_catalog::roles`.
//!
//! Invariants: the plain password is never stored or logged (the generated one is printed
//! once, to the operator's terminal); `trust` never runs on a listener that is not loopback.

pub mod source;

use std::net::SocketAddr;

use oxbow_catalog::{Catalog, RoleDef, ScramKey};
use pgwire::api::auth::sasl::scram::gen_salted_password;
use ring::rand::{SecureRandom, SystemRandom};
use tracing::{info, warn};

/// The iteration count of every SCRAM key Oxbow makes (RFC 7677's minimum, PostgreSQL's
/// default). pgwire announces one count for all users, so keys made with another count could
/// not log in: [`source`] treats them as missing.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// Bytes of salt per key (PostgreSQL uses 16).
const SALT_BYTES: usize = 16;

/// How clients authenticate (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMethod {
    /// SCRAM-SHA-256 (and SCRAM-SHA-256-PLUS over TLS) against the catalog's roles.
    #[value(name = "scram-sha-256")]
    ScramSha256,
    /// Anyone who reaches the port is let in, under any user name. Loopback only.
    #[value(name = "trust")]
    Trust,
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Trust => "trust",
        })
    }
}

/// The method the server runs with. `requested` wins when given, except that `trust` is
/// refused while any listener is reachable from another machine; without a request,
/// scram-sha-256 is chosen whenever a listener is not on loopback or a password is configured,
/// so the no-flag start on loopback stays as easy as before (trust).
pub fn choose_method(
    requested: Option<AuthMethod>,
    listeners: &[SocketAddr],
    password_configured: bool,
) -> Result<AuthMethod, String> {
    let exposed = listeners.iter().find(|a| !a.ip().is_loopback());
    match (requested, exposed) {
        (Some(AuthMethod::Trust), Some(addr)) => Err(format!(
            "refusing to start: --auth trust would let anyone who reaches {addr} in as a superuser; \
             trust is allowed only when every listener is on loopback (127.0.0.1 or ::1). \
             Use --auth scram-sha-256 (the default off loopback) or listen on 127.0.0.1"
        )),
        (Some(method), _) => Ok(method),
        (None, Some(_)) => Ok(AuthMethod::ScramSha256),
        (None, None) if password_configured => Ok(AuthMethod::ScramSha256),
        (None, None) => Ok(AuthMethod::Trust),
    }
}

/// A new SCRAM-SHA-256 key for `password`, with a fresh random salt.
pub fn scram_key(password: &str) -> Result<ScramKey, String> {
    let mut salt = vec![0u8; SALT_BYTES];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "the system random number generator failed".to_string())?;
    let salted_password = gen_salted_password(password, &salt, SCRAM_ITERATIONS as usize);
    Ok(ScramKey {
        salt,
        iterations: SCRAM_ITERATIONS,
        salted_password,
    })
}

/// Whether `password` is the one `key` was made from.
pub fn key_matches(key: &ScramKey, password: &str) -> bool {
    gen_salted_password(password, &key.salt, key.iterations as usize) == key.salted_password
}

/// A password of 24 characters from a 64-letter alphabet (144 random bits).
fn generate_password() -> Result<String, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 24];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_string())?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[(b & 63) as usize] as char)
        .collect())
}

/// On the first start of a data directory (no role exists yet) creates the superuser `user`
/// with `password`, or with a generated password printed once on stderr. On later starts a
/// configured password is not applied (the role may have changed it since); a mismatch is
/// logged so that the operator is not left wondering why it does not work.
pub fn create_first_superuser(
    catalog: &Catalog,
    user: &str,
    password: Option<&str>,
    method: AuthMethod,
) -> Result<(), String> {
    let roles = catalog
        .roles()
        .map_err(|e| format!("cannot read the roles: {e}"))?;
    if !roles.is_empty() {
        if let (Some(password), Some(role)) = (password, roles.iter().find(|r| r.name == user))
            && let Some(key) = &role.scram
            && !key_matches(key, password)
        {
            warn!(
                user,
                "the configured password is not the stored password of this role: it applies \
                 only when the role is created (first start); the stored one still holds"
            );
        }
        return Ok(());
    }
    let generated = match password {
        Some(_) => None,
        None => Some(generate_password()?),
    };
    let password = password.or(generated.as_deref()).expect("one of the two");
    catalog
        .create_role(&RoleDef {
            name: user.to_string(),
            superuser: true,
            login: true,
            scram: Some(scram_key(password)?),
        })
        .map_err(|e| format!("cannot create the superuser {user:?}: {e}"))?;
    info!(user, "created the superuser of this data directory");
    if let Some(generated) = generated {
        // The one message that must reach the operator whatever the log filter: it is the only
        // copy of the password.
        eprintln!(
            "oxbow: created superuser \"{user}\" with the generated password:\n\n    {generated}\n\n\
             oxbow: it is shown only this once (Oxbow keeps only a SCRAM key).{}",
            if method == AuthMethod::Trust {
                " It is not asked for while --auth is trust (loopback only)."
            } else {
                ""
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trust_only_on_loopback_and_scram_when_exposed_or_a_password_is_set() {
        let local = [addr("127.0.0.1:5432"), addr("[::1]:5433")];
        let exposed = [addr("127.0.0.1:5432"), addr("0.0.0.0:8080")];
        assert_eq!(choose_method(None, &local, false), Ok(AuthMethod::Trust));
        assert_eq!(
            choose_method(None, &local, true),
            Ok(AuthMethod::ScramSha256)
        );
        assert_eq!(
            choose_method(None, &exposed, false),
            Ok(AuthMethod::ScramSha256)
        );
        assert_eq!(
            choose_method(Some(AuthMethod::ScramSha256), &local, false),
            Ok(AuthMethod::ScramSha256)
        );
        assert_eq!(
            choose_method(Some(AuthMethod::Trust), &local, true),
            Ok(AuthMethod::Trust)
        );
        let refused = choose_method(Some(AuthMethod::Trust), &exposed, false).unwrap_err();
        assert!(refused.contains("0.0.0.0:8080"), "{refused}");
    }

    #[test]
    fn a_key_checks_its_own_password_only_and_salts_differ() {
        let a = scram_key("secret").unwrap();
        let b = scram_key("secret").unwrap();
        assert!(key_matches(&a, "secret"));
        assert!(!key_matches(&a, "Secret"));
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.salted_password, b.salted_password);
    }
}
