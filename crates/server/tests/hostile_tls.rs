//! TLS (`--tls-cert`, `--tls-key`) on every listener, with a self-signed
//! certificate made here: a wss call, https on the metrics listener, and
//! clients that open a connection and never finish their handshake, closed
//! within the header timeout.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use support::hostile::*;
use support::*;
use switchboard_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A certificate for `localhost` and its key, written as PEM files.
struct Certificate {
    der: CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
}

impl Certificate {
    fn new(name: &str) -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = std::env::temp_dir().join(format!("switchboard-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Self { der: made.cert.der().clone(), cert, key }
    }

    fn config(&self, header_timeout: Duration) -> Config {
        let any_port = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        Config {
            tls_cert: Some(self.cert.clone()),
            tls_key: Some(self.key.clone()),
            chatroulette_listen: any_port,
            metrics_listen: any_port,
            header_timeout,
            ..Config::default()
        }
    }

    /// A client that trusts this certificate alone.
    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn tls(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(PATIENCE, self.connector().connect(name, tcp))
            .await
            .expect("a TLS handshake")
            .unwrap_or_else(|error| panic!("{addr}: {error}"))
    }

    /// A wss client on `path` of `addr`.
    async fn wss(&self, addr: SocketAddr, path: &str) -> Client<TlsStream<TcpStream>> {
        let url = format!("wss://localhost:{}{path}", addr.port());
        Client::from_stream(handshake(self.tls(addr).await, &url, None).await.expect("upgraded"))
    }

    /// An https GET; the whole response as text.
    async fn https_get(&self, addr: SocketAddr, path: &str) -> String {
        let mut stream = self.tls(addr).await;
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        // rustls reports a peer that closes without close_notify as an error
        // after the bytes; the bytes are what matters here.
        let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("a response");
        String::from_utf8_lossy(&response).into_owned()
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        if let Some(dir) = self.cert.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn a_wss_call_and_https_on_every_listener() {
    let certificate = Certificate::new("call");
    let server = TestServer::start_with(certificate.config(Duration::from_secs(10))).await;
    // On the main listener and on the drop-in chatroulette listener.
    let mut alice = certificate.wss(server.addr, "/ws/chatroulette").await;
    let mut bob = certificate.wss(server.dropin.unwrap(), "/any/path").await;
    set_up_call(&mut alice, "alice", &mut bob, "bob").await;
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;

    let health = certificate.https_get(server.addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let metrics = certificate.https_get(server.metrics.unwrap(), "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    assert_eq!(prometheus::sessions(&metrics), 2, "{metrics}");
    // Cleartext on a TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut answer)).await.expect("closed");
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    server.stop().await;
}

/// The start of a TLS 1.2/1.3 ClientHello record: a handshake record
/// announcing 512 bytes, and only the first few of them.
const HALF_A_CLIENT_HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a];

#[tokio::test]
async fn a_client_that_never_finishes_its_tls_handshake_is_closed_within_the_header_timeout() {
    // Small, so the test waits for the close (EOF) on the real clock, never
    // sleeping; the default header timeout would take 10 s. (The legitimate
    // clients' handshakes must fit in it too.)
    const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
    let certificate = Certificate::new("stall");
    let server = TestServer::start_with(certificate.config(HEADER_TIMEOUT)).await;
    let mut alice = certificate.wss(server.addr, "/ws/chatroulette").await;
    let mut bob = certificate.wss(server.addr, "/ws/chatroulette").await;
    set_up_call(&mut alice, "alice", &mut bob, "bob").await;

    let listeners = [server.addr, server.dropin.unwrap(), server.metrics.unwrap()];
    let mut stalled = Vec::new();
    for addr in listeners {
        for partial in [&b""[..], HALF_A_CLIENT_HELLO] {
            let mut stream = tcp_from(ATTACKER, addr).await;
            stream.write_all(partial).await.unwrap();
            stalled.push((addr, partial.len(), stream));
        }
    }
    for (addr, sent, mut stream) in stalled {
        let mut answer = Vec::new();
        // Without the deadline this read would never end.
        let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "{addr}: still open after {PATIENCE:?} ({sent} bytes sent)");
        assert!(answer.is_empty() || answer[0] == 0x15, "{addr}: nothing but a TLS alert: {answer:?}");
    }
    // The upgraded wss call is past its handshake and goes on.
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}
