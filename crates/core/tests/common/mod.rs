//! A small world around one core: a test clock, session numbering, and
//! helpers that feed commands and collect what comes out.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use switchboard_core::*;

pub struct World {
    pub core: Core,
    pub now: Instant,
    next_session: u128,
}

pub fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub fn room(name: &str) -> RoomId {
    RoomId::parse(name).unwrap()
}

pub fn offer(sdp: &str) -> Signal {
    Signal { kind: SignalKind::Offer, payload: Payload::new(format!(r#"{{"type":"offer","sdp":"{sdp}"}}"#)) }
}

/// The event a relay from `session` (registered as `from`) gives.
pub fn relayed(room: &RoomId, from: &str, session: SessionId, signal: Signal) -> Event {
    let from_peer = session.to_string().into();
    Event::Relayed { room: Some(room.clone()), from: user(from), from_peer, from_status: None, signal }
}

impl World {
    pub fn new() -> Self {
        Self::with(CoreConfig::default())
    }

    pub fn with(config: CoreConfig) -> Self {
        // The test owns the clock; the core only ever sees this value.
        Self { core: Core::new(config), now: Instant::now(), next_session: 1 }
    }

    /// A session of no known call style: carried as before the
    /// cross-dialect rules, which tests of those rules ask for with
    /// [`World::connect_styled`].
    pub fn connect(&mut self) -> SessionId {
        self.connect_styled(None)
    }

    /// A session whose dialect calls in `style`.
    pub fn connect_styled(&mut self, style: Option<CallStyle>) -> SessionId {
        let session = SessionId::new(self.next_session);
        self.next_session += 1;
        self.feed(Input::Connected { session, peer_id: None, style });
        session
    }

    /// A connected session of `style` registered as `name`, its outputs drained.
    pub fn online_styled(&mut self, name: &str, style: CallStyle) -> SessionId {
        let session = self.connect_styled(Some(style));
        let out = self.send(session, Command::Register { user: Some(user(name)), shared: false });
        assert!(out.is_empty(), "registering {name}: {out:?}");
        session
    }

    /// A session the transport names `peer_id` (a socket.io id).
    pub fn connect_as(&mut self, peer_id: &str) -> SessionId {
        let session = SessionId::new(self.next_session);
        self.next_session += 1;
        self.feed(Input::Connected { session, peer_id: Some(peer_id.into()), style: None });
        session
    }

    /// A connected session registered as `name`, its outputs drained.
    pub fn online(&mut self, name: &str) -> SessionId {
        let session = self.connect();
        let out = self.send(session, Command::Register { user: Some(user(name)), shared: false });
        assert!(out.is_empty(), "registering {name}: {out:?}");
        session
    }

    /// Feeds a command answered only on failure, and returns the outputs.
    pub fn send(&mut self, session: SessionId, command: Command) -> Vec<Output> {
        self.feed(Input::Command { session, request: Request::quiet(9), command });
        self.drain()
    }

    /// Feeds a command answered either way, and returns the outputs.
    pub fn ask(&mut self, session: SessionId, command: Command) -> Vec<Output> {
        self.feed(Input::Command { session, request: Request::answered(9), command });
        self.drain()
    }

    pub fn disconnect(&mut self, session: SessionId) -> Vec<Output> {
        self.feed(Input::Disconnected { session });
        self.drain()
    }

    /// Moves the test clock forward and wakes the core, as the driver does.
    pub fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now += by;
        self.feed(Input::Timeout);
        self.drain()
    }

    /// Feeds one input at the test clock's time and checks the core's
    /// invariants after it, as every helper here does; the outputs stay
    /// queued for [`World::drain`].
    pub fn feed(&mut self, input: Input) {
        let shown = format!("{input:?}");
        self.core.handle_input(self.now, input);
        if let Err(error) = self.core.check_invariants() {
            panic!("the core broke an invariant after {shown}: {error}");
        }
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    /// alice calls bob and bob accepts; returns (alice, bob).
    pub fn accepted_call(&mut self) -> (SessionId, SessionId) {
        let alice = self.online("alice");
        let bob = self.online("bob");
        self.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
        let out = self.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
        assert!(matches!(out[0].event, Event::CallAccepted { .. }), "{out:?}");
        (alice, bob)
    }

    /// Asserts the core holds nothing but the given number of sessions.
    pub fn assert_clean(&self, sessions: usize, users: usize) {
        let stats = self.core.stats();
        assert_eq!(
            stats,
            Stats {
                sessions,
                users,
                rooms: 0,
                invites: 0,
                calls: 0,
                answered_calls: 0,
                deadlines: 0,
                namespaces: 0,
                held: 0,
                held_expired: 0
            }
        );
        assert_eq!(self.core.poll_timeout(), None);
    }
}

/// The single failure reply in `out`.
pub fn error_of(out: &[Output]) -> CommandError {
    match out {
        [Output { event: Event::Reply { result: Err(error), .. }, .. }] => error.clone(),
        other => panic!("expected one error reply, got {other:?}"),
    }
}
