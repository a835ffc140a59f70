//! `switchboard serve` options: every one has a flag, an environment
//! variable and a default, and `--help` explains each. A config file
//! (`--config`, see [`crate::config_file`]) sets any of them under its long
//! flag name; an option holding key material takes `value_name = "SECRET"`
//! so that `switchboard config print` masks it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The server's settings.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address of the main HTTP listener: health check, browser pages and
    /// every dialect's WebSocket endpoint (`/ws/chatroulette`, ...).
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Also listen here for chatroulette clients made for the original
    /// server, which upgraded WebSockets on any path (it used port 8888).
    #[arg(long, env = "SWITCHBOARD_CHATROULETTE_LISTEN", value_name = "ADDR")]
    pub chatroulette_listen: Option<SocketAddr>,

    /// Also listen here for calling-signaling clients made for the original
    /// server, which upgraded WebSockets on any path (it used port 8080).
    #[arg(long, env = "SWITCHBOARD_CALLING_LISTEN", value_name = "ADDR")]
    pub calling_listen: Option<SocketAddr>,

    /// How long a call rings before it ends unanswered ("30s", "1m").
    #[arg(long, env = "SWITCHBOARD_RING_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ring_timeout: Duration,

    /// How long an empty room is kept before it is deleted.
    #[arg(long, env = "SWITCHBOARD_EMPTY_ROOM_TTL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub empty_room_ttl: Duration,

    /// Places in a tringtring room (the seed's rooms hold 2); at least 1.
    #[arg(long, env = "SWITCHBOARD_ROOM_CAPACITY", default_value_t = 2, value_parser = at_least_one)]
    pub room_capacity: usize,

    /// ecall messages held at most for one user with no connected client
    /// (each for the ring timeout); one more is refused.
    #[arg(long, env = "SWITCHBOARD_MAILBOX_MESSAGES", default_value_t = 32)]
    pub mailbox_messages: usize,

    /// Bytes of ecall messages held at most for one user with no connected
    /// client.
    #[arg(long, env = "SWITCHBOARD_MAILBOX_BYTES", default_value_t = 256 * 1024)]
    pub mailbox_bytes: usize,

    /// Offline users one sender may hold ecall messages for at once; a
    /// message to one more is refused, so nobody can fill the mailboxes of
    /// many made-up users.
    #[arg(long, env = "SWITCHBOARD_MAILBOXES_PER_SENDER", default_value_t = 16)]
    pub mailboxes_per_sender: usize,

    /// Rooms one connection may be in (calls included) plus invites it may
    /// have ringing; one more join, call or invite is refused.
    #[arg(long, env = "SWITCHBOARD_ROOMS_PER_SESSION", default_value_t = 32)]
    pub rooms_per_session: usize,

    /// Namespaces (calling `ns_*`) one connection may subscribe to, one user
    /// be listed in, and one room be listed in.
    #[arg(long, env = "SWITCHBOARD_NAMESPACES_PER_SESSION", default_value_t = 32)]
    pub namespaces_per_session: usize,

    /// Messages a second one connection may send (WebSocket frames,
    /// socket.io events), after its burst; one more is dropped and answered
    /// with the dialect's error ("too many messages"). Only the sender is
    /// slowed. 0 turns the limit off.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,

    /// Messages one connection may send at once before `--rate-limit`
    /// applies.
    #[arg(long, env = "SWITCHBOARD_RATE_BURST", default_value_t = 200)]
    pub rate_burst: u32,

    /// Messages over the limit in a row after which the connection is
    /// closed (WebSocket 1008, socket.io disconnect); 0: never.
    #[arg(long, env = "SWITCHBOARD_RATE_ABUSE_AFTER", default_value_t = 100)]
    pub rate_abuse_after: u32,

    /// Rooms one client address may open per minute over HTTP (`POST
    /// /r/<id>`, Tring-Tring's landing form, which needs no session), that
    /// many at once; one more gets 429. 0 turns the limit off.
    #[arg(long, env = "SWITCHBOARD_OPEN_ROOM_RATE", default_value_t = 30)]
    pub open_room_rate: u32,

    /// Calls, invites and new rooms one user may start at once, before
    /// `--ring-rate` applies; 0 turns the limit off.
    #[arg(long, env = "SWITCHBOARD_RING_BURST", default_value_t = 20)]
    pub ring_burst: u32,

    /// Calls, invites and new rooms one user may start per minute once its
    /// burst is spent; one more is refused with the dialect's error ("too
    /// many calls"), and nobody else is slowed. 0 turns the limit off.
    #[arg(long, env = "SWITCHBOARD_RING_RATE", default_value_t = 30)]
    pub ring_rate: u32,

    /// Invites into one room, from all its members together, at once,
    /// before `--room-invite-rate` applies; 0 turns the limit off.
    #[arg(long, env = "SWITCHBOARD_ROOM_INVITE_BURST", default_value_t = 50)]
    pub room_invite_burst: u32,

    /// Invites into one room per minute once its burst is spent; 0 turns
    /// the limit off.
    #[arg(long, env = "SWITCHBOARD_ROOM_INVITE_RATE", default_value_t = 60)]
    pub room_invite_rate: u32,

    /// Largest WebSocket message a client may send, in bytes; a larger one
    /// closes the connection with code 1009 (message too big).
    #[arg(long, env = "SWITCHBOARD_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Events that may wait for one client, so a client that stops reading
    /// cannot grow the server's memory. Relays may fill three quarters of it;
    /// one that finds no room is refused to its sender, never dropping the
    /// reader. A call event that finds it full drops the client (1008).
    #[arg(long, env = "SWITCHBOARD_SESSION_QUEUE", default_value_t = 256)]
    pub session_queue: usize,

    /// How long a session whose connection dropped without a clean close is
    /// held for its client to resume it (`resume=<token>`), its name,
    /// rooms, calls and ringing intact and the other parties told nothing.
    /// Only sessions whose client asked (`resume=1`) are held. See README,
    /// "Resume".
    #[arg(long, env = "SWITCHBOARD_RESUME_WINDOW", default_value = "30s", value_parser = humantime::parse_duration)]
    pub resume_window: Duration,

    /// Events queued for one held session, at most; one more ends the
    /// session at once, as a disconnect does.
    #[arg(long, env = "SWITCHBOARD_RESUME_BUFFER", default_value_t = 256)]
    pub resume_buffer: usize,

    /// A WebSocket ping is sent after this much silence from a client, and
    /// again every half of it while the silence lasts.
    #[arg(long, env = "SWITCHBOARD_WS_PING_AFTER", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ws_ping_after: Duration,

    /// A client silent this long (no message, no pong) is disconnected.
    #[arg(long, env = "SWITCHBOARD_WS_IDLE_TIMEOUT", default_value = "55s", value_parser = humantime::parse_duration)]
    pub ws_idle_timeout: Duration,

    /// A write to a client that takes longer than this drops the client; so
    /// does taking no event for this long while relays wait for it (a
    /// client that does not read).
    #[arg(long, env = "SWITCHBOARD_WS_WRITE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub ws_write_timeout: Duration,

    /// A client must send a whole HTTP request head within this time, from
    /// the connection's start or the end of its previous response, or its
    /// connection is closed (slowloris). On every listener.
    #[arg(long, env = "SWITCHBOARD_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,

    /// How long the first SIGTERM or SIGINT lets calls in progress go on
    /// (ringing or answered) before the node closes every connection and
    /// exits. Meanwhile /readyz answers 503, new connections are refused
    /// and new calls get the dialect's busy or error; the node exits as
    /// soon as no call is left. A second signal ends the drain at once.
    #[arg(long, env = "SWITCHBOARD_DRAIN_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Join a cluster of nodes sharing this Redis (7 or later):
    /// `redis://HOST:PORT[/DB]`, with `user:password@` if it needs them.
    /// Without it the node runs alone, in memory. See docs/cluster.md.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL", value_name = "SECRET")]
    pub redis_url: Option<String>,

    /// This node's id in the cluster: 1 to 64 of A-Z a-z 0-9 - _ . ; a
    /// random one when not given. It labels this node's metrics.
    #[arg(long, env = "SWITCHBOARD_NODE_ID", value_name = "ID", value_parser = crate::cluster::NodeId::parse)]
    pub node_id: Option<crate::cluster::NodeId>,

    /// How soon after a node of the cluster dies (SIGKILL, a lost network)
    /// the others take it for dead: its users' names are free again and
    /// its calls end with `disconnected`. Nodes announce themselves eight
    /// times in this span.
    #[arg(long, env = "SWITCHBOARD_NODE_TIMEOUT", default_value = "10s", value_parser = node_timeout)]
    pub node_timeout: Duration,

    /// WebSocket and socket.io sessions one client address may hold at once
    /// (an IPv6 client counts by its /64); one more is refused with 429.
    /// Generous by default, so that an office or a carrier NAT behind one
    /// address still fits. socket.io polling sessions count too: they hold
    /// no connection of their own. Behind a reverse proxy every client has
    /// the proxy's address: raise this and limit at the proxy.
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS_PER_IP", default_value_t = 1000, value_parser = at_least_one)]
    pub max_connections_per_ip: usize,

    /// WebSocket and socket.io sessions this node holds at once; past it a
    /// WebSocket is closed right after its upgrade with 1013 (try again
    /// later) and a socket.io handshake is refused with 503. Size it to
    /// memory: an idle WebSocket session takes about 4 KiB, a socket.io one
    /// about 32 KiB (BENCHMARKS.md).
    #[arg(long, env = "SWITCHBOARD_MAX_SESSIONS", default_value_t = 100_000, value_parser = at_least_one)]
    pub max_sessions: usize,

    /// A connection must register (chatroulette `CONNECT`, cloudkibo's
    /// `join global chatroom`, tringtring's first event; calling and ecall
    /// register as they connect) within this time, or it is closed
    /// (WebSocket close 1008; socket.io disconnect).
    #[arg(long, env = "SWITCHBOARD_REGISTER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub register_timeout: Duration,

    /// A browser origin allowed to open a WebSocket or a socket.io session
    /// (`https://example.com`, `http://localhost:8080`); repeatable. Any
    /// other `Origin` header, `null` included, gets 403; a request without
    /// one (not a browser) is let through. With none, every origin is
    /// allowed and the server warns at startup.
    #[arg(long = "allowed-origin", env = "SWITCHBOARD_ALLOWED_ORIGINS", value_delimiter = ',', value_name = "URL", value_parser = crate::origin::Origin::parse)]
    pub allowed_origins: Vec<crate::origin::Origin>,

    /// Serve `/metrics` on this address alone (and answer 404 for it on the
    /// main listener). Without it, `/metrics` is on the main listener.
    #[arg(long, env = "SWITCHBOARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Certificate chain (PEM) to serve https and wss with, on every
    /// listener; needs `--tls-key`.
    // No clap `requires`: it ignores a config file's value (a default to
    // clap), so the pair is checked where the app is built.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1); needs
    /// `--tls-cert`.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Check access tokens (JWT, HS256) signed with this shared secret:
    /// every WebSocket and socket.io connection, and `/api/config`, then
    /// needs a valid token, and its `sub` claim is the only name the
    /// connection may register. Without this or --auth-jwt-public-key, the
    /// server is open: anyone may connect under any free name.
    #[arg(long, env = "SWITCHBOARD_AUTH_JWT_SECRET", value_name = "SECRET", conflicts_with = "auth_jwt_public_key")]
    pub auth_jwt_secret: Option<String>,

    /// Check access tokens signed with the private half of this PEM public
    /// key (RSA: RS256; EC P-256: ES256, P-384: ES384; Ed25519: EdDSA),
    /// instead of a shared secret: the token issuer keeps the private key.
    #[arg(long, env = "SWITCHBOARD_AUTH_JWT_PUBLIC_KEY", value_name = "FILE")]
    pub auth_jwt_public_key: Option<PathBuf>,

    /// With token checks on: a token must name this audience in its `aud`
    /// claim. Without it, a token that has an `aud` claim is refused (it
    /// was meant for someone else).
    #[arg(long, env = "SWITCHBOARD_AUTH_AUDIENCE", value_name = "AUD")]
    pub auth_audience: Option<String>,

    /// With token checks on: a token must name this issuer in its `iss`
    /// claim.
    #[arg(long, env = "SWITCHBOARD_AUTH_ISSUER", value_name = "ISS")]
    pub auth_issuer: Option<String>,

    /// Clock skew allowed between the token issuer and this server when a
    /// token's `exp` (expiry, required) and `nbf` (not before) are checked.
    #[arg(long, env = "SWITCHBOARD_AUTH_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub auth_leeway: Duration,

    /// An ICE server for the browser pages, `stun:` or `turn:` URL;
    /// repeatable. With none, calls use host candidates only.
    #[arg(long = "ice-server", env = "SWITCHBOARD_ICE_SERVERS", value_delimiter = ',', value_name = "URL")]
    pub ice_servers: Vec<String>,

    /// The secret shared with the TURN server (coturn `static-auth-secret`):
    /// `/api/config` hands out time-limited credentials for the `turn:`
    /// URLs, to holders of a valid access token only (username
    /// `<expiry>:<sub>`). Without token checks, none are handed out unless
    /// --turn-open says so.
    #[arg(long, env = "SWITCHBOARD_TURN_SECRET", value_name = "SECRET")]
    pub turn_secret: Option<String>,

    /// Without token checks (no --auth-jwt-*): hand TURN credentials to
    /// anyone who asks `/api/config`. That makes the TURN server an open
    /// relay: anyone can route any traffic through it, at your cost and
    /// under your address. Without this flag, an open server lists the
    /// `turn:` URLs with no credentials (the pages then use STUN and host
    /// candidates only) and logs a warning at startup.
    #[arg(long, env = "SWITCHBOARD_TURN_OPEN")]
    pub turn_open: bool,

    /// How long minted TURN credentials stay valid. Default: 1h with token
    /// checks on (a credential should not outlive its token by much), 24h
    /// with --turn-open.
    #[arg(long, env = "SWITCHBOARD_TURN_TTL", value_parser = humantime::parse_duration)]
    pub turn_ttl: Option<Duration>,

    /// Log line format.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Which log lines to keep, in `tracing` filter syntax ("info",
    /// "switchboard_server=debug").
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// Name the users in each call's log lines, beside their sessions. Off
    /// by default: names are personal data, sessions are not.
    #[arg(long, env = "SWITCHBOARD_LOG_USER_NAMES")]
    pub log_user_names: bool,
}

