//! Startup as a library: build (bind every listener), then run until a
//! shutdown future completes. Tests bind port 0 and talk to the real server
//! over real sockets.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use futures_util::StreamExt as _;
use switchboard_core::{CoreConfig, Rate};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::admission::Admissions;
use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::cluster::{Cluster, ClusterConfig, NodeId};
use crate::config::Config;
use crate::dialects;
use crate::driver::{self, DriverHandle, DriverSettings, ResumeSettings};
use crate::edge::{self, Edge};
use crate::ice::{self, IceConfig};
use crate::metrics::Metrics;
use crate::origin::OriginPolicy;
use crate::room_openings::RoomOpenings;
use crate::serve;
use crate::socketio;
use crate::stop::{self, Stop, StopSender};
use crate::tls;
use crate::web;
use crate::ws::{ConnectionContext, Limits};

/// How long shutdown waits for open connections to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every request handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    context: ConnectionContext,
    room_capacity: usize,
    pub(crate) ice: IceConfig,
    edge: Edge,
    /// Checks access tokens; `None`: the server runs open. Here rather than
    /// in the connection context, which every session holds a copy of:
    /// tokens are checked before a connection starts.
    auth: Option<Authenticator>,
    /// How fast one address may open rooms over HTTP.
    room_openings: RoomOpenings,
    /// `--ring-timeout`: how long ecall's bridge rings a Wire device for a
    /// call from another app (the core keeps it for every other ring).
    pub(crate) ring_timeout: std::time::Duration,
}

impl AppState {
    pub(crate) fn connection_context(&self) -> ConnectionContext {
        self.context.clone()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.context.metrics
    }

    pub(crate) fn driver(&self) -> &DriverHandle {
        &self.context.driver
    }

    /// The limit on rooms opened over HTTP (`POST /r/<id>`).
    pub(crate) fn room_openings(&self) -> &RoomOpenings {
        &self.room_openings
    }

    /// The token checker; `None`: the server runs open.
    pub(crate) fn auth(&self) -> Option<&Authenticator> {
        self.auth.as_ref()
    }

    /// Places in a tringtring room.
    pub(crate) fn room_capacity(&self) -> usize {
        self.room_capacity
    }

    /// The origin check and the session caps.
    pub(crate) fn edge(&self) -> &Edge {
        &self.edge
    }
}

/// A drop-in listener: one dialect's WebSocket on any path, as the original
/// server of that dialect accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DropIn {
    Chatroulette,
    Calling,
}

/// A built server: listeners bound, driver running, not yet serving.
pub struct Application {
    listener: TcpListener,
    drop_ins: Vec<(DropIn, TcpListener)>,
    /// `--metrics-listen`: `/metrics` there, and not on the main listener.
    metrics: Option<TcpListener>,
    /// `--tls-cert` and `--tls-key`: every listener speaks TLS.
    tls: Option<TlsAcceptor>,
    state: AppState,
    driver: DriverHandle,
    /// The task that owns the core; its end, while serving, is a failure.
    driver_task: JoinHandle<()>,
    stopping: StopSender,
    /// The one strong sender outside connection tasks, dropped at shutdown.
    alive: mpsc::Sender<()>,
    all_closed: mpsc::Receiver<()>,
    header_timeout: Duration,
    /// `--drain-timeout`: how long calls in progress may go on after the
    /// first stop signal.
    drain_timeout: Duration,
    /// `--redis-url`: this node's place in a cluster, left at shutdown.
    cluster: Option<Cluster>,
    /// The cluster's tasks (heartbeat, watch, pub/sub), stopped at shutdown.
    cluster_tasks: Vec<JoinHandle<()>>,
}

