//! `switchboard probe URL`: one plain-HTTP GET that succeeds on a 200, for a
//! container `HEALTHCHECK` (the runtime image has no curl or wget).

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

/// How long the probe waits to connect, and for each read and write: a
/// health check that hangs is itself a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `url` (`http://HOST:PORT/PATH`; no TLS) and returns the status
/// line's code.
///
/// # Errors
/// When the URL is not `http://`, the address does not resolve, the
/// connection fails or times out, or the answer is not HTTP.
pub fn get_status(url: &str) -> anyhow::Result<u16> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("{url}: only http:// URLs are probed"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let address = authority.to_socket_addrs()?.next().ok_or_else(|| anyhow::anyhow!("{authority}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")?;
    // The status line is in the first bytes; the body is not needed.
    let mut head = [0u8; 64];
    let read = stream.read(&mut head)?;
    let head = String::from_utf8_lossy(&head[..read]);
    let code = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{url}: not an HTTP answer: {head:?}"))?;
    Ok(code)
}
