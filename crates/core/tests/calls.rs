//! 1:1 calls: ringing, answers, busy, ring timeout, hangup and disconnects.

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

#[test]
fn registering_claims_a_unique_name_once() {
    let mut w = World::new();
    let alice = w.connect();
    let out = w.ask(alice, Command::Register { user: Some(user("alice")), shared: false });
    assert_eq!(
        out[0].event,
        Event::Reply { tag: 9, result: Ok(Reply::Registered { user: user("alice"), drawn: false }) }
    );

    let other = w.connect();
    let out = w.send(other, Command::Register { user: Some(user("alice")), shared: false });
    assert_eq!(error_of(&out), CommandError::NameTaken(user("alice")));

    let out = w.send(alice, Command::Register { user: Some(user("alice2")), shared: false });
    assert_eq!(error_of(&out), CommandError::AlreadyRegistered(user("alice")));

    // The name is free again once its session is gone.
    w.disconnect(alice);
    assert!(w.send(other, Command::Register { user: Some(user("alice")), shared: false }).is_empty());
}

#[test]
fn a_drawn_name_is_a_fresh_uuid() {
    let mut w = World::new();
    let a = w.connect();
    let b = w.connect();
    let name_of = |out: Vec<Output>| match &out[0].event {
        Event::Reply { result: Ok(Reply::Registered { user, drawn: true }), .. } => user.clone(),
        other => panic!("{other:?}"),
    };
    let first = name_of(w.ask(a, Command::Register { user: None, shared: false }));
    let second = name_of(w.ask(b, Command::Register { user: None, shared: false }));
    assert_ne!(first, second);
    for name in [&first, &second] {
        let text = name.as_str();
        assert_eq!(text.len(), 36, "{text}");
        assert_eq!(&text[14..15], "4", "version nibble of {text}");
    }
}

#[test]
fn commands_before_registering_are_refused() {
    let mut w = World::new();
    let s = w.connect();
    for command in [
        Command::Call { to: user("bob"), data: Payload::null() },
        Command::Accept { invite: InviteRef::From(user("bob")), status: None, note: None },
        Command::SetStatus { status: Payload::new("{}") },
        Command::Relay { to: RelayTarget::CallPeer(user("bob")), signal: offer("x") },
        Command::Join { room: Some(room("r")), create: Some(2), status: None },
    ] {
        assert_eq!(error_of(&w.send(s, command)), CommandError::NotRegistered);
    }
    w.assert_clean(1, 0);
}

