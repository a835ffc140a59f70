//! The core target: the fuzzer's bytes choose a sequence of inputs, from
//! small pools of users, rooms, namespaces, peer ids and sessions so that
//! commands collide (busy callees, full rooms, glare, taken names, relays to
//! peers that left), with the clock moving by chosen amounts, past the ring
//! timeout and the empty-room grace now and then. After every input the core
//! must not panic and [`Core::check_invariants`] must hold. (The seeded
//! model test of `switchboard-core`, `tests/model.rs`, walks the same ground
//! from a random generator, and checks determinism besides.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use switchboard_core::{
    CallStyle, Command, Core, CoreConfig, EndReason, Event, Input, InviteId, InviteRef, NamespaceId, Output, Payload,
    RelayTarget, Request, RoomId, RoomRef, SessionId, Signal, SignalKind, UserId,
};

const USERS: [&str; 4] = ["ann", "bob", "cat", "dan"];
const ROOMS: [&str; 3] = ["r1", "r2", "r3"];
const NAMESPACES: [&str; 2] = ["n1", "n2"];
/// Every call style, and none (a stand-in of another node), so that the
/// cross-dialect rules meet each other in one core.
const STYLES: [Option<CallStyle>; 5] =
    [None, Some(CallStyle::Rooms), Some(CallStyle::Signals), Some(CallStyle::MediaRoom), Some(CallStyle::Messages)];

