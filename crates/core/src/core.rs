//! The state machine itself: the owner of the state's parts (`state/`), and
//! the loop of input, output and deadlines. The handlers of each kind of
//! command (`presence.rs`, `rooms.rs`, `invites.rs`, …) are `impl Core`
//! blocks that use the parts' narrow methods.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::state::{
    AnsweredCalls, Deadline, Deadlines, Directory, Invites, Mailboxes, Namespaces, Rate, RoomKind, Rooms, Sessions,
    Throttles,
};
use crate::{CallId, CallNote, Command, CommandError, Event, Input, Output, Reply, Request, RoomId, SessionId, UserId};

/// Settings of the model. All durations are wall-clock spans the driver
/// measures; the core only compares them with the `now` it is given.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// How long a call rings before it ends with
    /// [`EndReason::Timeout`](crate::EndReason::Timeout). Default 30 s (the
    /// ecall seed's ringing time, and what the issue asks of every dialect).
    pub ring_timeout: Duration,
    /// How long an empty named room is kept before it is deleted. Default
    /// 10 minutes (calling-signaling's `CALLING_ROOM_TIMEOUT`).
    pub empty_room_ttl: Duration,
    /// Messages held for one offline user (ecall), at most.
    pub mailbox_messages: usize,
    /// Bytes of messages held for one offline user, at most.
    pub mailbox_bytes: usize,
    /// Rooms a session may be in (call rooms included) plus invites it may
    /// have pending, at most; one more is refused with
    /// [`CommandError::TooManyRooms`]. Default 32.
    pub rooms_per_session: usize,
    /// Namespaces one session may subscribe to, one user be listed in, and
    /// one room be listed in, at most ([`CommandError::TooManyNamespaces`]).
    /// Default 32.
    pub namespaces_per_entry: usize,
    /// Offline users one sender may hold messages for at once, at most
    /// ([`CommandError::TooManyMailboxes`]). Default 16.
    pub mailboxes_per_sender: usize,
    /// How fast one user may ring: calls, invites and rooms it makes
    /// ([`CommandError::RingLimit`]). Default a burst of 20, then 30 a minute.
    pub ring_rate: Rate,
    /// How fast one room may be invited into, by all its members together.
    /// Default a burst of 50, then 60 a minute.
    pub room_invite_rate: Rate,
    /// The number of the first invite; the next count up from it. 0 on one
    /// node. The server of a cluster draws it below 2^52 (so that calling's
    /// `handle`, a JSON number, stays exact in JavaScript), so that two
    /// nodes' invites do not share numbers: a client may hold invites from
    /// several nodes (`docs/cluster.md`).
    pub first_invite_id: u64,
    /// Seed of the generator that draws user names and call room names. The
    /// server seeds it from the operating system, so drawn names are
    /// unguessable; tests fix it, so runs repeat.
    pub seed: [u8; 32],
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(30),
            empty_room_ttl: Duration::from_secs(600),
            mailbox_messages: 32,
            mailbox_bytes: 256 * 1024,
            rooms_per_session: 32,
            namespaces_per_entry: 32,
            mailboxes_per_sender: 16,
            ring_rate: Rate { burst: 20, per_minute: 30 },
            room_invite_rate: Rate { burst: 50, per_minute: 60 },
            first_invite_id: 0,
            seed: [0; 32],
        }
    }
}

/// Counts of what the core holds, for metrics and for tests that check
/// nothing is left behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open connections.
    pub sessions: usize,
    /// Registered (online) users.
    pub users: usize,
    /// Rooms, call rooms included.
    pub rooms: usize,
    /// Ringing calls.
    pub invites: usize,
    /// Calls in progress: 1:1 calls that ring or were answered, each
    /// counted once from its ring until it ends: a call room each, or a
    /// calling user's named room while it carries a call with a one-to-one
    /// user (Step 13). Other named rooms (tringtring, cloudkibo's media
    /// rooms, calling's rooms among calling users) are not calls here,
    /// whoever is in them.
    pub calls: usize,
    /// Answered 1:1 calls in progress (an answered invite into a named
    /// room is room membership, counted in `rooms`).
    pub answered_calls: usize,
    /// Pending deadlines.
    pub deadlines: usize,
    /// Namespaces with a subscriber, a user or a room.
    pub namespaces: usize,
    /// Messages held for offline users.
    pub held: usize,
    /// Held messages that expired undelivered, since the core started.
    pub held_expired: u64,
}

