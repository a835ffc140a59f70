//! The HTTP side of the socket.io dialects: the client bundle, the Engine.IO
//! handshake for both protocol generations, and tringtring's pages. The
//! dialects' event flows are tested with the real socket.io clients in
//! tests/node.

mod support;

use support::*;

#[tokio::test]
async fn the_socketio_client_bundle_is_served() {
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/socket.io/socket.io.js").await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{}", &response[..200]);
    assert!(response.to_lowercase().contains("javascript"), "{}", &response[..300]);
    assert!(response.contains("Socket.IO v4."), "the vendored bundle");
    server.stop().await;
}

#[tokio::test]
async fn engine_io_v3_and_v4_handshakes_are_answered() {
    let server = TestServer::start().await;
    // Engine.IO v4 (socket.io-client 3+): `0{"sid":...}` as a plain text body.
    let v4 = http_get(server.addr, "/socket.io/?EIO=4&transport=polling").await;
    assert!(v4.starts_with("HTTP/1.1 200 OK"), "{v4}");
    assert!(v4.contains("0{\"sid\":\""), "{v4}");
    // Engine.IO v3 (socket.io-client 1.x and 2.x): the length-prefixed
    // payload `<len>:0{"sid":...}`, and the namespace connect packet `40`.
    let v3 = http_get(server.addr, "/socket.io/?EIO=3&transport=polling").await;
    assert!(v3.starts_with("HTTP/1.1 200 OK"), "{v3}");
    assert!(v3.contains(":0{\"sid\":\""), "{v3}");
    server.stop().await;
}

#[tokio::test]
async fn the_landing_page_and_a_missing_room_redirect() {
    let server = TestServer::start().await;
    let landing = http_get(server.addr, "/").await;
    assert!(landing.starts_with("HTTP/1.1 200 OK"), "{landing}");
    assert!(landing.contains("/js/landing.js"), "{landing}");
    let script = http_get(server.addr, "/js/landing.js").await;
    assert!(script.contains("create-room"), "the page creates rooms over socket.io");
    let missing = http_get(server.addr, "/r/424242/").await;
    assert!(missing.starts_with("HTTP/1.1 302 Found"), "{missing}");
    assert!(missing.to_lowercase().contains("location: /\r\n"), "{missing}");
    server.stop().await;
}

/// Tring-Tring's landing page posts its create and join forms to
/// `/r/<room_id>` (`server.js` made the room there and rendered the call
/// page); its call page then only emits `join`.
#[tokio::test]
async fn posting_the_original_landing_form_makes_the_room_and_answers_its_call_page() {
    let server = TestServer::start().await;
    let form = "create_room_id=230610&create_room_password=x1y2&func_type=create";
    let page = http_post_form(server.addr, "/r/230610", form).await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("Room <span id=\"room\">230610</span>"), "{page}");
    let page = http_get(server.addr, "/r/230610/").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "the room exists now: {page}");

    // With a trailing slash, and with no body at all; a join form for a room
    // that exists leaves it as it is.
    for (path, body) in [("/r/555/", ""), ("/r/555", "join_room_id=555&func_type=join")] {
        let page = http_post_form(server.addr, path, body).await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{path}: {page}");
    }
    assert_eq!(server.driver.stats().await.unwrap().rooms, 2);
    // Not a room name: back to the start page, nothing made.
    let refused = http_post_form(server.addr, "/r/%01/", "").await;
    assert!(refused.starts_with("HTTP/1.1 302 Found"), "{refused}");
    assert_eq!(server.driver.stats().await.unwrap().rooms, 2);
    server.stop().await;
}

#[tokio::test]
async fn an_existing_room_has_its_call_page() {
    let server = TestServer::start().await;
    // A calling user makes the room; rooms are one namespace for all dialects.
    let (mut client, _) = server.calling().await;
    client.send(serde_json::json!({"type":"room_join","room":"777","tid":1})).await;
    assert_eq!(client.recv().await["type"], "answer");
    let page = http_get(server.addr, "/r/777/").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("Room <span id=\"room\">777</span>"), "{page}");
    // Names are escaped into the page.
    client.send(serde_json::json!({"type":"room_join","room":"<b>x","tid":2})).await;
    client.recv().await;
    let page = http_get(server.addr, "/r/%3Cb%3Ex/").await;
    assert!(page.contains("&lt;b&gt;x"), "{page}");
    server.stop().await;
}

#[tokio::test]
async fn the_pages_get_their_ice_servers_with_turn_credentials() {
    let config = switchboard_server::Config {
        ice_servers: vec!["stun:127.0.0.1:3478".into(), "turn:127.0.0.1:3478".into()],
        turn_secret: Some("s3cret".into()),
        // Without token checks, credentials go to anyone only when asked.
        turn_open: true,
        ..switchboard_server::Config::default()
    };
    let server = TestServer::start_with(config).await;
    let response = http_get(server.addr, "/api/config").await;
    let body = &response[response.find("\r\n\r\n").expect("a body") + 4..];
    let config: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(config["iceServers"][0], serde_json::json!({"urls": ["stun:127.0.0.1:3478"]}));
    let turn = &config["iceServers"][1];
    let username = turn["username"].as_str().unwrap();
    assert!(username.ends_with(":switchboard"), "{username}");
    assert_eq!(turn["credential"], switchboard_server::turn_password("s3cret", username));
    server.stop().await;

    // With nothing configured: host candidates only.
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/api/config").await;
    assert!(response.ends_with(r#"{"iceServers":[]}"#), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn the_phone_app_and_the_static_files_are_served() {
    let server = TestServer::start().await;
    assert!(http_get(server.addr, "/call/").await.starts_with("HTTP/1.1 200 OK"));
    let css = http_get(server.addr, "/css/app.css").await;
    assert!(css.starts_with("HTTP/1.1 200 OK") && css.to_lowercase().contains("text/css"), "{css}");
    let js = http_get(server.addr, "/js/media.js").await;
    assert!(js.to_lowercase().contains("javascript") && js.contains("export async function iceServers"), "{js}");
    assert!(http_get(server.addr, "/nothing-here").await.starts_with("HTTP/1.1 404"));
    server.stop().await;
}
