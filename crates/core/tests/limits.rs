//! The core's bounds and ring rates: each refusal names the limit, changes
//! nothing, throttles only the one who passed it, and the bucket refills
//! with the core's clock.

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

fn join(w: &mut World, session: SessionId, name: &str) -> Vec<Output> {
    w.send(session, Command::Join { room: Some(room(name)), create: Some(2), status: None })
}

fn call(w: &mut World, session: SessionId, to: &str) -> Vec<Output> {
    w.send(session, Command::Call { to: user(to), data: Payload::null() })
}

#[test]
fn a_session_holds_at_most_rooms_per_session_places() {
    let mut w = World::with(CoreConfig { rooms_per_session: 2, ..CoreConfig::default() });
    let alice = w.online("alice");
    let bob = w.online("bob");
    assert!(join(&mut w, alice, "r1").iter().all(|o| !matches!(o.event, Event::Reply { result: Err(_), .. })));
    // An outgoing invite takes a place too.
    w.send(alice, Command::Invite { room: room("r2"), to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&join(&mut w, alice, "r3")), CommandError::TooManyRooms(2));
    assert_eq!(error_of(&call(&mut w, alice, "bob")), CommandError::TooManyRooms(2));
    assert!(!w.core.room_exists(&room("r3")), "a refused join makes no room");
    // Others are not limited by alice's places.
    let carol = w.online("carol");
    assert!(join(&mut w, carol, "r3").iter().all(|o| !matches!(o.event, Event::Reply { result: Err(_), .. })));
    // Leaving frees a place.
    w.send(alice, Command::Leave { room: RoomRef::Id(room("r1")) });
    assert!(join(&mut w, alice, "r4").iter().all(|o| !matches!(o.event, Event::Reply { result: Err(_), .. })));
    let _ = bob;
    w.core.check_invariants().unwrap();
}

#[test]
fn ringing_faster_than_the_ring_rate_is_refused_until_the_bucket_refills() {
    let rate = Rate { burst: 2, per_minute: 6 };
    let mut w = World::with(CoreConfig { ring_rate: rate, ..CoreConfig::default() });
    let alice = w.online("alice");
    let bob = w.online("bob");
    for _ in 0..2 {
        call(&mut w, alice, "bob");
        w.send(alice, Command::Cancel { invite: InviteRef::To(user("bob")), note: None });
    }
    assert_eq!(error_of(&call(&mut w, alice, "bob")), CommandError::RingLimit);
    assert_eq!(w.core.stats().invites, 0, "a refused call does not ring");

    // bob is not throttled by alice's ringing: he calls her at once.
    let out = call(&mut w, bob, "alice");
    assert!(out.iter().any(|o| o.to == alice && matches!(o.event, Event::Ringing { .. })));
    w.send(bob, Command::Cancel { invite: InviteRef::To(user("alice")), note: None });

    // One token comes back every 10 s.
    w.advance(Duration::from_secs(9));
    assert_eq!(error_of(&call(&mut w, alice, "bob")), CommandError::RingLimit);
    w.advance(Duration::from_secs(1));
    let out = call(&mut w, alice, "bob");
    assert!(out.iter().any(|o| o.to == bob && matches!(o.event, Event::Ringing { .. })));
    w.core.check_invariants().unwrap();
}

#[test]
fn making_rooms_counts_as_ringing_but_joining_existing_ones_does_not() {
    let rate = Rate { burst: 1, per_minute: 1 };
    let mut w = World::with(CoreConfig { ring_rate: rate, rooms_per_session: 100, ..CoreConfig::default() });
    let alice = w.online("alice");
    w.send(alice, Command::CreateRoom { room: room("a"), capacity: 2 });
    assert_eq!(error_of(&w.send(alice, Command::CreateRoom { room: room("b"), capacity: 2 })), CommandError::RingLimit);
    assert_eq!(error_of(&join(&mut w, alice, "c")), CommandError::RingLimit);
    assert!(!w.core.room_exists(&room("b")) && !w.core.room_exists(&room("c")));
    // Joining a room that exists takes no token.
    assert!(join(&mut w, alice, "a").iter().all(|o| !matches!(o.event, Event::Reply { result: Err(_), .. })));
}

