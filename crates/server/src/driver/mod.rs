//! The driver: the one task that owns the core. Connections send it inputs
//! over one bounded channel and receive their events on their own bounded
//! queue. It sleeps until the core's next deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use futures_channel::mpsc as queue;
use switchboard_core::{
    CallNote, Command, CommandError, Core, CoreConfig, Event, Input, InviteId, InviteRef, Output, RelayTarget, Reply,
    Request, RoomId, SessionId, SessionMap, Stats, UserId,
};
use switchboard_dialects::codec::Dialect;
use tokio::sync::{mpsc, oneshot, watch};

use crate::calls_log;
use crate::clock::Clock;
use crate::cluster::ghosts::Ghosts;
use crate::cluster::link::{self, LinkFrame, LinkMessage, ProxyMessage, ProxyOp};
use crate::cluster::places::{self, Home, Place};
use crate::cluster::proxies::{self, Proxies};
use crate::cluster::{Cluster, Located, NodeId};
use crate::metrics::{DropCause, Metrics, SessionsByDialect};

/// Inputs waiting for the driver. Bounded so that a flood of requests slows
/// the readers (back-pressure on their sockets) instead of growing memory.
const INBOX_CAPACITY: usize = 4096;

enum ToDriver {
    Open {
        session: SessionId,
        peer_id: Option<Arc<str>>,
        outbox: Outbox,
    },
    /// An input, and when it was queued if it is one of the inputs the
    /// latency metric samples ([`LATENCY_SAMPLE_EVERY`]).
    Input(Input, Option<Instant>),
    /// A socket.io session's first event named its dialect.
    Dialect(SessionId, Dialect),
    Stats(oneshot::Sender<Stats>),
    Gauges(oneshot::Sender<(Stats, SessionsByDialect)>),
    RoomExists(RoomId, oneshot::Sender<bool>),
    /// The node drains: refuse new calls, and keep the count of calls in
    /// progress here.
    Drain(watch::Sender<Option<usize>>),
    /// A command the cluster refused before the core saw it (a name held
    /// on another node, Redis unreachable): the refusal goes to the
    /// session in order with its other events.
    Refuse(SessionId, u64, CommandError),
    /// A call, with where the cluster found the callee.
    Call(Input, Located),
    /// A message from another node.
    Link(LinkFrame),
    /// A command for a room or namespace another node holds.
    Away(NodeId, Input),
    /// An invite, with where its room and its invitee are.
    Invite(Input, Home, Located),
    /// An ecall message, with the other nodes its receiver (or its
    /// sender's other devices) are on; `None`: Redis could not say.
    UserRelay(Input, Option<Vec<NodeId>>),
    /// Which of these places this node no longer holds.
    GonePlaces(Vec<Place>, oneshot::Sender<Vec<Place>>),
    /// A node stopped announcing itself: its stand-ins here are gone.
    NodeGone(NodeId),
    /// Tests only: what a bug in the core would do.
    #[cfg(test)]
    Panic,
}

/// A session's event queue, read by its connection task.
///
/// futures' bounded channel rather than tokio's, for memory: tokio's sets up
/// about 700 bytes per queue (cache-padded counters and a first block of 32
/// slots), futures' about 200, and every idle session has one. Events are
/// boxed so that a queued event costs a pointer until it is read.
///
/// Beside it, counts shared with the driver ([`Counts`]): relays may fill
/// only [`relay_room`] of the queue, so that a flood of relays at a session
/// that reads can never leave it without room for a ring or a hang-up,
/// which would drop it for being slow. The relay that finds no room is
/// refused to its *sender* ([`CommandError::RateLimited`]): the one who
/// sends too fast is throttled, never the one who reads. A session is
/// dropped as slow only when it does not read: when it has taken nothing
/// for the reader grace (`--ws-write-timeout`) while relays wait for room.
#[derive(Debug)]
pub struct EventQueue {
    events: queue::Receiver<Box<Event>>,
    counts: Arc<Counts>,
}

/// What the driver knows of a reader's progress.
#[derive(Debug, Default)]
struct Counts {
    /// Relays, and refusals of relays, queued and not yet taken.
    relays: AtomicUsize,
    /// Events taken since the session opened (wrapping).
    taken: AtomicUsize,
}

impl EventQueue {
    /// The next event, once one is queued; `None` once the driver dropped
    /// the session (it fell behind, or the driver is gone). Cancel-safe.
    pub async fn next(&mut self) -> Option<Box<Event>> {
        let event = futures_util::StreamExt::next(&mut self.events).await?;
        self.taken(&event);
        Some(event)
    }

    /// A queued event, if one is there now.
    pub fn try_recv(&mut self) -> Option<Box<Event>> {
        let event = self.events.try_recv().ok()?;
        self.taken(&event);
        Some(event)
    }

    fn taken(&self, event: &Event) {
        if matches!(event, Event::Relayed { .. } | Event::Reply { result: Err(CommandError::RateLimited), .. }) {
            self.counts.relays.fetch_sub(1, Ordering::Relaxed);
        }
        self.counts.taken.fetch_add(1, Ordering::Relaxed);
    }
}

/// The driver's end of a session's [`EventQueue`].
struct Outbox {
    events: queue::Sender<Box<Event>>,
    counts: Arc<Counts>,
    /// Since when relays have found no room, and how many events the reader
    /// had taken then.
    stalled: Option<(Instant, usize)>,
    /// The dialect the session speaks, for its metrics' labels.
    dialect: Option<Dialect>,
}

impl Outbox {
    /// Whether a relay fits; a refusal starts (or continues) a stall, which
    /// the reader ends by taking anything.
    fn relay_fits(&mut self, room: usize, now: Instant) -> bool {
        if self.counts.relays.load(Ordering::Relaxed) < room {
            self.stalled = None;
            return true;
        }
        let taken = self.counts.taken.load(Ordering::Relaxed);
        match self.stalled {
            Some((_, then)) if then == taken => {}
            _ => self.stalled = Some((now, taken)),
        }
        false
    }

    /// Whether the reader has taken nothing for `grace` while relays waited.
    fn stalled_for(&self, grace: Duration, now: Instant) -> bool {
        self.stalled.is_some_and(|(since, _)| now.saturating_duration_since(since) >= grace)
    }
}

/// How many relays may wait in a queue of `session_queue` events: three
/// quarters of it, the rest kept for call events.
fn relay_room(session_queue: usize) -> usize {
    (session_queue * 3 / 4).max(1)
}

/// A connection's way into the driver. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DriverHandle {
    inbox: mpsc::Sender<ToDriver>,
    /// Session ids are drawn here, so opening needs no round trip: 128 bits
    /// from a generator seeded like the core's (from the operating system),
    /// on a stream of its own. One lock, held for one draw.
    /// With the cluster this node is part of, behind the same pointer: every
    /// connection task holds a handle, and eight more bytes cost 128 of
    /// them (tokio allocates tasks in 128-byte steps).
    shared: Arc<Shared>,
    session_queue: usize,
}

/// What handles share.
#[derive(Debug)]
struct Shared {
    session_ids: Mutex<ChaCha20Rng>,
    /// The cluster this node is part of (`--redis-url`): names are claimed
    /// there and callees looked up there before the core sees the command.
    cluster: Option<Cluster>,
}

/// A session open in the core, owned by its connection task. Dropping it
/// closes the session (a drop guard), so that no way out of a connection
/// task, a panic included, leaves a session and its user behind.
#[derive(Debug)]
pub struct OpenSession<'a> {
    /// Borrowed from the connection's context: an idle session pays for
    /// every byte it holds.
    driver: &'a DriverHandle,
    /// `None` once closed.
    session: Option<SessionId>,
}

