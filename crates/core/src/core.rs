//! The state machine itself: the one owner of every session, user, room and
//! invite, and the loop of input, output and deadlines.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use std::sync::Arc;

use crate::{
    Command, CommandError, Event, Input, InviteId, NamespaceId, Output, Payload, Reply, Request, RoomId, SessionId,
    UserId,
};

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
    /// Pending deadlines.
    pub deadlines: usize,
    /// Namespaces with a subscriber, a user or a room.
    pub namespaces: usize,
    /// Messages held for offline users.
    pub held: usize,
    /// Held messages that expired undelivered, since the core started.
    pub held_expired: u64,
}

/// A connection's share of the state.
#[derive(Debug)]
pub(crate) struct Session {
    /// How other clients name it (a socket.io id, or its number).
    pub(crate) peer_id: Arc<str>,
    /// The name it registered, once it has.
    pub(crate) user: Option<UserId>,
    /// Rooms it is a member of, call rooms included.
    pub(crate) rooms: Vec<RoomId>,
    /// Calls and invites it made that still ring.
    pub(crate) outgoing: Vec<InviteId>,
    /// Namespaces it subscribed to.
    pub(crate) subscriptions: Vec<NamespaceId>,
}

/// A registered name: presence.
#[derive(Debug, Default)]
pub(crate) struct User {
    /// Its sessions (devices), in the order they registered.
    pub(crate) sessions: Vec<SessionId>,
    /// Its presence status, if it set one.
    pub(crate) status: Option<Payload>,
    /// Calls and invites ringing it.
    pub(crate) incoming: Vec<InviteId>,
    /// Namespaces it is listed in.
    pub(crate) namespaces: Vec<NamespaceId>,
    /// Whether several sessions may hold the name.
    pub(crate) shared: bool,
}

/// What kind of room: a 1:1 call ends for both when one party leaves; a named
/// room lives on while members come and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoomKind {
    Call,
    Named,
}

/// A joined member of a room.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) session: SessionId,
    /// Its number in the room ([`PeerInfo::member`](crate::PeerInfo::member)).
    pub(crate) number: u32,
    /// The peer status it gave in this room.
    pub(crate) status: Option<Payload>,
}

#[derive(Debug)]
pub(crate) struct Room {
    pub(crate) kind: RoomKind,
    /// Places for members and invitees together.
    pub(crate) capacity: usize,
    /// Members in the order they joined.
    pub(crate) members: Vec<Member>,
    /// Invites into the room that still ring: the pending peers.
    pub(crate) invited: Vec<InviteId>,
    /// The shared status, in the order keys were first set.
    pub(crate) status: Vec<(Arc<str>, Payload)>,
    /// Namespaces the room is listed in.
    pub(crate) namespaces: Vec<NamespaceId>,
    /// When an empty named room is deleted.
    pub(crate) expires: Option<Instant>,
    /// The member number the next joiner is given, if no member holds it.
    pub(crate) next_number: u32,
}

impl Room {
    pub(crate) fn new(kind: RoomKind, capacity: usize) -> Self {
        Self {
            kind,
            capacity,
            members: Vec::new(),
            invited: Vec::new(),
            status: Vec::new(),
            namespaces: Vec::new(),
            expires: None,
            next_number: 1,
        }
    }

    /// Adds a member; returns its number.
    pub(crate) fn add_member(&mut self, session: SessionId, status: Option<Payload>) -> u32 {
        let number = self.draw_number();
        self.members.push(Member { session, number, status });
        number
    }

    /// A member number no member holds, counting up from 1 and wrapping
    /// below 2^31: cloudkibo's Android client reads it as a Java `int`.
    fn draw_number(&mut self) -> u32 {
        loop {
            let number = self.next_number;
            self.next_number = if number >= MAX_MEMBER_NUMBER { 1 } else { number + 1 };
            if !self.members.iter().any(|member| member.number == number) {
                return number;
            }
        }
    }

    pub(crate) fn has_member(&self, session: SessionId) -> bool {
        self.members.iter().any(|member| member.session == session)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.invited.is_empty()
    }
}

/// The largest member number: `i32::MAX`.
const MAX_MEMBER_NUMBER: u32 = i32::MAX as u32;

/// A ringing call or invite.
#[derive(Debug)]
pub(crate) struct Invite {
    pub(crate) room: RoomId,
    pub(crate) from_session: SessionId,
    pub(crate) from: UserId,
    pub(crate) to: UserId,
    /// The ring deadline of a 1:1 call; invites into named rooms wait.
    pub(crate) rings_until: Option<Instant>,
}

/// A directory that subscribers are told about.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    pub(crate) subscribers: Vec<SessionId>,
    pub(crate) users: Vec<UserId>,
    pub(crate) rooms: Vec<RoomId>,
}

impl Namespace {
    pub(crate) fn is_empty(&self) -> bool {
        self.subscribers.is_empty() && self.users.is_empty() && self.rooms.is_empty()
    }
}

