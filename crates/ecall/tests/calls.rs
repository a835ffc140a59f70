//! 1:1 calls between two devices: setup, hangup both ways, reject, ring timeout, PROPSYNC, UPDATE,
//! ICE failure and `sessid` checks.

mod common;

use common::*;
use switchboard_ecall::{Action, CallState, EndReason, MessageType, Output};

use CallState::*;

#[test]
fn alice_calls_bob_and_bob_accepts() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    let now = net.at(0);

    net.ok(a, now, call("bob", true));
    assert_eq!(net.take(a), vec![Output::State { peer: "bob".into(), state: Outgoing }]);
    let setup = &net.pending()[0];
    assert!(setup.is(MessageType::Setup, false));
    assert_eq!((setup.to.as_str(), setup.to_client.as_deref()), ("bob", None));
    assert_eq!(setup.message.props, Some(props(&[("videosend", "true")])));
    assert_eq!(setup.message.sdp.as_deref(), Some("v=0 offer to bob"));
    let sessid = setup.message.sessid.clone();
    assert_eq!(net.device(a).sessid("bob"), Some(sessid.as_str()));

    net.deliver(now);
    assert_eq!(
        net.take(b),
        vec![
            Output::State { peer: "alice".into(), state: Incoming },
            Output::RemoteProps { peer: "alice".into(), props: props(&[("videosend", "true")]) },
            Output::RemoteSdp { peer: "alice".into(), sdp: "v=0 offer to bob".into(), answer: false },
        ]
    );
    assert_eq!(net.device(b).remote_client("alice"), Some("a1"));

    net.ok(b, now, accept("alice"));
    assert_eq!(net.states(b), vec![Connecting]);
    let answer = &net.pending()[0];
    assert!(answer.is(MessageType::Setup, true));
    assert_eq!((answer.to.as_str(), answer.to_client.as_deref()), ("alice", Some("a1")));
    assert_eq!(answer.message.sessid, sessid);
    assert_eq!(answer.message.props, Some(props(&[("videosend", "false")])));

    net.deliver(now);
    assert_eq!(
        net.take(a),
        vec![
            Output::State { peer: "bob".into(), state: Connecting },
            Output::RemoteProps { peer: "bob".into(), props: props(&[("videosend", "false")]) },
            Output::RemoteSdp { peer: "bob".into(), sdp: "v=0 answer to alice".into(), answer: true },
        ]
    );
    assert_eq!(net.device(a).remote_client("bob"), Some("b1"));
    assert_eq!(net.device(a).poll_timeout(), None, "no longer ringing");
    assert_eq!(net.device(b).poll_timeout(), None);

    net.ok(a, now, ice_connected("bob"));
    net.ok(b, now, ice_connected("alice"));
    assert_eq!((net.states(a), net.states(b)), (vec![Ongoing], vec![Ongoing]));
    // ICE connected again (after a disconnection) changes nothing.
    net.ok(a, now, ice_connected("bob"));
    assert_eq!(net.states(a), vec![]);
    assert!(net.pending().is_empty());
}

#[test]
fn the_caller_hangs_up_and_the_callee_confirms() {
    let (mut net, a, b) = ongoing();
    let now = net.at(5_000);
    net.ok(a, now, hangup("bob"));
    assert_eq!(net.states(a), vec![Ended(EndReason::Hangup)]);
    let hangup = net.pending()[0].clone();
    assert!(hangup.is(MessageType::Hangup, false));
    assert_eq!(hangup.to_client.as_deref(), Some("b1"));

    net.deliver(now);
    assert_eq!(net.states(b), vec![Ended(EndReason::RemoteHangup)]);
    let confirm = net.sent_by("bob", "b1").into_iter().last().unwrap().clone();
    assert!(confirm.is(MessageType::Hangup, true));
    assert_eq!((confirm.to.as_str(), confirm.to_client.as_deref()), ("alice", Some("a1")));
    assert_eq!(confirm.message.sessid, hangup.message.sessid);
    // The confirmation changes nothing on alice's side and is not confirmed again.
    assert_eq!(net.states(a), vec![]);
    assert_eq!(net.log.len(), 4, "SETUP, SETUP answer, HANGUP, HANGUP resp");
}