const PEERS: [&str; 3] = ["p1", "p2", "p3"];
/// Sessions numbered 1 to this; a command may name one that is not open.
const SESSIONS: u128 = 6;
const PAYLOADS: [&str; 4] = ["null", "{}", r#"{"sdp":"v=0"}"#, r#""hi""#];
const REASONS: [EndReason; 4] = [EndReason::Hangup, EndReason::Rejected, EndReason::Busy, EndReason::Disconnected];

/// Feeds a fresh core the inputs `data` chooses, checking its invariants
/// after each.
///
/// # Panics
/// When the core panics, or an invariant breaks: a defect.
pub fn core(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let config = CoreConfig { seed: [3; 32], ..CoreConfig::default() };
    let (ring_timeout, empty_room_ttl) = (config.ring_timeout, config.empty_room_ttl);
    let mut core = Core::new(config);
    let mut now = Instant::now();
    // Invites seen in the outputs, to answer by id.
    let mut invites: Vec<InviteId> = Vec::new();
    while !u.is_empty() {
        let Ok(input) = next_input(&mut u, &mut now, (ring_timeout, empty_room_ttl), &invites) else { break };
        core.handle_input(now, input);
        while let Some(Output { event, .. }) = core.poll_output() {
            if let Event::Ringing { invite, .. } = event
                && invites.len() < 8
            {
                invites.push(invite);
            }
        }
        while core.poll_call_note().is_some() {}
        if let Err(broken) = core.check_invariants() {
            panic!("an invariant broke: {broken}");
        }
    }
}

fn next_input(
    u: &mut Unstructured<'_>,
    now: &mut Instant,
    (ring_timeout, empty_room_ttl): (Duration, Duration),
    invites: &[InviteId],
) -> Result<Input> {
    Ok(match u.int_in_range(0..=19)? {
        0..=2 => {
            let peer_id = if u.ratio(1, 2)? { Some(Arc::from(*u.choose(&PEERS)?)) } else { None };
            Input::Connected { session: session(u)?, peer_id, style: *u.choose(&STYLES)? }
        }
        3 => Input::Disconnected { session: session(u)? },
        4 => {
            *now += match u.int_in_range(0..=3)? {
                0 => Duration::from_millis(u.int_in_range(0..=2000)?),
                1 => ring_timeout,
                2 => empty_room_ttl,
                _ => Duration::ZERO,
            };
            Input::Timeout
        }
        5 => Input::OpenRoom { room: room(u)?, capacity: u.int_in_range(1..=3)? },
        _ => {
            let request = if u.arbitrary()? { Request::answered(u.arbitrary()?) } else { Request::quiet(0) };
            Input::Command { session: session(u)?, request, command: command(u, invites)? }
        }
    })
}

fn command(u: &mut Unstructured<'_>, invites: &[InviteId]) -> Result<Command> {
    Ok(match u.int_in_range(0..=20)? {
        0 => Command::Register { user: if u.ratio(4, 5)? { Some(user(u)?) } else { None }, shared: u.arbitrary()? },
        1 => Command::SetStatus { status: payload(u)? },
        2 => Command::Ping,
        3 => Command::Call { to: user(u)?, data: payload(u)? },
        4 => Command::Invite { room: room(u)?, to: user(u)?, data: payload(u)? },
        5 => Command::Accept { invite: invite(u, invites)?, status: maybe_payload(u)?, note: maybe_payload(u)? },
        6 => Command::Reject { invite: invite(u, invites)?, reason: *u.choose(&REASONS)?, note: maybe_payload(u)? },
        7 => Command::Cancel { invite: invite(u, invites)?, note: maybe_payload(u)? },
        8 => Command::EndCallWith { peer: user(u)?, reason: *u.choose(&REASONS)?, note: maybe_payload(u)? },
        9 => Command::CreateRoom { room: room(u)?, capacity: u.int_in_range(1..=3)? },
        10 => Command::Join {
            room: if u.ratio(4, 5)? { Some(room(u)?) } else { None },
            create: if u.arbitrary()? { Some(u.int_in_range(1..=3)?) } else { None },
            status: maybe_payload(u)?,
        },
        11 => Command::SetPeerStatus { room: room(u)?, status: maybe_payload(u)? },
        12 => Command::SetRoomStatus {
            room: room(u)?,
            key: Arc::from(*u.choose(&["a", "b"])?),
            value: maybe_payload(u)?,
            check: if u.arbitrary()? { Some(maybe_payload(u)?) } else { None },
        },
        13 => Command::Subscribe { namespace: namespace(u)? },
        14 => Command::Unsubscribe { namespace: namespace(u)? },
        15 => Command::RegisterUser { namespace: namespace(u)? },
        16 => Command::UnregisterUser { namespace: namespace(u)? },
        17 => Command::RegisterRoom { namespace: namespace(u)?, room: room(u)? },
        18 => Command::UnregisterRoom { namespace: namespace(u)?, room: room(u)? },
        19 => Command::Leave { room: if u.arbitrary()? { RoomRef::Id(room(u)?) } else { RoomRef::CallWith(user(u)?) } },
        _ => Command::Relay { to: relay_target(u)?, signal: signal(u)? },
    })
}

fn relay_target(u: &mut Unstructured<'_>) -> Result<RelayTarget> {
    Ok(match u.int_in_range(0..=3)? {
        0 => RelayTarget::CallPeer(user(u)?),
        1 => RelayTarget::RoomMember { room: room(u)?, user: user(u)? },
        2 => RelayTarget::Peer { room: room(u)?, peer: Arc::from(*u.choose(&PEERS)?) },
        _ => RelayTarget::User {
            user: user(u)?,
            peer: if u.arbitrary()? { Some(Arc::from(*u.choose(&PEERS)?)) } else { None },
        },
    })
}

fn signal(u: &mut Unstructured<'_>) -> Result<Signal> {
    let kind = match u.int_in_range(0..=3)? {
        0 => SignalKind::Offer,
        1 => SignalKind::Answer,
        2 => SignalKind::IceCandidate,
        _ => SignalKind::Custom(Arc::from("calling")),
    };
    Ok(Signal { kind, payload: payload(u)? })
}

fn invite(u: &mut Unstructured<'_>, invites: &[InviteId]) -> Result<InviteRef> {
    Ok(match u.int_in_range(0..=2)? {
        0 if !invites.is_empty() => InviteRef::Id(*u.choose(invites)?),
        0 => InviteRef::Id(InviteId(u.int_in_range(0..=3)?)),
        1 => InviteRef::From(user(u)?),
        _ => InviteRef::To(user(u)?),
    })
}

fn session(u: &mut Unstructured<'_>) -> Result<SessionId> {
    Ok(SessionId::new(u.int_in_range(1..=SESSIONS)?))
}

fn user(u: &mut Unstructured<'_>) -> Result<UserId> {
    Ok(UserId::parse(u.choose(&USERS)?).expect("a valid name"))
}

fn room(u: &mut Unstructured<'_>) -> Result<RoomId> {
    Ok(RoomId::parse(u.choose(&ROOMS)?).expect("a valid room"))
}

fn namespace(u: &mut Unstructured<'_>) -> Result<NamespaceId> {
    Ok(NamespaceId::parse(u.choose(&NAMESPACES)?).expect("a valid namespace"))
}

fn payload(u: &mut Unstructured<'_>) -> Result<Payload> {
    Ok(Payload::new(*u.choose(&PAYLOADS)?))
}

fn maybe_payload(u: &mut Unstructured<'_>) -> Result<Option<Payload>> {
    Ok(if u.arbitrary()? { Some(payload(u)?) } else { None })
}