/// Something that happens at a time unless it is cancelled first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Deadline {
    Ring(InviteId),
    EmptyRoom(RoomId),
    /// The oldest message held for this user expires.
    Held(UserId),
}

/// A message held for a user with no session.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) event: Event,
    pub(crate) bytes: usize,
    pub(crate) expires: Instant,
}

/// The sans-IO signaling model (see the crate docs for the loop).
#[derive(Debug)]
pub struct Core {
    pub(crate) config: CoreConfig,
    rng: ChaCha20Rng,
    pub(crate) sessions: HashMap<SessionId, Session>,
    /// Sessions by peer id, for relays addressed that way.
    pub(crate) peer_ids: HashMap<Arc<str>, SessionId>,
    pub(crate) users: HashMap<UserId, User>,
    pub(crate) rooms: HashMap<RoomId, Room>,
    pub(crate) invites: HashMap<InviteId, Invite>,
    pub(crate) namespaces: HashMap<NamespaceId, Namespace>,
    /// Messages waiting for users with no session, oldest first.
    pub(crate) mailboxes: HashMap<UserId, VecDeque<Held>>,
    pub(crate) held_expired: u64,
    next_invite: u64,
    /// The time of the input being handled.
    now: Option<Instant>,
    /// Ordered by time, so the next one is the first.
    pub(crate) deadlines: BTreeSet<(Instant, Deadline)>,
    outputs: VecDeque<Output>,
}

impl Core {
    /// A core with no sessions.
    pub fn new(config: CoreConfig) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(config.seed),
            config,
            sessions: HashMap::new(),
            peer_ids: HashMap::new(),
            users: HashMap::new(),
            rooms: HashMap::new(),
            invites: HashMap::new(),
            namespaces: HashMap::new(),
            mailboxes: HashMap::new(),
            held_expired: 0,
            next_invite: 0,
            now: None,
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
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
            Input::Connected { session, .. } if self.sessions.contains_key(&session) => {}
            Input::Connected { session, peer_id } => {
                let peer_id = peer_id.unwrap_or_else(|| Arc::from(session.to_string()));
                if let Some(older) = self.peer_ids.insert(peer_id.clone(), session)
                    && older != session
                {
                    // The same device connected again: the newer connection wins.
                    // (disconnect leaves the peer id alone: it is the newer's now.)
                    self.emit(older, Event::Replaced);
                    self.disconnect(older);
                }
                let state =
                    Session { peer_id, user: None, rooms: Vec::new(), outgoing: Vec::new(), subscriptions: Vec::new() };
                self.sessions.entry(session).or_insert(state);
            }
            Input::Command { session, request, command } => {
                if self.sessions.contains_key(&session) {
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

    /// When the core next wants [`Input::Timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Counts of what the core holds.
    pub fn stats(&self) -> Stats {
        Stats {
            sessions: self.sessions.len(),
            users: self.users.len(),
            rooms: self.rooms.len(),
            invites: self.invites.len(),
            deadlines: self.deadlines.len(),
            namespaces: self.namespaces.len(),
            held: self.mailboxes.values().map(VecDeque::len).sum(),
            held_expired: self.held_expired,
        }
    }

    /// Whether a named room exists (empty ones waiting to expire included).
    pub fn room_exists(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|state| state.kind == RoomKind::Named)
    }

    /// Whether invite `id` exists and `test` holds for it. Indexes point at
    /// live invites (`check_invariants`), but a lookup a client can reach
    /// never panics.
    pub(crate) fn invite_is(&self, id: &InviteId, test: impl FnOnce(&Invite) -> bool) -> bool {
        self.invites.get(id).is_some_and(test)
    }

    /// How other clients name a session.
    pub(crate) fn peer_id_of(&self, session: SessionId) -> Arc<str> {
        self.sessions.get(&session).map(|s| s.peer_id.clone()).unwrap_or_else(|| Arc::from(""))
    }

    /// The name a session registered, if any.
    pub fn user_of(&self, session: SessionId) -> Option<&UserId> {
        self.sessions.get(&session)?.user.as_ref()
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
    pub(crate) fn draw_uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// The time of the input being handled.
    pub(crate) fn now(&self) -> Instant {
        self.now.expect("set at the start of handle_input")
    }

    pub(crate) fn next_invite_id(&mut self) -> InviteId {
        let id = InviteId(self.next_invite);
        self.next_invite += 1;
        id
    }

    pub(crate) fn set_deadline(&mut self, at: Instant, what: Deadline) {
        self.deadlines.insert((at, what));
    }

    pub(crate) fn clear_deadline(&mut self, at: Instant, what: Deadline) {
        self.deadlines.remove(&(at, what));
    }

    fn fire_deadlines(&mut self, now: Instant) {
        while let Some(first) = self.deadlines.first() {
            if first.0 > now {
                break;
            }
            let (_, what) = self.deadlines.pop_first().expect("checked above");
            match what {
                Deadline::Ring(invite) => self.ring_timeout(invite),
                Deadline::EmptyRoom(room) => self.expire_room(room),
                Deadline::Held(user) => self.expire_held(&user),
            }
        }
    }
}
