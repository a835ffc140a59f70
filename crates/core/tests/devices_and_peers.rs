//! A user on several devices (cloudkibo phones), rooms created before they
//! are joined and peers addressed by peer id or session (the socket.io
//! dialects).

mod common;

use std::sync::Arc;

use common::*;
use switchboard_core::*;

fn shared(w: &mut World, name: &str) -> SessionId {
    let session = w.connect();
    assert!(w.send(session, Command::Register { user: Some(user(name)), shared: true }).is_empty());
    session
}

#[test]
fn a_shared_name_rings_every_device_and_one_answer_stops_the_others() {
    let mut w = World::new();
    let caller = shared(&mut w, "+100");
    let phone_a = shared(&mut w, "+200");
    let phone_b = shared(&mut w, "+200");
    // An exclusive registration cannot join a shared name, nor the reverse.
    let other = w.connect();
    let out = w.send(other, Command::Register { user: Some(user("+200")), shared: false });
    assert_eq!(error_of(&out), CommandError::NameTaken(user("+200")));

    let out = w.send(caller, Command::Call { to: user("+200"), data: Payload::null() });
    let rung: Vec<SessionId> = out.iter().filter(|o| matches!(o.event, Event::Ringing { .. })).map(|o| o.to).collect();
    assert_eq!(rung, vec![phone_a, phone_b]);

    let out = w.send(phone_b, Command::Accept { invite: InviteRef::From(user("+100")), status: None, note: None });
    assert!(matches!(&out[0], Output { to, event: Event::CallAccepted { .. } } if *to == caller));
    assert!(
        matches!(&out[1], Output { to, event: Event::RingingStopped { reason: EndReason::AnsweredElsewhere, .. } } if *to == phone_a)
    );

    // One device going away keeps the name online; the last one takes it.
    w.disconnect(phone_a);
    assert_eq!(w.core.stats().users, 2);
    let out = w.disconnect(phone_b);
    assert!(
        matches!(&out[0], Output { to, event: Event::CallEnded { reason: EndReason::Disconnected, .. } } if *to == caller)
    );
    assert_eq!(w.core.stats().users, 1);
}

#[test]
fn a_callee_can_say_it_is_busy() {
    let mut w = World::new();
    let caller = w.online("a");
    let callee = w.online("b");
    w.send(caller, Command::Call { to: user("b"), data: Payload::null() });
    let out =
        w.send(callee, Command::Reject { invite: InviteRef::From(user("a")), reason: EndReason::Busy, note: None });
    assert!(
        matches!(&out[0], Output { to, event: Event::CallDeclined { reason: EndReason::Busy, .. } } if *to == caller)
    );
}

#[test]
fn a_room_is_created_before_it_is_joined_and_kept_for_the_grace_period() {
    let mut w = World::new();
    let a = w.online("a");
    let b = w.online("b");
    assert!(w.send(a, Command::CreateRoom { room: room("7"), capacity: 2 }).is_empty());
    assert!(w.core.room_exists(&room("7")));
    assert!(
        w.send(b, Command::CreateRoom { room: room("7"), capacity: 2 }).is_empty(),
        "an empty room can be taken over"
    );
    w.send(a, Command::Join { room: Some(room("7")), create: None, status: None });
    assert_eq!(
        error_of(&w.send(b, Command::CreateRoom { room: room("7"), capacity: 2 })),
        CommandError::RoomInUse(room("7"))
    );

    // Nobody ever joins a created room: it goes after the grace period.
    w.send(b, Command::CreateRoom { room: room("8"), capacity: 2 });
    w.advance(CoreConfig::default().empty_room_ttl);
    assert!(!w.core.room_exists(&room("8")));
    assert!(w.core.room_exists(&room("7")));
}