impl OpenSession<'_> {
    /// The session's number.
    pub fn id(&self) -> SessionId {
        self.session.expect("an open session has its number until it is closed")
    }

    /// Tells the core the session is gone, and waits until the driver has
    /// taken that in.
    pub async fn close(mut self) {
        if let Some(session) = self.session.take() {
            self.driver.close(session).await;
        }
    }
}

impl Drop for OpenSession<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else { return };
        // Drop cannot wait for room in the driver's inbox, so a task does.
        // Without a runtime the driver is gone too, and there is nothing to tell.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let driver = self.driver.clone();
            runtime.spawn(async move { driver.close(session).await });
        }
    }
}

/// The driver stopped (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the signaling core has stopped")]
pub struct DriverGone;

impl std::fmt::Debug for ToDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToDriver::Open { session, .. } => write!(f, "Open({session})"),
            ToDriver::Input(input, _) => write!(f, "Input({input:?})"),
            ToDriver::Dialect(session, dialect) => write!(f, "Dialect({session}, {dialect:?})"),
            ToDriver::Stats(_) => write!(f, "Stats"),
            ToDriver::Gauges(_) => write!(f, "Gauges"),
            ToDriver::RoomExists(room, _) => write!(f, "RoomExists({room})"),
            ToDriver::Drain(_) => write!(f, "Drain"),
            ToDriver::Refuse(session, _, error) => write!(f, "Refuse({session}, {error:?})"),
            ToDriver::Call(input, located) => write!(f, "Call({input:?}, {located:?})"),
            ToDriver::Link(message) => write!(f, "Link({message:?})"),
            ToDriver::Away(node, input) => write!(f, "Away({node}, {input:?})"),
            ToDriver::Invite(input, home, located) => write!(f, "Invite({input:?}, {home:?}, {located:?})"),
            ToDriver::UserRelay(input, nodes) => write!(f, "UserRelay({input:?}, {nodes:?})"),
            ToDriver::GonePlaces(places, _) => write!(f, "GonePlaces({places:?})"),
            ToDriver::NodeGone(node) => write!(f, "NodeGone({node})"),
            #[cfg(test)]
            ToDriver::Panic => write!(f, "Panic"),
        }
    }
}

impl DriverHandle {
    /// Opens a session. Its events arrive on the returned queue, which holds
    /// at most `session_queue` events: if it fills, the driver drops the
    /// session (the queue closes) rather than buffer for a client that does
    /// not read. `peer_id` is how the transport names the connection to
    /// other clients (a socket.io id), `None` for its number.
    ///
    /// The session stays open in the core until [`OpenSession::close`], or
    /// until the [`OpenSession`] is dropped, whatever drops it: a connection
    /// task that returns early or panics still has its session closed.
    /// `dialect` labels its metrics; `None` until a socket.io session's
    /// first event names it ([`DriverHandle::set_dialect`]).
    pub async fn open(
        &self,
        peer_id: Option<Arc<str>>,
        dialect: Option<Dialect>,
    ) -> Result<(OpenSession<'_>, EventQueue), DriverGone> {
        let session = self.draw_session_id();
        // futures' capacity is the buffer plus one per sender (one here).
        let (outbox, events) = queue::channel(self.session_queue.saturating_sub(1));
        let counts = Arc::new(Counts::default());
        let outbox = Outbox { events: outbox, counts: counts.clone(), stalled: None, dialect };
        self.inbox.send(ToDriver::Open { session, peer_id, outbox }).await.map_err(|_| DriverGone)?;
        Ok((OpenSession { driver: self, session: Some(session) }, EventQueue { events, counts }))
    }

    fn draw_session_id(&self) -> SessionId {
        draw_session_id(&self.shared.session_ids)
    }

