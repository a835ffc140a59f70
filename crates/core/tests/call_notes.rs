//! Call notes: one `Ringing`, one `RingEnded` with the right outcome, and an
//! `Ended` for an answered 1:1 call, with durations on the core's clock.

mod common;

use std::time::Duration;

use common::*;
use switchboard_core::*;

fn notes(w: &mut World) -> Vec<CallNote> {
    std::iter::from_fn(|| w.core.poll_call_note()).collect()
}

fn stages(w: &mut World) -> Vec<CallStage> {
    notes(w).into_iter().map(|note| note.stage).collect()
}

fn ice() -> Signal {
    Signal { kind: SignalKind::IceCandidate, payload: Payload::new(r#"{"candidate":"c"}"#) }
}

fn ended_after(w: &mut World, outcome: CallOutcome, rang: Duration) {
    assert_eq!(stages(w), [CallStage::RingEnded { outcome, rang }]);
}

#[test]
fn an_answered_call_is_noted_from_ring_to_hangup() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
    let ringing = notes(&mut w);
    assert_eq!(ringing.len(), 1);
    let call = ringing[0].call;
    assert_eq!(ringing[0].stage, CallStage::Ringing);
    assert_eq!(ringing[0].caller, CallParty { session: Some(alice), user: user("alice") });
    assert_eq!(ringing[0].callee, CallParty { session: Some(bob), user: user("bob") });
    assert!(call.to_string().starts_with('c') && call.to_string().len() == 33, "{call}");

    w.advance(Duration::from_secs(3));
    w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    let answered = notes(&mut w);
    assert_eq!(answered[0].call, call);
    assert_eq!(
        answered[0].stage,
        CallStage::RingEnded { outcome: CallOutcome::Answered, rang: Duration::from_secs(3) }
    );
    assert_eq!(w.core.stats().answered_calls, 1);

    // The first candidate after the answer times ICE; later ones do not.
    w.advance(Duration::from_millis(250));
    w.send(bob, Command::Relay { to: RelayTarget::CallPeer(user("alice")), signal: ice() });
    w.advance(Duration::from_secs(1));
    w.send(alice, Command::Relay { to: RelayTarget::CallPeer(user("bob")), signal: ice() });
    w.advance(Duration::from_secs(60));
    w.send(alice, Command::Leave { room: RoomRef::CallWith(user("bob")) });
    let ended = notes(&mut w);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].call, call);
    assert_eq!(
        ended[0].stage,
        CallStage::Ended {
            reason: EndReason::Hangup,
            rang: Duration::from_secs(3),
            lasted: Duration::from_millis(61_250),
            first_ice: Some(Duration::from_millis(250)),
        }
    );
    assert_eq!(w.core.stats().answered_calls, 0);
}

#[test]
fn every_unanswered_ending_has_its_outcome() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    let call = |w: &mut World| {
        w.send(alice, Command::Call { to: user("bob"), data: Payload::null() });
        assert_eq!(stages(w), [CallStage::Ringing]);
    };

    call(&mut w);
    w.send(bob, Command::Reject { invite: InviteRef::From(user("alice")), reason: EndReason::Rejected, note: None });
    ended_after(&mut w, CallOutcome::Rejected, Duration::ZERO);

    call(&mut w);
    w.advance(Duration::from_secs(2));
    w.send(alice, Command::Cancel { invite: InviteRef::To(user("bob")), note: None });
    ended_after(&mut w, CallOutcome::Cancelled, Duration::from_secs(2));

    call(&mut w);
    w.advance(CoreConfig::default().ring_timeout);
    ended_after(&mut w, CallOutcome::Timeout, CoreConfig::default().ring_timeout);

    call(&mut w);
    w.disconnect(bob);
    ended_after(&mut w, CallOutcome::Failed, Duration::ZERO);
}

#[test]
fn a_call_to_a_busy_user_is_noted_busy_without_ringing() {
    let mut w = World::new();
    let (alice, bob) = w.accepted_call();
    notes(&mut w);
    let carol = w.online("carol");
    let out = w.send(carol, Command::Call { to: user("bob"), data: Payload::null() });
    assert_eq!(error_of(&out), CommandError::Busy(user("bob")));
    let busy = notes(&mut w);
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].stage, CallStage::RingEnded { outcome: CallOutcome::Busy, rang: Duration::ZERO });
    assert_eq!(busy[0].caller.session, Some(carol));
    assert_eq!(busy[0].callee.session, Some(bob));

    // A disconnect ends the answered call with its own reason.
    w.disconnect(alice);
    let ended = stages(&mut w);
    assert!(
        matches!(ended[..], [CallStage::Ended { reason: EndReason::Disconnected, first_ice: None, .. }]),
        "{ended:?}"
    );
}

#[test]
fn an_invite_into_a_named_room_rings_and_ends_like_a_call() {
    let mut w = World::new();
    let alice = w.online("alice");
    let bob = w.online("bob");
    w.send(alice, Command::Join { room: Some(room("r")), create: Some(usize::MAX), status: None });
    w.send(alice, Command::Invite { room: room("r"), to: user("bob"), data: Payload::null() });
    assert_eq!(stages(&mut w), [CallStage::Ringing]);
    w.send(bob, Command::Accept { invite: InviteRef::From(user("alice")), status: None, note: None });
    ended_after(&mut w, CallOutcome::Answered, Duration::ZERO);
    // Membership from then on: leaving is no call end.
    w.send(bob, Command::Leave { room: RoomRef::Id(room("r")) });
    assert_eq!(stages(&mut w), []);
    assert_eq!(w.core.stats().answered_calls, 0);
}
