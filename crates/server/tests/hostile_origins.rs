//! Cross-site WebSocket hijacking: another site's page opening a session
//! with a visitor's browser. With `--allowed-origin`, a WebSocket upgrade or
//! a socket.io request (polling and websocket) whose `Origin` is not listed
//! gets 403, `null` included; one without `Origin` (not a browser) passes.
//! And the pages' security headers.

mod support;

use support::hostile::*;
use support::*;
use switchboard_server::{Config, Origin};

const GOOD: &str = "http://good.example:8080";
const EVIL: &str = "https://evil.example";

/// How a handshake with `origin` (or none) ends on each transport: the
/// WebSocket status (101 when open), the socket.io polling handshake's, and
/// the socket.io WebSocket's.
async fn statuses(server: &TestServer, origin: Option<&str>) -> [u16; 3] {
    let websocket = match upgrade_from(ATTACKER, server.addr, "/ws/chatroulette", origin).await {
        Ok(client) => {
            client.close().await;
            101
        }
        Err(status) => status,
    };
    let headers: Vec<(&str, &str)> = origin.map(|origin| ("Origin", origin)).into_iter().collect();
    let polling = get_from(ATTACKER, server.addr, "/socket.io/?EIO=4&transport=polling", &headers).await.status;
    let socketio_ws = match RawSocketIo::open(ATTACKER, server.addr, origin).await {
        Ok(_) => 101,
        Err(status) => status,
    };
    [websocket, polling, socketio_ws]
}

#[tokio::test]
async fn only_listed_origins_and_non_browsers_may_open_sessions() {
    let config = Config { allowed_origins: vec![Origin::parse(GOOD).unwrap()], ..Config::default() };
    let server = TestServer::start_with(config).await;
    let (mut alice, mut bob) = legit_call(&server).await;

    assert_eq!(statuses(&server, Some(EVIL)).await, [403, 403, 403], "an origin not listed");
    assert_eq!(statuses(&server, Some("null")).await, [403, 403, 403], "the opaque origin (sandboxed frames, files)");
    assert_eq!(statuses(&server, Some("http://good.example:8080.evil.example")).await, [403, 403, 403]);
    assert_eq!(statuses(&server, Some(GOOD)).await, [101, 200, 101], "the listed origin");
    assert_eq!(statuses(&server, Some("HTTP://GOOD.example:8080")).await, [101, 200, 101], "compared as browsers do");
    assert_eq!(statuses(&server, None).await, [101, 200, 101], "no Origin: not a browser");
    // A later request of a session is checked too.
    let mut polling = Http::connect(ATTACKER, server.addr).await;
    let open = polling.get("/socket.io/?EIO=4&transport=polling", &[]).await;
    let sid = open.body.split("\"sid\":\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    let hijacked = polling.get(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"), &[("Origin", EVIL)]).await;
    assert_eq!(hijacked.status, 403);
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_list_every_origin_is_allowed() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = legit_call(&server).await;
    assert_eq!(statuses(&server, Some(EVIL)).await, [101, 200, 101]);
    assert_eq!(statuses(&server, Some("null")).await, [101, 200, 101]);
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}

#[tokio::test]
async fn the_pages_carry_the_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/call/", "/js/room.js", "/css/app.css", "/socket.io/socket.io.js", "/api/config"] {
        let response = get_from(USERS, server.addr, path, &[]).await;
        assert_eq!(response.status, 200, "{path}");
        let csp = response.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    // No page has inline script or style for the CSP to block.
    let pages = [
        ("/", http_get(server.addr, "/").await),
        ("/call/", http_get(server.addr, "/call/").await),
        ("/r/123/", http_post_form(server.addr, "/r/123/", "").await),
    ];
    for (path, page) in pages {
        assert!(page.starts_with("HTTP/1.1 200"), "{path}: {page}");
        assert!(!page.contains("<style"), "{path}: inline style");
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains("src="), "{path}: inline script <script{tag}>");
        }
    }
    server.stop().await;
}