    /// Hands a decoded command to the core. In a cluster, a name is first
    /// claimed in Redis and a callee first looked up there, in the
    /// connection's own task, so that its commands stay in order.
    #[allow(clippy::manual_async_fn, reason = "an async fn would store its arguments twice")]
    pub fn command(
        &self,
        session: SessionId,
        request: Request,
        command: Command,
    ) -> impl Future<Output = Result<(), DriverGone>> + Send + '_ {
        // One future for both paths, the cluster's boxed: an `Either` of
        // the two would add its tag to every connection task (a tokio task
        // is allocated in 128-byte steps, and this one sat at a step).
        async move {
            if let Some(cluster) = &self.shared.cluster
                && needs_the_cluster(&command)
            {
                return Box::pin(self.clustered(cluster, session, request, command)).await;
            }
            let permit = self.inbox.reserve().await.map_err(|_| DriverGone)?;
            let queued = latency_sample().then(Instant::now);
            permit.send(ToDriver::Input(Input::Command { session, request, command }, queued));
            Ok(())
        }
    }

    /// [`DriverHandle::command`] for a command the cluster rules on first.
    async fn clustered(
        &self,
        cluster: &Cluster,
        session: SessionId,
        request: Request,
        command: Command,
    ) -> Result<(), DriverGone> {
        let message = match command {
            // A session registers once: a second register goes to the core,
            // which refuses it, without touching the first one's claim.
            Command::Register { user: Some(user), shared } if cluster.claim_of(session).is_none() => {
                match cluster.claim(&user, session, shared).await {
                    Ok(crate::cluster::names::Claim::Granted) => {
                        // Messages other nodes held for this user while it was
                        // offline everywhere come here (ecall).
                        for node in cluster.take_held(&user).await {
                            let frame = LinkFrame::Collect { node: cluster.node().to_string(), user: user.clone() };
                            cluster.send(&node, &frame);
                        }
                        let command = Command::Register { user: Some(user), shared };
                        ToDriver::Input(Input::Command { session, request, command }, None)
                    }
                    Ok(crate::cluster::names::Claim::Taken) => {
                        ToDriver::Refuse(session, request.tag, CommandError::NameTaken(user))
                    }
                    Err(_) => ToDriver::Refuse(session, request.tag, CommandError::ClusterUnavailable),
                }
            }
            Command::Call { to, data } => {
                let located = cluster.locate(&to).await;
                ToDriver::Call(Input::Command { session, request, command: Command::Call { to, data } }, located)
            }
            // A room the server names: drawn here, so that it is pinned like
            // any other and members of other nodes can join it.
            Command::Join { room: None, create, status } => {
                let room = RoomId::parse(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a room name");
                let command = Command::Join { room: Some(room.clone()), create, status };
                match cluster.home_of(&Place::Room(room), true).await {
                    Home::Unknown => ToDriver::Refuse(session, request.tag, CommandError::ClusterUnavailable),
                    _ => ToDriver::Input(Input::Command { session, request, command }, None),
                }
            }
            Command::Relay { to: RelayTarget::User { user, peer }, signal } => {
                let sender = cluster.claim_of(session);
                let users: Vec<&UserId> = std::iter::once(&user).chain(sender.as_ref()).collect();
                let nodes = cluster.locate_all(&users).await.ok();
                let command = Command::Relay { to: RelayTarget::User { user, peer }, signal };
                ToDriver::UserRelay(Input::Command { session, request, command }, nodes)
            }
            Command::Invite { room, to, data } => {
                let home = cluster.home_of(&Place::Room(room.clone()), true).await;
                let located = cluster.locate(&to).await;
                ToDriver::Invite(
                    Input::Command { session, request, command: Command::Invite { room, to, data } },
                    home,
                    located,
                )
            }
            Command::Accept { invite: InviteRef::Id(id), .. }
            | Command::Reject { invite: InviteRef::Id(id), .. }
            | Command::Cancel { invite: InviteRef::Id(id), .. }
                if cluster.node_of_invite(id).is_some() =>
            {
                let node = cluster.node_of_invite(id).expect("checked");
                ToDriver::Away(node, Input::Command { session, request, command })
            }
            command => {
                let home = match places::place_of(&command) {
                    Some((place, makes)) => cluster.home_of(&place, makes).await,
                    None => Home::Here,
                };
                let input = Input::Command { session, request, command };
                match home {
                    Home::Here => ToDriver::Input(input, None),
                    Home::On(node) => ToDriver::Away(node, input),
                    Home::Unknown => ToDriver::Refuse(session, request.tag, CommandError::ClusterUnavailable),
                }
            }
        };
        self.inbox.send(message).await.map_err(|_| DriverGone)
    }

    /// Which of `places` the core no longer holds.
    pub(crate) async fn gone_places(&self, places: Vec<Place>) -> Result<Vec<Place>, DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(ToDriver::GonePlaces(places, reply)).await.map_err(|_| DriverGone)?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Hands a message from another node to the core.
    pub(crate) async fn link(&self, message: LinkFrame) -> Result<(), DriverGone> {
        self.inbox.send(ToDriver::Link(message)).await.map_err(|_| DriverGone)
    }

    /// Tells the driver a node is gone.
    pub(crate) async fn node_gone(&self, node: NodeId) -> Result<(), DriverGone> {
        self.inbox.send(ToDriver::NodeGone(node)).await.map_err(|_| DriverGone)
    }

    /// Labels a session's metrics with the dialect its first socket.io
    /// event named.
    pub async fn set_dialect(&self, session: SessionId, dialect: Dialect) -> Result<(), DriverGone> {
        self.inbox.send(ToDriver::Dialect(session, dialect)).await.map_err(|_| DriverGone)
    }

    /// What the core holds, and open sessions by dialect, for `/metrics`.
    pub async fn gauges(&self) -> Result<(Stats, SessionsByDialect), DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(ToDriver::Gauges(reply)).await.map_err(|_| DriverGone)?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Tells the core a session is gone.
    pub async fn close(&self, session: SessionId) {
        let _ = self.send(Input::Disconnected { session }).await;
    }

    /// Creates the named room `room` with `capacity` places unless it exists
    /// (tringtring's `POST /r/<room_id>`).
    pub async fn open_room(&self, room: RoomId, capacity: usize) -> Result<(), DriverGone> {
        if let Some(cluster) = &self.shared.cluster
            && let Home::On(node) = cluster.home_of(&Place::Room(room.clone()), true).await
        {
            // The node that holds the room makes sure of it.
            cluster.send(&node, &LinkFrame::OpenRoom { room, capacity });
            return Ok(());
        }
        self.send(Input::OpenRoom { room, capacity }).await
    }

    /// Whether this node may take clients as far as the cluster goes: with
    /// no `--redis-url` always; in a cluster, once it has joined it.
    pub fn cluster_joined(&self) -> bool {
        self.shared.cluster.as_ref().is_none_or(Cluster::joined)
    }

    /// Whether the driver task is still there to take inputs. It outlives
    /// every handle's owner unless it failed.
    pub fn is_running(&self) -> bool {
        !self.inbox.is_closed()
    }

    /// Makes the driver task panic, as a bug in the core would.
    #[cfg(test)]
    pub(crate) async fn inject_panic(&self) {
        let _ = self.inbox.send(ToDriver::Panic).await;
    }

    /// What the core holds now.
    pub async fn stats(&self) -> Result<Stats, DriverGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(ToDriver::Stats(reply)).await.map_err(|_| DriverGone)?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Starts the drain: from now on a command that would start a call
    /// ([`starts_a_call`]) is refused with [`CommandError::Draining`] before
    /// it reaches the core; everything else, hang-ups and relays of calls in
    /// progress included, goes on. The answer holds the count of calls in
    /// progress ([`Stats::calls`]), `None` until the driver has taken the
    /// drain in, and updated after every input that changes it.
    pub async fn drain(&self) -> Result<watch::Receiver<Option<usize>>, DriverGone> {
        let (calls, watching) = watch::channel(None);
        self.inbox.send(ToDriver::Drain(calls)).await.map_err(|_| DriverGone)?;
        Ok(watching)
    }

    /// Whether a named room exists (for tringtring's `GET /r/<room>/`).
    pub async fn room_exists(&self, room: RoomId) -> Result<bool, DriverGone> {
        if let Some(cluster) = &self.shared.cluster
            && let Home::On(_) = cluster.home_of(&Place::Room(room.clone()), false).await
        {
            return Ok(true);
        }
        let (reply, answer) = oneshot::channel();
        self.inbox.send(ToDriver::RoomExists(room, reply)).await.map_err(|_| DriverGone)?;
        answer.await.map_err(|_| DriverGone)
    }

    /// Waits for room in the inbox, then sends. Not `async fn`, nor
    /// `Sender::send`: both keep their argument twice in the future
    /// (rust-lang/rust#62958), and this future is part of every connection
    /// task, idle or not.
    #[allow(clippy::manual_async_fn, reason = "an async fn would store its argument twice")]
    fn send(&self, input: Input) -> impl Future<Output = Result<(), DriverGone>> + Send + '_ {
        async move {
            let permit = self.inbox.reserve().await.map_err(|_| DriverGone)?;
            // Stamped once there is room: the latency metric measures the
            // driver's backlog, not this sender's wait for a place in it.
            permit.send(ToDriver::Input(input, latency_sample().then(Instant::now)));
            Ok(())
        }
    }
}

/// How the driver treats sessions and what it reports.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// Events each session's queue holds (`--session-queue`).
    pub session_queue: usize,
    /// A session that takes no event this long while relays wait for room
    /// is dropped ([`EventQueue`]; `--ws-write-timeout`).
    pub reader_grace: Duration,
    /// Where calls, relays, refusals and drops are counted.
    pub metrics: Arc<Metrics>,
    /// Whether call log lines name users (`--log-user-names`), not only
    /// sessions.
    pub log_user_names: bool,
}

/// Whether a command needs the cluster before the core: a name to claim
/// across nodes, or a callee that may be on another node. A drawn name
/// (`user: None`) is claimed by the driver once the core has drawn it.
fn needs_the_cluster(command: &Command) -> bool {
    matches!(
        command,
        Command::Register { user: Some(_), .. }
            | Command::Call { .. }
            | Command::Join { room: None, .. }
            | Command::Relay { to: RelayTarget::User { .. }, .. }
            | Command::Accept { invite: InviteRef::Id(_), .. }
            | Command::Reject { invite: InviteRef::Id(_), .. }
            | Command::Cancel { invite: InviteRef::Id(_), .. }
    ) || places::place_of(command).is_some()
}

fn draw_session_id(ids: &Mutex<ChaCha20Rng>) -> SessionId {
    let mut ids = ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    SessionId::new(u128::from(ids.next_u64()) << 64 | u128::from(ids.next_u64()))
}

