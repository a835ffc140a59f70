//! Calls between dialects that call differently (Step 13): a calling user's
//! named room as a 1:1 call with a one-to-one user, the busy rule across
//! them, and what cannot cross refused rather than dropped.

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

/// A calling user `ann` in her own room `r`, and a chatroulette user `bob`.
fn calling_and_chatroulette() -> (World, SessionId, SessionId) {
    let mut w = World::new();
    let ann = w.online_styled("ann", CallStyle::Rooms);
    let bob = w.online_styled("bob", CallStyle::Signals);
    let out = w.send(ann, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    assert!(out.is_empty(), "{out:?}");
    (w, ann, bob)
}

fn invite_bob(w: &mut World, ann: SessionId) -> Vec<Output> {
    w.ask(ann, Command::Invite { room: room("r"), to: user("bob"), data: Payload::null() })
}

fn events_for(out: &[Output], session: SessionId) -> Vec<&Event> {
    out.iter().filter(|o| o.to == session).map(|o| &o.event).collect()
}

#[test]
fn an_invite_to_a_one_to_one_user_rings_as_a_call_with_the_ring_timeout() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    let out = invite_bob(&mut w, ann);
    let to_bob = events_for(&out, bob);
    assert!(
        matches!(to_bob[..], [Event::Ringing { from, from_style: Some(CallStyle::Rooms), .. }] if *from == user("ann")),
        "{out:?}"
    );
    assert!(events_for(&out, ann).iter().any(|e| matches!(e, Event::PeerJoined { peer, .. } if peer.pending)));
    assert!(w.core.poll_timeout().is_some(), "the call rings until the ring timeout");

    // Nobody answers: both sides are told, and the room is ann's alone again.
    let out = w.advance(Duration::from_secs(30));
    assert!(events_for(&out, ann).iter().any(|e| matches!(e, Event::CallDeclined { reason: EndReason::Timeout, .. })));
    assert!(events_for(&out, ann).iter().any(|e| matches!(e, Event::PeerLeft { user, .. } if *user == user_bob())));
    assert!(
        events_for(&out, bob).iter().any(|e| matches!(e, Event::RingingStopped { reason: EndReason::Timeout, .. }))
    );
    w.core.check_invariants().unwrap();
    // Its places are back: two calling users may join it now.
    let cy = w.online_styled("cy", CallStyle::Rooms);
    let dee = w.online_styled("dee", CallStyle::Rooms);
    for session in [cy, dee] {
        let out = w.send(session, Command::Join { room: Some(room("r")), create: None, status: None });
        assert!(events_for(&out, session).is_empty(), "{out:?}");
    }
}

fn user_bob() -> UserId {
    user("bob")
}

#[test]
fn an_answered_named_call_carries_relays_to_the_call_peer_and_ends_for_the_one_to_one_side() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    invite_bob(&mut w, ann);
    let out = w.send(bob, Command::Accept { invite: InviteRef::From(user("ann")), status: None, note: None });
    assert!(
        events_for(&out, ann)
            .iter()
            .any(|e| matches!(e, Event::CallAccepted { by_style: Some(CallStyle::Signals), .. }))
    );

    // ann's offer by room member, bob's answer by call peer.
    let out = w.send(
        ann,
        Command::Relay { to: RelayTarget::RoomMember { room: room("r"), user: user("bob") }, signal: offer("o") },
    );
    assert!(matches!(events_for(&out, bob)[..], [Event::Relayed { .. }]), "{out:?}");
    let answer = Signal { kind: SignalKind::Answer, payload: Payload::new(r#"{"type":"answer","sdp":"a"}"#) };
    let out = w.send(bob, Command::Relay { to: RelayTarget::CallPeer(user("ann")), signal: answer });
    assert!(matches!(events_for(&out, ann)[..], [Event::Relayed { room: Some(r), .. }] if *r == room("r")), "{out:?}");

    // Busy both ways while the call lasts.
    let cy = w.online_styled("cy", CallStyle::Signals);
    let out = w.send(cy, Command::Call { to: user("ann"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("ann")));
    let out = w.send(cy, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("bob")));

    // ann leaves her room: bob's call ends, and he is out of the room.
    let out = w.send(ann, Command::Leave { room: RoomRef::Id(room("r")) });
    assert!(
        matches!(events_for(&out, bob)[..], [Event::CallEnded { by, caller, reason: EndReason::Hangup, .. }]
            if *by == user("ann") && *caller == user("ann")),
        "{out:?}"
    );
    w.core.check_invariants().unwrap();
    let out = w.send(bob, Command::Call { to: user("cy"), data: Payload::null() });
    assert!(matches!(events_for(&out, cy)[..], [Event::Ringing { .. }]), "bob is free again: {out:?}");
}

#[test]
fn the_one_to_one_sides_hang_up_is_a_peer_leaving_for_the_calling_side() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    invite_bob(&mut w, ann);
    w.send(bob, Command::Accept { invite: InviteRef::From(user("ann")), status: None, note: None });
    while w.core.poll_call_note().is_some() {}
    let out = w.send(bob, Command::Leave { room: RoomRef::CallWith(user("ann")) });
    // The answered call's end is noted, as for a call room's (metrics, logs).
    let note = w.core.poll_call_note().expect("the end of the call is noted");
    assert!(matches!(note.stage, CallStage::Ended { reason: EndReason::Hangup, .. }), "{note:?}");
    assert!(
        matches!(events_for(&out, ann)[..], [Event::PeerLeft { user, reason: EndReason::Hangup, .. }] if *user == user_bob()),
        "{out:?}"
    );
    assert!(events_for(&out, bob).is_empty());
    w.core.check_invariants().unwrap();
}