#[test]
fn a_room_opened_outside_any_session_is_joined_later_or_expires() {
    let mut w = World::new();
    w.feed(Input::OpenRoom { room: room("230610"), capacity: 2 });
    assert!(w.drain().is_empty());
    assert!(w.core.room_exists(&room("230610")));
    let a = w.online("a");
    let b = w.online("b");
    let c = w.online("c");
    w.send(a, Command::Join { room: Some(room("230610")), create: None, status: None });
    w.send(b, Command::Join { room: Some(room("230610")), create: None, status: None });
    // Opening it again changes nothing: its peers stay, and it is still full.
    w.feed(Input::OpenRoom { room: room("230610"), capacity: 5 });
    assert_eq!(
        error_of(&w.send(c, Command::Join { room: Some(room("230610")), create: None, status: None })),
        CommandError::RoomFull(room("230610"))
    );

    w.feed(Input::OpenRoom { room: room("9"), capacity: 2 });
    w.advance(CoreConfig::default().empty_room_ttl);
    assert!(!w.core.room_exists(&room("9")), "nobody joined: gone after the grace period");
    assert!(w.core.room_exists(&room("230610")));
}

#[test]
fn peers_are_addressed_by_peer_id_within_a_room_and_numbered_by_it() {
    let mut w = World::new();
    let a = w.connect_as("sid-a");
    let b = w.connect_as("sid-b");
    let c = w.connect_as("sid-c");
    for (session, name) in [(a, "a"), (b, "b"), (c, "c")] {
        w.send(session, Command::Register { user: Some(user(name)), shared: false });
    }
    w.send(a, Command::Join { room: Some(room("r")), create: Some(2), status: None });
    let out = w.send(b, Command::Join { room: Some(room("r")), create: None, status: None });
    let Event::PeerJoined { peer, size, .. } = &out[0].event else { panic!("{out:?}") };
    assert_eq!((peer.peer_id.as_deref(), peer.member, *size), (Some("sid-b"), Some(2), 2));

    let to_b = RelayTarget::Peer { room: room("r"), peer: Arc::from("sid-b") };
    let out = w.send(a, Command::Relay { to: to_b, signal: offer("x") });
    assert_eq!(out.len(), 1);
    assert!(
        matches!(&out[0], Output { to, event: Event::Relayed { from_peer, .. } } if *to == b && &**from_peer == "sid-a")
    );
    let to_a = RelayTarget::Peer { room: room("r"), peer: Arc::from("sid-a") };
    let out = w.send(b, Command::Relay { to: to_a, signal: offer("y") });
    assert_eq!(out[0].to, a);

    // Nobody outside the room, and nobody unknown, is reached.
    let to_c = RelayTarget::Peer { room: room("r"), peer: Arc::from("sid-c") };
    assert_eq!(
        error_of(&w.send(a, Command::Relay { to: to_c, signal: offer("x") })),
        CommandError::UnknownPeer("sid-c".into())
    );
    let to_a = RelayTarget::Peer { room: room("r"), peer: Arc::from("sid-a") };
    assert_eq!(
        error_of(&w.send(c, Command::Relay { to: to_a, signal: offer("x") })),
        CommandError::NotInRoom(room("r"))
    );
    let to_self = RelayTarget::Peer { room: room("r"), peer: Arc::from("sid-a") };
    assert!(matches!(
        error_of(&w.send(a, Command::Relay { to: to_self, signal: offer("x") })),
        CommandError::UnknownPeer(_)
    ));

    let out = w.disconnect(a);
    assert!(matches!(&out[0].event, Event::PeerLeft { peer_id: Some(id), member: Some(1), .. } if &**id == "sid-a"));

    // A newcomer gets the next number: numbers count up, never reused
    // before the counter wraps (at 2^31), so a stale id reaches nobody.
    let out = w.ask(c, Command::Join { room: Some(room("r")), create: None, status: None });
    let joined = out.iter().find_map(|o| match &o.event {
        Event::Reply { result: Ok(Reply::Joined(view)), .. } => Some(view.member),
        _ => None,
    });
    assert_eq!(joined, Some(Some(3)), "numbers count up: {out:?}");
}

fn device(w: &mut World, user_name: &str, client: &str) -> SessionId {
    let session = w.connect_as(&format!("{user_name}/{client}"));
    w.send(session, Command::Register { user: Some(user(user_name)), shared: true });
    session
}

fn message(text: &str) -> Signal {
    Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new(format!("{text:?}")) }
}

