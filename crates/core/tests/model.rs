//! A seeded random model test: many short runs of random inputs, each from
//! a small pool of users, rooms, namespaces, peer ids and sessions so that
//! commands collide (busy callees, full rooms, glare, taken names, invites
//! across rooms, relays to peers that left, messages for offline users),
//! with the clock moving by random amounts, sometimes past the ring timeout
//! and the empty-room grace period, sometimes to the core's next deadline
//! exactly. After every input the core must not have panicked and
//! [`Core::check_invariants`] must hold. A failing run is shrunk to a short
//! input sequence that still fails the same way, and printed.
//!
//! The same inputs fed to a fresh core (same [`CoreConfig`], so the same
//! name generator) must give the same outputs, step by step: the core's
//! only randomness is its seeded generator, never a map's order.
//!
//! `cargo test -p switchboard-core --test model` runs `SEEDS` runs of
//! `STEPS` inputs. `MODEL_SEEDS`, `MODEL_STEPS` and `MODEL_FIRST_SEED` in
//! the environment change them (a long soak: `MODEL_SEEDS=5000`; one failing
//! run again: `MODEL_FIRST_SEED=<seed> MODEL_SEEDS=1`); `--nocapture` shows
//! how often each command, error and event came up.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::*;

/// Runs per `cargo test`, and inputs per run: 160 × 700 = 112,000 steps.
const SEEDS: u64 = 160;
const STEPS: usize = 700;
/// Sessions connected at once, at most (the driver's side of the pool).
const MAX_LIVE: usize = 7;
/// How many recently seen invites, call rooms and drawn names are kept to
/// aim commands at.
const RECENT: usize = 8;

const USERS: [&str; 5] = ["ann", "bob", "cat", "dan", "eve"];
/// Named rooms; call rooms and drawn rooms are learned from the outputs.
const ROOMS: [&str; 3] = ["r1", "r2", "r3"];
const NAMESPACES: [&str; 2] = ["n1", "n2"];
/// Transport peer ids; the default ids of the first sessions are added, so
/// that a new connection sometimes takes the peer id of a live one.
const PEERS: [&str; 3] = ["p1", "p2", "ann/c1"];

/// Every call style, and none (a stand-in of another node), so that the
/// cross-dialect rules (Step 13) meet each other in one core.
const STYLES: [Option<CallStyle>; 5] =
    [None, Some(CallStyle::Rooms), Some(CallStyle::Signals), Some(CallStyle::MediaRoom), Some(CallStyle::Messages)];
/// Room sizes: none, one, a call's two, three, and the calling dialect's
/// unlimited.
const CAPACITIES: [usize; 5] = [0, 1, 2, 3, usize::MAX];
const STATUS_KEYS: [&str; 2] = ["k1", "k2"];

/// SplitMix64: small, seedable, and good enough to pick inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// One input and the time it comes at, counted from the run's start.
#[derive(Clone, Debug)]
struct Step {
    at: Duration,
    input: Input,
}

/// A configuration for a run, one of four: realistic times; equal ring and
/// grace times (deadlines of different kinds at one instant); a long grace
/// period with the default mailbox; and zero times, so that every deadline
/// is due at the next input. All but the third have tight mailboxes; the
/// first two have tight bounds and ring rates too, so that refusals for
/// them come up among the other inputs.
fn config_for(seed: u64) -> CoreConfig {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let base = CoreConfig { seed: key, ..CoreConfig::default() };
    match seed % 4 {
        // Nothing waits: a call stops ringing, an empty room goes and a held
        // message expires at the very next input.
        3 => CoreConfig {
            ring_timeout: Duration::ZERO,
            empty_room_ttl: Duration::ZERO,
            mailbox_messages: 1,
            mailbox_bytes: 100,
            rooms_per_session: 2,
            ring_rate: switchboard_core::Rate { burst: 1, per_minute: 60 },
            ..base
        },
        0 => CoreConfig {
            ring_timeout: Duration::from_secs(30),
            empty_room_ttl: Duration::from_secs(60),
            mailbox_messages: 3,
            mailbox_bytes: 300,
            rooms_per_session: 3,
            namespaces_per_entry: 1,
            mailboxes_per_sender: 1,
            ring_rate: switchboard_core::Rate { burst: 3, per_minute: 6 },
            room_invite_rate: switchboard_core::Rate { burst: 2, per_minute: 2 },
            ..base
        },
        1 => CoreConfig {
            ring_timeout: Duration::from_secs(5),
            empty_room_ttl: Duration::from_secs(5),
            mailbox_messages: 2,
            mailbox_bytes: 1000,
            ..base
        },
        _ => CoreConfig { ring_timeout: Duration::from_secs(10), empty_room_ttl: Duration::from_secs(600), ..base },
    }
}