#[test]
fn a_room_is_invited_into_at_most_the_room_invite_rate() {
    let rate = Rate { burst: 2, per_minute: 1 };
    let mut w = World::with(CoreConfig { room_invite_rate: rate, ..CoreConfig::default() });
    let alice = w.online("alice");
    for name in ["b1", "b2", "b3"] {
        w.online(name);
    }
    w.send(alice, Command::Join { room: Some(room("party")), create: Some(10), status: None });
    let invite = |w: &mut World, to: &str| {
        w.send(alice, Command::Invite { room: room("party"), to: user(to), data: Payload::null() })
    };
    assert!(invite(&mut w, "b1").iter().any(|o| matches!(o.event, Event::Ringing { .. })));
    assert!(invite(&mut w, "b2").iter().any(|o| matches!(o.event, Event::Ringing { .. })));
    assert_eq!(error_of(&invite(&mut w, "b3")), CommandError::RingLimit);
    // Another room has its own bucket.
    join(&mut w, alice, "other");
    let out = w.send(alice, Command::Invite { room: room("other"), to: user("b3"), data: Payload::null() });
    assert!(out.iter().any(|o| matches!(o.event, Event::Ringing { .. })));
    w.core.check_invariants().unwrap();
}

#[test]
fn a_sender_holds_mail_for_at_most_mailboxes_per_sender_offline_users() {
    let mut w = World::with(CoreConfig { mailboxes_per_sender: 2, ..CoreConfig::default() });
    let alice = w.connect_as("alice/a1");
    w.send(alice, Command::Register { user: Some(user("alice")), shared: true });
    let mail = |w: &mut World, to: &str| {
        let to = RelayTarget::User { user: user(to), peer: None };
        let signal = Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new("\"hi\"") };
        w.send(alice, Command::Relay { to, signal })
    };
    assert!(mail(&mut w, "made-up-1").is_empty());
    assert!(mail(&mut w, "made-up-2").is_empty());
    assert!(mail(&mut w, "made-up-1").is_empty(), "more mail to a mailbox it has mail in is fine");
    assert_eq!(error_of(&mail(&mut w, "made-up-3")), CommandError::TooManyMailboxes(2));
    assert_eq!(w.core.stats().held, 3);
    // Another sender is not limited by alice's mailboxes.
    let carol = w.connect_as("carol/c1");
    w.send(carol, Command::Register { user: Some(user("carol")), shared: true });
    let to = RelayTarget::User { user: user("made-up-3"), peer: None };
    let signal = Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new("\"hi\"") };
    assert!(w.send(carol, Command::Relay { to, signal }).is_empty());
    // Once made-up-1 connects and takes its mail, alice may write to another.
    let device = w.connect_as("made-up-1/d");
    w.send(device, Command::Register { user: Some(user("made-up-1")), shared: true });
    assert!(mail(&mut w, "made-up-4").is_empty());
    // Expired mail frees its mailbox too.
    w.advance(Duration::from_secs(31));
    assert_eq!(w.core.stats().held, 0);
    assert!(mail(&mut w, "made-up-5").is_empty());
    assert!(mail(&mut w, "made-up-6").is_empty());
    w.core.check_invariants().unwrap();
}

#[test]
fn namespaces_are_bounded_per_session_user_and_room() {
    let mut w = World::with(CoreConfig { namespaces_per_entry: 2, ..CoreConfig::default() });
    let alice = w.online("alice");
    let ns = |name: &str| NamespaceId::parse(name).unwrap();
    for name in ["n1", "n2"] {
        w.send(alice, Command::Subscribe { namespace: ns(name) });
        w.send(alice, Command::RegisterUser { namespace: ns(name) });
    }
    assert_eq!(
        error_of(&w.send(alice, Command::Subscribe { namespace: ns("n3") })),
        CommandError::TooManyNamespaces(2)
    );
    assert_eq!(
        error_of(&w.send(alice, Command::RegisterUser { namespace: ns("n3") })),
        CommandError::TooManyNamespaces(2)
    );
    // The refusal for a duplicate still says so.
    assert_eq!(
        error_of(&w.send(alice, Command::Subscribe { namespace: ns("n1") })),
        CommandError::AlreadySubscribed(ns("n1"))
    );
    join(&mut w, alice, "r");
    for name in ["n1", "n2"] {
        w.send(alice, Command::RegisterRoom { namespace: ns(name), room: room("r") });
    }
    assert_eq!(
        error_of(&w.send(alice, Command::RegisterRoom { namespace: ns("n3"), room: room("r") })),
        CommandError::TooManyNamespaces(2)
    );
    assert_eq!(w.core.stats().namespaces, 2, "no namespace n3 was made");
    w.core.check_invariants().unwrap();
}