#[test]
fn the_callee_hangs_up_and_the_caller_confirms() {
    let (mut net, a, b) = ongoing();
    let now = net.at(5_000);
    net.ok(b, now, hangup("alice"));
    assert_eq!(net.states(b), vec![Ended(EndReason::Hangup)]);
    let hangup = net.pending()[0].clone();
    assert!(hangup.is(MessageType::Hangup, false));
    assert_eq!(hangup.to_client.as_deref(), Some("a1"));
    net.deliver(now);
    assert_eq!(net.states(a), vec![Ended(EndReason::RemoteHangup)]);
    let confirm = net.sent_by("alice", "a1").into_iter().last().unwrap().clone();
    assert!(confirm.is(MessageType::Hangup, true));
    assert_eq!(confirm.to_client.as_deref(), Some("b1"));
    assert_eq!(net.states(b), vec![]);
}

#[test]
fn bob_rejects_and_alice_stops_ringing() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    let now = net.at(0);
    net.ok(a, now, call("bob", false));
    net.deliver(now);
    net.take(a);
    net.take(b);

    net.ok(b, net.at(2_000), Action::Reject { peer: "alice".into() });
    assert_eq!(net.states(b), vec![Ended(EndReason::Rejected)]);
    let reject = net.pending()[0].clone();
    assert!(reject.is(MessageType::Reject, false));
    assert_eq!((reject.to.as_str(), reject.to_client.as_deref()), ("alice", Some("a1")));
    net.deliver(net.at(2_000));
    assert_eq!(net.states(a), vec![Ended(EndReason::Rejected)]);
    assert_eq!(net.device(a).poll_timeout(), None);
    assert_eq!(net.device(b).poll_timeout(), None);
    // Nothing fires later: no CANCEL after a rejection.
    net.tick(net.at(60_000));
    assert!(net.pending().is_empty());
}

#[test]
fn hanging_up_an_incoming_call_rejects_it() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.ok(b, net.at(1), hangup("alice"));
    assert!(net.pending()[0].is(MessageType::Reject, false));
    net.deliver(net.at(1));
    assert_eq!(net.state(a, "bob"), Some(Ended(EndReason::Rejected)));
    assert_eq!(net.state(b, "alice"), Some(Ended(EndReason::Rejected)));
}

#[test]
fn ringing_times_out_at_exactly_30_seconds() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(10));
    net.take(a);
    net.take(b);
    assert_eq!(net.device(a).poll_timeout(), Some(net.at(30_000)));

    net.tick(net.t0 + std::time::Duration::from_micros(29_999_999));
    assert_eq!(net.state(a, "bob"), Some(Outgoing));
    assert!(net.pending().is_empty());

    net.tick(net.at(30_000));
    assert_eq!(net.states(a), vec![Ended(EndReason::Timeout)]);
    let cancel = net.pending()[0].clone();
    assert!(cancel.is(MessageType::Cancel, false));
    assert_eq!((cancel.to.as_str(), cancel.to_client.as_deref()), ("bob", None));
    assert_eq!(Some(cancel.message.sessid.as_str()), net.device(a).sessid("bob"));
    assert_eq!(net.device(a).poll_timeout(), None);

    net.deliver(net.at(30_000));
    assert_eq!(net.states(b), vec![Ended(EndReason::Cancelled)]);
    let confirm = net.sent_by("bob", "b1").into_iter().last().unwrap().clone();
    assert!(confirm.is(MessageType::Cancel, true));
    assert_eq!((confirm.to.as_str(), confirm.to_client.as_deref()), ("alice", Some("a1")));
    assert_eq!(confirm.message.sessid, cancel.message.sessid);
    assert_eq!(net.states(a), vec![], "the confirmation ends nothing more");
    assert_eq!(net.device(b).poll_timeout(), None);
}