/// Starts the driver task. It runs until every handle is dropped. With a
/// `cluster`, sessions of other nodes take part in calls here through
/// stand-ins (`cluster/ghosts.rs`).
pub(crate) fn spawn(
    config: CoreConfig,
    clock: Clock,
    settings: DriverSettings,
    cluster: Option<Cluster>,
) -> (DriverHandle, tokio::task::JoinHandle<()>) {
    let DriverSettings { session_queue, reader_grace, metrics, log_user_names } = settings;
    let (inbox, receiver) = mpsc::channel(INBOX_CAPACITY);
    let mut session_ids = ChaCha20Rng::from_seed(config.seed);
    session_ids.set_stream(1); // the core's own generator uses stream 0
    let shared = Arc::new(Shared { session_ids: Mutex::new(session_ids), cluster: cluster.clone() });
    let handle = DriverHandle { inbox, shared: shared.clone(), session_queue };
    let relay_room = relay_room(session_queue);
    let driver = Driver {
        cluster,
        ghosts: Ghosts::default(),
        proxies: Proxies::default(),
        shared,
        core: Core::new(config),
        clock,
        outboxes: SessionMap::default(),
        relay_room,
        reader_grace,
        metrics,
        inputs_since_upkeep: 0,
        log_user_names,
        drain: None,
        touched: Vec::new(),
        named_invites: std::collections::HashSet::new(),
        accepting: std::collections::HashMap::new(),
    };
    (handle, tokio::spawn(driver.run(receiver)))
}

/// One input in this many has its wait in the driver's inbox measured: two
/// clock reads and a histogram sample for every input cost several per cent
/// of a relay, and a sample of one in 64 shows the same backlog.
const LATENCY_SAMPLE_EVERY: u32 = 64;

