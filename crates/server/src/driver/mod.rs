//! The driver: the one task that owns the core. Connections send it inputs
//! over one bounded channel and receive their events on their own bounded
//! queue. It sleeps until the core's next deadline. Its side of a cluster,
//! the stand-ins for parties on other nodes, is `stand_ins.rs`.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use futures_channel::mpsc as queue;
use switchboard_core::{
    CallNote, CallStyle, Command, CommandError, Core, CoreConfig, Event, Input, InviteId, InviteRef, Output,
    RelayTarget, Request, RoomId, SessionId, SessionMap, SignalKind, Stats, UserId,
};
use switchboard_dialects::codec::Dialect;
use tokio::sync::{mpsc, oneshot, watch};

use crate::admission::Admission;
use crate::calls_log;
use crate::clock::Clock;
use crate::cluster::ghosts::Ghosts;
use crate::cluster::link::LinkFrame;
use crate::cluster::places::{self, Home, Place};
use crate::cluster::proxies::Proxies;
use crate::cluster::rooms_away::RoomsAway;
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
        /// The resume token and connection kind of a session whose client
        /// asked for resume.
        resume: Option<(Token, ResumeKey)>,
    },
    /// A resumable session's connection dropped, or let go of it for a
    /// newer one: its codec and event queue.
    Hold(SessionId, Parked),
    /// A client resumes with `token`; `fresh` is the session's next one.
    Resume {
        token: Token,
        fresh: Token,
        key: ResumeKey,
        reply: ResumeReply,
    },
    /// An input, and when it was queued if it is one of the inputs the
    /// latency metric samples ([`LATENCY_SAMPLE_EVERY`]).
    Input(Input, Option<Instant>),
    /// A register of a name the cluster drew and claimed before the core
    /// saw it: answered as a drawn name (`Reply::Registered { drawn: true }`).
    RegisterDrawn(Input),
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
///
/// The driver may ask the reader to let go of the session, for a resume on
/// a newer connection (`resume.rs`): [`Counts::detach`], with a `None` in
/// the channel to wake it. The reader takes nothing more; what is queued
/// then is the newer connection's.
#[derive(Debug)]
pub struct EventQueue {
    events: queue::Receiver<Option<Box<Event>>>,
    counts: Arc<Counts>,
}

/// [`Counts::detach`]: no word to let go is pending.
const ATTACHED: u8 = 0;
/// [`Counts::detach`]: the driver asks the reader to let go.
const DETACHING: u8 = 1;
/// [`Counts::detach`]: the reader heard it; it lets go.
const DETACHED: u8 = 2;

/// What the driver knows of a reader's progress.
#[derive(Debug, Default)]
struct Counts {
    /// Relays, and refusals of relays, queued and not yet taken.
    relays: AtomicUsize,
    /// Events taken since the session opened (wrapping).
    taken: AtomicUsize,
    /// [`ATTACHED`], [`DETACHING`] or [`DETACHED`].
    detach: AtomicU8,
}

impl EventQueue {
    /// The next event, once one is queued; `None` once the driver dropped
    /// the session (it fell behind, or the driver is gone). Cancel-safe.
    /// `None` too when the connection must let go of the session for a
    /// resume elsewhere ([`EventQueue::detached`]).
    pub async fn next(&mut self) -> Option<Box<Event>> {
        loop {
            if self.let_go() {
                return None;
            }
            // A `None` is the word's wake-up: the loop checks the word.
            if let Some(event) = futures_util::StreamExt::next(&mut self.events).await? {
                self.taken(&event);
                return Some(event);
            }
        }
    }

    /// A queued event, if one is there now; `None` too once asked to let go.
    pub fn try_recv(&mut self) -> Option<Box<Event>> {
        loop {
            if self.let_go() {
                return None;
            }
            if let Some(event) = self.events.try_recv().ok()? {
                self.taken(&event);
                return Some(event);
            }
        }
    }

    /// Whether the driver asked this connection to let go of the session: a
    /// newer connection resumed it. The events after the word stay queued
    /// for that one.
    pub fn detached(&self) -> bool {
        self.counts.detach.load(Ordering::Acquire) == DETACHED
    }