#[test]
fn a_call_rings_and_is_accepted() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");

    let out = w.ask(alice, Command::Call { to: user("bob"), data: Payload::new(r#"{"video":true}"#) });
    let [ring, reply] = &out[..] else { panic!("{out:?}") };
    assert_eq!(ring.to, bob);
    let Event::Ringing { invite, room, from, data, .. } = &ring.event else { panic!("{ring:?}") };
    assert_eq!((from, data.as_str()), (&user("alice"), r#"{"video":true}"#));
    // The invitee sees the room as it is: the caller in it, no status.
    assert_eq!(room.peers.len(), 1);
    assert_eq!((&room.peers[0].user, room.peers[0].pending), (&user("alice"), false));
    let room = &room.id;
    assert_eq!(
        reply.event,
        Event::Reply { tag: 9, result: Ok(Reply::Calling { invite: *invite, room: room.clone() }) }
    );

    let out = w.send(bob, Command::Accept { invite: InviteRef::Id(*invite), status: None, note: None });
    assert_eq!(
        out,
        vec![Output {
            to: alice,
            event: Event::CallAccepted {
                invite: *invite,
                room: room.clone(),
                by: user("bob"),
                note: None,
                by_style: None
            }
        }]
    );
    assert_eq!(w.core.stats().rooms, 1);
    assert_eq!(w.core.poll_timeout(), None, "an answered call has no ring deadline");
}

#[test]
fn calling_an_unknown_user_or_oneself_fails() {
    let mut w = World::new();
    let alice = w.online("alice");
    let out = w.send(alice, Command::Call { to: user("nobody"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::UnknownUser(user("nobody")));
    let out = w.send(alice, Command::Call { to: user("alice"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::SelfCall);
    w.assert_clean(1, 1);
}

#[test]
fn a_callee_who_is_ringing_or_in_a_call_is_busy() {
    let mut w = World::new();
    let (_alice, _bob) = w.accepted_call();
    let carol = w.online("carol");
    let out = w.send(carol, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("bob")));

    let dave = w.online("dave");
    let erin = w.online("erin");
    w.send(dave, Command::Call { to: user("erin"), data: Payload::null() });
    // erin rings, so carol cannot reach her; and dave, who is calling, is busy too.
    let out = w.send(carol, Command::Call { to: user("erin"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("erin")));
    let out = w.send(carol, Command::Call { to: user("dave"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("dave")));
    // A caller in a call cannot make a second one, nor a ringing callee.
    let out = w.send(dave, Command::Call { to: user("carol"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::AlreadyInCall);
    let out = w.send(erin, Command::Call { to: user("carol"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::AlreadyInCall);
}

#[test]
fn rejecting_tells_the_caller_and_frees_both() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w
        .send(bob, Command::Reject { invite: InviteRef::From(user("alice")), reason: EndReason::Rejected, note: None });
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallDeclined { by, reason: EndReason::Rejected, .. } }] if *to == alice && *by == user("bob")),
        "{out:?}"
    );
    w.assert_clean(2, 2);
    // Both can call again.
    let out = w.send(bob, Command::Call { to: user("alice"), data: Payload::null() });
    assert!(matches!(out[0].event, Event::Ringing { .. }));
}

#[test]
fn cancelling_stops_the_ringing() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.send(alice, Command::Cancel { invite: InviteRef::To(user("bob")), note: None });
    assert!(
        matches!(&out[..], [Output { to, event: Event::RingingStopped { from, reason: EndReason::Cancelled, .. } }] if *to == bob && *from == user("alice")),
        "{out:?}"
    );
    w.assert_clean(2, 2);
}

#[test]
fn only_the_right_party_can_answer_or_cancel() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    let carol = w.online("carol");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    // The caller cannot accept its own call, the callee cannot cancel it, a stranger can do neither.
    assert_eq!(
        error_of(&w.send(alice, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None })),
        CommandError::NoSuchInvite
    );
    assert_eq!(
        error_of(&w.send(bob, Command::Cancel { invite: InviteRef::To(user("bob")), note: None })),
        CommandError::NoSuchInvite
    );
    assert_eq!(
        error_of(&w.send(carol, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None })),
        CommandError::NoSuchInvite
    );
    assert_eq!(
        error_of(&w.send(carol, Command::Accept { invite: InviteRef::Id(InviteId(0)), status: None, note: None })),
        CommandError::NoSuchInvite
    );
    assert_eq!(
        error_of(&w.send(
            carol,
            Command::Reject { invite: InviteRef::To(user("alice")), reason: EndReason::Rejected, note: None }
        )),
        CommandError::NoSuchInvite
    );
    assert_eq!(w.core.stats().invites, 1, "the call still rings");
}

#[test]
fn the_ring_timeout_fires_by_passing_time_in() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(w.core.poll_timeout(), Some(w.now + Duration::from_secs(30)));

    assert!(w.advance(Duration::from_millis(29_999)).is_empty(), "not yet");
    let out = w.advance(Duration::from_millis(1));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        matches!(&out[0], Output { to, event: Event::CallDeclined { by, reason: EndReason::Timeout, .. } } if *to == alice && *by == user("bob"))
    );
    assert!(
        matches!(&out[1], Output { to, event: Event::RingingStopped { from, reason: EndReason::Timeout, .. } } if *to == bob && *from == user("alice"))
    );
    w.assert_clean(2, 2);
}

#[test]
fn the_ring_timeout_is_configurable() {
    let mut w = World::with(CoreConfig { ring_timeout: Duration::from_secs(5), ..CoreConfig::default() });
    let alice = w.online("alice");
    w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(w.advance(Duration::from_secs(5)).len(), 2);
}

#[test]
fn a_late_input_fires_overdue_deadlines_first() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    // The driver overslept; bob's accept comes after the call timed out.
    w.now += Duration::from_secs(31);
    let out = w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    assert!(matches!(out[0].event, Event::CallDeclined { reason: EndReason::Timeout, .. }));
    assert!(matches!(out[1].event, Event::RingingStopped { reason: EndReason::Timeout, .. }));
    assert_eq!(out[2].event, Event::Reply { tag: 9, result: Err(CommandError::NoSuchInvite) });
}

#[test]
fn hanging_up_ends_the_call_for_both() {
    let mut w = World::new();
    let (alice, bob) = w.accepted_call();
    let out = w.send(bob, Command::Leave { room: RoomRef::CallWith(user("alice")) });
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallEnded { by, reason: EndReason::Hangup, .. } }] if *to == alice && *by == user("bob")),
        "{out:?}"
    );
    w.assert_clean(2, 2);
    let out = w.send(alice, Command::Leave { room: RoomRef::CallWith(user("bob")) });
    assert_eq!(error_of(&out), CommandError::NoCallWith(user("bob")));
}

