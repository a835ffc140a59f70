//! A socket.io request's head, copied out of hyper's read buffer.
//!
//! hyper parses a request head without copying it: the URI and every header
//! value are slices of the connection's read buffer (8 KiB or more), and a
//! slice keeps the whole buffer alive. engineioxide keeps the handshake's
//! request parts for as long as its session lives (`Socket::req_parts`),
//! and its WebSocket task keeps the upgrade request's parts as well, so every
//! idle socket.io session would hold a read buffer it will never read from
//! again. axum's router puts a third holder in the extensions, `OriginalUri`.
//! Copying the few hundred bytes of the head lets hyper's buffer go once the
//! upgrade is done.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, Uri};

/// Replaces the request's URI, header values and `OriginalUri` with owned
/// copies, so that nothing of it refers to hyper's read buffer. Names need no
/// copy: `HeaderName` copies a name that is not a standard one when parsed.
pub(crate) fn detach(request: &mut Request) {
    let uri = owned_uri(request.uri());
    if let Some(original) = request.extensions_mut().get_mut::<OriginalUri>() {
        original.0 = owned_uri(&original.0);
    }
    *request.uri_mut() = uri;
    let headers = std::mem::take(request.headers_mut());
    *request.headers_mut() = owned_headers(headers);
}

fn owned_uri(uri: &Uri) -> Uri {
    // A URI's text parses back to the same URI; the parse copies it.
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: HeaderMap) -> HeaderMap {
    let mut owned = HeaderMap::with_capacity(headers.len());
    let mut name = None;
    for (next_name, value) in headers {
        // `into_iter` gives a name only with the first of its values.
        if next_name.is_some() {
            name = next_name;
        }
        let Some(name) = &name else { continue };
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or(value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name.clone(), copy);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header;

    #[test]
    fn the_copied_head_is_the_same_head() {
        let mut request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&resume=abc")
            .header(header::ORIGIN, "https://example.org")
            .header("x-repeated", "one")
            .header("x-repeated", "two")
            .body(Body::empty())
            .unwrap();
        let original = OriginalUri(request.uri().clone());
        request.extensions_mut().insert(original);
        let before = (request.uri().clone(), request.headers().clone());

        detach(&mut request);

        assert_eq!((request.uri(), request.headers()), (&before.0, &before.1));
        let repeated: Vec<_> = request.headers().get_all("x-repeated").iter().collect();
        assert_eq!(repeated, ["one", "two"]);
        assert_eq!(request.extensions().get::<OriginalUri>().map(|uri| &uri.0), Some(&before.0));
    }

    #[test]
    fn the_copy_shares_no_bytes_with_the_buffer() {
        // As hyper does: the head's parts are slices of one buffer.
        let buffer = axum::body::Bytes::from_static(b"GET /socket.io/?EIO=4 example.org").slice(..);
        let value = HeaderValue::from_maybe_shared(buffer.slice(22..)).unwrap();
        let mut request = Request::builder().body(Body::empty()).unwrap();
        request.headers_mut().insert(header::HOST, value);

        detach(&mut request);

        let copied = request.headers()[header::HOST].as_bytes();
        assert_eq!(copied, b"example.org");
        let buffer_range = buffer.as_ptr_range();
        assert!(!buffer_range.contains(&copied.as_ptr()), "the header value still points into the buffer");
    }
}
