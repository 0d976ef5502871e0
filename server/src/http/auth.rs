//! Who an HTTP request acts as: HTTP Basic credentials (`Authorization: Basic
//! base64(user:password)`) checked against the role's SCRAM-SHA-256 key, the same roles,
//! passwords and privileges as the PostgreSQL listener.
//!
//! - Under `--auth scram-sha-256` every endpoint but `/health` needs credentials: none, a
//!   wrong password, a name that is no role, a role without `LOGIN` or without a password all
//!   get 401 with `WWW-Authenticate: Basic realm="oxbow"` and the same JSON error (28P01; 28000
//!   for no credentials at all). A name that is no role is checked against a mock key, so the
//!   answer takes as long as for a real one.
//! - Under `--auth trust` (loopback only, the embedded default) it behaves as pgwire's trust:
//!   no credentials acts with every right; a user name that is a role acts with that role's
//!   rights, whatever the password (a role without `LOGIN` is refused, 401).
//!
//! The password is checked by recomputing the key (PBKDF2, 4096 iterations) at each request:
//! no session or token is kept. Bearer tokens are not built.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use oxbow_storage::Database;
use pgwire::api::auth::sasl::scram::gen_salted_password;

use super::error::ApiError;
use crate::auth::{AuthMethod, SCRAM_ITERATIONS, key_matches};
use crate::statements::SessionRole;

/// The name a request without credentials acts as under trust (its `current_user`).
const TRUSTED_NAME: &str = "oxbow";

/// How requests authenticate.
#[derive(Clone)]
pub struct HttpAuth {
    pub method: AuthMethod,
    pub db: Arc<Database>,
}

impl HttpAuth {
    /// The role the request with `headers` acts as, or the 401 it gets.
    pub fn caller(&self, headers: &HeaderMap) -> Result<SessionRole, ApiError> {
        let credentials = match headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(basic(value.to_str().unwrap_or_default())?),
        };
        match (self.method, credentials) {
            (AuthMethod::Trust, None) => Ok(SessionRole {
                name: TRUSTED_NAME.into(),
                trusted: true,
            }),
            (AuthMethod::Trust, Some((user, _))) => match self.db.catalog().role(&user) {
                Ok(Some(role)) if !role.login => Err(ApiError::unauthorized(
                    crate::wire::sqlstate::code::INVALID_AUTHORIZATION_SPECIFICATION,
                    format!("role \"{user}\" is not permitted to log in"),
                )),
                Ok(Some(_)) => Ok(SessionRole {
                    name: user,
                    trusted: false,
                }),
                Ok(None) => Ok(SessionRole {
                    name: user,
                    trusted: true,
                }),
                Err(e) => Err(ApiError::from_error(&crate::error::ServerError::from(e))),
            },
            (AuthMethod::ScramSha256, None) => Err(ApiError::unauthorized(
                crate::wire::sqlstate::code::INVALID_AUTHORIZATION_SPECIFICATION,
                "authentication required: send HTTP Basic credentials of an Oxbow role".into(),
            )),
            (AuthMethod::ScramSha256, Some((user, password))) => {
                let role = self.db.catalog().role(&user).ok().flatten();
                let ok = match role.as_ref() {
                    Some(role) if role.login => match &role.scram {
                        Some(key) if key.iterations == SCRAM_ITERATIONS => {
                            key_matches(key, &password)
                        }
                        _ => mock_check(&password),
                    },
                    _ => mock_check(&password),
                };
                if ok {
                    Ok(SessionRole {
                        name: user,
                        trusted: false,
                    })
                } else {
                    tracing::info!(user, "HTTP password authentication failed");
                    Err(ApiError::unauthorized(
                        crate::wire::sqlstate::code::INVALID_PASSWORD,
                        format!("password authentication failed for user \"{user}\""),
                    ))
                }
            }
        }
    }
}

/// The same work as checking a real key, for names that cannot log in; never matches.
fn mock_check(password: &str) -> bool {
    let _ = gen_salted_password(password, b"oxbow-mock-salt!", SCRAM_ITERATIONS as usize);
    false
}

/// `(user, password)` of a `Basic` authorization header.
fn basic(value: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::unauthorized(
            crate::wire::sqlstate::code::INVALID_AUTHORIZATION_SPECIFICATION,
            "the Authorization header must be Basic base64(user:password)".into(),
        )
    };
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    Ok((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_other_schemes_refused() {
        assert_eq!(
            basic("Basic YWxpY2U6cHc6eA==").ok(),
            Some(("alice".into(), "pw:x".into()))
        );
        assert!(basic("Bearer abc").is_err());
        assert!(basic("Basic !!!").is_err());
        assert!(basic("Basic YWxpY2U=").is_err());
    }
}
