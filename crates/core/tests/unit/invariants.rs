//! Unit tests of `Core::check_invariants` (`crates/core/src/invariants.rs`):
//! a core driven to a busy state passes, and breaking one side of a
//! back-index on purpose is caught and named. They live here, outside `src/`,
//! because they read the test clock (`Instant::now`), which the core's own
//! source never does (`tests/relay_and_rooms.rs` checks that); they reach the
//! private maps as a child module of `invariants`.

use std::time::{Duration, Instant};

use super::*;
use crate::{Command, CoreConfig, Input, NamespaceId, Payload, Request, SessionId};

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
        core.handle_input(now, Input::Connected { session, peer_id: None });
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
    let members: Vec<SessionId> = core.rooms[&RoomId::parse("r").unwrap()].members.iter().map(|m| m.session).collect();
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
    core.rooms.get_mut(&room).unwrap().members.retain(|m| m.session != b);
    let error = core.check_invariants().unwrap_err();
    assert!(
        matches!(&error, InvariantError::Membership(text) if text.contains("SessionId([0, 2])") && text.contains("\"r\"")),
        "{error}"
    );
}

#[test]
fn a_room_missing_from_its_namespace_is_caught() {
    let now = Instant::now();
    let (mut core, _) = busy_core(now);
    let namespace = NamespaceId::parse("ns").unwrap();
    // The namespace forgets the room, which still lists the namespace.
    // (A subscriber is added first so the namespace is not simply empty.)
    core.namespaces.get_mut(&namespace).unwrap().subscribers.push(SessionId::new(1));
    core.sessions.get_mut(&SessionId::new(1)).unwrap().subscriptions.push(namespace.clone());
    assert_eq!(core.check_invariants(), Ok(()));
    core.namespaces.get_mut(&namespace).unwrap().rooms.clear();
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::NamespaceRoom(text) if text.contains("\"ns\"")), "{error}");
}

#[test]
fn a_lost_ring_deadline_is_caught() {
    let now = Instant::now();
    let (mut core, _) = busy_core(now);
    // The call rings, but its ring timeout is gone: it would ring forever.
    core.deadlines.retain(|(_, what)| !matches!(what, Deadline::Ring(_)));
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::Deadline(text) if text.contains("rings until")), "{error}");
    // A deadline left behind for an invite that is gone is caught too.
    let (mut core, _) = busy_core(now);
    core.deadlines.insert((now + Duration::from_secs(1), Deadline::Ring(crate::InviteId(99))));
    let error = core.check_invariants().unwrap_err();
    assert!(matches!(&error, InvariantError::Deadline(text) if text.contains("InviteId(99)")), "{error}");
}