/// A count of 1 or more: a room of no place, or a limit of no session,
/// could admit nobody.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

/// A node timeout: at least 1 s, so that announcements (every eighth of
/// it) are not a flood.
fn node_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if timeout < Duration::from_secs(1) {
        return Err("the node timeout is at least 1s".to_owned());
    }
    Ok(timeout)
}

impl Default for Config {
    /// The defaults `--help` shows, listening on an ephemeral loopback port.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            chatroulette_listen: None,
            calling_listen: None,
            ring_timeout: Duration::from_secs(30),
            empty_room_ttl: Duration::from_secs(600),
            room_capacity: 2,
            mailbox_messages: 32,
            mailbox_bytes: 256 * 1024,
            mailboxes_per_sender: 16,
            open_room_rate: 30,
            rate_limit: 50,
            rate_burst: 200,
            rate_abuse_after: 100,
            rooms_per_session: 32,
            namespaces_per_session: 32,
            ring_burst: 20,
            ring_rate: 30,
            room_invite_burst: 50,
            room_invite_rate: 60,
            max_frame_bytes: 64 * 1024,
            session_queue: 256,
            resume_window: Duration::from_secs(30),
            resume_buffer: 256,
            ws_ping_after: Duration::from_secs(30),
            ws_idle_timeout: Duration::from_secs(55),
            ws_write_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(300),
            redis_url: None,
            node_id: None,
            node_timeout: Duration::from_secs(10),
            max_connections_per_ip: 1000,
            max_sessions: 100_000,
            register_timeout: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            auth_jwt_secret: None,
            auth_jwt_public_key: None,
            auth_audience: None,
            auth_issuer: None,
            auth_leeway: Duration::from_secs(30),
            ice_servers: Vec::new(),
            turn_secret: None,
            turn_open: false,
            turn_ttl: None,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            log_user_names: false,
        }
    }
}
