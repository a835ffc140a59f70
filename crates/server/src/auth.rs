//! Who a connection is: JSON Web Tokens (RFC 7519) checked before a
//! connection is let in.
//!
//! With `--auth-jwt-secret` (HS256) or `--auth-jwt-public-key` (RS256, ES256,
//! ES384 or EdDSA, from a PEM file), every WebSocket, every socket.io
//! connection and `/api/config` needs a token whose signature, `exp`
//! (required), `nbf`, `aud` and `iss` hold. What it grants is [`Grants`]:
//! the one name (`sub`) the connection may register, and, if the token has a
//! `rooms` claim, the named rooms it may create, join or invite into. The
//! connection keeps its grants, and [`crate::guard`] checks every command
//! against them.
//!
//! A token comes in `?access_token=<jwt>` on the request URL, or in an
//! `Authorization: Bearer <jwt>` header (RFC 6750 §2.1 and §2.3); socket.io v3
//! and v4 clients may also put it in their handshake's `auth: {token}`.
//!
//! A token is a password for as long as it lasts: none is ever logged, and
//! no refusal quotes one.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use switchboard_core::{RoomId, UserId};

use crate::config::Config;

/// What a valid token lets its connection do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grants {
    /// The token's `sub` claim (in NFKC, as every name): the only name the
    /// connection may register, and the one a registration that names none
    /// gets.
    pub sub: UserId,
    /// The token's `rooms` claim: the named rooms the connection may create,
    /// join or invite into. `None` (no claim): any room.
    pub rooms: Option<HashSet<RoomId>>,
}

impl Grants {
    /// Whether the connection may create, join or invite into `room`; a
    /// `None` room is one whose name the server would draw, which no list
    /// names.
    pub fn permits_room(&self, room: Option<&RoomId>) -> bool {
        match (&self.rooms, room) {
            (None, _) => true,
            (Some(rooms), Some(room)) => rooms.contains(room),
            (Some(_), None) => false,
        }
    }
}

/// Why a request was refused, in one line for the client. None of them
/// quotes the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the request.
    #[error("an access token is needed: ?access_token=<jwt>, or Authorization: Bearer <jwt>")]
    Missing,
    /// The token is not a JWT, or its claims are not of the right types.
    #[error("the access token is malformed")]
    Malformed,
    /// The signature does not match, or the token is signed with another
    /// algorithm than the server's key takes.
    #[error("the access token's signature is not valid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the access token has expired")]
    Expired,
    /// `nbf` has not come yet (beyond the leeway).
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// `aud` does not name this server's audience, or names one while the
    /// server has none.
    #[error("the access token is for another audience")]
    WrongAudience,
    /// `iss` is not this server's issuer.
    #[error("the access token is from another issuer")]
    WrongIssuer,
    /// A claim the server needs is missing or not of its type (`exp`, `sub`, or `aud`/`iss`
    /// when they are configured).
    #[error("the access token lacks a valid {0} claim")]
    MissingClaim(String),
    /// `sub` or a `rooms` entry is not a name switchboard accepts.
    #[error("the access token's {claim} is not an acceptable name: {error}")]
    BadName {
        /// `sub` or `rooms`.
        claim: &'static str,
        /// Why.
        error: switchboard_core::NameError,
    },
}

impl IntoResponse for AuthError {
    /// 401 with the reason as a one-line body, and `WWW-Authenticate` as
    /// RFC 6750 §3 words it.
    fn into_response(self) -> Response {
        let challenge = match self {
            AuthError::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        };
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], format!("{self}\n")).into_response()
    }
}

/// The claims switchboard reads; `exp`, `nbf`, `aud` and `iss` are checked
/// by `jsonwebtoken` itself.
#[derive(Deserialize)]
struct Claims {
    /// Optional here so that a token without one is told so (as required,
    /// `jsonwebtoken` checks it only after these claims are read).
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    rooms: Option<Vec<String>>,
}