/// What the model's clients and driver know, learned from the outputs, to
/// aim the next inputs at things that exist.
struct Model {
    rng: Rng,
    config: CoreConfig,
    now: Duration,
    next_session: u32,
    live: Vec<SessionId>,
    /// Invites seen ringing: the rung session, the invite, the caller.
    ringing: Vec<(SessionId, InviteId, UserId)>,
    /// Invites a session was told it made: the caller session, the invite,
    /// the callee.
    calling: Vec<(SessionId, InviteId, UserId)>,
    /// Call rooms and drawn rooms seen in outputs.
    rooms: Vec<RoomId>,
    /// Drawn user names seen in replies.
    drawn: Vec<UserId>,
}

fn keep_recent<T>(items: &mut Vec<T>, item: T) {
    if items.len() == RECENT {
        items.remove(0);
    }
    items.push(item);
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn room(name: &str) -> RoomId {
    RoomId::parse(name).unwrap()
}

fn namespace(name: &str) -> NamespaceId {
    NamespaceId::parse(name).unwrap()
}

impl Model {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng(seed ^ 0x5eed_5a17_c4b0_a4d1),
            config: config_for(seed),
            now: Duration::ZERO,
            next_session: 1,
            live: Vec::new(),
            ringing: Vec::new(),
            calling: Vec::new(),
            rooms: Vec::new(),
            drawn: Vec::new(),
        }
    }

    /// Moves the clock (mostly a little, sometimes to the next deadline,
    /// past the ring timeout or past the grace period) and draws an input.
    fn step(&mut self, core: &Core, start: Instant) -> Step {
        let jump = match self.rng.below(100) {
            0..65 => Duration::ZERO,
            65..94 => Duration::from_millis(self.rng.below(1000) as u64),
            94..97 => match core.poll_timeout() {
                Some(next) => next.saturating_duration_since(start).saturating_sub(self.now),
                None => Duration::ZERO,
            },
            97..99 => self.config.ring_timeout + Duration::from_millis(self.rng.below(3000) as u64) / 2,
            _ => self.config.empty_room_ttl + Duration::from_millis(self.rng.below(5000) as u64),
        };
        self.now += jump;
        let input = match self.rng.below(100) {
            0..7 => Input::Timeout,
            7..12 if self.live.len() < MAX_LIVE => self.connect(),
            7..14 => Input::Disconnected { session: self.any_session() },
            14..17 => Input::OpenRoom { room: self.any_room(), capacity: self.rng.pick(&CAPACITIES) },
            _ => {
                let session = self.any_session();
                let request = if self.rng.chance(50) { Request::answered(7) } else { Request::quiet(7) };
                // Most commands need a name: an unregistered session
                // mostly registers first.
                let command = if core.user_of(session).is_none() && self.rng.chance(60) {
                    self.register()
                } else {
                    self.command(session)
                };
                Input::Command { session, request, command }
            }
        };
        Step { at: self.now, input }
    }

    fn connect(&mut self) -> Input {
        let session = SessionId::new(self.next_session.into());
        self.next_session += 1;
        let peer_id = match self.rng.below(10) {
            0..6 => None,
            // The default peer id of one of the first sessions.
            6 => Some(Arc::from(SessionId::new((1 + self.rng.below(3) as u32).into()).to_string())),
            _ => Some(Arc::from(self.rng.pick(&PEERS))),
        };
        self.live.push(session);
        let style = self.rng.pick(&STYLES);
        Input::Connected { session, peer_id, style }
    }

    /// Mostly a live session; sometimes one that closed or never was.
    fn any_session(&mut self) -> SessionId {
        if !self.live.is_empty() && self.rng.chance(90) {
            self.rng.pick(&self.live)
        } else {
            SessionId::new((1 + self.rng.below(self.next_session as usize + 1) as u32).into())
        }
    }

    fn any_user(&mut self) -> UserId {
        match self.rng.below(20) {
            0 if !self.drawn.is_empty() => self.rng.pick(&self.drawn),
            // Nobody ever registers this one: messages for it are held.
            1 => user("zed"),
            _ => user(self.rng.pick(&USERS)),
        }
    }

    fn any_room(&mut self) -> RoomId {
        if !self.rooms.is_empty() && self.rng.chance(30) {
            self.rng.pick(&self.rooms)
        } else {
            room(self.rng.pick(&ROOMS))
        }
    }

    fn any_namespace(&mut self) -> NamespaceId {
        namespace(self.rng.pick(&NAMESPACES))
    }

    fn any_peer(&mut self) -> Arc<str> {
        match self.rng.below(3) {
            0 if !self.live.is_empty() => Arc::from(self.rng.pick(&self.live).to_string()),
            _ => Arc::from(self.rng.pick(&PEERS)),
        }
    }

    fn payload(&mut self) -> Payload {
        match self.rng.below(4) {
            0 => Payload::null(),
            1 => Payload::new(r#"{"a":1}"#),
            2 => Payload::new(r#"{"away":true}"#),
            _ => Payload::new(format!(r#""{}""#, "x".repeat(120))),
        }
    }

    fn maybe_payload(&mut self) -> Option<Payload> {
        if self.rng.chance(50) { Some(self.payload()) } else { None }
    }

    fn signal(&mut self) -> Signal {
        let kind = match self.rng.below(4) {
            0 => SignalKind::Offer,
            1 => SignalKind::Answer,
            2 => SignalKind::IceCandidate,
            _ => SignalKind::Custom(Arc::from("event")),
        };
        Signal { kind, payload: self.payload() }
    }

    /// An invite this session is likely to be rung by (or any).
    fn incoming(&mut self, session: SessionId) -> InviteRef {
        let mine: Vec<_> = self.ringing.iter().filter(|(s, ..)| *s == session).cloned().collect();
        match self.rng.below(4) {
            0..2 if !mine.is_empty() => {
                let (_, invite, from) = self.rng.pick(&mine);
                if self.rng.chance(50) { InviteRef::Id(invite) } else { InviteRef::From(from) }
            }
            0..3 => InviteRef::From(self.any_user()),
            _ => self.any_invite(),
        }
    }

    /// An invite this session is likely to have made (or any).
    fn outgoing(&mut self, session: SessionId) -> InviteRef {
        let mine: Vec<_> = self.calling.iter().filter(|(s, ..)| *s == session).cloned().collect();
        match self.rng.below(4) {
            0..2 if !mine.is_empty() => {
                let (_, invite, to) = self.rng.pick(&mine);
                if self.rng.chance(50) { InviteRef::Id(invite) } else { InviteRef::To(to) }
            }
            0..3 => InviteRef::To(self.any_user()),
            _ => self.any_invite(),
        }
    }

    fn any_invite(&mut self) -> InviteRef {
        let seen: Vec<InviteId> = self.ringing.iter().map(|(_, invite, _)| *invite).collect();
        match self.rng.below(3) {
            0 => InviteRef::Id(InviteId(self.rng.below(50) as u64)),
            1 if !seen.is_empty() => InviteRef::Id(self.rng.pick(&seen)),
            _ => InviteRef::To(self.any_user()),
        }
    }

    fn relay_target(&mut self) -> RelayTarget {
        match self.rng.below(4) {
            0 => RelayTarget::CallPeer(self.any_user()),
            1 => RelayTarget::RoomMember { room: self.any_room(), user: self.any_user() },
            2 => RelayTarget::Peer { room: self.any_room(), peer: self.any_peer() },
            _ => {
                let peer = if self.rng.chance(30) { Some(self.any_peer()) } else { None };
                // Often to the user nobody registers, whose mailbox fills.
                let user = if self.rng.chance(40) { user("zed") } else { self.any_user() };
                RelayTarget::User { user, peer }
            }
        }
    }

    fn register(&mut self) -> Command {
        let user = if self.rng.chance(90) { Some(user(self.rng.pick(&USERS))) } else { None };
        Command::Register { user, shared: self.rng.chance(40) }
    }

    fn command(&mut self, session: SessionId) -> Command {
        match self.rng.below(100) {
            0..9 => self.register(),
            9..12 => Command::SetStatus { status: self.payload() },
            12..13 => Command::Ping,
            13..23 => Command::Call { to: self.any_user(), data: self.payload() },
            23..29 => Command::Invite { room: self.any_room(), to: self.any_user(), data: self.payload() },
            29..37 => {
                let invite = self.incoming(session);
                Command::Accept { invite, status: self.maybe_payload(), note: self.maybe_payload() }
            }
            37..41 => {
                let invite = self.incoming(session);
                let reason = if self.rng.chance(70) { EndReason::Rejected } else { EndReason::Busy };
                Command::Reject { invite, reason, note: self.maybe_payload() }
            }
            41..44 => {
                let invite = self.outgoing(session);
                Command::Cancel { invite, note: self.maybe_payload() }
            }
            44..45 => {
                const REASONS: [EndReason; 5] = [
                    EndReason::Hangup,
                    EndReason::Rejected,
                    EndReason::Busy,
                    EndReason::Timeout,
                    EndReason::Disconnected,
                ];
                Command::EndCallWith {
                    peer: self.any_user(),
                    reason: self.rng.pick(&REASONS),
                    note: self.maybe_payload(),
                }
            }
            45..48 => Command::CreateRoom { room: self.any_room(), capacity: self.rng.pick(&CAPACITIES) },
            48..56 => {
                let room = if self.rng.chance(90) { Some(self.any_room()) } else { None };
                let create = if self.rng.chance(50) { Some(self.rng.pick(&CAPACITIES)) } else { None };
                Command::Join { room, create, status: self.maybe_payload() }
            }
            56..62 => {
                let room =
                    if self.rng.chance(60) { RoomRef::Id(self.any_room()) } else { RoomRef::CallWith(self.any_user()) };
                Command::Leave { room }
            }
            62..64 => Command::SetPeerStatus { room: self.any_room(), status: self.maybe_payload() },
            64..67 => {
                let check = match self.rng.below(3) {
                    0 => None,
                    1 => Some(None),
                    _ => Some(Some(self.payload())),
                };
                let key = Arc::from(self.rng.pick(&STATUS_KEYS));
                Command::SetRoomStatus { room: self.any_room(), key, value: self.maybe_payload(), check }
            }
            67..70 => Command::Subscribe { namespace: self.any_namespace() },
            70..72 => Command::Unsubscribe { namespace: self.any_namespace() },
            72..75 => Command::RegisterUser { namespace: self.any_namespace() },
            75..77 => Command::UnregisterUser { namespace: self.any_namespace() },
            77..81 => Command::RegisterRoom { namespace: self.any_namespace(), room: self.any_room() },
            81..83 => Command::UnregisterRoom { namespace: self.any_namespace(), room: self.any_room() },
            _ => Command::Relay { to: self.relay_target(), signal: self.signal() },
        }
    }

    /// Remembers a call room or a drawn room to aim commands at.
    fn learn_room(&mut self, room: &RoomId) {
        if !ROOMS.contains(&room.as_str()) && !self.rooms.contains(room) {
            keep_recent(&mut self.rooms, room.clone());
        }
    }

    /// Learns invites, rooms, names and replaced sessions from what came out.
    fn observe(&mut self, input: &Input, outputs: &[Output]) {
        for output in outputs {
            match &output.event {
                Event::Ringing { invite, room, from, .. } => {
                    keep_recent(&mut self.ringing, (output.to, *invite, from.clone()));
                    self.learn_room(&room.id);
                }
                Event::Reply { result: Ok(Reply::Calling { invite, room }), .. } => {
                    if let Input::Command { command: Command::Call { to, .. } | Command::Invite { to, .. }, .. } = input
                    {
                        keep_recent(&mut self.calling, (output.to, *invite, to.clone()));
                    }
                    self.learn_room(room);
                }
                Event::Reply { result: Ok(Reply::Joined(view)), .. } => self.learn_room(&view.id),
                Event::Reply { result: Ok(Reply::Registered { user, drawn: true }), .. } => {
                    keep_recent(&mut self.drawn, user.clone());
                }
                // The driver closes a replaced connection; its later
                // Disconnected is a no-op for the core.
                Event::Replaced => self.live.retain(|&s| s != output.to),
                _ => {}
            }
        }
        if let Input::Disconnected { session } = input {
            self.live.retain(|s| s != session);
        }
    }
}

/// The kind of an input, for the coverage table. The matches name every
/// variant, so a new input or command does not compile until the model
/// drives it.
fn input_kind(input: &Input) -> &'static str {
    match input {
        Input::Connected { .. } => "input Connected",
        Input::Disconnected { .. } => "input Disconnected",
        Input::OpenRoom { .. } => "input OpenRoom",
        Input::Styled { .. } => "input Styled",
        Input::Timeout => "input Timeout",
        Input::Command { command, .. } => match command {
            Command::Register { .. } => "command Register",
            Command::SetStatus { .. } => "command SetStatus",
            Command::Ping => "command Ping",
            Command::Call { .. } => "command Call",
            Command::Invite { .. } => "command Invite",
            Command::Accept { .. } => "command Accept",
            Command::Reject { .. } => "command Reject",
            Command::Cancel { .. } => "command Cancel",
            Command::EndCallWith { .. } => "command EndCallWith",
            Command::CreateRoom { .. } => "command CreateRoom",
            Command::Join { .. } => "command Join",
            Command::SetPeerStatus { .. } => "command SetPeerStatus",
            Command::SetRoomStatus { .. } => "command SetRoomStatus",
            Command::Subscribe { .. } => "command Subscribe",
            Command::Unsubscribe { .. } => "command Unsubscribe",
            Command::RegisterUser { .. } => "command RegisterUser",
            Command::UnregisterUser { .. } => "command UnregisterUser",
            Command::RegisterRoom { .. } => "command RegisterRoom",
            Command::UnregisterRoom { .. } => "command UnregisterRoom",
            Command::Leave { .. } => "command Leave",
            Command::Relay { to, .. } => match to {
                RelayTarget::CallPeer(_) => "command Relay CallPeer",
                RelayTarget::RoomMember { .. } => "command Relay RoomMember",
                RelayTarget::Peer { .. } => "command Relay Peer",
                RelayTarget::User { .. } => "command Relay User",
            },
        },
    }
}

/// The first word of a value's `Debug` text: its variant's name. Writing
/// stops at the first delimiter, so a large event is not formatted whole.
fn variant<T: std::fmt::Debug>(value: &T) -> String {
    struct FirstWord(String);
    impl std::fmt::Write for FirstWord {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            match text.find([' ', '(', '{']) {
                Some(end) => {
                    self.0.push_str(&text[..end]);
                    Err(std::fmt::Error)
                }
                None => {
                    self.0.push_str(text);
                    Ok(())
                }
            }
        }
    }
    let mut word = FirstWord(String::new());
    let _ = std::fmt::write(&mut word, format_args!("{value:?}"));
    word.0
}

/// What an output says, for the coverage table: errors by kind, events by
/// kind, end reasons, namespace events.
fn outcomes(output: &Output) -> Vec<String> {
    let mut seen = vec![format!("event {}", variant(&output.event))];
    match &output.event {
        Event::Reply { result: Err(error), .. } => seen.push(format!("error {}", variant(error))),
        Event::CallDeclined { reason, .. }
        | Event::RingingStopped { reason, .. }
        | Event::CallEnded { reason, .. }
        | Event::PeerLeft { reason, .. } => seen.push(format!("reason {reason:?}")),
        Event::Namespace { event, .. } => seen.push(format!("namespace {}", variant(event))),
        _ => {}
    }
    seen
}

/// How a run failed: at which step, and why.
#[derive(Debug)]
struct Failure {
    step: usize,
    /// "panic" or the broken invariant's family, to tell failures apart
    /// while shrinking.
    class: String,
    message: String,
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Feeds one step and drains it; a panic or a broken invariant is a failure.
fn feed(core: &mut Core, start: Instant, step: &Step, index: usize) -> Result<Vec<Output>, Failure> {
    let input = step.input.clone();
    let fed = catch_unwind(AssertUnwindSafe(|| {
        core.handle_input(start + step.at, input);
        std::iter::from_fn(|| core.poll_output()).collect::<Vec<_>>()
    }));
    let outputs = fed.map_err(|panic| Failure {
        step: index,
        class: "panic".to_owned(),
        message: format!("panicked: {}", panic_text(&*panic)),
    })?;
    match core.check_invariants() {
        Ok(()) => Ok(outputs),
        Err(error) => Err(Failure { step: index, class: variant(&error), message: error.to_string() }),
    }
}

/// Feeds a recorded sequence into a fresh core.
fn replay(config: &CoreConfig, start: Instant, steps: &[Step]) -> Result<Vec<Vec<Output>>, Failure> {
    let mut core = Core::new(config.clone());
    steps.iter().enumerate().map(|(index, step)| feed(&mut core, start, step, index)).collect()
}

/// Removes steps (halves, then smaller chunks, then single steps) while the
/// sequence still fails the same way; returns the shortest found. Times
/// stay as recorded, so the clock still only moves forward.
fn shrink(config: &CoreConfig, start: Instant, mut steps: Vec<Step>, failure: &Failure) -> (Vec<Step>, Failure) {
    steps.truncate(failure.step + 1);
    // Panics are expected while shrinking; keep them off the test output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut last = None;
    let mut chunk = steps.len().div_ceil(2);
    while chunk > 0 {
        let mut at = 0;
        let mut removed = false;
        while at < steps.len() {
            let mut candidate = steps.clone();
            candidate.drain(at..(at + chunk).min(steps.len()));
            match replay(config, start, &candidate) {
                Err(found) if found.class == failure.class => {
                    candidate.truncate(found.step + 1);
                    steps = candidate;
                    last = Some(found);
                    removed = true;
                }
                _ => at += chunk,
            }
        }
        if !removed {
            chunk /= 2;
        }
    }
    std::panic::set_hook(hook);
    let failure = last.unwrap_or_else(|| replay(config, start, &steps).expect_err("it failed before shrinking"));
    (steps, failure)
}

fn report(seed: u64, config: &CoreConfig, steps: &[Step], failure: &Failure) -> String {
    let mut text =
        format!("seed {seed} ({config:?}) fails at step {} of {}: {}\n", failure.step, steps.len(), failure.message);
    for step in steps {
        text.push_str(&format!("  at {:?}: {:?}\n", step.at, step.input));
    }
    text
}

/// Runs one seed; returns its steps and the outputs of each.
fn run(seed: u64, steps: usize, start: Instant, coverage: &mut BTreeMap<String, u64>) -> (Vec<Step>, Vec<Vec<Output>>) {
    let mut model = Model::new(seed);
    let mut core = Core::new(model.config.clone());
    let mut recorded = Vec::with_capacity(steps);
    let mut outputs = Vec::with_capacity(steps);
    for index in 0..steps {
        let step = model.step(&core, start);
        *coverage.entry(input_kind(&step.input).to_owned()).or_default() += 1;
        recorded.push(step.clone());
        match feed(&mut core, start, &step, index) {
            Ok(out) => {
                for output in &out {
                    for outcome in outcomes(output) {
                        *coverage.entry(outcome).or_default() += 1;
                    }
                }
                model.observe(&step.input, &out);
                outputs.push(out);
            }
            Err(failure) => {
                let (minimal, failure) = shrink(&model.config, start, recorded, &failure);
                panic!("{}", report(seed, &model.config, &minimal, &failure));
            }
        }
    }
    (recorded, outputs)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// Every input kind, every command kind, and the collisions the pools are
/// there to cause must come up, or the model has stopped testing them.
const MUST_SEE: &[&str] = &[
    "input Connected",
    "input Disconnected",
    "input OpenRoom",
    "input Timeout",
    "command Register",
    "command SetStatus",
    "command Ping",
    "command Call",
    "command Invite",
    "command Accept",
    "command Reject",
    "command Cancel",
    "command CreateRoom",
    "command Join",
    "command SetPeerStatus",
    "command SetRoomStatus",
    "command Subscribe",
    "command Unsubscribe",
    "command RegisterUser",
    "command UnregisterUser",
    "command RegisterRoom",
    "command UnregisterRoom",
    "command Leave",
    "command Relay CallPeer",
    "command Relay RoomMember",
    "command Relay Peer",
    "command Relay User",
    "error NameTaken",
    "error Busy",
    "error AlreadyInCall",
    "error RoomFull",
    "error RoomInUse",
    "error AlreadyInRoom",
    "error OnlyInvited",
    "error NoSuchInvite",
    "error NoCallWith",
    "error UnknownPeer",
    "error MailboxFull",
    "error PeerPending",
    "error StatusMismatch",
    "error TooManyRooms",
    "error TooManyNamespaces",
    "error TooManyMailboxes",
    "error RingLimit",
    "event Replaced",
    "event Ringing",
    "event CallAccepted",
    "event CallEnded",
    "event Relayed",
    "event RoomStatusChanged",
    "reason Timeout",
    "reason Disconnected",
    "reason Cancelled",
    "reason AnsweredElsewhere",
    "namespace RoomAdded",
    "namespace RoomRemoved",
    "namespace UserRemoved",
    "namespace PeerAdded",
];

#[test]
fn random_inputs_keep_every_invariant_and_replay_identically() {
    let seeds = env_number("MODEL_SEEDS", SEEDS);
    let first = env_number("MODEL_FIRST_SEED", 1);
    let steps = env_number("MODEL_STEPS", STEPS as u64) as usize;
    let began = Instant::now();
    let mut coverage = BTreeMap::new();
    for seed in first..first + seeds {
        let start = Instant::now();
        let (recorded, outputs) = run(seed, steps, start, &mut coverage);

        // Determinism: the same inputs into a fresh core with the same
        // config give the same outputs and the same next deadline, step by
        // step.
        let mut core = Core::new(config_for(seed));
        for (index, (step, expected)) in recorded.iter().zip(&outputs).enumerate() {
            let again = feed(&mut core, start, step, index).unwrap_or_else(|failure| panic!("{failure:?}"));
            assert_eq!(&again, expected, "seed {seed}, step {index}: {:?} gave other outputs on replay", step.input);
        }
    }
    let total = seeds as usize * steps;
    println!("{total} steps in {seeds} runs, {:?} (with the replays)", began.elapsed());
    for (what, count) in &coverage {
        println!("{count:>8}  {what}");
    }
    if seeds * steps as u64 >= 50_000 {
        let missing: Vec<_> = MUST_SEE.iter().filter(|what| !coverage.contains_key(**what)).collect();
        assert!(missing.is_empty(), "the model never produced {missing:?}");
    }
}