#[test]
fn a_calling_user_in_a_room_of_two_is_busy_to_one_to_one_callers() {
    let mut w = World::new();
    let ann = w.online_styled("ann", CallStyle::Rooms);
    let cy = w.online_styled("cy", CallStyle::Rooms);
    let bob = w.online_styled("bob", CallStyle::Signals);
    for session in [ann, cy] {
        w.send(session, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    }
    let out = w.send(bob, Command::Call { to: user("ann"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("ann")));
    // Alone in her room again, she can be called.
    w.send(cy, Command::Leave { room: RoomRef::Id(room("r")) });
    let out = w.send(bob, Command::Call { to: user("ann"), data: Payload::null() });
    assert!(matches!(events_for(&out, ann)[..], [Event::Ringing { from_style: Some(CallStyle::Signals), .. }]));
}

#[test]
fn an_invite_to_a_one_to_one_user_needs_a_room_of_the_inviters_own() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    let cy = w.online_styled("cy", CallStyle::Rooms);
    w.send(cy, Command::Join { room: Some(room("r")), create: None, status: None });
    let out = invite_bob(&mut w, ann);
    assert!(matches!(error_of(&out), CommandError::NotCarried { to, .. } if to == user_bob()));
    assert!(events_for(&out, bob).is_empty(), "nothing rings");
    let out = w.ask(ann, Command::Invite { room: room("elsewhere"), to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::NoSuchRoom(room("elsewhere")));
}

#[test]
fn what_the_receivers_dialect_cannot_take_is_refused_not_dropped() {
    let mut w = World::new();
    let bob = w.online_styled("bob", CallStyle::Signals);
    let ann = w.online_styled("ann", CallStyle::Rooms);
    w.send(bob, Command::Call { to: user("ann"), data: Payload::null() });
    let out = w.send(ann, Command::Accept { invite: InviteRef::From(user("bob")), status: None, note: None });
    let Some(Event::CallAccepted { room: call_room, .. }) = events_for(&out, bob).first().copied().cloned() else {
        panic!("{out:?}")
    };
    let chat = Signal { kind: SignalKind::Custom("chat".into()), payload: Payload::new("{}") };
    let out = w
        .send(ann, Command::Relay { to: RelayTarget::RoomMember { room: call_room, user: user("bob") }, signal: chat });
    assert!(matches!(error_of(&out), CommandError::NotCarried { to, .. } if to == user_bob()), "{out:?}");
    assert!(events_for(&out, bob).is_empty());

    // An ECall message does not reach another app: the Wire device's codec
    // takes that refusal as its cue to bridge the call.
    let wire = w.online_styled("wire", CallStyle::Messages);
    let cy = w.online_styled("cy", CallStyle::Signals);
    let setup = Signal { kind: SignalKind::Custom("calling".into()), payload: Payload::new("{}") };
    let out = w.send(wire, Command::Relay { to: RelayTarget::User { user: user("cy"), peer: None }, signal: setup });
    assert!(matches!(error_of(&out), CommandError::NotCarried { .. }), "{out:?}");
    assert!(events_for(&out, cy).is_empty());
}

#[test]
fn a_wire_device_calls_another_app_and_takes_its_sdp_and_ice_in_the_call() {
    let mut w = World::new();
    let wire = w.online_styled("wire", CallStyle::Messages);
    let cy = w.online_styled("cy", CallStyle::Signals);
    let out = w.send(wire, Command::Call { to: user("cy"), data: Payload::null() });
    let rings = events_for(&out, cy);
    assert!(
        matches!(rings[..], [Event::Ringing { from_style: Some(CallStyle::Messages), .. }]),
        "the callee's codec is told the caller is a Wire device: {out:?}"
    );
    let answer = Signal { kind: SignalKind::Answer, payload: Payload::new(r#"{"type":"answer","sdp":"v=0"}"#) };
    w.send(cy, Command::Accept { invite: InviteRef::From(user("wire")), status: None, note: None });
    let out = w.send(cy, Command::Relay { to: RelayTarget::CallPeer(user("wire")), signal: answer.clone() });
    assert!(
        matches!(events_for(&out, wire)[..], [Event::Relayed { signal, .. }] if *signal == answer),
        "within the call it does: {out:?}"
    );
    // Outside it, not.
    w.send(cy, Command::Leave { room: RoomRef::CallWith(user("wire")) });
    let out = w.send(cy, Command::Relay { to: RelayTarget::CallPeer(user("wire")), signal: answer });
    assert!(matches!(error_of(&out), CommandError::NoCallWith(_)), "{out:?}");
}

#[test]
fn another_app_rings_every_device_of_a_wire_user_and_one_takes_the_call() {
    let mut w = World::new();
    let phone = w.connect_styled(Some(CallStyle::Messages));
    w.send(phone, Command::Register { user: Some(user("wire")), shared: true });
    let laptop = w.connect_styled(Some(CallStyle::Messages));
    w.send(laptop, Command::Register { user: Some(user("wire")), shared: true });
    let cy = w.online_styled("cy", CallStyle::Signals);
    let out = w.send(cy, Command::Call { to: user("wire"), data: Payload::null() });
    for device in [phone, laptop] {
        assert!(
            matches!(events_for(&out, device)[..], [Event::Ringing { from_style: Some(CallStyle::Signals), .. }]),
            "{out:?}"
        );
    }
    let out = w.send(phone, Command::Accept { invite: InviteRef::From(user("cy")), status: None, note: None });
    assert!(matches!(events_for(&out, cy)[..], [Event::CallAccepted { .. }]), "{out:?}");
    assert!(matches!(events_for(&out, laptop)[..], [Event::RingingStopped { .. }]), "{out:?}");
    let out = w.ask(laptop, Command::Accept { invite: InviteRef::From(user("cy")), status: None, note: None });
    assert_eq!(error_of(&out), CommandError::NoSuchInvite, "the other device came second");
    // The caller's SDP offer reaches the device in the call.
    let offer = Signal { kind: SignalKind::Offer, payload: Payload::new(r#"{"type":"offer","sdp":"v=0"}"#) };
    let out = w.send(cy, Command::Relay { to: RelayTarget::CallPeer(user("wire")), signal: offer.clone() });
    assert!(matches!(events_for(&out, phone)[..], [Event::Relayed { signal, .. }] if *signal == offer), "{out:?}");
    assert!(events_for(&out, laptop).is_empty());
}

#[test]
fn a_shared_name_is_held_by_sessions_of_one_dialect() {
    let mut w = World::new();
    let phone = w.connect_styled(Some(CallStyle::MediaRoom));
    assert!(w.send(phone, Command::Register { user: Some(user("ann")), shared: true }).is_empty());
    let device = w.connect_styled(Some(CallStyle::Messages));
    let out = w.send(device, Command::Register { user: Some(user("ann")), shared: true });
    assert_eq!(error_of(&out), CommandError::NameTaken(user("ann")));
    let second_phone = w.connect_styled(Some(CallStyle::MediaRoom));
    assert!(w.send(second_phone, Command::Register { user: Some(user("ann")), shared: true }).is_empty());
}

#[test]
fn a_stand_in_of_another_node_invites_as_before_and_a_busy_named_call_is_noted() {
    let mut w = World::new();
    let bob = w.online_styled("bob", CallStyle::Signals);
    // A stand-in (no style) invites bob into a room it is not in: a plain
    // invite, with no ring timeout, as before the cross-dialect rules.
    let remote = w.connect_styled(None);
    w.send(remote, Command::Register { user: Some(user("far")), shared: true });
    let out = w.send(remote, Command::Invite { room: room("far-room"), to: user("bob"), data: Payload::null() });
    assert!(matches!(events_for(&out, bob)[..], [Event::Ringing { .. }]), "{out:?}");
    assert_eq!(w.core.poll_timeout(), None, "no ring timeout: not a call");

    // bob in a call with ann: cy's invite is refused as busy, and noted.
    let ann = w.online_styled("ann", CallStyle::Rooms);
    w.send(ann, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    invite_bob(&mut w, ann);
    let cy = w.online_styled("cy", CallStyle::Rooms);
    w.send(cy, Command::Join { room: Some(room("r2")), create: Some(usize::MAX), status: None });
    while w.core.poll_call_note().is_some() {}
    let out = w.ask(cy, Command::Invite { room: room("r2"), to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("bob")));
    let note = w.core.poll_call_note().expect("the busy call is noted");
    assert_eq!(note.stage, CallStage::RingEnded { outcome: CallOutcome::Busy, rang: Duration::ZERO });
}

#[test]
fn a_registered_rooms_subscribers_see_both_parties_of_a_named_call_go() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    let watcher = w.online_styled("watcher", CallStyle::Rooms);
    let ns = NamespaceId::parse("lobby").unwrap();
    w.send(watcher, Command::Subscribe { namespace: ns.clone() });
    w.send(ann, Command::RegisterRoom { namespace: ns, room: room("r") });
    invite_bob(&mut w, ann);
    w.send(bob, Command::Accept { invite: InviteRef::From(user("ann")), status: None, note: None });
    let out = w.send(ann, Command::Leave { room: RoomRef::Id(room("r")) });
    let removed: Vec<&UserId> = events_for(&out, watcher)
        .into_iter()
        .filter_map(|event| match event {
            Event::Namespace { event: NamespaceEvent::PeerRemoved { user, .. }, .. } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(removed, [&user("bob"), &user("ann")], "{out:?}");
    w.core.check_invariants().unwrap();
}

/// A named room carrying a call is a call in progress (`Stats::calls`, what
/// a drain waits for) from its ring to its end, however it ends: the ring
/// timeout, the caller leaving, or the caller's disconnect.
#[test]
fn a_named_call_counts_as_a_call_in_progress_until_it_ends() {
    let (mut w, ann, bob) = calling_and_chatroulette();
    assert_eq!(w.core.calls_in_progress(), 0, "a room of one calling user is no call");
    invite_bob(&mut w, ann);
    assert_eq!(w.core.calls_in_progress(), 1, "ringing");
    w.advance(Duration::from_secs(30));
    assert_eq!(w.core.calls_in_progress(), 0, "unanswered");

    invite_bob(&mut w, ann);
    w.send(bob, Command::Accept { invite: InviteRef::From(user("ann")), status: None, note: None });
    assert_eq!(w.core.stats().calls, 1, "answered");
    w.send(ann, Command::Leave { room: RoomRef::Id(room("r")) });
    assert_eq!(w.core.calls_in_progress(), 0, "the caller left");
    w.core.check_invariants().unwrap();

    let out = w.send(ann, Command::Join { room: Some(room("r2")), create: Some(usize::MAX), status: None });
    assert!(out.is_empty(), "{out:?}");
    w.ask(ann, Command::Invite { room: room("r2"), to: user("bob"), data: Payload::null() });
    w.send(bob, Command::Accept { invite: InviteRef::From(user("ann")), status: None, note: None });
    assert_eq!(w.core.calls_in_progress(), 1);
    w.disconnect(ann);
    assert_eq!(w.core.calls_in_progress(), 0, "the caller's connection closed");
    w.core.check_invariants().unwrap();
}