#[test]
fn the_callee_stops_ringing_by_itself_when_the_cancel_is_lost() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.take(b);
    net.tick(net.at(30_000));
    assert_eq!(net.drop_pending().len(), 1, "the CANCEL is lost");
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    assert_eq!(net.device(b).poll_timeout(), Some(net.at(35_000)));
    net.tick(net.at(34_999));
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    net.tick(net.at(35_000));
    assert_eq!(net.states(b), vec![Ended(EndReason::Timeout)]);
    assert!(net.pending().is_empty(), "the callee sends nothing on its own timeout");
    let _ = a;
}

#[test]
fn the_caller_hangs_up_while_ringing_with_a_cancel() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.take(b);
    net.ok(a, net.at(3_000), hangup("bob"));
    assert_eq!(net.state(a, "bob"), Some(Ended(EndReason::Hangup)));
    let cancel = net.pending()[0].clone();
    assert!(cancel.is(MessageType::Cancel, false));
    assert_eq!(cancel.to_client, None);
    net.deliver(net.at(3_000));
    assert_eq!(net.states(b), vec![Ended(EndReason::Cancelled)]);
    assert!(net.sent_by("bob", "b1").last().unwrap().is(MessageType::Cancel, true));
    assert_eq!(net.device(a).poll_timeout(), None);
}

#[test]
fn a_hangup_while_incoming_counts_as_cancelled() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    let sessid = net.device(a).sessid("bob").unwrap().to_owned();
    let hangup = format!(r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"HANGUP"}}"#);
    net.inject(b, net.at(1), "alice", "a1", &hangup).unwrap();
    assert_eq!(net.state(b, "alice"), Some(Ended(EndReason::Cancelled)));
    assert!(net.pending()[0].is(MessageType::Hangup, true), "confirmed to the caller");
    assert_eq!(net.pending()[0].to_client.as_deref(), Some("a1"));
}

#[test]
fn a_cancel_with_a_foreign_sessid_is_ignored() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.take(b);
    let sessid = net.device(b).sessid("alice").unwrap().to_owned();
    let foreign = if sessid == "zzzz" { "yyyy" } else { "zzzz" };

    let cancel = |s: &str| format!(r#"{{"version":"3.0","resp":false,"sessid":"{s}","type":"CANCEL"}}"#);
    net.inject(b, net.at(1_000), "alice", "a1", &cancel(foreign)).unwrap();
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    assert!(net.take(b).is_empty());
    assert!(net.pending().is_empty(), "no confirmation for another call's CANCEL");

    // Nor from a stranger with the right sessid.
    net.inject(b, net.at(1_000), "carol", "c1", &cancel(&sessid)).unwrap();
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    assert!(net.pending().is_empty());

    net.inject(b, net.at(2_000), "alice", "a1", &cancel(&sessid)).unwrap();
    assert_eq!(net.states(b), vec![Ended(EndReason::Cancelled)]);
    assert!(net.pending()[0].is(MessageType::Cancel, true));
    let _ = a;
}

#[test]
fn propsync_switches_video_both_ways_with_confirmations() {
    let (mut net, a, b) = ongoing();
    let now = net.at(1_000);

    net.ok(a, now, Action::SetVideo { peer: "bob".into(), on: true });
    let propsync = net.pending()[0].clone();
    assert!(propsync.is(MessageType::PropSync, false));
    assert_eq!(propsync.to_client.as_deref(), Some("b1"));
    assert_eq!(propsync.message.props, Some(props(&[("videosend", "true")])));
    net.deliver(now);
    assert_eq!(net.take(b), vec![Output::RemoteProps { peer: "alice".into(), props: props(&[("videosend", "true")]) }]);
    let confirm = net.sent_by("bob", "b1").last().cloned().unwrap().clone();
    assert!(confirm.is(MessageType::PropSync, true));
    assert_eq!(confirm.to_client.as_deref(), Some("a1"));
    assert_eq!(confirm.message.props, Some(props(&[("videosend", "false")])), "bob's own properties");
    assert!(net.take(a).is_empty(), "bob's videosend did not change");

    net.ok(b, now, Action::SetVideo { peer: "alice".into(), on: true });
    net.deliver(now);
    assert_eq!(net.take(a), vec![Output::RemoteProps { peer: "bob".into(), props: props(&[("videosend", "true")]) }]);
    assert!(net.sent_by("alice", "a1").last().unwrap().is(MessageType::PropSync, true));
    assert!(net.take(b).is_empty());

    net.ok(a, now, Action::SetVideo { peer: "bob".into(), on: false });
    net.deliver(now);
    assert_eq!(
        net.take(b),
        vec![Output::RemoteProps { peer: "alice".into(), props: props(&[("videosend", "false")]) }]
    );
    assert_eq!((net.state(a, "bob"), net.state(b, "alice")), (Some(Ongoing), Some(Ongoing)));
    let propsyncs = net.log.iter().filter(|s| s.message.kind == MessageType::PropSync).count();
    assert_eq!(propsyncs, 6, "three changes, three confirmations");
}