impl Application {
    /// Binds every listener in `config`, loads the TLS certificate if there
    /// is one, and starts the driver.
    ///
    /// Without token checks (no `--auth-jwt-*`) it logs one warning that the
    /// server is open, and another if TURN credentials are withheld for
    /// want of `--turn-open`.
    ///
    /// # Errors
    /// When a listener cannot be bound, the certificate or key cannot be
    /// loaded, the OS gives no random seed, or the token settings are
    /// unusable (see [`Authenticator::from_config`]).
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let auth = Authenticator::from_config(&config)?;
        let ice = IceConfig::from_config(&config, auth.is_some());
        if auth.is_none() {
            tracing::warn!(
                "no --auth-jwt-secret or --auth-jwt-public-key: the server is open, anyone may connect under any free name"
            );
            if config.turn_secret.is_some() && !config.turn_open {
                tracing::warn!(
                    "--turn-secret without token checks or --turn-open: TURN credentials are withheld and /api/config lists no turn: URLs"
                );
            }
        }
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let mut drop_ins = Vec::new();
        for (kind, addr) in
            [(DropIn::Chatroulette, config.chatroulette_listen), (DropIn::Calling, config.calling_listen)]
        {
            if let Some(addr) = addr {
                drop_ins.push((kind, TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?));
            }
        }
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?),
            None => None,
        };
        let origins = OriginPolicy::new(&config.allowed_origins);
        if origins.allows_any() {
            tracing::warn!("no --allowed-origin: WebSockets and socket.io accept pages of every origin");
        }
        let edge = Edge { origins, admissions: Admissions::new(config.max_connections_per_ip, config.max_sessions) };
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| anyhow::anyhow!("no random seed: {error}"))?;
        let core = CoreConfig {
            ring_timeout: config.ring_timeout,
            empty_room_ttl: config.empty_room_ttl,
            mailbox_messages: config.mailbox_messages,
            mailbox_bytes: config.mailbox_bytes,
            rooms_per_session: config.rooms_per_session,
            namespaces_per_entry: config.namespaces_per_session,
            mailboxes_per_sender: config.mailboxes_per_sender,
            ring_rate: Rate { burst: config.ring_burst, per_minute: config.ring_rate },
            room_invite_rate: Rate { burst: config.room_invite_burst, per_minute: config.room_invite_rate },
            // On a node of a cluster, invites are numbered from a random
            // point below 2^52, far from every other node's.
            first_invite_id: if config.redis_url.is_some() { first_invite_id()? } else { 0 },
            seed,
        };
        let node = config.redis_url.as_ref().map(|_| config.node_id.clone().unwrap_or_else(NodeId::random));
        let metrics = Arc::new(Metrics::for_node(node.as_ref().map(NodeId::as_str)));
        let cluster = match (&config.redis_url, node) {
            (Some(redis_url), Some(node)) => {
                let cluster_config =
                    ClusterConfig { redis_url: redis_url.clone(), node, node_timeout: config.node_timeout };
                tracing::info!(node = %cluster_config.node, "joining the cluster");
                let (cluster, tasks) = Cluster::connect(&cluster_config, metrics.clone()).context("--redis-url")?;
                cluster.start_fresh().await;
                Some((cluster, tasks))
            }
            _ => None,
        };
        let settings = DriverSettings {
            session_queue: config.session_queue,
            resume: ResumeSettings { window: config.resume_window, buffer: config.resume_buffer },
            reader_grace: config.ws_write_timeout,
            metrics: metrics.clone(),
            log_user_names: config.log_user_names,
        };
        let (driver, driver_task) =
            driver::spawn(core, clock.clone(), settings, cluster.as_ref().map(|(cluster, _)| cluster.clone()));
        let (cluster, cluster_tasks) = match cluster {
            Some((cluster, tasks)) => {
                let handles = cluster.run(tasks, driver.clone());
                (Some(cluster), handles)
            }
            None => (None, Vec::new()),
        };
        let (stopping, shutdown) = stop::channel();
        let (alive, all_closed) = mpsc::channel(1);
        let context = ConnectionContext {
            driver: driver.clone(),
            clock,
            limits: Arc::new(Limits::from_config(&config)),
            metrics,
            shutdown,
            alive: alive.downgrade(),
        };
        // A client of this node's held session may resume on another node,
        // which pipes its connection here.
        if let Some(cluster) = &cluster {
            let (context, auth, room_capacity) = (context.clone(), auth.clone(), config.room_capacity);
            cluster.accept_pipes(Box::new(move |opened| {
                let (context, auth) = (context.clone(), auth.clone());
                if opened.dialect == socketio::PIPE_DIALECT {
                    tokio::spawn(socketio::serve_pipe(opened, context, auth, room_capacity));
                } else {
                    tokio::spawn(dialects::serve_pipe(opened, context, auth));
                }
            }));
        }
        let room_openings = RoomOpenings::new(config.open_room_rate, context.clock.clone());
        let ring_timeout = config.ring_timeout;
        let state =
            AppState { context, room_capacity: config.room_capacity, ice, edge, auth, room_openings, ring_timeout };
        Ok(Self {
            listener,
            drop_ins,
            metrics: metrics_listener,
            tls,
            state,
            driver,
            driver_task,
            stopping,
            alive,
            all_closed,
            header_timeout: config.header_timeout,
            drain_timeout: config.drain_timeout,
            cluster,
            cluster_tasks,
        })
    }

    /// The main listener's address (useful when the port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The drop-in chatroulette listener's address, if one was asked for.
    pub fn chatroulette_addr(&self) -> Option<SocketAddr> {
        self.drop_in_addr(DropIn::Chatroulette)
    }

    /// The drop-in calling listener's address, if one was asked for.
    pub fn calling_addr(&self) -> Option<SocketAddr> {
        self.drop_in_addr(DropIn::Calling)
    }

    /// The `--metrics-listen` listener's address, if one was asked for.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|listener| listener.local_addr().expect("a bound listener has an address"))
    }

    fn drop_in_addr(&self, kind: DropIn) -> Option<SocketAddr> {
        let (_, listener) = self.drop_ins.iter().find(|(k, _)| *k == kind)?;
        Some(listener.local_addr().expect("a bound listener has an address"))
    }

    /// A handle on the driver, for metrics and tests.
    pub fn driver(&self) -> DriverHandle {
        self.driver.clone()
    }

    /// Serves until `shutdown` completes, then closes every WebSocket with
    /// 1001 (going away) and waits, up to 10 s, for the connections to end.
    /// No drain: calls in progress end at once (see
    /// [`Application::run_until_drained`]).
    ///
    /// If the task that owns the core ends first (a panic: it never ends on
    /// its own while the server runs), nobody can be served any more: every
    /// WebSocket is closed with 1011, the server stops the same way, and the
    /// error says why, so that the process exits non-zero and its supervisor
    /// restarts it.
    ///
    /// # Errors
    /// When a listener fails, or the core's task stopped.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        self.run(futures_util::stream::once(shutdown), false).await
    }

    /// Serves until the first item of `signals` (SIGTERM or SIGINT), then
    /// drains: `/readyz` answers 503, new sessions are refused (WebSocket
    /// close 1013, socket.io handshake 503), new calls get
    /// [`CommandError::Draining`](switchboard_core::CommandError::Draining)
    /// in their dialect's form, and calls in progress go on. Once none is
    /// left, or `--drain-timeout` has passed on the server's clock, or a
    /// second item of `signals` comes, it stops as
    /// [`Application::run_until_stopped`] does: 1001 to everyone.
    ///
    /// # Errors
    /// As [`Application::run_until_stopped`].
    pub async fn run_until_drained(
        self,
        signals: impl futures_util::Stream<Item = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.run(signals, true).await
    }

    async fn run(
        self,
        signals: impl futures_util::Stream<Item = ()> + Send + 'static,
        drain: bool,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            drop_ins,
            metrics,
            tls,
            state,
            driver,
            mut driver_task,
            stopping,
            alive,
            mut all_closed,
            header_timeout,
            drain_timeout,
            cluster,
            cluster_tasks,
        } = self;
        let mut signals = Box::pin(signals);
        let stop_signal = || {
            let mut stopped = stopping.subscribe();
            async move {
                stop::stopping(&mut stopped).await;
            }
        };

        let listen = |listener: TcpListener, router| {
            let listener = listener.tap_io(no_delay);
            tokio::spawn(serve::serve(listener, router, header_timeout, tls.clone(), stop_signal()))
        };
        let metrics_here = metrics.is_none();
        let mut servers = vec![listen(listener, routes(state.clone(), metrics_here))];
        for (kind, listener) in drop_ins {
            servers.push(listen(listener, drop_in_routes(kind, state.clone())));
        }
        if let Some(listener) = metrics {
            servers.push(listen(listener, metrics_routes(state.clone())));
        }
        tracing::info!("serving");

        let mut failure = tokio::select! {
            () = next_signal(&mut signals) => None,
            ended = &mut driver_task => Some(why_it_ended(ended)),
        };
        if drain && failure.is_none() {
            failure = drain_calls(&state, drain_timeout, next_signal(&mut signals), &mut driver_task).await;
        }
        match &failure {
            None => tracing::info!("shutting down"),
            Some(why) => {
                tracing::error!(%why, "the signaling core stopped: closing every connection (1011) and exiting")
            }
        }
        let _ = stopping.send(Some(if failure.is_some() { Stop::CoreFailed } else { Stop::GoingAway }));
        // Our own handles must go too, or the driver and the wait below
        // would never see the last one dropped.
        drop((state, driver, alive));
        if tokio::time::timeout(SHUTDOWN_GRACE, all_closed.recv()).await.is_err() {
            tracing::warn!("connections still open after the grace period");
        }
        if let Some(cluster) = cluster {
            // The ends of this node's calls reach the other nodes first,
            // then its names are freed at once, not after the node timeout;
            // no heartbeat may announce it again after that.
            cluster.flush(SHUTDOWN_GRACE).await;
            for task in cluster_tasks {
                task.abort();
            }
            cluster.leave().await;
        }
        for server in servers {
            server.await.context("server task")?.context("serving")?;
        }
        match failure {
            Some(why) => Err(anyhow::anyhow!("the signaling core stopped: {why}")),
            None => Ok(()),
        }
    }
}

