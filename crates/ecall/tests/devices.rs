//! Several devices per user and glare: answered or declined elsewhere, two answers, crossing
//! SETUPs resolved by the lower user id, and session id derivation.

mod common;

use common::*;
use switchboard_ecall::{Action, CallState, Device, DeviceConfig, EndReason, MessageType, Output};

use CallState::*;

/// alice (a1) calls bob, who has a phone (b1) and a laptop (b2); both ring.
fn bob_on_two_devices() -> (Net, usize, usize, usize) {
    let mut net = Net::new();
    let (a, b1, b2) = (net.add("alice", "a1"), net.add("bob", "b1"), net.add("bob", "b2"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    assert_eq!((net.states(b1), net.states(b2)), (vec![Incoming], vec![Incoming]));
    net.take(a);
    (net, a, b1, b2)
}

#[test]
fn answered_on_another_device_stops_the_ringing() {
    let (mut net, a, b1, b2) = bob_on_two_devices();
    net.ok(b1, net.at(1_000), accept("alice"));
    net.deliver(net.at(1_000));
    assert_eq!(net.states(a), vec![Connecting]);
    assert_eq!(net.device(a).remote_client("bob"), Some("b1"));
    assert_eq!(net.states(b2), vec![Ended(EndReason::AnsweredElsewhere)]);
    assert_eq!(net.device(b2).poll_timeout(), None);
    assert_eq!(net.state(b1, "alice"), Some(Connecting));

    // From now on alice talks to b1 only; b2 is left alone.
    net.ok(a, net.at(2_000), Action::SetVideo { peer: "bob".into(), on: true });
    net.ok(a, net.at(2_000), hangup("bob"));
    assert!(net.pending().iter().all(|s| s.to_client.as_deref() == Some("b1")));
    net.deliver(net.at(2_000));
    assert_eq!(net.state(b1, "alice"), Some(Ended(EndReason::RemoteHangup)));
    assert!(net.take(b2).is_empty());
    // Alice's ringing timer is gone: nothing at 30 s.
    let before = net.log.len();
    net.tick(net.at(30_000));
    assert_eq!(net.log.len(), before);
}

#[test]
fn declined_on_another_device_stops_the_ringing() {
    let (mut net, a, b1, b2) = bob_on_two_devices();
    net.ok(b2, net.at(1_000), Action::Reject { peer: "alice".into() });
    net.deliver(net.at(1_000));
    assert_eq!(net.states(b2), vec![Ended(EndReason::Rejected)]);
    assert_eq!(net.states(b1), vec![Ended(EndReason::Rejected)]);
    assert_eq!(net.states(a), vec![Ended(EndReason::Rejected)]);
}

#[test]
fn a_reject_addressed_only_to_the_own_user_works_too() {
    // Wire sends REJECT to its own user's clients only; the caller is not told.
    let (mut net, a, b1, _b2) = bob_on_two_devices();
    let sessid = net.device(b1).sessid("alice").unwrap().to_owned();
    let reject = format!(r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"REJECT"}}"#);
    net.inject(b1, net.at(1_000), "bob", "b2", &reject).unwrap();
    assert_eq!(net.states(b1), vec![Ended(EndReason::Rejected)]);
    assert_eq!(net.state(a, "bob"), Some(Outgoing));
}

#[test]
fn an_answer_from_another_own_device_for_another_sessid_is_ignored() {
    let (mut net, _a, b1, _b2) = bob_on_two_devices();
    let answer = r#"{"version":"3.0","resp":true,"sessid":"0000","type":"SETUP","sdp":"v=0"}"#;
    net.inject(b1, net.at(1_000), "bob", "b2", answer).unwrap();
    assert_eq!(net.state(b1, "alice"), Some(Incoming));
}

#[test]
fn the_cancel_at_the_ring_timeout_reaches_every_device_and_each_confirms() {
    let (mut net, a, b1, b2) = bob_on_two_devices();
    net.tick(net.at(30_000));
    net.deliver(net.at(30_000));
    assert_eq!(net.states(a), vec![Ended(EndReason::Timeout)]);
    assert_eq!(net.states(b1), vec![Ended(EndReason::Cancelled)]);
    assert_eq!(net.states(b2), vec![Ended(EndReason::Cancelled)]);
    let confirms: Vec<_> = net.log.iter().filter(|s| s.is(MessageType::Cancel, true)).collect();
    assert_eq!(confirms.len(), 2);
    assert!(confirms.iter().all(|s| s.to_client.as_deref() == Some("a1")));
}

#[test]
fn two_answers_the_first_wins_and_the_second_is_hung_up() {
    let (mut net, a, b1, b2) = bob_on_two_devices();
    net.ok(b1, net.at(1_000), accept("alice"));
    net.ok(b2, net.at(1_000), accept("alice"));
    net.deliver(net.at(1_000));
    assert_eq!(net.states(a), vec![Connecting]);
    assert_eq!(net.device(a).remote_client("bob"), Some("b1"));
    let hangup = net.log.iter().find(|s| s.is(MessageType::Hangup, false)).unwrap();
    assert_eq!((hangup.from.as_str(), hangup.to_client.as_deref()), ("alice", Some("b2")));
    assert_eq!(net.state(b1, "alice"), Some(Connecting));
    assert_eq!(net.state(b2, "alice"), Some(Ended(EndReason::RemoteHangup)));
    assert_eq!(net.state(a, "bob"), Some(Connecting), "b2's confirmation ends nothing");
}

#[test]
fn glare_the_lower_user_id_switches_to_answering() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    let now = net.at(0);
    net.ok(a, now, call("bob", true));
    net.ok(b, now, call("alice", false));
    let alice_sessid = net.device(a).sessid("bob").unwrap().to_owned();
    let bob_sessid = net.device(b).sessid("alice").unwrap().to_owned();
    net.take(a);
    net.take(b);
    net.deliver(now);

    // alice < bob: alice drops her offer and rings for bob's call, with bob's SDP offer.
    assert_eq!(
        net.take(a),
        vec![
            Output::State { peer: "bob".into(), state: Incoming },
            Output::RemoteProps { peer: "bob".into(), props: props(&[("videosend", "false")]) },
            Output::RemoteSdp { peer: "bob".into(), sdp: "v=0 offer to alice".into(), answer: false },
        ]
    );
    assert_eq!(net.device(a).sessid("bob"), Some(bob_sessid.as_str()));
    // She cancelled her own offer (for bob's other devices); bob ignored it, and her SETUP.
    let cancel = net.sent_by("alice", "a1").into_iter().find(|s| s.is(MessageType::Cancel, false)).unwrap().clone();
    assert_eq!((cancel.message.sessid.as_str(), cancel.to_client.as_deref()), (alice_sessid.as_str(), None));
    assert!(net.take(b).is_empty());
    assert_eq!(net.state(b, "alice"), Some(Outgoing));
    assert!(net.sent_by("bob", "b1").iter().all(|s| !s.message.resp), "bob confirmed nothing");

    // The application answers; alice keeps the video she asked for.
    net.ok(a, now, accept("bob"));
    assert_eq!(net.pending()[0].message.sessid, bob_sessid);
    assert_eq!(net.pending()[0].message.props, Some(props(&[("videosend", "true")])));
    net.deliver(now);
    assert_eq!(net.states(a), vec![Connecting]);
    assert_eq!(net.states(b), vec![Connecting]);
    assert_eq!(net.device(b).poll_timeout(), None);
}

