//! [`CatalogAuthSource`]: pgwire's `AuthSource` over the catalog's roles.
//!
//! A name that is no role, a role that may not log in, and a role without a password all get
//! a mock key: a salt derived from the cluster's mock-authentication nonce and the name
//! (stable, so asking twice shows nothing) and a random `SaltedPassword` no proof matches.
//! The exchange then runs exactly as for a real role and ends with the same 28P01, so
//! neither the answers nor their timing tell which names exist.

use std::sync::Arc;

use async_trait::async_trait;
use oxbow_storage::Database;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::PgWireResult;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tracing::warn;

use super::SCRAM_ITERATIONS;

pub struct CatalogAuthSource {
    db: Arc<Database>,
    mock_key: hmac::Key,
}

impl std::fmt::Debug for CatalogAuthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogAuthSource").finish_non_exhaustive()
    }
}

impl CatalogAuthSource {
    pub fn new(db: Arc<Database>) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let nonce = db
            .catalog()
            .mock_auth_nonce(|| {
                let mut nonce = vec![0u8; 32];
                rng.fill(&mut nonce)
                    .expect("the system random number generator");
                nonce
            })
            .map_err(|e| format!("cannot read the mock-authentication nonce: {e}"))?;
        Ok(Self {
            db,
            mock_key: hmac::Key::new(hmac::HMAC_SHA256, &nonce),
        })
    }

    /// Whether `name` is a role of the catalog (an unreadable catalog counts as yes: the
    /// session then gets the role's rights, which are checked again at each statement).
    pub fn is_role(&self, name: &str) -> bool {
        !matches!(self.db.catalog().role(name), Ok(None))
    }

    /// Whether `name` is a superuser role (a name that is no role, let in under trust, holds
    /// every right and counts as one).
    pub fn is_superuser(&self, name: &str) -> bool {
        !matches!(self.db.catalog().role(name), Ok(Some(role)) if !role.superuser)
    }

    /// Whether `name` is a role without `LOGIN` (trust still refuses those, as PostgreSQL does).
    pub fn is_role_without_login(&self, name: &str) -> bool {
        matches!(self.db.catalog().role(name), Ok(Some(role)) if !role.login)
    }

    /// The key a name that cannot log in is answered with.
    fn mock(&self, user: &str) -> Password {
        let tag = hmac::sign(&self.mock_key, user.as_bytes());
        let salt = tag.as_ref()[..16].to_vec();
        let mut never = vec![0u8; 32];
        SystemRandom::new()
            .fill(&mut never)
            .expect("the system random number generator");
        Password::new(Some(salt), never)
    }
}

#[async_trait]
impl AuthSource for CatalogAuthSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.db.catalog().role(user) {
            Ok(Some(role)) if role.login => match role.scram {
                Some(key) if key.iterations == SCRAM_ITERATIONS => {
                    Ok(Password::new(Some(key.salt), key.salted_password))
                }
                _ => Ok(self.mock(user)),
            },
            Ok(_) => Ok(self.mock(user)),
            Err(e) => {
                // Answered like a wrong password: an error here would differ from it.
                warn!(error = %e, user, "cannot read the role of a login");
                Ok(self.mock(user))
            }
        }
    }
}