/// A random point below 2^52 to number a cluster node's invites from.
fn first_invite_id() -> anyhow::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no random seed: {error}"))?;
    Ok(u64::from_le_bytes(bytes) >> 12)
}

/// The next stop signal. A stream that ends sends no more: it never stops
/// the server by ending.
async fn next_signal(signals: &mut (impl futures_util::Stream<Item = ()> + Unpin)) {
    if signals.next().await.is_none() {
        std::future::pending::<()>().await;
    }
}

/// The drain: no new session or call from now on; returns once no call is
/// in progress, `timeout` has passed on the server's clock, or `cut_short`
/// completes (a second signal), or with why the core's task ended first.
async fn drain_calls(
    state: &AppState,
    timeout: Duration,
    cut_short: impl Future<Output = ()>,
    driver_task: &mut JoinHandle<()>,
) -> Option<String> {
    let deadline = state.context.clock.now() + timeout;
    // The driver first: its inbox is in order, so a command sent once
    // /readyz says 503 finds the driver draining.
    let calls = state.driver().drain().await.ok();
    state.edge.admissions.drain();
    tracing::info!(?timeout, "draining: /readyz answers 503, new sessions and calls are refused");
    let no_calls = async {
        // A driver that is gone counts nothing: the select below says why.
        let drained = match calls {
            Some(mut calls) => calls.wait_for(|calls| *calls == Some(0)).await.is_ok(),
            None => false,
        };
        if !drained {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = no_calls => tracing::info!("drained: no call in progress"),
        () = state.context.clock.sleep_until(Some(deadline)) => {
            tracing::info!("calls still in progress after --drain-timeout: ending them");
        }
        () = cut_short => tracing::info!("a second signal: ending the drain"),
        ended = driver_task => return Some(why_it_ended(ended)),
    }
    None
}

/// What ended the core's task, in words for the log.
fn why_it_ended(ended: Result<(), tokio::task::JoinError>) -> String {
    match ended {
        Ok(()) => "its task returned".to_owned(),
        Err(error) if error.is_panic() => {
            let panic = error.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            format!("panicked: {message}")
        }
        Err(error) => error.to_string(),
    }
}

/// `GET /readyz`: whether this node takes new sessions, for a load
/// balancer or a Kubernetes readiness probe. 200 while it does; 503 from the
/// first SIGTERM or SIGINT on (the drain), once the core has stopped, and on
/// a node of a cluster until it has joined it (docs/cluster.md). A Redis
/// that goes down later leaves the node ready: calls wholly on it go on.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.edge.admissions.draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    if !state.driver().is_running() {
        return (StatusCode::SERVICE_UNAVAILABLE, "signaling core stopped\n").into_response();
    }
    if !state.driver().cluster_joined() {
        return (StatusCode::SERVICE_UNAVAILABLE, "joining the cluster\n").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// `GET /healthz`: liveness only, draining or not: 200 while the core's
/// task runs, 503 once it has stopped (between its failure and the
/// process's exit).
async fn healthz(State(state): State<AppState>) -> Response {
    if state.driver().is_running() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "signaling core stopped\n").into_response()
    }
}