/// The sans-IO signaling model (see the crate docs for the loop).
#[derive(Debug)]
pub struct Core {
    pub(crate) config: CoreConfig,
    rng: ChaCha20Rng,
    /// Call ids come from their own stream of the seed, so that drawing
    /// them leaves every id clients see as it was.
    call_ids: ChaCha20Rng,
    pub(crate) sessions: Sessions,
    pub(crate) users: Directory,
    pub(crate) rooms: Rooms,
    pub(crate) invites: Invites,
    pub(crate) answered: AnsweredCalls,
    pub(crate) namespaces: Namespaces,
    pub(crate) mailboxes: Mailboxes,
    pub(crate) deadlines: Deadlines,
    pub(crate) throttles: Throttles,
    /// The time of the input being handled.
    now: Option<Instant>,
    outputs: VecDeque<Output>,
    call_notes: VecDeque<CallNote>,
}

impl Core {
    /// A core with no sessions.
    pub fn new(config: CoreConfig) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(config.seed),
            call_ids: {
                let mut ids = ChaCha20Rng::from_seed(config.seed);
                ids.set_stream(1);
                ids
            },
            mailboxes: Mailboxes::new(config.mailbox_messages, config.mailbox_bytes, config.mailboxes_per_sender),
            throttles: Throttles::new(config.ring_rate, config.room_invite_rate),
            invites: Invites::numbered_from(config.first_invite_id),
            config,
            sessions: Sessions::default(),
            users: Directory::default(),
            rooms: Rooms::default(),
            answered: AnsweredCalls::default(),
            namespaces: Namespaces::default(),
            deadlines: Deadlines::default(),
            now: None,
            outputs: VecDeque::new(),
            call_notes: VecDeque::new(),
        }
    }

    /// Feeds one input at time `now`. Deadlines due by `now` fire first.
    /// Drain [`Core::poll_output`] afterwards.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = Some(now);
        self.fire_deadlines(now);
        match input {
            // A session connects once: a repeat (a driver bug) is ignored, or
            // its new peer id would be left pointing at it for ever.
            Input::Connected { session, .. } if self.sessions.contains(session) => {}
            Input::Connected { session, peer_id, style } => {
                let peer_id = peer_id.unwrap_or_else(|| Arc::from(session.to_string()));
                if let Some(older) = self.sessions.by_peer_id(&peer_id) {
                    // The same device connected again: the newer connection wins.
                    self.emit(older, Event::Replaced);
                    self.disconnect(older);
                }
                self.sessions.insert(session, peer_id, style);
            }
            Input::Styled { session, style } => self.sessions.set_style(session, style),
            Input::Command { session, request, command } => {
                if self.sessions.contains(session) {
                    let result = self.run_command(session, command);
                    self.reply(session, request, result);
                }
            }
            Input::Disconnected { session } => self.disconnect(session),
            Input::OpenRoom { room, capacity } => self.open_room(room, capacity),
            Input::Timeout => {}
        }
    }

    /// The next event to deliver, or `None` once all are out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next note about a call's life ([`CallNote`]), for metrics and
    /// logs; `None` once all are out. Drain it after [`Core::poll_output`].
    pub fn poll_call_note(&mut self) -> Option<CallNote> {
        self.call_notes.pop_front()
    }

    /// Queues a call note.
    pub(crate) fn note_call(&mut self, note: CallNote) {
        self.call_notes.push_back(note);
    }

    /// When the core next wants [`Input::Timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Counts of what the core holds.
    pub fn stats(&self) -> Stats {
        Stats {
            sessions: self.sessions.len(),
            users: self.users.len(),
            rooms: self.rooms.len(),
            invites: self.invites.len(),
            calls: self.calls_in_progress(),
            answered_calls: self.answered.len(),
            deadlines: self.deadlines.len(),
            namespaces: self.namespaces.len(),
            held: self.mailboxes.held(),
            held_expired: self.mailboxes.expired(),
        }
    }

    /// Calls in progress ([`Stats::calls`]), without the rest of the
    /// stats: a constant-time count, cheap enough to ask after every input.
    pub fn calls_in_progress(&self) -> usize {
        self.rooms.calls()
    }

    /// Whether a named room exists (empty ones waiting to expire included).
    pub fn room_exists(&self, room: &RoomId) -> bool {
        self.rooms.kind(room) == Some(RoomKind::Named)
    }

    /// How other clients name a session.
    pub(crate) fn peer_id_of(&self, session: SessionId) -> Arc<str> {
        self.sessions.peer_id(session).cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// Whether a calling namespace has a subscriber, a user or a room.
    pub fn namespace_exists(&self, namespace: &crate::NamespaceId) -> bool {
        self.namespaces.exists(namespace)
    }

    /// The open session with this peer id, if any.
    pub fn session_with_peer_id(&self, peer_id: &str) -> Option<SessionId> {
        self.sessions.by_peer_id(peer_id)
    }

    /// The peer id of an open session (what other clients name it by).
    pub fn peer_id(&self, session: SessionId) -> Option<Arc<str>> {
        self.sessions.peer_id(session).cloned()
    }

    /// How `user`'s dialect calls: its first session's style (a name is
    /// held by sessions of one dialect: a shared name only by cloudkibo
    /// phones or a user's ecall devices).
    pub fn user_style(&self, user: &UserId) -> Option<crate::CallStyle> {
        self.users.sessions_of(user).first().and_then(|&session| self.sessions.style(session))
    }

    /// The sessions registered as `user` here.
    pub fn sessions_of(&self, user: &UserId) -> &[SessionId] {
        self.users.sessions_of(user)
    }

    /// How long a call rings (and an ecall message is held).
    pub fn ring_time(&self) -> Duration {
        self.config.ring_timeout
    }

    /// Whether something rings `user` here (a call or an invite).
    pub fn is_invited(&self, user: &UserId) -> bool {
        !self.invites.incoming(user).is_empty()
    }

    /// Whether a session takes part in a 1:1 call, ringing or accepted,
    /// either way: what the cluster link asks before it forgets the stand-in
    /// of a user on another node.
    pub fn in_a_call(&self, session: SessionId) -> bool {
        self.session_in_call(session)
            || self
                .user_of(session)
                .is_some_and(|user| self.invites.incoming(user).iter().any(|&invite| self.is_call_invite(invite)))
    }

    /// The name a session registered, if any.
    pub fn user_of(&self, session: SessionId) -> Option<&UserId> {
        self.users.user_of(session)
    }

    fn run_command(&mut self, session: SessionId, command: Command) -> Result<Reply, CommandError> {
        match command {
            Command::Register { user, shared } => self.register(session, user, shared),
            Command::SetStatus { status } => self.set_status(session, status),
            Command::Ping => Ok(Reply::Done),
            Command::Call { to, data } => self.call(session, to, data),
            Command::Invite { room, to, data } => self.invite(session, room, to, data),
            Command::Accept { invite, status, note } => self.accept(session, invite, status, note),
            Command::Reject { invite, reason, note } => self.reject(session, invite, reason, note),
            Command::Cancel { invite, note } => self.cancel(session, invite, note),
            Command::EndCallWith { peer, reason, note } => self.end_call_with(session, peer, reason, note),
            Command::CreateRoom { room, capacity } => self.create_room(session, room, capacity),
            Command::Join { room, create, status } => self.join(session, room, create, status),
            Command::Leave { room } => self.leave(session, room),
            Command::SetPeerStatus { room, status } => self.set_peer_status(session, room, status),
            Command::SetRoomStatus { room, key, value, check } => {
                self.set_room_status(session, room, key, value, check)
            }
            Command::Relay { to, signal } => self.relay(session, to, signal),
            Command::Subscribe { namespace } => self.subscribe(session, namespace),
            Command::Unsubscribe { namespace } => self.unsubscribe(session, namespace),
            Command::RegisterUser { namespace } => self.register_user(session, namespace),
            Command::UnregisterUser { namespace } => self.unregister_user(session, namespace),
            Command::RegisterRoom { namespace, room } => self.register_room(namespace, room),
            Command::UnregisterRoom { namespace, room } => self.unregister_room(namespace, room),
        }
    }

    fn reply(&mut self, session: SessionId, request: Request, result: Result<Reply, CommandError>) {
        if result.is_err() || request.reply_on_success {
            self.emit(session, Event::Reply { tag: request.tag, result });
        }
    }

    pub(crate) fn emit(&mut self, to: SessionId, event: Event) {
        self.outputs.push_back(Output { to, event });
    }

    /// The registered name of `session`, or the error every user command
    /// gives before registration.
    pub(crate) fn registered(&self, session: SessionId) -> Result<UserId, CommandError> {
        self.user_of(session).cloned().ok_or(CommandError::NotRegistered)
    }

    /// 16 random bytes as a UUID v4 string: unguessable with the server's
    /// OS-seeded generator.
    pub(crate) fn draw_call_id(&mut self) -> CallId {
        CallId(u128::from(self.call_ids.next_u64()) << 64 | u128::from(self.call_ids.next_u64()))
    }

    pub(crate) fn draw_uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// The time of the input being handled.
    pub(crate) fn now(&self) -> Instant {
        self.now.expect("set at the start of handle_input")
    }

    fn fire_deadlines(&mut self, now: Instant) {
        while let Some(what) = self.deadlines.pop_due(now) {
            match what {
                Deadline::Ring(invite) => self.ring_timeout(invite),
                Deadline::EmptyRoom(room) => self.expire_room(room),
                Deadline::Held(user) => self.expire_held(&user),
            }
        }
    }
}