/// Whether the input this thread sends now is sampled for latency: a
/// counter per thread, so that senders share nothing.
fn latency_sample() -> bool {
    thread_local! {
        static SENT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    SENT.with(|sent| {
        let count = sent.get().wrapping_add(1);
        sent.set(count);
        count % LATENCY_SAMPLE_EVERY == 0
    })
}

/// How often the driver drains histogram samples ([`Metrics::run_upkeep`]):
/// every this many inputs, so that samples between scrapes stay bounded
/// without a timer of its own.
const UPKEEP_EVERY: u32 = 4096;

struct Driver {
    /// The cluster, when there is one: where messages for stand-ins go.
    cluster: Option<Cluster>,
    /// Stand-ins for users of other nodes in calls with ours.
    ghosts: Ghosts,
    /// Stand-ins for sessions of other nodes in places this node holds,
    /// and the nodes local sessions act on.
    proxies: Proxies,
    /// Where stand-ins' session ids are drawn, shared with the handles.
    shared: Arc<Shared>,
    core: Core,
    clock: Clock,
    /// Each open session's event queue: the driver is the only writer.
    outboxes: SessionMap<Outbox>,
    metrics: Arc<Metrics>,
    /// Inputs since histogram samples were last drained into buckets.
    inputs_since_upkeep: u32,
    log_user_names: bool,
    /// Relays a session's queue may hold ([`relay_room`]).
    relay_room: usize,
    /// How long a session may take no event while relays wait for room.
    reader_grace: Duration,
    /// Once the node drains: where the count of calls in progress goes.
    drain: Option<watch::Sender<Option<usize>>>,
    /// Invites into named rooms that rang a stand-in here: their ends are
    /// about a place, not a 1:1 call. Bounded by clearing.
    named_invites: std::collections::HashSet<InviteId>,
    /// Invites of other nodes a local session answered, so that it is not
    /// told its own answer came from elsewhere.
    accepting: std::collections::HashMap<InviteId, SessionId>,
    /// Stand-ins told something during this input: each is forgotten at
    /// its end unless it still takes part in a call.
    touched: Vec<SessionId>,
}

impl Driver {
    async fn run(mut self, mut inbox: mpsc::Receiver<ToDriver>) {
        loop {
            let wake_at = self.core.poll_timeout();
            tokio::select! {
                message = inbox.recv() => match message {
                    Some(message) => self.handle(message),
                    None => break,
                },
                () = self.clock.sleep_until(wake_at) => self.input(Input::Timeout),
            }
            if let Some(calls) = &self.drain {
                let now = Some(self.core.calls_in_progress());
                calls.send_if_modified(|was| std::mem::replace(was, now) != now);
            }
        }
        tracing::debug!("driver stopped");
    }

    fn handle(&mut self, message: ToDriver) {
        match message {
            ToDriver::Open { session, peer_id, outbox } => {
                self.outboxes.insert(session, outbox);
                self.input(Input::Connected { session, peer_id });
            }
            ToDriver::Input(Input::Command { session, request, command }, _)
                if self.drain.is_some() && starts_a_call(&command) =>
            {
                let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::Draining) };
                self.deliver(session, refusal, self.clock.now());
            }
            ToDriver::Input(input, queued) => {
                if let Some(queued) = queued {
                    self.metrics.input_waited(queued.elapsed());
                }
                self.inputs_since_upkeep += 1;
                if self.inputs_since_upkeep == UPKEEP_EVERY {
                    self.inputs_since_upkeep = 0;
                    self.metrics.run_upkeep();
                }
                let registering = match &input {
                    Input::Command { session, command: Command::Register { user, shared }, .. } => {
                        Some((*session, user.clone(), *shared))
                    }
                    _ => None,
                };
                match &input {
                    Input::Disconnected { session } => {
                        self.outboxes.remove(session);
                        self.release_name(*session);
                        self.tell_away_nodes_gone(*session);
                    }
                    Input::Command { session, command: Command::SetStatus { status }, .. }
                        if !self.proxies.is_empty() =>
                    {
                        self.copy_status_away(*session, status);
                    }
                    Input::Command { session, command: Command::Relay { signal, .. }, .. } => {
                        self.metrics.relayed(self.dialect_of(Some(*session)), signal.payload.len());
                    }
                    _ => {}
                }
                self.input(input);
                if let Some((session, asked, shared)) = registering {
                    self.registered(session, asked, shared);
                }
            }
            ToDriver::Refuse(session, tag, error) => {
                self.deliver(session, Event::Reply { tag, result: Err(error) }, self.clock.now());
            }
            ToDriver::Call(input, located) => self.call(input, located),
            ToDriver::Link(LinkFrame::Call(message)) => self.call_link_message(message),
            ToDriver::Link(LinkFrame::Proxy(message)) => self.proxied(message),
            ToDriver::Link(LinkFrame::OpenRoom { room, capacity }) => self.input(Input::OpenRoom { room, capacity }),
            ToDriver::Away(node, input) => self.away(node, input, None),
            ToDriver::Invite(input, home, located) => self.invite(input, home, located),
            ToDriver::UserRelay(input, nodes) => self.user_relay(input, nodes),
            ToDriver::Link(LinkFrame::UserRelay { node: _, from, from_peer, to, peer, signal }) => {
                self.user_relay_here(from, &from_peer, to, peer.as_deref(), signal);
            }
            ToDriver::Link(LinkFrame::Collect { node, user }) => {
                // A stand-in for the user takes the held messages, as a
                // device registering does, and sends them on.
                if let Ok(node) = NodeId::parse(&node) {
                    self.stand_in(node, user, None);
                    let now = self.clock.now();
                    while let Some(Output { to, event }) = self.core.poll_output() {
                        self.deliver(to, event, now);
                    }
                    self.forget_idle_stand_ins();
                }
            }
            ToDriver::Link(LinkFrame::UserEvent { node, user, event }) => self.user_event(node, user, event),
            ToDriver::GonePlaces(places, reply) => {
                let gone = places
                    .into_iter()
                    .filter(|place| match place {
                        Place::Room(room) => !self.core.room_exists(room),
                        Place::Namespace(namespace) => !self.core.namespace_exists(namespace),
                    })
                    .collect();
                let _ = reply.send(gone);
            }
            ToDriver::NodeGone(node) => {
                for ghost in self.ghosts.of_node(&node) {
                    self.ghosts.remove(ghost);
                    self.input(Input::Disconnected { session: ghost });
                }
                for stand_in in self.proxies.of_node(&node) {
                    self.proxies.remove(stand_in);
                    self.ghosts.remove(stand_in);
                    self.input(Input::Disconnected { session: stand_in });
                }
                self.proxies.node_gone(&node);
            }
            ToDriver::Dialect(session, dialect) => {
                if let Some(outbox) = self.outboxes.get_mut(&session) {
                    outbox.dialect = Some(dialect);
                }
            }
            ToDriver::Stats(reply) => {
                let _ = reply.send(self.core.stats());
            }
            ToDriver::Gauges(reply) => {
                // Counted at each scrape rather than kept beside the outboxes.
                let sessions = SessionsByDialect::count(self.outboxes.values().map(|outbox| outbox.dialect));
                let _ = reply.send((self.core.stats(), sessions));
            }
            ToDriver::RoomExists(room, reply) => {
                let _ = reply.send(self.core.room_exists(&room));
            }
            ToDriver::Drain(calls) => {
                tracing::info!(calls = self.core.calls_in_progress(), "draining: new calls are refused");
                self.drain = Some(calls);
            }
            #[cfg(test)]
            ToDriver::Panic => panic!("a bug in the core, injected by a test"),
        }
    }

    /// Feeds the core and delivers everything it says. A session whose queue
    /// is full or closed is disconnected, which may produce more output. A
    /// relay to a session with no relay room left is dropped and refused to
    /// its sender ([`EventQueue`]).
    fn input(&mut self, input: Input) {
        let asked = match &input {
            Input::Command { session, request, .. } => Some((*session, request.tag)),
            _ => None,
        };
        let mut refused = false;
        let now = self.clock.now();
        self.core.handle_input(now, input);
        while let Some(Output { to, mut event }) = self.core.poll_output() {
            // The sender's own answer (it comes after the relays) says so.
            if refused
                && let Event::Reply { tag, result } = &mut event
                && asked == Some((to, *tag))
            {
                *result = Err(CommandError::RateLimited);
                refused = false;
            }
            if !self.deliver(to, event, now) {
                refused = true;
            }
        }
        // A request answered only on failure (most relays) is answered now.
        if refused && let Some((sender, tag)) = asked {
            self.deliver(sender, Event::Reply { tag, result: Err(CommandError::RateLimited) }, now);
        }
        while let Some(note) = self.core.poll_call_note() {
            self.noted(&note);
        }
        if !self.touched.is_empty() {
            self.forget_idle_stand_ins();
        }
    }

    /// Counts and logs one step of a call's life.
    fn noted(&self, note: &CallNote) {
        let (caller, callee) = (self.dialect_of(note.caller.session), self.dialect_of(note.callee.session));
        self.metrics.call(note, caller, callee);
        calls_log::log(note, caller, callee, self.log_user_names);
    }

    /// The dialect `session` speaks, if it is open and known.
    fn dialect_of(&self, session: Option<SessionId>) -> Option<Dialect> {
        session.and_then(|session| self.outboxes.get(&session)).and_then(|outbox| outbox.dialect)
    }

    /// Queues `event` for `session`; `false` when it was a relay that found
    /// no room. Relays and refusals of relays may only fill the relay room:
    /// beyond it they are dropped (a refusal needs no second copy), and the
    /// session is dropped only once it has read nothing for the grace. Any
    /// other event that finds the queue full drops the session at once.
    fn deliver(&mut self, session: SessionId, event: Event, now: Instant) -> bool {
        // A stand-in may play both parts: a user's party in a call, whose
        // events the link translates (`ghosts.rs`), and a session in this
        // node's places, whose events go back as they are (`proxies.rs`).
        if !self.ghosts.is_empty() || !self.proxies.is_empty() {
            let ghost = self.ghosts.get(session).is_some();
            let proxy = self.proxies.remote_of(session).cloned();
            if ghost || proxy.is_some() {
                if let Event::Ringing { invite, room, .. } = &event
                    && !self.core.is_call_room(&room.id)
                {
                    self.named_invites.insert(*invite);
                }
                let about_a_call = self.about_a_call(&event);
                let quiet = matches!(event, Event::Reply { tag: proxies::QUIET_TAG, .. });
                if ghost && about_a_call {
                    self.call_link_event(session, &event);
                } else if let Some((node, remote)) = proxy
                    && !about_a_call
                    && !quiet
                {
                    self.send_proxy(&node, remote, ProxyOp::Event(event));
                } else if ghost && !about_a_call && !quiet && !matches!(event, Event::Reply { .. }) {
                    // A user of another node invited into a room here: the
                    // ring and what follows go to every session it has there.
                    self.send_user_event(session, event);
                    self.touched.push(session);
                }
                return true;
            }
        }
        if matches!(event, Event::Replaced) {
            self.release_name(session);
        }
        let Some(outbox) = self.outboxes.get_mut(&session) else { return true };
        if let Event::Reply { result: Err(error), .. } = &event {
            self.metrics.error_sent(outbox.dialect, error);
        }
        let relay = matches!(event, Event::Relayed { .. });
        let droppable = relay || matches!(event, Event::Reply { result: Err(CommandError::RateLimited), .. });
        if droppable && !outbox.relay_fits(self.relay_room, now) {
            if outbox.stalled_for(self.reader_grace, now) {
                tracing::warn!(%session, "dropping a client that does not read its events");
                self.metrics.dropped(DropCause::SlowReader);
                self.drop_session(session);
            }
            return !relay;
        }
        match outbox.events.try_send(Box::new(event)) {
            Ok(()) if droppable => {
                outbox.counts.relays.fetch_add(1, Ordering::Relaxed);
            }
            Ok(()) => {}
            Err(error) => {
                if error.is_full() {
                    tracing::warn!(%session, "dropping a client that does not read its events");
                    self.metrics.dropped(DropCause::SlowReader);
                }
                self.drop_session(session);
            }
        }
        true
    }

    /// Dropping the queue's sender tells the connection to close; the core
    /// ends the session's calls (more output, delivered by the caller's loop).
    fn drop_session(&mut self, session: SessionId) {
        self.outboxes.remove(&session);
        self.release_name(session);
        self.tell_away_nodes_gone(session);
        self.core.handle_input(self.clock.now(), Input::Disconnected { session });
    }

    /// A call whose callee the cluster looked up: a callee on another node
    /// gets a stand-in here first, so that the core rings it like anyone.
    fn call(&mut self, input: Input, located: Located) {
        if self.drain.is_none()
            && let Input::Command { session, request, command: Command::Call { to, .. } } = &input
            && !self.has_a_session_here(to)
        {
            match located {
                Located::On(node) => {
                    self.stand_in(node, to.clone(), None);
                }
                Located::Unknown => {
                    let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::ClusterUnavailable) };
                    self.deliver(*session, refusal, self.clock.now());
                    return;
                }
                Located::Here => {}
            }
        }
        self.handle(ToDriver::Input(input, None));
    }

    /// Whether `event` is about a 1:1 call (which the call link carries
    /// translated), rather than about a place (carried as it is).
    fn about_a_call(&self, event: &Event) -> bool {
        match event {
            Event::Ringing { room, .. } => self.core.is_call_room(&room.id),
            Event::Relayed { room: Some(room), .. } => self.core.is_call_room(room),
            Event::CallAccepted { room, .. } => self.core.is_call_room(room),
            Event::CallDeclined { invite, .. } | Event::RingingStopped { invite, .. } => {
                !self.named_invites.contains(invite)
            }
            Event::CallEnded { .. } | Event::Reply { tag: link::CALL_TAG, .. } => true,
            _ => false,
        }
    }

    /// Sends an event of a user's stand-in to every session of the user on
    /// its node.
    fn send_user_event(&self, ghost: SessionId, event: Event) {
        let (Some(cluster), Some(state)) = (&self.cluster, self.ghosts.get(ghost)) else { return };
        let frame = LinkFrame::UserEvent { node: cluster.node().to_string(), user: state.user.clone(), event };
        cluster.send(&state.node, &frame);
    }

    /// An event for every session of `user` here from a place of `node`:
    /// an invite that rings it, and what follows. The session that answered
    /// it is not told it was answered elsewhere.
    fn user_event(&mut self, node: String, user: UserId, event: Event) {
        let Ok(node) = NodeId::parse(&node) else { return };
        if let (Some(cluster), Event::Ringing { invite, .. }) = (&self.cluster, &event) {
            cluster.invite_on(*invite, node.clone());
        }
        let answered_here = match &event {
            Event::RingingStopped { invite, .. } => self.accepting.remove(invite),
            _ => None,
        };
        let now = self.clock.now();
        let sessions: Vec<SessionId> = self
            .core
            .sessions_of(&user)
            .iter()
            .copied()
            .filter(|&s| {
                self.ghosts.get(s).is_none() && self.proxies.remote_of(s).is_none() && Some(s) != answered_here
            })
            .collect();
        for session in sessions {
            self.deliver(session, event.clone(), now);
        }
    }

    /// An ecall message. The receiver's devices on other nodes get it from
    /// those nodes; this node's core delivers it here, and holds it when
    /// the receiver is online nowhere (noting so in Redis, so that the node
    /// the receiver connects to can collect it).
    fn user_relay(&mut self, input: Input, nodes: Option<Vec<NodeId>>) {
        let Input::Command {
            session, command: Command::Relay { to: RelayTarget::User { user, peer }, signal }, ..
        } = &input
        else {
            return;
        };
        let nodes = nodes.unwrap_or_default();
        let sender = self.core.user_of(*session).cloned();
        if let (Some(cluster), Some(from), Some(from_peer)) = (&self.cluster, &sender, self.core.peer_id(*session)) {
            for node in &nodes {
                let frame = LinkFrame::UserRelay {
                    node: cluster.node().to_string(),
                    from: from.clone(),
                    from_peer: from_peer.to_string(),
                    to: user.clone(),
                    peer: peer.as_deref().map(str::to_owned),
                    signal: signal.clone(),
                };
                cluster.send(node, &frame);
            }
        }
        let online_here = self.has_a_session_here(user);
        if !nodes.is_empty() && !online_here {
            // Delivered elsewhere; the core would hold it here.
            return;
        }
        let user = user.clone();
        self.handle(ToDriver::Input(input, None));
        if !online_here && let Some(cluster) = &self.cluster {
            let (cluster, held_for) = (cluster.clone(), self.core.ring_time());
            tokio::spawn(async move { cluster.note_held(&user, held_for).await });
        }
    }

    /// An ecall message from another node, for the sessions here of its
    /// receiver (one device, or all) and of its sender (but the sending
    /// device), as the core delivers one from a session here.
    fn user_relay_here(
        &mut self,
        from: UserId,
        from_peer: &str,
        to: UserId,
        peer: Option<&str>,
        signal: switchboard_core::Signal,
    ) {
        let now = self.clock.now();
        let real = |this: &Self, session: SessionId| {
            this.ghosts.get(session).is_none() && this.proxies.remote_of(session).is_none()
        };
        let mut sessions: Vec<SessionId> = self
            .core
            .sessions_of(&to)
            .iter()
            .copied()
            .filter(|&s| real(self, s) && peer.is_none_or(|peer| self.core.peer_id(s).as_deref() == Some(peer)))
            .collect();
        if from != to {
            sessions.extend(
                self.core
                    .sessions_of(&from)
                    .iter()
                    .copied()
                    .filter(|&s| real(self, s) && self.core.peer_id(s).as_deref() != Some(from_peer)),
            );
        }
        for session in sessions {
            let event = Event::Relayed {
                room: None,
                from: from.clone(),
                from_peer: Arc::from(from_peer),
                from_status: None,
                signal: signal.clone(),
            };
            self.deliver(session, event, now);
        }
    }

    /// An invite: a room here rings an invitee of another node through a
    /// stand-in for it; a room elsewhere gets the command, with where the
    /// invitee is.
    fn invite(&mut self, input: Input, home: Home, located: Located) {
        let Input::Command { session, request, command: Command::Invite { to, .. } } = &input else { return };
        match (home, located) {
            (Home::Unknown, _) | (_, Located::Unknown) => {
                let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::ClusterUnavailable) };
                self.deliver(*session, refusal, self.clock.now());
            }
            (Home::Here, located) => {
                if self.drain.is_none()
                    && let Located::On(node) = located
                    && !self.has_a_session_here(to)
                {
                    self.stand_in(node, to.clone(), None);
                }
                self.handle(ToDriver::Input(input, None));
            }
            (Home::On(node), located) => {
                let invitee_node = match located {
                    Located::On(invitee) if invitee != node => Some(invitee),
                    // The invitee is here (this node is not the room's).
                    Located::Here if self.has_a_session_here(to) => self.cluster.as_ref().map(|c| c.node().clone()),
                    _ => None,
                };
                self.away(node, input, invitee_node);
            }
        }
    }

    /// Whether `user` has a session here that can take a call: one of its
    /// own, or a call's stand-in; a place's stand-in cannot.
    fn has_a_session_here(&self, user: &switchboard_core::UserId) -> bool {
        self.core.sessions_of(user).iter().any(|&session| self.proxies.remote_of(session).is_none())
    }

    /// The stand-in for `user` of `node`, made if there is none.
    fn stand_in(&mut self, node: NodeId, user: switchboard_core::UserId, peer: Option<&str>) -> SessionId {
        if let Some(ghost) = self.ghosts.find(&node, &user) {
            return ghost;
        }
        // The session already acts in a place here: the same stand-in
        // plays its part in the call (one peer id, one session).
        let place_stand_in = peer
            .and_then(|peer| self.core.session_with_peer_id(peer))
            .filter(|&session| self.proxies.remote_of(session).is_some_and(|(of, _)| *of == node));
        let session = match place_stand_in {
            Some(session) => session,
            None => {
                let session = draw_session_id(&self.shared.session_ids);
                // A peer id unknown (a callee looked up by name) is made up,
                // in a form no client's id takes.
                let peer_id = Arc::from(peer.map_or_else(|| format!("{user}@{node}"), str::to_owned));
                self.core.handle_input(self.clock.now(), Input::Connected { session, peer_id: Some(peer_id) });
                session
            }
        };
        if self.core.user_of(session).is_none() {
            let register = Command::Register { user: Some(user.clone()), shared: true };
            let request = Request::quiet(proxies::QUIET_TAG);
            self.core.handle_input(self.clock.now(), Input::Command { session, request, command: register });
        }
        self.ghosts.insert(session, node, user);
        self.touched.push(session);
        session
    }

    /// A message from another node: the command of the stand-in for its
    /// sender. Only a call makes a stand-in; anything else about a call
    /// this node no longer has is dropped.
    fn call_link_message(&mut self, message: LinkMessage) {
        let (Ok(node), Ok(from)) = (NodeId::parse(&message.node), switchboard_core::UserId::parse(&message.from))
        else {
            return;
        };
        let Some((tag, command)) = message.command() else { return };
        let ghost = match &command {
            Command::Call { .. } if self.drain.is_some() => {
                let refused = link::refused_call(&CommandError::Draining);
                self.send_to_node(&node, message.to.clone(), message.from.clone(), None, refused);
                return;
            }
            Command::Call { to, .. } => {
                let ghost = self.stand_in(node, from, message.peer.as_deref());
                if let Some(state) = self.ghosts.get_mut(ghost) {
                    state.calling = Some(to.clone());
                }
                ghost
            }
            _ => match self.ghosts.find(&node, &from) {
                Some(ghost) => ghost,
                None => return,
            },
        };
        self.touched.push(ghost);
        self.input(Input::Command { session: ghost, request: Request::quiet(tag), command });
    }

    /// What the core told a stand-in, sent on to its user's node.
    fn call_link_event(&mut self, session: SessionId, event: &Event) {
        let Some(ghost) = self.ghosts.get(session) else { return };
        let carried = match event {
            Event::Reply { tag: link::CALL_TAG, result: Err(error) } => {
                ghost.calling.clone().map(|callee| (callee, link::refused_call(error)))
            }
            _ => link::for_stand_in(event, |room| self.core.is_call_room(room)),
        };
        if let Some((from, op)) = carried {
            let (node, to) = (ghost.node.clone(), ghost.user.to_string());
            // The local party's own session, not a stand-in of its user.
            let peer = self
                .core
                .sessions_of(&from)
                .iter()
                .find(|&&s| self.ghosts.get(s).is_none() && self.proxies.remote_of(s).is_none())
                .and_then(|&s| self.core.peer_id(s))
                .map(|peer| peer.to_string());
            self.send_to_node(&node, from.to_string(), to, peer, op);
        }
        self.touched.push(session);
    }

    fn send_to_node(&self, node: &NodeId, from: String, to: String, peer: Option<String>, op: link::LinkOp) {
        let Some(cluster) = &self.cluster else { return };
        cluster.send(node, &LinkFrame::Call(LinkMessage { node: cluster.node().to_string(), from, to, peer, op }));
    }

    fn send_proxy(&self, node: &NodeId, session: SessionId, op: ProxyOp) {
        let Some(cluster) = &self.cluster else { return };
        cluster.send(node, &LinkFrame::Proxy(ProxyMessage { node: cluster.node().to_string(), session, op }));
    }

    /// A local session's command for a place `node` holds: sent there, with
    /// what its stand-in needs to look like the session.
    fn away(&mut self, node: NodeId, input: Input, invitee_node: Option<NodeId>) {
        let Input::Command { session, request, command } = input else { return };
        if let Command::Accept { invite: InviteRef::Id(invite), .. } = &command {
            self.accepting.insert(*invite, session);
        }
        if self.drain.is_some() && starts_a_call(&command) {
            let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::Draining) };
            self.deliver(session, refusal, self.clock.now());
            return;
        }
        let Some(peer_id) = self.core.peer_id(session) else { return };
        self.proxies.went(session, &node);
        let user = self.core.user_of(session).cloned();
        let (tag, reply_on_success) = (request.tag, request.reply_on_success);
        let invitee_node = invitee_node.map(|node| node.to_string());
        let status = user.as_ref().and_then(|user| self.core.status_of(user)).cloned();
        let peer_id = peer_id.to_string();
        let op = ProxyOp::Command { tag, reply_on_success, quiet: false, user, peer_id, status, invitee_node, command };
        self.send_proxy(&node, session, op);
    }

    /// A local session's new status, copied to every node it acts on, where
    /// rooms and namespaces list it; its own node answers it.
    fn copy_status_away(&self, session: SessionId, status: &switchboard_core::Payload) {
        let Some(peer_id) = self.core.peer_id(session) else { return };
        let user = self.core.user_of(session).cloned();
        for node in self.proxies.nodes_of(session) {
            let command = Command::SetStatus { status: status.clone() };
            let op = ProxyOp::Command {
                tag: proxies::QUIET_TAG,
                reply_on_success: false,
                quiet: true,
                user: user.clone(),
                peer_id: peer_id.to_string(),
                status: None,
                invitee_node: None,
                command,
            };
            self.send_proxy(node, session, op);
        }
    }

    /// A local session closed: its stand-ins on other nodes go too.
    fn tell_away_nodes_gone(&mut self, session: SessionId) {
        if self.proxies.is_empty() {
            return;
        }
        for node in self.proxies.closed(session) {
            self.send_proxy(&node, session, ProxyOp::Gone);
        }
    }

    /// A message about a proxied session: a command of a remote session
    /// for a place here (its stand-in made if need be), an event for a
    /// local session from a place elsewhere, or a remote session gone.
    fn proxied(&mut self, message: ProxyMessage) {
        let Ok(node) = NodeId::parse(&message.node) else { return };
        match message.op {
            // Only for a local session that sent that node a command.
            ProxyOp::Event(event) if self.proxies.nodes_of(message.session).contains(&node) => {
                // An invite the session made there: its cancel goes there.
                if let (Some(cluster), Event::Reply { result: Ok(Reply::Calling { invite, .. }), .. }) =
                    (&self.cluster, &event)
                {
                    cluster.invite_on(*invite, node.clone());
                }
                let now = self.clock.now();
                self.deliver(message.session, event, now);
            }
            ProxyOp::Event(_) => {}
            ProxyOp::Gone => {
                if let Some(stand_in) = self.proxies.stand_in(&node, message.session) {
                    self.proxies.remove(stand_in);
                    self.ghosts.remove(stand_in);
                    self.input(Input::Disconnected { session: stand_in });
                }
            }
            ProxyOp::Command { tag, reply_on_success, quiet, user, peer_id, status, invitee_node, command } => {
                if let (Some(invitee_node), Command::Invite { to, .. }) = (invitee_node, &command)
                    && let Ok(invitee_node) = NodeId::parse(&invitee_node)
                    && !self.has_a_session_here(to)
                {
                    self.stand_in(invitee_node, to.clone(), None);
                }
                // The session's user already plays a call here, under the
                // same peer id: the same stand-in acts in the place too.
                let call_stand_in = self
                    .core
                    .session_with_peer_id(&peer_id)
                    .filter(|&session| self.ghosts.get(session).is_some_and(|ghost| ghost.node == node));
                let stand_in = match self.proxies.stand_in(&node, message.session).or(call_stand_in) {
                    Some(stand_in) => {
                        if self.proxies.stand_in(&node, message.session).is_none() {
                            self.proxies.insert(stand_in, node.clone(), message.session);
                        }
                        stand_in
                    }
                    None => {
                        let stand_in = draw_session_id(&self.shared.session_ids);
                        let now = self.clock.now();
                        // A peer id taken here already would replace that
                        // session: made up instead (never a client's form).
                        let peer_id = if self.core.session_with_peer_id(&peer_id).is_some() {
                            format!("{peer_id}@{node}")
                        } else {
                            peer_id
                        };
                        let peer_id = Some(Arc::from(peer_id.as_str()));
                        self.core.handle_input(now, Input::Connected { session: stand_in, peer_id });
                        self.proxies.insert(stand_in, node.clone(), message.session);
                        stand_in
                    }
                };
                // The session may have registered since its last command here.
                if let Some(user) = user
                    && self.core.user_of(stand_in).is_none()
                {
                    let register = Command::Register { user: Some(user), shared: true };
                    let request = Request::quiet(proxies::QUIET_TAG);
                    self.core.handle_input(
                        self.clock.now(),
                        Input::Command { session: stand_in, request, command: register },
                    );
                }
                // Its status as its own node has it, before the command.
                if let Some(status) = status
                    && let Some(user) = self.core.user_of(stand_in)
                    && self.core.status_of(user) != Some(&status)
                {
                    let request = Request::quiet(proxies::QUIET_TAG);
                    let command = Command::SetStatus { status };
                    self.core.handle_input(self.clock.now(), Input::Command { session: stand_in, request, command });
                    let now = self.clock.now();
                    while let Some(Output { to, event }) = self.core.poll_output() {
                        self.deliver(to, event, now);
                    }
                }
                let request =
                    if quiet { Request::quiet(proxies::QUIET_TAG) } else { Request { tag, reply_on_success } };
                self.handle(ToDriver::Input(Input::Command { session: stand_in, request, command }, None));
            }
        }
    }

    /// After a register: a name claimed for it that the core refused is
    /// given back; a name the core drew is claimed now (a UUID: nobody
    /// else can hold it).
    fn registered(&self, session: SessionId, asked: Option<switchboard_core::UserId>, shared: bool) {
        let Some(cluster) = &self.cluster else { return };
        let holds = self.core.user_of(session).cloned();
        match (asked, holds) {
            (Some(asked), holds)
                if holds.as_ref() != Some(&asked) && cluster.claim_of(session).as_ref() == Some(&asked) =>
            {
                let cluster = cluster.clone();
                tokio::spawn(async move { cluster.release(session).await });
            }
            (None, Some(drawn)) if cluster.claim_of(session).is_none() => {
                // Noted now, so that a close before Redis answers still
                // gives the name back.
                cluster.note_claim(session, drawn.clone(), shared);
                let cluster = cluster.clone();
                tokio::spawn(async move { cluster.claim_drawn(&drawn, session, shared).await });
            }
            _ => {}
        }
    }

    /// A session is gone: the name it held is free across the cluster.
    fn release_name(&self, session: SessionId) {
        if let Some(cluster) = &self.cluster
            && cluster.claim_of(session).is_some()
        {
            let cluster = cluster.clone();
            tokio::spawn(async move { cluster.release(session).await });
        }
    }

    /// Forgets the stand-ins told something during the last input that no
    /// longer take part in a call.
    fn forget_idle_stand_ins(&mut self) {
        while let Some(ghost) = self.touched.pop() {
            let invited = self.ghosts.get(ghost).is_some_and(|state| self.core.is_invited(&state.user));
            if self.ghosts.get(ghost).is_some() && !self.core.in_a_call(ghost) && !invited {
                self.ghosts.remove(ghost);
                if self.proxies.remote_of(ghost).is_some() {
                    continue; // still the session's stand-in in a place here
                }
                self.core.handle_input(self.clock.now(), Input::Disconnected { session: ghost });
                let now = self.clock.now();
                while let Some(Output { to, event }) = self.core.poll_output() {
                    self.deliver(to, event, now);
                }
            }
        }
    }
}