/// Signaling messages are small and latency-bound: send each at once
/// instead of waiting to coalesce (Nagle) behind the peer's delayed ACK.
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
}

/// The main listener's routes. socket.io takes every path under
/// `/socket.io/` but the client bundle, which is served beside it, behind
/// the edge's checks. `/metrics` is here unless `--metrics-listen` moved it
/// (then 404). Every response gets the pages' security headers.
fn routes(state: AppState, metrics_here: bool) -> Router {
    let socketio = socketio::layer(state.context.clone(), state.room_capacity, state.auth.clone());
    let gate = axum::middleware::from_fn_with_state(state.edge.clone(), edge::socketio_gate);
    let metrics_route = if metrics_here { get(metrics) } else { any(|| async { StatusCode::NOT_FOUND }) };
    let app = Router::new()
        .route("/", get(web::landing))
        .route("/r/{room}/", get(web::room).post(web::open_room))
        .route("/r/{room}", get(web::room).post(web::open_room))
        .route("/call/", get(web::phone))
        .route("/api/config", get(ice::client_config))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", metrics_route)
        .route("/ws/chatroulette", get(dialects::chatroulette))
        .route("/ws/calling", get(dialects::calling))
        .route("/ws/ecall", get(dialects::ecall))
        .fallback(web::file)
        .layer(socketio)
        .layer(gate)
        .with_state(state);
    let router = Router::new().route("/socket.io/socket.io.js", get(web::socketio_bundle)).fallback_service(app);
    web::with_security_headers(router)
}