    /// Whether the driver asks this reader to let go, before it takes
    /// another event: what is still queued is the next connection's. The
    /// `None` the driver queued with the word only wakes a waiting reader;
    /// a later reader skips it.
    fn let_go(&self) -> bool {
        self.counts.detach.load(Ordering::Acquire) == DETACHING
            && self.counts.detach.compare_exchange(DETACHING, DETACHED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// A new connection takes the queue up (a resume).
    fn reattach(&self) {
        self.counts.detach.store(ATTACHED, Ordering::Release);
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
    events: queue::Sender<Option<Box<Event>>>,
    counts: Arc<Counts>,
    /// Since when relays have found no room, and how many events the reader
    /// had taken then.
    stalled: Option<(Instant, usize)>,
    /// The dialect the session speaks, for its metrics' labels.
    dialect: Option<Dialect>,
    /// Events queued since the session opened (wrapping): with
    /// [`Counts::taken`], how many wait.
    queued: usize,
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

    /// Queues `event`; `droppable` (a relay, or a relay's refusal) counts
    /// against the relay room.
    fn push(&mut self, event: Event, droppable: bool) -> Result<(), queue::TrySendError<Option<Box<Event>>>> {
        self.events.try_send(Some(Box::new(event)))?;
        self.queued = self.queued.wrapping_add(1);
        if droppable {
            self.counts.relays.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Asks the reader to let go of the session, for a resume on a newer
    /// connection: the word, and a `None` to wake a waiting reader. `false`
    /// (and the word taken back) when the queue has no room for the wake-up.
    fn ask_to_let_go(&mut self) -> bool {
        self.counts.detach.store(DETACHING, Ordering::Release);
        let woken = self.events.try_send(None).is_ok();
        if !woken {
            self.counts.detach.store(ATTACHED, Ordering::Release);
        }
        woken
    }

    /// Events queued and not yet taken.
    fn backlog(&self) -> usize {
        self.queued.wrapping_sub(self.counts.taken.load(Ordering::Relaxed))
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
    /// `--resume-window` and `--resume-buffer`.
    resume: ResumeSettings,
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

    /// The connection dropped without a clean close, or lets go of the
    /// session for a newer one: the driver holds the session, with the
    /// connection's `codec`, `events` and `place` under the caps, for a
    /// resume (`resume.rs`). A session opened without resume is closed
    /// instead.
    pub(crate) async fn hold<C: Send + 'static>(mut self, codec: C, events: EventQueue, place: Option<Arc<Admission>>) {
        if let Some(session) = self.session.take() {
            let parked = Parked { codec: Box::new(codec), events, place };
            if self.driver.inbox.send(ToDriver::Hold(session, parked)).await.is_err() {
                tracing::debug!(%session, "the driver stopped before the session could be held");
            }
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

/// Why a resume failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResumeError {
    /// The token names no session to resume.
    #[error("no session to resume")]
    Refused,
    /// The driver stopped.
    #[error("the signaling core has stopped")]
    DriverGone,
}

/// The driver stopped (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the signaling core has stopped")]
pub struct DriverGone;

impl std::fmt::Debug for ToDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToDriver::Open { session, .. } => write!(f, "Open({session})"),
            ToDriver::Hold(session, _) => write!(f, "Hold({session})"),
            ToDriver::Resume { .. } => write!(f, "Resume"),
            ToDriver::Input(input, _) => write!(f, "Input({input:?})"),
            ToDriver::RegisterDrawn(input) => write!(f, "RegisterDrawn({input:?})"),
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
        self.open_session(peer_id, dialect, None).await
    }

    /// [`DriverHandle::open`] for a client that asked for resume
    /// (`resume=1`); `key` says who may take the session up later. The
    /// session's resume token comes back as the client sees it (on a node
    /// of a cluster, `<node>.<secret>`); its queue also holds
    /// `--resume-buffer` events more, for when the session is held.
    pub(crate) async fn open_resumable(
        &self,
        peer_id: Option<Arc<str>>,
        dialect: Option<Dialect>,
        key: ResumeKey,
    ) -> Result<(OpenSession<'_>, EventQueue, String), DriverGone> {
        let token = Token::draw();
        let (open, events) = self.open_session(peer_id, dialect, Some((token, key))).await?;
        Ok((open, events, self.token_text(token)))
    }

    async fn open_session(
        &self,
        peer_id: Option<Arc<str>>,
        dialect: Option<Dialect>,
        resume: Option<(Token, ResumeKey)>,
    ) -> Result<(OpenSession<'_>, EventQueue), DriverGone> {
        let session = self.draw_session_id();
        if let Some(cluster) = &self.shared.cluster {
            cluster.note_style(session, style_at_open(dialect));
        }
        let room = if resume.is_some() { self.session_queue + self.shared.resume.buffer } else { self.session_queue };
        // futures' capacity is the buffer plus one per sender (one here).
        let (outbox, events) = queue::channel(room.saturating_sub(1));
        let counts = Arc::new(Counts::default());
        let outbox = Outbox { events: outbox, counts: counts.clone(), stalled: None, dialect, queued: 0 };
        self.inbox.send(ToDriver::Open { session, peer_id, outbox, resume }).await.map_err(|_| DriverGone)?;
        Ok((OpenSession { driver: self, session: Some(session) }, EventQueue { events, counts }))
    }

    /// Resumes the held session that the token `text` names, for a
    /// connection that matches its [`ResumeKey`]: the session, its
    /// codec and its queue (events queued while it was away first), and its
    /// next token. A session whose old connection is still up is taken from
    /// it first (that connection closes with 4001).
    ///
    /// # Errors
    /// [`ResumeError::Refused`] when the token is wrong, used or expired, or
    /// the connection does not match the key; nothing is touched.
    pub(crate) async fn resume(
        &self,
        text: &str,
        key: ResumeKey,
    ) -> Result<(OpenSession<'_>, Parked, String), ResumeError> {
        let token = self.parse_token(text).ok_or(ResumeError::Refused)?;
        let fresh = Token::draw();
        let (reply, answer) = oneshot::channel();
        let message = ToDriver::Resume { token, fresh, key, reply };
        self.inbox.send(message).await.map_err(|_| ResumeError::DriverGone)?;
        let resumed = answer.await.map_err(|_| ResumeError::DriverGone)?;
        let Resumed { session, parked } = resumed.map_err(|ResumeRefused| ResumeError::Refused)?;
        Ok((OpenSession { driver: self, session: Some(session) }, parked, self.token_text(fresh)))
    }

    /// A token as the client sees it: on a node of a cluster, prefixed with
    /// the node's id and a dot, so that any node can tell where the session
    /// is held.
    fn token_text(&self, token: Token) -> String {
        match &self.shared.cluster {
            Some(cluster) => format!("{}.{}", cluster.node(), token.to_text()),
            None => token.to_text(),
        }
    }

    /// Reads a token that this node issued.
    fn parse_token(&self, text: &str) -> Option<Token> {
        let secret = match (&self.shared.cluster, split_token(text)) {
            (Some(cluster), (Some(node), secret)) if node == cluster.node().as_str() => secret,
            (None, (None, secret)) => secret,
            _ => return None,
        };
        Token::parse(secret)
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
            self.send(Input::Command { session, request, command }).await
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
            // A name the server draws (calling's hello, a CONNECT without a
            // name) is drawn and claimed here, before the core registers
            // it, so that the session is reachable from every node once it
            // is told its name. With Redis unreachable the core draws it,
            // claimed once Redis is back, so that local calls still work.
            Command::Register { user: None, shared } if cluster.claim_of(session).is_none() => {
                let user = UserId::parse(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a user name");
                match cluster.claim(&user, session, shared).await {
                    Ok(crate::cluster::names::Claim::Granted) => {
                        let command = Command::Register { user: Some(user), shared };
                        ToDriver::RegisterDrawn(Input::Command { session, request, command })
                    }
                    _ => {
                        let command = Command::Register { user: None, shared };
                        ToDriver::Input(Input::Command { session, request, command }, None)
                    }
                }
            }
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
                let located = cluster.locate_all(&users).await.ok();
                let into = located.as_ref().and_then(|(_, style)| *style);
                match (into.zip(cluster.style_of(session)), &signal.kind) {
                    // The core's rule (`check_carried`) for a receiver it
                    // has no session of: a dialect's own message reaches
                    // only the same dialect. An ecall device's codec takes
                    // the refusal of its SETUP as the cue to bridge the
                    // call, as on one node.
                    (Some((into, from)), SignalKind::Custom(name)) if into != from => {
                        let what = format!("the event {name:?} of another app").into();
                        ToDriver::Refuse(session, request.tag, CommandError::NotCarried { to: user, what })
                    }
                    _ => {
                        let nodes = located.map(|(nodes, _)| nodes);
                        let command = Command::Relay { to: RelayTarget::User { user, peer }, signal };
                        ToDriver::UserRelay(Input::Command { session, request, command }, nodes)
                    }
                }
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
        if let Some(cluster) = &self.shared.cluster {
            cluster.note_style(session, dialect.call_style());
        }
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

    /// The cluster this node is part of, if any.
    pub(crate) fn cluster(&self) -> Option<&Cluster> {
        self.shared.cluster.as_ref()
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
    /// How held sessions are kept (`--resume-window`, `--resume-buffer`).
    pub resume: ResumeSettings,
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
/// across nodes, a callee, invitee or ecall receiver that may be on another
/// node, a room or namespace another node may hold, or an answer to an
/// invite of another node. A name the core draws (`user: None`) is claimed
/// by the driver once the core has drawn it.
fn needs_the_cluster(command: &Command) -> bool {
    matches!(
        command,
        Command::Register { .. }
            | Command::Call { .. }
            | Command::Join { room: None, .. }
            | Command::Relay { to: RelayTarget::User { .. }, .. }
            | Command::Accept { invite: InviteRef::Id(_), .. }
            | Command::Reject { invite: InviteRef::Id(_), .. }
            | Command::Cancel { invite: InviteRef::Id(_), .. }
    ) || places::place_of(command).is_some()
}

/// How a session calls when it opens. A socket.io connection is bound to
/// its dialect by its first event (`None` until then); of the two, only
/// cloudkibo registers users and calls.
fn style_at_open(dialect: Option<Dialect>) -> CallStyle {
    dialect.map_or(CallStyle::MediaRoom, Dialect::call_style)
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
    let DriverSettings { session_queue, resume, reader_grace, metrics, log_user_names } = settings;
    let (inbox, receiver) = mpsc::channel(INBOX_CAPACITY);
    let mut session_ids = ChaCha20Rng::from_seed(config.seed);
    session_ids.set_stream(1); // the core's own generator uses stream 0
    let shared = Arc::new(Shared { session_ids: Mutex::new(session_ids), resume, cluster: cluster.clone() });
    let handle = DriverHandle { inbox, shared: shared.clone(), session_queue };
    let relay_room = relay_room(session_queue);
    let driver = Driver {
        cluster,
        ghosts: Ghosts::default(),
        proxies: Proxies::default(),
        rooms_away: RoomsAway::default(),
        answering_drawn: None,
        shared,
        core: Core::new(config),
        clock,
        outboxes: SessionMap::default(),
        relay_room,
        reader_grace,
        session_queue,
        metrics,
        inputs_since_upkeep: 0,
        log_user_names,
        drain: None,
        touched: Vec::new(),
        resumes: Resumes::new(resume),
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
    /// Local sessions' rooms on other nodes, and their peers.
    rooms_away: RoomsAway,
    /// The register being handled whose name the cluster drew, by session
    /// and tag: its answer says the name was drawn.
    answering_drawn: Option<(SessionId, u64)>,
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
    /// Events a connected reader may leave waiting (`--session-queue`).
    session_queue: usize,
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
    /// Resumable sessions, and those held for a resume.
    resumes: Resumes,
}

impl Driver {
    async fn run(mut self, mut inbox: mpsc::Receiver<ToDriver>) {
        loop {
            let wake_at = match (self.core.poll_timeout(), self.resumes.next_deadline()) {
                (Some(core), Some(held)) => Some(core.min(held)),
                (core, held) => core.or(held),
            };
            tokio::select! {
                message = inbox.recv() => match message {
                    Some(message) => self.handle(message),
                    None => break,
                },
                () = self.clock.sleep_until(wake_at) => self.input(Input::Timeout),
            }
            self.end_expired_holds();
            if let Some(calls) = &self.drain {
                let now = Some(self.core.calls_in_progress());
                calls.send_if_modified(|was| std::mem::replace(was, now) != now);
            }
        }
        tracing::debug!("driver stopped");
    }

    fn handle(&mut self, message: ToDriver) {
        match message {
            ToDriver::Open { session, peer_id, outbox, resume } => {
                let style = Some(style_at_open(outbox.dialect));
                self.outboxes.insert(session, outbox);
                if let Some((token, key)) = resume {
                    self.resumes.open(session, token, key);
                }
                self.input(Input::Connected { session, peer_id, style });
            }
            ToDriver::Hold(session, parked) => self.hold(session, parked),
            ToDriver::Resume { token, fresh, key, reply } => self.resume((token, fresh), &key, reply),
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
                    Input::Disconnected { session } => self.forget_session(*session),
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
            ToDriver::RegisterDrawn(input) => {
                if let Input::Command { session, request, .. } = &input {
                    self.answering_drawn = Some((*session, request.tag));
                }
                self.handle(ToDriver::Input(input, None));
                self.answering_drawn = None;
            }
            ToDriver::Refuse(session, tag, error) => {
                self.deliver(session, Event::Reply { tag, result: Err(error) }, self.clock.now());
            }
            ToDriver::Call(input, located) => self.call(input, located),
            ToDriver::Away(node, input) => self.away(node, input, None),
            ToDriver::Invite(input, home, located) => self.invite(input, home, located),
            ToDriver::UserRelay(input, nodes) => self.user_relay(input, nodes),
            ToDriver::Link(frame) => self.take_from_other_node(frame),
            ToDriver::GonePlaces(places, reply) => {
                let _ = reply.send(self.gone_places(places));
            }
            ToDriver::NodeGone(node) => self.node_gone(&node),
            ToDriver::Dialect(session, dialect) => {
                if let Some(outbox) = self.outboxes.get_mut(&session) {
                    outbox.dialect = Some(dialect);
                }
                self.input(Input::Styled { session, style: dialect.call_style() });
            }
            ToDriver::Stats(reply) => {
                let _ = reply.send(self.core.stats());
            }
            ToDriver::Gauges(reply) => {
                // Counted at each scrape rather than kept beside the outboxes.
                let sessions =
                    SessionsByDialect::count(self.outboxes.values().map(|outbox| outbox.dialect), self.resumes.held());
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
            // One check per event unless a drawn register is being handled.
            if let Some((session, asked)) = self.answering_drawn
                && session == to
                && let Event::Reply { tag, result: Ok(switchboard_core::Reply::Registered { drawn, .. }) } = &mut event
                && *tag == asked
            {
                *drawn = true;
            }
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
        // One check on one node: there are no stand-ins.
        if (!self.ghosts.is_empty() || !self.proxies.is_empty()) && self.is_stand_in(session) {
            self.tell_stand_in(session, event);
            return true;
        }
        if matches!(event, Event::Replaced) {
            self.release_name(session);
        }
        let held = self.resumes.held() > 0
            && match self.resumes.queue(session) {
                Queueing::Attached => false,
                Queueing::Held => true,
                Queueing::Overflow => {
                    tracing::debug!(%session, "a held session's resume buffer is full: it ends");
                    self.metrics.held_session_ended(HeldEnd::Buffer);
                    self.drop_session(session);
                    // The receiver is gone, not slow: the sender is not
                    // throttled.
                    return true;
                }
            };
        let Some(outbox) = self.outboxes.get_mut(&session) else { return true };
        if let Event::Reply { result: Err(error), .. } = &event {
            self.metrics.error_sent(outbox.dialect, error);
        }
        let relay = matches!(event, Event::Relayed { .. });
        let droppable = relay || matches!(event, Event::Reply { result: Err(CommandError::RateLimited), .. });
        // Nobody reads a held session's queue: neither the relay room nor the
        // reader grace applies to it, and the resume buffer bounds it.
        if !held && droppable && !outbox.relay_fits(self.relay_room, now) {
            if outbox.stalled_for(self.reader_grace, now) {
                tracing::warn!(%session, "dropping a client that does not read its events");
                self.metrics.dropped(DropCause::SlowReader);
                self.drop_session(session);
            }
            return !relay;
        }
        // A resumable session's queue has room for a hold beyond
        // `--session-queue`; a connected reader gets no more than that.
        if !held && outbox.backlog() >= self.session_queue {
            tracing::warn!(%session, "dropping a client that does not read its events");
            self.metrics.dropped(DropCause::SlowReader);
            self.drop_session(session);
            return true;
        }
        if let Err(error) = outbox.push(event, droppable) {
            // Only the events left unread when the connection dropped can
            // fill a held session's queue: it has `--resume-buffer` places more.
            if held {
                tracing::debug!(%session, "a held session's queue is full: it ends");
                self.metrics.held_session_ended(HeldEnd::Buffer);
            } else if error.is_full() {
                tracing::warn!(%session, "dropping a client that does not read its events");
                self.metrics.dropped(DropCause::SlowReader);
            }
            self.drop_session(session);
        }
        true
    }

    /// Dropping the queue's sender tells the connection to close; the core
    /// ends the session's calls (more output, delivered by the caller's loop).
    fn drop_session(&mut self, session: SessionId) {
        self.forget_session(session);
        self.core.handle_input(self.clock.now(), Input::Disconnected { session });
    }

    /// What the driver keeps of a session that is gone, before the core is
    /// told: its queue, its resume token, its name in the cluster.
    fn forget_session(&mut self, session: SessionId) {
        self.outboxes.remove(&session);
        self.resumes.forget(session);
        self.release_name(session);
        if let Some(cluster) = &self.cluster {
            cluster.forget_style(session);
        }
        self.tell_away_nodes_gone(session);
    }

    /// A resumable session's connection dropped, or let go of it: hold it,
    /// or hand it to the connection resuming it. A session that is not
    /// resumable, or is gone already, is closed as its connection is.
    fn hold(&mut self, session: SessionId, parked: Parked) {
        if !self.outboxes.contains_key(&session) {
            self.resumes.forget(session);
            return; // dropped meanwhile (a slow reader): the core knows
        }
        match self.resumes.hold(session, parked, self.clock.now()) {
            Ok(Holding::Held) => tracing::debug!(%session, "connection lost: the session is held for a resume"),
            Ok(Holding::HandedOver) => self.resumed(session),
            Err(parked) => {
                drop(parked);
                self.handle(ToDriver::Input(Input::Disconnected { session }, None));
            }
        }
    }

    /// A client resumes: a held session is handed over at once; one whose
    /// connection is still up is first asked to let go (its queue gets the
    /// word, [`EventQueue::detached`]), and [`Driver::hold`] hands it over.
    fn resume(&mut self, tokens: (Token, Token), key: &ResumeKey, reply: ResumeReply) {
        match self.resumes.resume(tokens, key, reply, self.clock.now()) {
            Resuming::HandedOver(session) => self.resumed(session),
            Resuming::TakeOver(session) => {
                // A connection that reads nothing is about to be dropped as
                // slow; it cannot be asked to let go.
                if !self.outboxes.get_mut(&session).is_some_and(Outbox::ask_to_let_go) {
                    self.resumes.refuse_take_over(session);
                }
            }
            Resuming::Nothing => {}
        }
    }

    /// A resume succeeded: the new connection reads the queue from now on.
    fn resumed(&mut self, session: SessionId) {
        if let Some(outbox) = self.outboxes.get_mut(&session) {
            outbox.stalled = None;
        }
        self.metrics.resumed();
        tracing::debug!(%session, "session resumed");
    }

    /// Ends every held session whose resume window has passed, as a
    /// disconnect does: the other parties hear `disconnected` now.
    fn end_expired_holds(&mut self) {
        let now = self.clock.now();
        while let Some(session) = self.resumes.expired(now) {
            tracing::debug!(%session, "a held session was not resumed within the window: it ends");
            self.metrics.held_session_ended(HeldEnd::Window);
            self.drop_session(session);
            self.deliver_pending();
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

mod resume;
mod stand_ins;

pub(crate) use resume::HeldEnd;
pub use resume::ResumeSettings;
use resume::{Holding, Queueing, ResumeRefused, ResumeReply, Resumed, Resumes, Resuming, Token};
pub(crate) use resume::{Parked, ResumeKey, split_token};

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(session_queue: usize) -> DriverSettings {
        let metrics = Arc::new(Metrics::new());
        let resume = ResumeSettings::default();
        DriverSettings { session_queue, resume, reader_grace: Duration::from_secs(10), metrics, log_user_names: false }
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
