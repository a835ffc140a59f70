//! `--metrics-listen`: what the server holds is not for the public port.
//! With it, `/metrics` answers 404 on the main listener and 200 on its own;
//! without it, it stays on the main listener.

mod support;

use std::net::SocketAddr;

use support::hostile::*;
use support::*;
use switchboard_server::Config;

#[tokio::test]
async fn metrics_move_off_the_public_port() {
    let config = Config { metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))), ..Config::default() };
    let server = TestServer::start_with(config).await;
    let (mut alice, mut bob) = legit_call(&server).await;

    let public = get_from(ATTACKER, server.addr, "/metrics", &[]).await;
    assert_eq!(public.status, 404, "{public:?}");
    assert!(!public.body.contains("switchboard_sessions"), "{public:?}");
    let private = get_from(USERS, server.metrics.expect("a metrics listener"), "/metrics", &[]).await;
    assert_eq!(private.status, 200, "{private:?}");
    assert_eq!(prometheus::sessions(&private.body), 2, "{}", private.body);
    // The metrics listener serves nothing else.
    assert_eq!(get_from(USERS, server.metrics.unwrap(), "/", &[]).await.status, 404);
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_metrics_listener_metrics_stay_on_the_main_port() {
    let server = TestServer::start().await;
    assert!(server.metrics.is_none());
    let response = get_from(USERS, server.addr, "/metrics", &[]).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(prometheus::sessions(&response.body), 0, "{}", response.body);
    server.stop().await;
}