/// The `--metrics-listen` listener's one route.
fn metrics_routes(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// `GET /metrics`: what the core holds now, in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let Ok((stats, sessions)) = state.context.driver.gauges().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned()).into_response();
    };
    let body = state.context.metrics.render(&stats, &sessions);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// A drop-in listener's routes: its dialect's WebSocket on any path.
fn drop_in_routes(kind: DropIn, state: AppState) -> Router {
    match kind {
        DropIn::Chatroulette => Router::new().fallback(dialects::chatroulette),
        DropIn::Calling => Router::new().fallback(dialects::calling),
    }
    .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tower::ServiceExt;

    use super::*;
    use crate::clock::ManualClock;

    async fn built() -> Application {
        Application::build(Config::default(), Clock::Manual(ManualClock::new())).await.expect("builds")
    }

    async fn healthz_status(router: &Router) -> StatusCode {
        let request = Request::get("/healthz").body(Body::empty()).expect("a request");
        router.clone().oneshot(request).await.expect("answered").status()
    }

    #[tokio::test]
    async fn healthz_answers_503_once_the_core_has_stopped() {
        let mut app = built().await;
        let router = routes(app.state.clone(), true);
        assert_eq!(healthz_status(&router).await, StatusCode::OK);
        app.driver.inject_panic().await;
        assert!((&mut app.driver_task).await.expect_err("the driver panicked").is_panic());
        assert_eq!(healthz_status(&router).await, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn a_core_that_panics_closes_websockets_with_1011_and_the_server_fails() {
        let app = built().await;
        let (addr, driver) = (app.local_addr(), app.driver());
        let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/calling")).await.expect("open");
        assert!(matches!(client.next().await, Some(Ok(Message::Text(_)))), "hello: the session is open");

        driver.inject_panic().await;
        let close = loop {
            match client.next().await {
                Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
                Some(Ok(_)) => {}
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        };
        assert_eq!(u16::from(close.code), 1011, "{close:?}");
        let error = server.await.expect("no panic in the server itself").expect_err("the server fails");
        assert!(error.to_string().contains("panicked: a bug in the core"), "{error}");
    }
}