#[test]
fn the_message_channel_reaches_every_device_of_the_callee_and_the_callers_others() {
    let mut w = World::new();
    let alice_1 = device(&mut w, "alice", "a1");
    let alice_2 = device(&mut w, "alice", "a2");
    let bob_1 = device(&mut w, "bob", "b1");
    let bob_2 = device(&mut w, "bob", "b2");
    let to_bob = RelayTarget::User { user: user("bob"), peer: None };
    let out = w.send(alice_1, Command::Relay { to: to_bob, signal: message("setup") });
    let reached: Vec<SessionId> = out.iter().map(|o| o.to).collect();
    assert_eq!(reached, vec![bob_1, bob_2, alice_2], "never back to the sender");
    assert!(matches!(&out[0].event, Event::Relayed { room: None, from_peer, .. } if &**from_peer == "alice/a1"));

    // One device only.
    let to_b2 = RelayTarget::User { user: user("bob"), peer: Some("bob/b2".into()) };
    let out = w.send(alice_1, Command::Relay { to: to_b2, signal: message("x") });
    assert_eq!(out.iter().map(|o| o.to).collect::<Vec<_>>(), vec![bob_2, alice_2]);
    let to_nobody = RelayTarget::User { user: user("bob"), peer: Some("bob/b9".into()) };
    assert_eq!(
        error_of(&w.send(alice_1, Command::Relay { to: to_nobody, signal: message("x") })),
        CommandError::UnknownPeer("bob/b9".into())
    );
}

#[test]
fn messages_for_an_offline_user_are_held_until_a_device_connects_or_the_ring_timeout() {
    let mut w = World::with(CoreConfig { mailbox_messages: 2, ..CoreConfig::default() });
    let alice = device(&mut w, "alice", "a1");
    let to_bob = || RelayTarget::User { user: user("bob"), peer: None };
    assert!(w.send(alice, Command::Relay { to: to_bob(), signal: message("one") }).is_empty());
    assert!(w.send(alice, Command::Relay { to: to_bob(), signal: message("two") }).is_empty());
    assert_eq!(
        error_of(&w.send(alice, Command::Relay { to: to_bob(), signal: message("three") })),
        CommandError::MailboxFull(user("bob"))
    );
    assert_eq!(w.core.stats().held, 2);

    // bob connects 5 s later and gets both, in order.
    w.advance(std::time::Duration::from_secs(5));
    let bob = w.connect_as("bob/b1");
    let out = w.send(bob, Command::Register { user: Some(user("bob")), shared: true });
    let texts: Vec<&str> = out
        .iter()
        .map(|o| match &o.event {
            Event::Relayed { signal, .. } => signal.payload.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, vec!["\"one\"", "\"two\""]);
    assert_eq!((w.core.stats().held, w.core.poll_timeout()), (0, None));

    // Held for nobody: dropped and counted after the ring timeout.
    w.send(
        alice,
        Command::Relay { to: RelayTarget::User { user: user("carol"), peer: None }, signal: message("late") },
    );
    w.advance(std::time::Duration::from_secs(29));
    assert_eq!(w.core.held_for(&user("carol")), 1);
    w.advance(std::time::Duration::from_secs(1));
    assert_eq!((w.core.stats().held, w.core.stats().held_expired), (0, 1));
}

#[test]
fn the_same_device_connecting_again_replaces_the_older_connection() {
    let mut w = World::new();
    let older = device(&mut w, "bob", "b1");
    let other = device(&mut w, "bob", "b2");
    let newer = w.connect_as("bob/b1");
    assert_eq!(w.drain(), vec![Output { to: older, event: Event::Replaced }]);
    assert_eq!(w.core.user_of(older), None, "the older session is gone");
    assert_eq!(w.core.stats().sessions, 2);
    // The newer one takes the device's place; messages to it reach it.
    w.send(newer, Command::Register { user: Some(user("bob")), shared: true });
    let alice = device(&mut w, "alice", "a1");
    let to_b1 = RelayTarget::User { user: user("bob"), peer: Some("bob/b1".into()) };
    let out = w.send(alice, Command::Relay { to: to_b1, signal: message("hi") });
    assert_eq!(out.iter().map(|o| o.to).collect::<Vec<_>>(), vec![newer]);
    let _ = other;
}