/// Checks tokens with the server's one key.
#[derive(Clone)]
pub struct Authenticator {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl fmt::Debug for Authenticator {
    /// Names the algorithms only: the key is a secret (or as good as one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The authenticator `config` asks for, or `None` when it asks for
    /// none (the server runs open).
    ///
    /// # Errors
    /// When the key file cannot be read or holds no key of a supported
    /// kind, when the secret is empty, or when `--auth-audience` or
    /// `--auth-issuer` is given without a key.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let (key, algorithm) = match (&config.auth_jwt_secret, &config.auth_jwt_public_key) {
            (Some(secret), None) => {
                let key = DecodingKey::from_secret(secret.as_bytes()).context("--auth-jwt-secret")?;
                (key, Algorithm::HS256)
            }
            (None, Some(path)) => public_key(path)?,
            (Some(_), Some(_)) => anyhow::bail!("give --auth-jwt-secret or --auth-jwt-public-key, not both"),
            (None, None) => {
                if config.auth_audience.is_some() || config.auth_issuer.is_some() {
                    anyhow::bail!("--auth-audience and --auth-issuer need --auth-jwt-secret or --auth-jwt-public-key");
                }
                return Ok(None);
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.auth_leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(audience) = &config.auth_audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        if let Some(issuer) = &config.auth_issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Self { key: Arc::new(key), validation: Arc::new(validation) }))
    }

    /// Checks `token` now (the system clock: `exp` and `nbf` are wall-clock
    /// times) and says what it grants.
    ///
    /// # Errors
    /// [`AuthError`] says what is wrong with it.
    pub fn verify(&self, token: &str) -> Result<Grants, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
                _ => AuthError::Malformed,
            })?;
        let Claims { sub, rooms } = data.claims;
        let sub = sub.ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
        let sub = UserId::parse(&sub).map_err(|error| AuthError::BadName { claim: "sub", error })?;
        let rooms = match rooms {
            Some(rooms) => Some(
                rooms
                    .iter()
                    .map(|room| RoomId::parse(room))
                    .collect::<Result<HashSet<_>, _>>()
                    .map_err(|error| AuthError::BadName { claim: "rooms", error })?,
            ),
            None => None,
        };
        Ok(Grants { sub, rooms })
    }

    /// Checks the token an HTTP request carries (see [`request_token`]).
    ///
    /// # Errors
    /// [`AuthError::Missing`] without one, else as [`Authenticator::verify`].
    pub fn verify_request(&self, query: Option<&str>, headers: &HeaderMap) -> Result<Grants, AuthError> {
        let token = request_token(query, headers).ok_or(AuthError::Missing)?;
        self.verify(&token)
    }
}

/// The token a request carries: its `Authorization: Bearer` header, else
/// its `access_token` query parameter (percent-decoded).
pub fn request_token(query: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    bearer.or_else(|| {
        query?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let value = value.replace('+', " ");
            (key == "access_token")
                .then(|| percent_encoding::percent_decode_str(&value).decode_utf8_lossy().into_owned())
        })
    })
}

/// The key in a PEM file, and the algorithm tokens must be signed with:
/// RS256 for RSA, ES256 or ES384 for an EC key on P-256 or P-384, EdDSA for
/// Ed25519.
fn public_key(path: &Path) -> anyhow::Result<(DecodingKey, Algorithm)> {
    let pem = std::fs::read(path).with_context(|| format!("reading --auth-jwt-public-key {}", path.display()))?;
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        // An uncompressed point: 1 + 2 × 32 bytes on P-256, 1 + 2 × 48 on P-384.
        let algorithm = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => Algorithm::ES256,
            Ok(97) => Algorithm::ES384,
            _ => anyhow::bail!("{}: an EC key on a curve other than P-256 or P-384", path.display()),
        };
        return Ok((key, algorithm));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((key, Algorithm::RS256));
    }
    anyhow::bail!("{}: no RSA, EC or Ed25519 public key in PEM form", path.display())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_token_is_taken_from_the_bearer_header_first_then_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_token(Some("user=a&access_token=q.r.s"), &headers).as_deref(), Some("q.r.s"));
        assert_eq!(request_token(Some("access_token=a%2Eb"), &headers).as_deref(), Some("a.b"));
        assert_eq!(request_token(Some("user=a"), &headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer h.e.d"));
        assert_eq!(request_token(Some("access_token=q.r.s"), &headers).as_deref(), Some("h.e.d"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwdw=="));
        assert_eq!(request_token(None, &headers), None, "only bearer tokens");
    }

    #[test]
    fn a_rooms_claim_is_an_allow_list() {
        let room = |name| RoomId::parse(name).unwrap();
        let open = Grants { sub: UserId::parse("alice").unwrap(), rooms: None };
        assert!(open.permits_room(Some(&room("any"))) && open.permits_room(None));
        let listed = Grants { rooms: Some([room("team")].into()), ..open };
        assert!(listed.permits_room(Some(&room("team"))));
        assert!(!listed.permits_room(Some(&room("other"))));
        assert!(!listed.permits_room(None), "a drawn room is in no list");
    }
}