#[test]
fn glare_is_decided_by_the_user_ids_not_by_who_called_first() {
    let mut net = Net::new();
    let (z, m) = (net.add("zed", "z1"), net.add("amy", "m1"));
    net.ok(z, net.at(0), call("amy", false));
    net.ok(m, net.at(5), call("zed", false));
    net.deliver(net.at(10));
    // amy < zed: amy answers zed's call although zed called first... and also when amy is first.
    assert_eq!(net.state(m, "zed"), Some(Incoming));
    assert_eq!(net.state(z, "amy"), Some(Outgoing));

    let mut net = Net::new();
    let (z, m) = (net.add("zed", "z1"), net.add("amy", "m1"));
    net.ok(m, net.at(0), call("zed", false));
    net.ok(z, net.at(5), call("amy", false));
    net.deliver(net.at(10));
    assert_eq!(net.state(m, "zed"), Some(Incoming));
    assert_eq!(net.state(z, "amy"), Some(Outgoing));
    // Ids compare as strings: "Zed" < "amy".
    let mut net = Net::new();
    let (z, m) = (net.add("Zed", "z1"), net.add("amy", "m1"));
    net.ok(m, net.at(0), call("Zed", false));
    net.ok(z, net.at(0), call("amy", false));
    net.deliver(net.at(0));
    assert_eq!(net.state(z, "amy"), Some(Incoming));
    assert_eq!(net.state(m, "Zed"), Some(Outgoing));
}