#[test]
fn video_set_while_ringing_goes_into_the_answer_and_to_all_clients_while_outgoing() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.take(b);
    // The caller switches video on while it rings: PROPSYNC to every client of bob.
    net.ok(a, net.at(1), Action::SetVideo { peer: "bob".into(), on: true });
    assert_eq!(net.pending()[0].to_client, None);
    net.deliver(net.at(1));
    assert_eq!(net.take(b), vec![Output::RemoteProps { peer: "alice".into(), props: props(&[("videosend", "true")]) }]);
    // The callee's choice while ringing is sent with its answer, not before.
    let before = net.log.len();
    net.ok(b, net.at(2), Action::SetVideo { peer: "alice".into(), on: true });
    assert_eq!(net.log.len(), before);
    net.ok(b, net.at(2), accept("alice"));
    assert_eq!(net.pending()[0].message.props, Some(props(&[("videosend", "true")])));
}

#[test]
fn update_renegotiates_an_ongoing_call() {
    let (mut net, a, b) = ongoing();
    let now = net.at(1_000);
    let update = Action::Update { peer: "bob".into(), sdp_offer: "v=0 restart".into() };
    net.ok(a, now, update.clone());
    let offer = net.pending()[0].clone();
    assert!(offer.is(MessageType::Update, false));
    assert_eq!(offer.to_client.as_deref(), Some("b1"));
    assert_eq!(offer.message.sdp.as_deref(), Some("v=0 restart"));
    assert_eq!(
        net.act(a, now, update.clone()),
        Err(switchboard_ecall::ActionError::RenegotiationPending { peer: "bob".into() })
    );

    net.deliver(now);
    assert_eq!(net.take(b), vec![Output::RemoteSdp { peer: "alice".into(), sdp: "v=0 restart".into(), answer: false }]);
    net.ok(b, now, Action::UpdateAnswer { peer: "alice".into(), sdp_answer: "v=0 restarted".into() });
    let answer = net.pending()[0].clone();
    assert!(answer.is(MessageType::Update, true));
    assert_eq!(answer.to_client.as_deref(), Some("a1"));
    net.deliver(now);
    assert_eq!(net.take(a), vec![Output::RemoteSdp { peer: "bob".into(), sdp: "v=0 restarted".into(), answer: true }]);
    assert_eq!((net.state(a, "bob"), net.state(b, "alice")), (Some(Ongoing), Some(Ongoing)));

    // Only one answer per offer; a stray UPDATE answer is ignored.
    assert_eq!(
        net.act(b, now, Action::UpdateAnswer { peer: "alice".into(), sdp_answer: "x".into() }),
        Err(switchboard_ecall::ActionError::NoRemoteOffer { peer: "alice".into() })
    );
    let sessid = net.device(a).sessid("bob").unwrap().to_owned();
    let stray = format!(r#"{{"version":"3.0","resp":true,"sessid":"{sessid}","type":"UPDATE","sdp":"v=0 stray"}}"#);
    net.inject(a, now, "bob", "b1", &stray).unwrap();
    assert!(net.take(a).is_empty());
    // And the next renegotiation may start.
    net.ok(a, now, update);
}

#[test]
fn crossing_updates_are_resolved_by_the_lower_user_id() {
    let (mut net, a, b) = ongoing();
    let now = net.at(1_000);
    net.ok(a, now, Action::Update { peer: "bob".into(), sdp_offer: "v=0 from alice".into() });
    net.ok(b, now, Action::Update { peer: "alice".into(), sdp_offer: "v=0 from bob".into() });
    net.deliver(now);
    // alice < bob: alice takes bob's offer; bob ignores alice's.
    assert_eq!(net.take(a), vec![Output::RemoteSdp { peer: "bob".into(), sdp: "v=0 from bob".into(), answer: false }]);
    assert!(net.take(b).is_empty());
    net.ok(a, now, Action::UpdateAnswer { peer: "bob".into(), sdp_answer: "v=0 answer".into() });
    net.deliver(now);
    assert_eq!(net.take(b), vec![Output::RemoteSdp { peer: "alice".into(), sdp: "v=0 answer".into(), answer: true }]);
}

#[test]
fn ice_failure_ends_a_connecting_call_with_a_hangup() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.ok(b, net.at(0), accept("alice"));
    net.deliver(net.at(0));
    net.take(a);
    net.take(b);

    net.ok(b, net.at(9_000), Action::IceFailed { peer: "alice".into() });
    assert_eq!(net.states(b), vec![Ended(EndReason::IceFailed)]);
    let hangup = net.pending()[0].clone();
    assert!(hangup.is(MessageType::Hangup, false));
    assert_eq!(hangup.to_client.as_deref(), Some("a1"));
    net.deliver(net.at(9_000));
    assert_eq!(net.states(a), vec![Ended(EndReason::RemoteHangup)]);
    assert!(net.sent_by("alice", "a1").last().unwrap().is(MessageType::Hangup, true));
}