/// Whether a command would ring someone or open a room, which a draining
/// node refuses: a call (every 1:1 dialect), an invite (calling) and a new
/// room (tringtring's `create-room`). Joining a room is not refused: a
/// cloudkibo call in progress joins its media room after the answer.
fn starts_a_call(command: &Command) -> bool {
    matches!(command, Command::Call { .. } | Command::Invite { .. } | Command::CreateRoom { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(session_queue: usize) -> DriverSettings {
        let metrics = Arc::new(Metrics::new());
        DriverSettings { session_queue, reader_grace: Duration::from_secs(10), metrics, log_user_names: false }
    }

    fn driver() -> DriverHandle {
        let config = CoreConfig { seed: [7; 32], ..CoreConfig::default() };
        spawn(config, Clock::System, settings(16), None).0
    }

    /// Waits until the core holds `sessions` sessions (each check is one
    /// round trip through the driver, so this waits for the event, never
    /// for time).
    async fn wait_for_sessions(driver: &DriverHandle, sessions: usize) {
        while driver.stats().await.expect("driver running").sessions != sessions {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_connection_task_that_panics_still_closes_its_session() {
        let driver = driver();
        let (opened, open) = tokio::sync::oneshot::channel();
        let (go, panic_now) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let driver = driver.clone();
            async move {
                let (_session, _events) = driver.open(None, None).await.expect("driver running");
                let _ = opened.send(());
                let _ = panic_now.await;
                panic!("a codec bug");
            }
        });
        open.await.expect("the task opened its session");
        assert_eq!(driver.stats().await.unwrap().sessions, 1);
        go.send(()).expect("the task waits");
        assert!(task.await.expect_err("the task panicked").is_panic());
        wait_for_sessions(&driver, 0).await;
    }

    /// A flood of relays at a session that reads slowly fills only the
    /// relay room of its queue: the sender is refused the rest, the reader
    /// is kept, and a hang-up still reaches it.
    #[tokio::test]
    async fn a_relay_flood_throttles_the_sender_and_keeps_the_reader() {
        use switchboard_core::{Payload, RelayTarget, Signal, SignalKind, UserId};
        // The sender's own queue must hold its refusals, or it would be the
        // one dropped for not reading.
        let queue = 64;
        let config = CoreConfig { seed: [7; 32], ..CoreConfig::default() };
        let driver = spawn(config, Clock::System, settings(queue), None).0;
        let (sender, mut sender_events) = driver.open(None, None).await.unwrap();
        let (reader, mut reader_events) = driver.open(None, None).await.unwrap();
        let (sender, reader) = (sender.id(), reader.id());
        let name = |name: &str| UserId::parse(name).unwrap();
        for (session, user) in [(sender, "stranger"), (reader, "victim")] {
            let command = Command::Register { user: Some(name(user)), shared: true };
            driver.command(session, Request::quiet(0), command).await.unwrap();
        }
        // The ecall message channel: anyone may message any user.
        let floods = 60;
        for tag in 0..floods {
            let to = RelayTarget::User { user: name("victim"), peer: None };
            let signal = Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new("\"hi\"") };
            driver.command(sender, Request::quiet(tag), Command::Relay { to, signal }).await.unwrap();
        }
        driver.stats().await.unwrap(); // every command above is taken in
        let room = relay_room(queue);
        let mut refusals = 0;
        while let Some(event) = sender_events.try_recv() {
            assert!(matches!(*event, Event::Reply { result: Err(CommandError::RateLimited), .. }), "{event:?}");
            refusals += 1;
        }
        assert_eq!(refusals, floods as usize - room, "the sender is refused what finds no room");
        let mut relayed = 0;
        while let Some(event) = reader_events.try_recv() {
            assert!(matches!(*event, Event::Relayed { .. }), "{event:?}");
            relayed += 1;
        }
        assert_eq!(relayed, room);
        assert_eq!(driver.stats().await.unwrap().sessions, 2, "the reader is not dropped");
        // Once read, the room is free again.
        let to = RelayTarget::User { user: name("victim"), peer: None };
        let signal = Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new("\"again\"") };
        driver.command(sender, Request::quiet(99), Command::Relay { to, signal }).await.unwrap();
        assert!(matches!(reader_events.next().await.as_deref(), Some(Event::Relayed { .. })));
    }

    #[tokio::test]
    async fn closing_and_dropping_each_close_the_session_once() {
        let driver = driver();
        let (first, _) = driver.open(None, None).await.unwrap();
        let (second, _) = driver.open(None, None).await.unwrap();
        assert_eq!(driver.stats().await.unwrap().sessions, 2);
        first.close().await;
        assert_eq!(driver.stats().await.unwrap().sessions, 1, "close is taken in before it returns");
        drop(second);
        wait_for_sessions(&driver, 0).await;
    }
}
