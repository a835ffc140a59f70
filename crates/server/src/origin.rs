//! Which browser origins may open a WebSocket or a socket.io session
//! (`--allowed-origin`).
//!
//! A browser sends `Origin` with every WebSocket handshake and every
//! cross-origin request, and a page cannot forge it, so checking it stops
//! another site's page from using a visitor's browser to connect here
//! (cross-site WebSocket hijacking). Clients that are not browsers send no
//! `Origin` and are let through: they could send any value anyway.

use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A web origin as browsers serialize it in the `Origin` header
/// (RFC 6454 §6.1): `scheme://host[:port]`, lower case, the scheme's default
/// port left out. Parsed from `--allowed-origin` and from requests alike, so
/// that `https://Example.com:443/` and `https://example.com` are one origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(Arc<str>);

impl Origin {
    /// Parses `scheme://host[:port]`, with at most a trailing `/`.
    ///
    /// # Errors
    /// A message saying what is wrong, for `--help`-style reporting: no
    /// scheme, an empty or unusable host, a bad port, a path, a query, user
    /// info, or the opaque origin `null` (which matches no list).
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = "an origin is scheme://host[:port], e.g. https://example.com";
        let (scheme, rest) = text.split_once("://").ok_or_else(|| format!("{text:?}: no scheme: {shape}"))?;
        let scheme = scheme.to_ascii_lowercase();
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(format!("{text:?}: bad scheme: {shape}"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.chars().any(|c| c.is_ascii_whitespace()) {
            return Err(format!("{text:?}: only scheme, host and port: {shape}"));
        }
        let (host, port) = split_port(authority).ok_or_else(|| format!("{text:?}: bad port: {shape}"))?;
        let host_ok = !host.is_empty()
            && if let Some(inner) = host.strip_prefix('[') {
                inner.strip_suffix(']').is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
            } else {
                host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            };
        if !host_ok {
            return Err(format!("{text:?}: bad host: {shape}"));
        }
        let host = host.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        };
        let origin = match port {
            Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(Self(origin.into()))
    }

    /// The serialized origin.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits `host[:port]` (`[v6]:port` too); `None` for a port that is not a
/// number from 0 to 65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => at,
        _ => return Some((authority, None)),
    };
    let port = &authority[colon + 1..];
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&authority[..colon], Some(port.parse().ok()?)))
}

/// The `--allowed-origin` list, as every handshake checks it.
#[derive(Clone, Debug)]
pub(crate) struct OriginPolicy {
    /// Empty: every origin is allowed.
    allowed: Arc<[Origin]>,
}

impl OriginPolicy {
    pub(crate) fn new(allowed: &[Origin]) -> Self {
        Self { allowed: allowed.into() }
    }

    /// Whether every origin is allowed (no list was given).
    pub(crate) fn allows_any(&self) -> bool {
        self.allowed.is_empty()
    }

    /// `Ok` for a request without `Origin`, or with one in the list (any,
    /// with no list).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), OriginRefused> {
        let Some(value) = headers.get(header::ORIGIN) else { return Ok(()) };
        if self.allows_any() {
            return Ok(());
        }
        let origin = value.to_str().ok().and_then(|text| Origin::parse(text).ok());
        match origin {
            Some(origin) if self.allowed.contains(&origin) => Ok(()),
            _ => {
                tracing::debug!(origin = ?value, "refused a handshake from an origin not allowed (403)");
                Err(OriginRefused)
            }
        }
    }
}

/// A request from a page of an origin not allowed: the client's fault, 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OriginRefused;

impl IntoResponse for OriginRefused {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, "origin not allowed\n").into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn origins_are_compared_as_browsers_serialize_them() {
        let parse = |text| Origin::parse(text).map(|origin| origin.as_str().to_owned());
        assert_eq!(parse("https://Example.COM:443/"), Ok("https://example.com".into()));
        assert_eq!(parse("http://localhost:8080"), Ok("http://localhost:8080".into()));
        assert_eq!(parse("http://127.0.0.1:80"), Ok("http://127.0.0.1".into()));
        assert_eq!(parse("http://[::1]:3000"), Ok("http://[::1]:3000".into()));
        assert_eq!(parse("chrome-extension://abcdef"), Ok("chrome-extension://abcdef".into()));
        for bad in [
            "null",
            "example.com",
            "https://",
            "https://a.com/path",
            "https://u@a.com",
            "https://a.com:x",
            "https://a.com:99999",
            "1http://a.com",
            "https://[zz]",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_or_none_pass() {
        let policy = OriginPolicy::new(&[Origin::parse("https://good.example").unwrap()]);
        let with = |origin: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            policy.check(&headers).map_err(|refused| refused.into_response().status())
        };
        assert_eq!(with("https://good.example"), Ok(()));
        assert_eq!(with("https://GOOD.example:443"), Ok(()));
        assert_eq!(with("https://evil.example"), Err(StatusCode::FORBIDDEN));
        assert_eq!(with("http://good.example"), Err(StatusCode::FORBIDDEN));
        assert_eq!(with("null"), Err(StatusCode::FORBIDDEN));
        assert_eq!(policy.check(&HeaderMap::new()), Ok(()), "no Origin: not a browser");
        let open = OriginPolicy::new(&[]);
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(open.check(&headers).is_ok(), "no list: every origin");
    }
}