#[test]
fn glare_the_higher_users_other_devices_stop_ringing_for_the_dropped_offer() {
    let mut net = Net::new();
    let (a, b1, b2) = (net.add("alice", "a1"), net.add("bob", "b1"), net.add("bob", "b2"));
    net.ok(a, net.at(0), call("bob", false));
    net.ok(b1, net.at(0), call("alice", false));
    net.deliver(net.at(0));
    // b2 rang for alice's offer, then got her CANCEL and confirmed it.
    assert_eq!(net.states(b2), vec![Incoming, Ended(EndReason::Cancelled)]);
    assert_eq!(net.state(b1, "alice"), Some(Outgoing));
    assert_eq!(net.state(a, "bob"), Some(Incoming));
    net.ok(a, net.at(1), accept("bob"));
    net.deliver(net.at(1));
    assert_eq!(net.state(b1, "alice"), Some(Connecting));
    assert_eq!(net.state(b2, "alice"), Some(Ended(EndReason::Cancelled)));
}

#[test]
fn a_caller_that_starts_over_replaces_the_ringing_call() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.ok(a, net.at(1), hangup("bob"));
    net.drop_pending(); // the CANCEL is lost
    net.ok(a, net.at(2), call("bob", true));
    net.deliver(net.at(2));
    assert_eq!(net.device(b).sessid("alice"), net.device(a).sessid("bob"));
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    assert_eq!(net.device(b).poll_timeout(), Some(net.at(35_002)));
}

#[test]
fn a_peer_that_calls_again_during_a_call_ends_the_old_one() {
    let (mut net, a, b) = ongoing();
    let offer = r#"{"version":"3.0","resp":false,"sessid":"NEW1","type":"SETUP","sdp":"v=0 again"}"#;
    net.inject(b, net.at(1), "alice", "a1", offer).unwrap();
    assert_eq!(net.states(b), vec![Ended(EndReason::RemoteHangup), Incoming]);
    assert_eq!(net.device(b).sessid("alice"), Some("NEW1"));
    let _ = a;
}

#[test]
fn session_ids_are_derived_deterministically() {
    let now = std::time::Instant::now();
    let first_sessid = |seed: u64, user: &str, client: &str| {
        let mut device = Device::new(user, client, DeviceConfig { seed, ..DeviceConfig::default() });
        device.handle_action(now, call("zoe", false)).unwrap();
        device.sessid("zoe").unwrap().to_owned()
    };
    assert_eq!(first_sessid(7, "alice", "a1"), first_sessid(7, "alice", "a1"));
    assert_ne!(first_sessid(7, "alice", "a1"), first_sessid(8, "alice", "a1"));
    assert_ne!(first_sessid(7, "alice", "a1"), first_sessid(7, "alice", "a2"));
    assert_ne!(first_sessid(7, "alice", "a1"), first_sessid(7, "alicf", "a1"));

    let mut device = Device::new("alice", "a1", DeviceConfig::default());
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..200 {
        let peer = format!("peer{i}");
        device.handle_action(now, call(&peer, false)).unwrap();
        let id = device.sessid(&peer).unwrap();
        assert!(id.len() == 4 && id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        ids.insert(id.to_owned());
    }
    assert!(ids.len() >= 199, "ids repeat too often: {}", ids.len());
}

#[test]
fn the_default_config_rings_for_30_seconds() {
    let config = DeviceConfig::default();
    assert_eq!(config.ring_timeout, std::time::Duration::from_secs(30));
    assert_eq!(config.incoming_grace, std::time::Duration::from_secs(5));
}