#[test]
fn ice_failure_ends_an_ongoing_call() {
    let (mut net, a, b) = ongoing();
    net.ok(a, net.at(60_000), Action::IceFailed { peer: "bob".into() });
    assert_eq!(net.states(a), vec![Ended(EndReason::IceFailed)]);
    net.deliver(net.at(60_000));
    assert_eq!(net.states(b), vec![Ended(EndReason::RemoteHangup)]);
}

#[test]
fn a_new_call_after_an_ended_one_gets_a_new_sessid_and_old_messages_are_ignored() {
    let (mut net, a, b) = ongoing();
    let old = net.device(a).sessid("bob").unwrap().to_owned();
    net.ok(a, net.at(1_000), hangup("bob"));
    net.deliver(net.at(1_000));
    net.take(a);
    net.take(b);
    // A late copy of the old SETUP does not ring again.
    let late = format!(r#"{{"version":"3.0","resp":false,"sessid":"{old}","type":"SETUP","sdp":"v=0"}}"#);
    net.inject(b, net.at(1_001), "alice", "a1", &late).unwrap();
    assert!(net.take(b).is_empty());

    net.ok(b, net.at(2_000), call("alice", false));
    let new = net.device(b).sessid("alice").unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(new.len(), 4);
    assert!(new.chars().all(|c| c.is_ascii_alphanumeric()));
    net.deliver(net.at(2_000));
    assert_eq!(net.states(a), vec![Incoming]);
    // A late HANGUP of the old call does not end the new one.
    let old_hangup = format!(r#"{{"version":"3.0","resp":false,"sessid":"{old}","type":"HANGUP"}}"#);
    net.inject(a, net.at(2_001), "bob", "b1", &old_hangup).unwrap();
    assert_eq!(net.state(a, "bob"), Some(Incoming));
}

#[test]
fn messages_of_unknown_peers_or_other_clients_are_ignored() {
    let (mut net, a, b) = ongoing();
    let sessid = net.device(a).sessid("bob").unwrap().to_owned();
    let hangup = format!(r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"HANGUP"}}"#);
    let propsync = format!(
        r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"PROPSYNC","props":{{"videosend":"true"}}}}"#
    );
    let before = net.log.len();
    // Bob's other client is not in this call.
    net.inject(a, net.at(1), "bob", "b2", &hangup).unwrap();
    net.inject(a, net.at(1), "bob", "b2", &propsync).unwrap();
    // Carol has no call with alice.
    net.inject(a, net.at(1), "carol", "c1", &hangup).unwrap();
    // A stray answer.
    let answer = r#"{"version":"3.0","resp":true,"sessid":"nope","type":"SETUP","sdp":"v=0"}"#;
    net.inject(a, net.at(1), "carol", "c1", answer).unwrap();
    // This device's own echo.
    net.inject(a, net.at(1), "alice", "a1", &hangup).unwrap();
    assert!(net.take(a).is_empty());
    assert_eq!(net.log.len(), before, "nothing confirmed");
    assert_eq!(net.state(a, "bob"), Some(Ongoing));
    assert_eq!(net.state(a, "carol"), None);
    let _ = b;
}