/// `Stats::calls` counts a call from its ring to its end, once, and a
/// named room with people in it is no call.
#[test]
fn stats_count_calls_that_ring_or_were_answered() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    let carol = w.online("carol");
    assert_eq!(w.core.stats().calls, 0);
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(w.core.stats().calls, 1, "ringing");
    w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    assert_eq!(w.core.stats().calls, 1, "answered");
    w.send(carol, Command::Join { room: Some(room("lobby")), create: Some(4), status: None });
    assert_eq!(w.core.stats().calls, 1, "a named room is not a call");
    w.send(bob, Command::Leave { room: RoomRef::CallWith(user("alice")) });
    assert_eq!(w.core.stats().calls, 0, "hung up");
}

#[test]
fn hanging_up_a_ringing_call_cancels_or_rejects_it() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.send(alice, Command::Leave { room: RoomRef::CallWith(user("bob")) });
    assert!(
        matches!(&out[..], [Output { to, event: Event::RingingStopped { reason: EndReason::Cancelled, .. } }] if *to == bob)
    );

    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.send(bob, Command::Leave { room: RoomRef::CallWith(user("alice")) });
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallDeclined { reason: EndReason::Rejected, .. } }] if *to == alice)
    );
    w.assert_clean(2, 2);
}

#[test]
fn leaving_a_call_room_by_id_hangs_up() {
    let mut w = World::new();
    let alice = w.online("alice");
    w.online("bob");
    let out = w.ask(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let Event::Reply { result: Ok(Reply::Calling { room, .. }), .. } = &out[1].event else { panic!() };
    let out = w.send(alice, Command::Leave { room: RoomRef::Id(room.clone()) });
    assert!(matches!(out[0].event, Event::RingingStopped { reason: EndReason::Cancelled, .. }));
    // A call room cannot be joined by name.
    let carol = w.online("carol");
    assert_eq!(
        error_of(&w.send(carol, Command::Join { room: Some(room.clone()), create: None, status: None })),
        CommandError::NoSuchRoom(room.clone())
    );
}

#[test]
fn the_callers_disconnect_while_ringing_stops_the_ringing() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.disconnect(alice);
    assert!(
        matches!(&out[..], [Output { to, event: Event::RingingStopped { reason: EndReason::Disconnected, .. } }] if *to == bob),
        "{out:?}"
    );
    w.assert_clean(1, 1);
}

#[test]
fn the_callees_disconnect_while_ringing_declines_the_call() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.disconnect(bob);
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallDeclined { by, reason: EndReason::Disconnected, .. } }] if *to == alice && *by == user("bob")),
        "{out:?}"
    );
    w.assert_clean(1, 1);
}

#[test]
fn a_disconnect_in_a_call_ends_it() {
    let mut w = World::new();
    let (alice, bob) = w.accepted_call();
    let out = w.disconnect(alice);
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallEnded { by, reason: EndReason::Disconnected, .. } }] if *to == bob && *by == user("alice")),
        "{out:?}"
    );
    w.assert_clean(1, 1);
    // An unregistered or unknown session going away is harmless.
    let stranger = w.connect();
    assert!(w.disconnect(stranger).is_empty());
    assert!(w.disconnect(SessionId::new(999)).is_empty());
}

/// The cluster link's `EndCallWith` ends a call for the reason the other
/// party's node gave, whichever way the call rang, and once only.
#[test]
fn a_call_ended_from_the_other_side_carries_its_reason() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    let end = |peer: &str, reason| Command::EndCallWith { peer: user(peer), reason, note: None };

    // The caller's side hears why a ringing call ended on the callee's side.
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.send(bob, end("alice", EndReason::Timeout));
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallDeclined { reason: EndReason::Timeout, .. } }] if *to == alice),
        "{out:?}"
    );
    assert_eq!(error_of(&w.send(bob, end("alice", EndReason::Timeout))), CommandError::NoCallWith(user("alice")));

    // The callee's side hears why the caller's side withdrew it.
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let out = w.send(alice, end("bob", EndReason::Disconnected));
    assert!(
        matches!(&out[..], [Output { to, event: Event::RingingStopped { reason: EndReason::Disconnected, .. } }] if *to == bob),
        "{out:?}"
    );

    // An accepted call ends for the other party.
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    let out = w.send(bob, end("alice", EndReason::Disconnected));
    assert!(
        matches!(&out[..], [Output { to, event: Event::CallEnded { reason: EndReason::Disconnected, .. } }] if *to == alice),
        "{out:?}"
    );
    w.assert_clean(2, 2);
}
