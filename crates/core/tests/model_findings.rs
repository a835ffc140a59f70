//! Regression tests for what the random model test (`tests/model.rs`) found,
//! each the shrunk input sequence it printed. The `World` checks the core's
//! invariants after every input, so each of these also fails on the
//! invariant that broke.

mod common;

use common::*;
use switchboard_core::*;

/// Found as "namespace room: n1 lists room r, which does not exist": a room
/// registered in a namespace while empty stayed listed after it expired.
#[test]
fn an_empty_room_registered_in_a_namespace_is_unlisted_when_it_expires() {
    let mut w = World::new();
    let n1 = NamespaceId::parse("n1").unwrap();
    let a = w.online("a");
    let watcher = w.online("w");
    w.send(watcher, Command::Subscribe { namespace: n1.clone() });
    // An empty room (opened, or created and not joined) can be registered.
    w.feed(Input::OpenRoom { room: room("r"), capacity: 2 });
    let out = w.send(a, Command::RegisterRoom { namespace: n1.clone(), room: room("r") });
    assert!(matches!(&out[..], [Output { event: Event::Namespace { .. }, .. }]), "{out:?}");

    // When it expires it leaves the namespace, and the subscribers are told.
    let out = w.advance(CoreConfig::default().empty_room_ttl);
    assert!(!w.core.room_exists(&room("r")));
    assert_eq!(
        out,
        [Output {
            to: watcher,
            event: Event::Namespace { namespace: n1.clone(), event: NamespaceEvent::RoomRemoved { room: room("r") } }
        }]
    );
    // The namespace does not list it, and once its last subscriber goes the
    // namespace goes too (it used to be held by the ghost room for ever).
    let out = w.ask(watcher, Command::Subscribe { namespace: NamespaceId::parse("n1").unwrap() });
    assert_eq!(error_of(&out), CommandError::AlreadySubscribed(n1.clone()));
    w.send(watcher, Command::Unsubscribe { namespace: n1.clone() });
    let out = w.ask(watcher, Command::Subscribe { namespace: n1.clone() });
    assert!(
        matches!(&out[..], [Output { event: Event::Reply { result: Ok(Reply::Subscribed { rooms, .. }), .. }, .. }] if rooms.is_empty()),
        "{out:?}"
    );
    w.send(watcher, Command::Unsubscribe { namespace: n1 });
    w.assert_clean(2, 2);
}

/// Found as "room: room r2 has 1 members and 0 invitees in 0 places": a
/// join that created its room with capacity 0 (tringtring with
/// `--room-capacity 0`) admitted the joiner.
#[test]
fn a_join_that_would_create_a_room_with_no_place_is_refused() {
    let mut w = World::new();
    let a = w.online("a");
    let out = w.send(a, Command::Join { room: Some(room("r")), create: Some(0), status: None });
    assert_eq!(error_of(&out), CommandError::RoomFull(room("r")));
    assert!(!w.core.room_exists(&room("r")), "a refused join creates nothing");
    // As for a room created with no place first.
    w.send(a, Command::CreateRoom { room: room("r"), capacity: 0 });
    let out = w.send(a, Command::Join { room: Some(room("r")), create: Some(0), status: None });
    assert_eq!(error_of(&out), CommandError::RoomFull(room("r")));
    w.advance(CoreConfig::default().empty_room_ttl);
    w.assert_clean(1, 1);
}

/// A second `Connected` for a live session (a driver bug) with another peer
/// id would have left that peer id pointing at the session for ever; it is
/// ignored.
#[test]
fn a_session_that_connects_twice_keeps_its_first_peer_id() {
    let mut w = World::new();
    let a = w.connect_as("sid-a");
    w.feed(Input::Connected { session: a, peer_id: Some("sid-x".into()), style: Some(CallStyle::Signals) });
    let b = w.connect_as("sid-x");
    w.send(a, Command::Register { user: Some(user("a")), shared: false });
    w.send(b, Command::Register { user: Some(user("b")), shared: false });
    w.send(a, Command::Join { room: Some(room("r")), create: Some(2), status: None });
    let out = w.send(b, Command::Join { room: Some(room("r")), create: None, status: None });
    let Event::PeerJoined { peer, .. } = &out[0].event else { panic!("{out:?}") };
    assert_eq!(peer.peer_id.as_deref(), Some("sid-x"), "b holds sid-x, untouched by a's repeat");
    w.disconnect(a);
    assert_eq!(w.core.stats().sessions, 1);
}
