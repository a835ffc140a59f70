//! Unit tests of `Core::check_invariants` (`crates/core/src/invariants.rs`):
//! a core driven to a busy state passes, and breaking one side of a
//! back-index on purpose is caught and named. They live here, outside `src/`,
//! because they read the test clock (`Instant::now`), which the core's own
//! source never does (`tests/relay_and_rooms.rs` checks that). A part's own
//! indexes are broken through its test-only `break_*` methods (its fields are
//! private); a drift between parts through the parts' ordinary methods,
//! called behind the core's back.

use std::time::{Duration, Instant};

use super::*;
use crate::{CallStyle, Command, CoreConfig, Input, NamespaceId, Payload, Request, SessionId};

fn command(core: &mut Core, now: Instant, session: SessionId, command: Command) {
    core.handle_input(now, Input::Command { session, request: Request::quiet(0), command });
    while core.poll_output().is_some() {}
}

/// Two sessions, a and b, in the named room "r", which is listed in the
/// namespace "ns"; c calls d, which rings.
fn busy_core(now: Instant) -> (Core, [SessionId; 4]) {
    let mut core = Core::new(CoreConfig::default());
    let sessions = [SessionId::new(1), SessionId::new(2), SessionId::new(3), SessionId::new(4)];
    for (session, name) in sessions.into_iter().zip(["a", "b", "c", "d"]) {
        core.handle_input(now, Input::Connected { session, peer_id: None, style: Some(CallStyle::Signals) });
        let user = Some(UserId::parse(name).unwrap());
        command(&mut core, now, session, Command::Register { user, shared: false });
    }
    let [a, b, c, _] = sessions;
    let room = Some(RoomId::parse("r").unwrap());
    command(&mut core, now, a, Command::Join { room: room.clone(), create: Some(4), status: None });
    command(&mut core, now, b, Command::Join { room, create: None, status: None });
    let namespace = NamespaceId::parse("ns").unwrap();
    command(&mut core, now, a, Command::RegisterRoom { namespace, room: RoomId::parse("r").unwrap() });
    let to = UserId::parse("d").unwrap();
    command(&mut core, now, c, Command::Call { to, data: Payload::null() });
    (core, sessions)
}

#[test]
fn a_consistent_core_passes() {
    let now = Instant::now();
    let (core, [a, b, ..]) = busy_core(now);
    let room = core.rooms.get(&RoomId::parse("r").unwrap()).unwrap();
    let members: Vec<SessionId> = room.members().iter().map(|m| m.session()).collect();
    assert_eq!(members, [a, b]);
    assert_eq!(core.stats().invites, 1);
    assert_eq!(core.check_invariants(), Ok(()));
}

#[test]
fn a_member_missing_from_its_room_is_caught() {
    let now = Instant::now();
    let (mut core, [_, b, ..]) = busy_core(now);
    let room = RoomId::parse("r").unwrap();
    // Take b out of the room but leave the room in b's list.
    core.rooms.break_membership(&room, b);
    let error = core.check_invariants().unwrap_err();
    assert!(
        matches!(&error, InvariantError::Membership(text) if text.contains("SessionId([0, 2])") && text.contains("\"r\"")),
        "{error}"
    );
}

#[test]
fn a_room_missing_from_its_namespace_is_caught() {
    let now = Instant::now();
    let (mut core, [a, ..]) = busy_core(now);
    let namespace = NamespaceId::parse("ns").unwrap();
    // The namespace forgets the room, which still lists the namespace.
    // (A subscriber comes first so the namespace is not simply empty.)
    command(&mut core, now, a, Command::Subscribe { namespace: namespace.clone() });
    assert_eq!(core.check_invariants(), Ok(()));
    core.namespaces.break_rooms(&namespace);
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::NamespaceRoom(text) if text.contains("\"ns\"")), "{error}");
}

#[test]
fn a_lost_ring_deadline_is_caught() {
    let now = Instant::now();
    let (mut core, _) = busy_core(now);
    // The call rings, but its ring timeout is gone: it would ring forever.
    core.deadlines.drop_where(|what| matches!(what, Deadline::Ring(_)));
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::Deadline(text) if text.contains("rings until")), "{error}");
    // A deadline left behind for an invite that is gone is caught too.
    let (mut core, _) = busy_core(now);
    core.deadlines.set(now + Duration::from_secs(1), Deadline::Ring(crate::InviteId(99)));
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::Deadline(text) if text.contains("InviteId(99)")), "{error}");
}

#[test]
fn a_session_closed_behind_the_other_parts_is_caught() {
    let now = Instant::now();
    let (mut core, [_, b, ..]) = busy_core(now);
    // Forget b's connection but not its name nor its room.
    core.sessions.remove(b);
    let error = core.check_invariants().unwrap_err();
    assert!(
        matches!(&error, InvariantError::SessionUser(text) if text.contains("SessionId([0, 2])") && text.contains("not a live session")),
        "{error}"
    );
}

#[test]
fn drifts_inside_each_part_are_caught() {
    let now = Instant::now();
    let (mut core, [a, ..]) = busy_core(now);
    core.sessions.break_peer_id(a);
    assert!(matches!(core.check_invariants(), Err(InvariantError::PeerId(_))));

    let (mut core, [a, ..]) = busy_core(now);
    core.users.break_user_of(a);
    assert!(matches!(core.check_invariants(), Err(InvariantError::SessionUser(text)) if text.contains("\"a\"")));

    // The call from c still rings d, but d no longer lists it.
    let (mut core, _) = busy_core(now);
    core.invites.break_incoming(&UserId::parse("d").unwrap());
    assert!(matches!(core.check_invariants(), Err(InvariantError::Incoming(text)) if text.contains("\"d\"")));
}