#[test]
fn malformed_messages_are_refused_and_change_nothing() {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    net.ok(a, net.at(0), call("bob", false));
    net.deliver(net.at(0));
    net.take(b);
    let sessid = net.device(b).sessid("alice").unwrap().to_owned();
    let cases = [
        ("not json".to_owned(), "not JSON"),
        (format!(r#"{{"version":"2.0","resp":false,"sessid":"{sessid}","type":"CANCEL"}}"#), "unsupported"),
        (format!(r#"{{"version":"3.0","resp":"no","sessid":"{sessid}","type":"CANCEL"}}"#), "`resp`"),
        (format!(r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"BYE"}}"#), "unknown"),
        (format!(r#"{{"version":"3.0","resp":false,"sessid":"{sessid}","type":"UPDATE"}}"#), "needs an `sdp`"),
        (r#"{"version":"3.0","resp":false,"type":"CANCEL"}"#.to_owned(), "no `sessid`"),
    ];
    for (content, words) in cases {
        let error = net.inject(b, net.at(1), "alice", "a1", &content).unwrap_err();
        assert!(error.to_string().contains(words), "{error} should say {words}");
    }
    assert_eq!(net.state(b, "alice"), Some(Incoming));
    assert!(net.take(b).is_empty());
    assert_eq!(net.pending().len(), 0);
}

#[test]
fn actions_in_the_wrong_state_are_refused_with_clear_errors() {
    use switchboard_ecall::ActionError;
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    let now = net.at(0);

    let error = net.act(b, now, accept("alice")).unwrap_err();
    assert_eq!(error, ActionError::NoCall { peer: "alice".into() });
    assert_eq!(error.to_string(), "there is no call with alice");

    let error = net.act(a, now, call("alice", false)).unwrap_err();
    assert_eq!(error.to_string(), "cannot call your own user alice");

    net.ok(a, now, call("bob", false));
    let error = net.act(a, now, call("bob", true)).unwrap_err();
    assert_eq!(error, ActionError::CallExists { peer: "bob".into(), state: Outgoing });
    assert_eq!(error.to_string(), "there is already a call with bob: it is outgoing");

    let error = net.act(a, now, accept("bob")).unwrap_err();
    assert_eq!(error, ActionError::WrongState { action: "accept", peer: "bob".into(), state: Outgoing });
    assert_eq!(error.to_string(), "cannot accept the call with bob: it is outgoing");
    assert!(net.act(a, now, Action::Reject { peer: "bob".into() }).is_err());
    assert!(net.act(a, now, ice_connected("bob")).is_err());
    assert!(net.act(a, now, Action::IceFailed { peer: "bob".into() }).is_err());
    assert!(net.act(a, now, Action::Update { peer: "bob".into(), sdp_offer: "v=0".into() }).is_err());

    net.deliver(now);
    let error = net.act(b, now, ice_connected("alice")).unwrap_err();
    assert_eq!(error.to_string(), "cannot report ICE connected on the call with alice: it is incoming");

    net.ok(a, now, hangup("bob"));
    let error = net.act(a, now, hangup("bob")).unwrap_err();
    assert_eq!(error.to_string(), "cannot hang up the call with bob: it is ended (hangup)");
    let error = net.act(a, now, Action::SetVideo { peer: "bob".into(), on: true }).unwrap_err();
    assert!(matches!(error, ActionError::WrongState { state: Ended(EndReason::Hangup), .. }));

    // Refused actions sent nothing.
    let sent: Vec<_> = net.log.iter().map(|s| s.message.kind).collect();
    assert_eq!(sent, vec![MessageType::Setup, MessageType::Cancel]);
    // A new call after the ended one is fine.
    net.ok(a, now, call("bob", true));
}
