//! Every ordered pair of different dialects among chatroulette, calling and
//! cloudkibo, and a Wire (ecall) device calling each of them, through one
//! script of call steps (Step 13): ring, accept, offer, answer, ICE both
//! ways, hang-up from each side, reject, cancel, busy and the ring timeout
//! (manual clock). Each party is a client of its own dialect over a real
//! socket, doing what that dialect's client does: chatroulette's seed
//! frames, rtc-lib's room, invite and `room_peer_to`, CloudKibo's Android
//! events (its media room included), and for ecall `switchboard-client`'s
//! device running the ECall state machine, whose SDPs are whole (its
//! candidates inside its offer; the other side's folded into the answer it
//! gets). Same-dialect pairs
//! have tests of their own (chatroulette_calls.rs, calling.rs, the Node
//! tests of the original clients). The pairs run on one node, and again
//! with the caller and the callee on two nodes of a cluster.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::redis_server::RedisServer;
use support::signals::{candidate, kibo_candidate, kibo_status, sdp, sdp_text};
use support::socketio::Sio;
use support::*;
use switchboard_client::{ClientError, EcallClient};
use switchboard_ecall::{Action, CallState, DeviceConfig, EndReason, Output};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Chatroulette,
    Calling,
    Cloudkibo,
    Ecall,
}

/// One party: its client, the name others call it by, and what its
/// dialect's client keeps of the call in progress.
struct Party {
    kind: Kind,
    name: String,
    ws: Option<Client>,
    sio: Option<Sio>,
    /// calling: the call's room and this side's invitation handle.
    room: Option<String>,
    handle: Option<Value>,
    /// cloudkibo: whether the media room was joined, and the peer's id in it.
    kibo_peer_id: Option<u64>,
    /// ecall: the device, and the time it is told (fixed: its own ring
    /// timer must not fire; the server's clock runs the ring timeout).
    ecall: Option<EcallClient>,
    now: Instant,
    /// ecall: whether the call's answer has reached the device.
    answered: bool,
}

/// A chatroulette frame naming one user, with a reason when there is one.
fn chat_named(kind: &str, key: &str, user: &str, reason: Option<&str>) -> Value {
    let mut payload = json!({ key: user });
    if let Some(reason) = reason {
        payload["reason"] = json!(reason);
    }
    json!({"type": kind, "payload": payload})
}

impl Party {
    async fn connect(kind: Kind, server: &TestServer, name: &str) -> Party {
        let mut party = Party {
            kind,
            name: name.to_owned(),
            ws: None,
            sio: None,
            room: None,
            handle: None,
            kibo_peer_id: None,
            ecall: None,
            now: Instant::now(),
            answered: false,
        };
        match kind {
            Kind::Chatroulette => party.ws = Some(server.online(name).await),
            Kind::Calling => {
                let (client, id) = server.calling().await;
                party.name = id;
                party.ws = Some(client);
            }
            Kind::Cloudkibo => {
                let mut sio = Sio::connect(server.addr).await;
                let user = json!({"room": "globalchatroom", "user": {"phone": name, "_id": name}});
                sio.emit("join global chatroom", user).await;
                assert_eq!(sio.expect("youareonline").await, json!([]));
                party.sio = Some(sio);
            }
            Kind::Ecall => {
                let base = format!("ws://{}", server.addr);
                party.ecall = Some(EcallClient::connect(&base, name, "phone", DeviceConfig::default()).await.unwrap());
            }
        }
        party
    }

    fn device(&mut self) -> &mut EcallClient {
        self.ecall.as_mut().expect("an ecall party")
    }

    /// Whether the party's client trickles ICE candidates: a Wire device's
    /// SDPs hold its own.
    fn trickles(&self) -> bool {
        self.kind != Kind::Ecall
    }

    /// ecall: the next state of the call with `peer`, past the other outputs.
    async fn ecall_state(&mut self, peer: &str) -> CallState {
        let now = self.now;
        loop {
            let output = tokio::time::timeout(PATIENCE, self.device().next_event(now)).await.expect("in time");
            if let Output::State { peer: p, state } = output.expect("no error") {
                assert_eq!(p, peer);
                return state;
            }
        }
    }

    /// ecall: the call with `peer` ends for `reason`.
    async fn ecall_ended(&mut self, peer: &str, reason: EndReason) {
        loop {
            match self.ecall_state(peer).await {
                CallState::Ended(ended) => return assert_eq!(ended, reason),
                CallState::Connecting | CallState::Ongoing => continue,
                other => panic!("waiting for the end, got {other}"),
            }
        }
    }

    fn ws(&mut self) -> &mut Client {
        self.ws.as_mut().expect("a WebSocket party")
    }

    fn sio(&mut self) -> &mut Sio {
        self.sio.as_mut().expect("a socket.io party")
    }

    /// The next calling frame of `kind`, past the room events rtc-lib also
    /// gets (peer updates, the pending peer coming and going).
    async fn calling_next(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.ws().recv().await;
            if frame["type"] == kind {
                return frame;
            }
            let room_event = ["room_peer_add", "room_peer_update", "room_peer_rm", "room_update"];
            assert!(room_event.contains(&frame["type"].as_str().unwrap_or_default()), "waiting for {kind}: {frame}");
        }
    }

    /// Places a call to `callee`; for calling, into a room of its own, as
    /// rtc-lib does. Returns calling's answer to `invite_send`.
    async fn call(&mut self, callee: &str) -> Option<Value> {
        match self.kind {
            Kind::Chatroulette => {
                self.ws().send(json!({"type":"REQUEST_CALL","payload":{"to":callee}})).await;
                None
            }
            Kind::Calling => {
                let room = format!("room-of-{}-{}", &self.name[..8], callee);
                let joined = ask(self.ws(), json!({"type":"room_join","room":room,"status":{}}), 1).await;
                assert!(joined.get("error").is_none(), "{joined}");
                self.ws().send(json!({"type":"invite_send","room":room,"user":callee,"data":{},"tid":2})).await;
                let answer = self.calling_next("answer").await;
                self.handle = Some(answer["data"]["handle"].clone());
                self.room = Some(room);
                Some(answer)
            }
            Kind::Cloudkibo => {
                let name = self.name.clone();
                let call = json!({"room": "globalchatroom", "callerphone": name, "calleephone": callee});
                let ack = self.sio().emit_with_ack("callthisperson", call).await;
                assert_eq!(self.sio().expect_ack(ack).await, vec![json!({"status": "ok", "calleephone": callee})]);
                None
            }
            Kind::Ecall => {
                let now = self.now;
                // The whole offer, as Wire sends it (its candidates would be
                // inside; the callee's check compares it whole).
                let sdp_offer = sdp_text("offer");
                let call = Action::Call { peer: callee.to_owned(), sdp_offer, video: true };
                self.answered = false;
                self.device().act(now, call).await.unwrap();
                assert_eq!(self.ecall_state(callee).await, CallState::Outgoing);
                None
            }
        }
    }

    async fn expect_ring(&mut self, caller: &str) {
        match self.kind {
            Kind::Chatroulette => {
                assert_eq!(self.ws().recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":caller}}))
            }
            Kind::Calling => {
                let ring = self.calling_next("invite_incoming").await;
                assert_eq!(ring["sender"], caller, "{ring}");
                self.room = ring["room"].as_str().map(str::to_owned);
                self.handle = Some(ring["handle"].clone());
            }
            Kind::Cloudkibo => {
                let ring = self.sio().expect("areyoufreeforcall").await;
                assert_eq!(
                    (ring["callerphone"].as_str(), ring["calleephone"].as_str()),
                    (Some(caller), Some(&*self.name))
                );
                let free = json!({"to": caller, "msg": kibo_status(caller, &self.name, "calleeisavailable")});
                self.sio().emit("message", free).await;
                // A barrier, not part of the call: a second registration is
                // refused by the codec in order, so once its error is here
                // the status before it has been handled (a test that moves
                // the clock next must not outrun it).
                let name = self.name.clone();
                let again = json!({"room": "globalchatroom", "user": {"phone": name, "_id": name}});
                self.sio().emit("join global chatroom", again).await;
                self.sio().expect("error").await;
            }
            Kind::Ecall => unreachable!("a Wire device rings on the caller's offer: expect_folded_offer"),
        }
    }

    /// ecall: the device rings on a `SETUP` whose offer holds the
    /// candidates the caller trickled (`candidates`), folded in.
    async fn expect_folded_offer(&mut self, caller: &str, candidates: &[u32]) {
        let now = self.now;
        let expected = folded("offer", candidates);
        let (mut offered, mut ringing) = (false, false);
        while !(offered && ringing) {
            let output = tokio::time::timeout(PATIENCE, self.device().next_event(now)).await.expect("in time");
            match output.expect("no error") {
                Output::RemoteSdp { peer, sdp, answer: false } => {
                    assert_eq!((peer.as_str(), sdp.as_str()), (caller, expected.as_str()));
                    offered = true;
                }
                Output::State { peer, state: CallState::Incoming } if peer == caller => ringing = true,
                Output::RemoteProps { .. } => {}
                other => panic!("waiting for the ring, got {other:?}"),
            }
        }
        self.answered = false;
    }

    /// ecall: a renegotiation of the call reaches the device as `UPDATE`,
    /// its offer with the candidates trickled after it folded in; the
    /// device answers it (`UPDATE resp: true`).
    async fn answer_update(&mut self, caller: &str, candidates: &[u32]) {
        let now = self.now;
        let expected = folded("offer", candidates);
        loop {
            let output = tokio::time::timeout(PATIENCE, self.device().next_event(now)).await.expect("in time");
            match output.expect("no error") {
                Output::RemoteSdp { peer, sdp, answer: false } => {
                    assert_eq!((peer.as_str(), sdp.as_str()), (caller, expected.as_str()));
                    break;
                }
                Output::RemoteProps { .. } => {}
                other => panic!("waiting for the UPDATE, got {other:?}"),
            }
        }
        let answer = Action::UpdateAnswer { peer: caller.to_owned(), sdp_answer: sdp_text("answer") };
        self.device().act(now, answer).await.unwrap();
    }

    /// Answers the ringing call; cloudkibo then joins the media room the
    /// server names, as the Android client does on `room_name`.
    async fn accept(&mut self, caller: &str) {
        match self.kind {
            Kind::Chatroulette => self.ws().send(json!({"type":"ACCEPT_CALL","payload":{"from":caller}})).await,
            Kind::Calling => {
                let handle = self.handle.clone();
                let answer = ask(self.ws(), json!({"type":"invite_accept","handle":handle,"status":{}}), 3).await;
                assert!(answer.get("error").is_none(), "{answer}");
            }
            Kind::Cloudkibo => {
                let name = self.name.clone();
                let accepted = json!({"to": caller, "msg": kibo_status(caller, &name, "callaccepted")});
                self.sio().emit("message", accepted).await;
                let named = self.sio().expect("message").await;
                assert_eq!((named["type"].as_str(), named["callerphone"].as_str()), (Some("room_name"), Some(caller)));
                let room = named["room_name"].clone();
                let ack = self.sio().emit_with_ack("init", json!({"room": room, "username": name})).await;
                assert_eq!(self.sio().expect_ack(ack).await, vec![room, json!(2), json!(false)]);
                self.kibo_peer_id = Some(1);
            }
            Kind::Ecall => {
                let now = self.now;
                let accept = Action::Accept { peer: caller.to_owned(), sdp_answer: sdp_text("answer") };
                self.device().act(now, accept).await.unwrap();
                assert_eq!(self.ecall_state(caller).await, CallState::Connecting);
                self.answered = true;
            }
        }
    }

    /// The caller hears the answer; cloudkibo then names its media room and
    /// joins it, and the server shows the callee in it.
    async fn expect_accepted(&mut self, callee: &str) {
        match self.kind {
            Kind::Chatroulette => {
                assert_eq!(self.ws().recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":callee}}))
            }
            Kind::Calling => {
                let response = self.calling_next("invite_response").await;
                assert_eq!((&response["handle"], &response["accepted"]), (self.handle.as_ref().unwrap(), &json!(true)));
            }
            Kind::Cloudkibo => {
                let name = self.name.clone();
                assert_eq!(self.sio().expect("message").await, kibo_status(&name, callee, "callaccepted"));
                let room = format!("media-{name}");
                let msg = json!({"callerphone": name, "calleephone": callee, "type": "room_name", "room_name": room});
                self.sio().emit("message", json!({"to": callee, "msg": msg})).await;
                let ack = self.sio().emit_with_ack("init", json!({"room": room, "username": name})).await;
                assert_eq!(self.sio().expect_ack(ack).await, vec![json!(room), json!(1), json!(false)]);
                assert_eq!(self.sio().expect("peer.connected").await, json!({"id": 2, "username": callee}));
                self.kibo_peer_id = Some(2);
            }
            // Nothing yet: a Wire caller hears of the answer in its SETUP.
            Kind::Ecall => {}
        }
    }

    /// Sends `data` (an SDP of `kind` "offer" or "answer", or candidate `n`)
    /// to `peer`.
    async fn send_signal(&mut self, peer: &str, signal: Signal) {
        match self.kind {
            Kind::Chatroulette => {
                let frame = match signal {
                    Signal::Offer => json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":peer,"sdp":sdp("offer")}}),
                    Signal::Answer => {
                        json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":peer,"sdp":sdp("answer")}})
                    }
                    Signal::Ice(n) => {
                        json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":peer,"candidate":candidate(n)}})
                    }
                    Signal::EndOfCandidates => {
                        json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":peer,"candidate":end_of_candidates()}})
                    }
                };
                self.ws().send(frame).await;
            }
            Kind::Calling => {
                let (event, data) = match signal {
                    Signal::Offer => ("signaling", sdp("offer")),
                    Signal::Answer => ("signaling", sdp("answer")),
                    Signal::Ice(n) => ("ice_candidate", candidate(n)),
                    Signal::EndOfCandidates => ("ice_candidate", end_of_candidates()),
                };
                let room = self.room.clone();
                let frame = json!({"type":"room_peer_to","room":room,"user":peer,"event":event,"data":data,"tid":4});
                self.ws().send(frame).await;
                let answer = self.calling_next("answer").await;
                assert!(answer.get("error").is_none(), "{answer}");
            }
            Kind::Cloudkibo => {
                let to = self.kibo_peer_id.expect("in the media room");
                let by = 3 - to;
                let msg = match signal {
                    Signal::Offer => json!({"to": to, "by": by, "type": "offer", "sdp": sdp("offer")}),
                    Signal::Answer => json!({"to": to, "by": by, "type": "answer", "sdp": sdp("answer")}),
                    Signal::Ice(n) => json!({"to": to, "by": by, "type": "ice", "ice": kibo_candidate(n)}),
                    Signal::EndOfCandidates => {
                        let mut ice = end_of_candidates();
                        ice["type"] = json!("candidate");
                        json!({"to": to, "by": by, "type": "ice", "ice": ice})
                    }
                };
                self.sio().emit("msg", msg).await;
            }
            // The offer went in the SETUP; the bridge relays it on accept.
            Kind::Ecall if signal == Signal::Offer => {}
            Kind::Ecall => unreachable!("a Wire device does not trickle"),
        }
    }

    /// ecall: the callee's answer arrives in `SETUP resp: true`, with the
    /// candidates it trickled (`candidates`) folded in.
    async fn expect_folded_answer(&mut self, peer: &str, candidates: &[u32]) {
        let now = self.now;
        let expected = folded("answer", candidates);
        loop {
            let output = tokio::time::timeout(PATIENCE, self.device().next_event(now)).await.expect("in time");
            match output.expect("no error") {
                Output::RemoteSdp { peer: p, sdp, answer: true } => {
                    assert_eq!((p.as_str(), sdp.as_str()), (peer, expected.as_str()));
                    self.answered = true;
                    return;
                }
                Output::State { state: CallState::Connecting, .. } | Output::RemoteProps { .. } => {}
                other => panic!("waiting for the answer, got {other:?}"),
            }
        }
    }

    async fn expect_signal(&mut self, peer: &str, signal: Signal) {
        match self.kind {
            Kind::Chatroulette => {
                let expected = match signal {
                    Signal::Offer => {
                        json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":peer,"sdp":sdp("offer")}})
                    }
                    Signal::Answer => {
                        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":peer,"sdp":sdp("answer")}})
                    }
                    Signal::Ice(n) => {
                        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":peer,"candidate":candidate(n)}})
                    }
                    Signal::EndOfCandidates => unreachable!("only a Wire caller waits for it"),
                };
                assert_eq!(self.ws().recv().await, expected);
            }
            Kind::Calling => {
                let (event, data) = match signal {
                    Signal::Offer => ("signaling", sdp("offer")),
                    Signal::Answer => ("signaling", sdp("answer")),
                    Signal::Ice(n) => ("ice_candidate", candidate(n)),
                    Signal::EndOfCandidates => unreachable!("only a Wire caller waits for it"),
                };
                let room = self.room.clone();
                let expected = json!({"type":"room_peer_from","room":room,"user":peer,"event":event,"data":data});
                assert_eq!(self.calling_next("room_peer_from").await, expected);
            }
            Kind::Cloudkibo => {
                let by = self.kibo_peer_id.expect("in the media room");
                let mut expected = json!({"to": 3 - by, "by": by, "username": peer});
                match signal {
                    Signal::Offer | Signal::Answer => {
                        let kind = if signal == Signal::Offer { "offer" } else { "answer" };
                        expected["type"] = json!(kind);
                        expected["sdp"] = sdp(kind);
                    }
                    Signal::Ice(n) => {
                        expected["type"] = json!("ice");
                        expected["ice"] = kibo_candidate(n);
                    }
                    Signal::EndOfCandidates => unreachable!("only a Wire caller waits for it"),
                }
                assert_eq!(self.sio().expect("msg").await, expected);
            }
            Kind::Ecall => unreachable!("a Wire device's answer comes whole: expect_folded_answer"),
        }
    }

    async fn hang_up(&mut self, peer: &str, caller: &str, callee: &str) {
        match self.kind {
            Kind::Chatroulette => self.ws().send(json!({"type":"HANG_UP","payload":{"to":peer}})).await,
            Kind::Calling => {
                let room = self.room.clone();
                self.ws().send(json!({"type":"room_leave","room":room,"tid":5})).await;
                self.calling_next("answer").await;
            }
            Kind::Cloudkibo => {
                let msg = json!({"to": peer, "msg": kibo_status(caller, callee, "callended")});
                self.sio().emit("message", msg).await;
            }
            Kind::Ecall => {
                let now = self.now;
                self.device().act(now, Action::Hangup { peer: peer.to_owned() }).await.unwrap();
                self.ecall_ended(peer, EndReason::Hangup).await;
            }
        }
    }

    async fn expect_ended(&mut self, by: &str, caller: &str, callee: &str) {
        self.expect_ended_for(by, caller, callee, "hangup").await;
    }

    async fn expect_ended_for(&mut self, by: &str, caller: &str, callee: &str, reason: &str) {
        match self.kind {
            Kind::Chatroulette => {
                let ended = json!({"type":"CALL_ENDED","payload":{"by":by,"reason":reason}});
                assert_eq!(self.ws().recv().await, ended);
            }
            Kind::Calling => {
                let left = self.calling_next("room_peer_rm").await;
                assert_eq!(left["user"], by, "{left}");
            }
            Kind::Cloudkibo => {
                let peer = self.kibo_peer_id.take().expect("in the media room");
                assert_eq!(self.sio().expect("peer.disconnected").await, json!({"id": peer}));
                let mut ended = kibo_status(caller, callee, "callended");
                ended["reason"] = json!(reason);
                assert_eq!(self.sio().expect("message").await, ended);
            }
            // ECall has one way to end an answered call, HANGUP; before the
            // answer reached the Wire device, the call was not taken: REJECT.
            Kind::Ecall => {
                let reason = if self.answered { EndReason::RemoteHangup } else { EndReason::Rejected };
                self.ecall_ended(by, reason).await
            }
        }
    }

    /// The party's connection closes, without a word.
    fn disconnect(self) {
        match (self.ws, self.sio) {
            (Some(ws), _) => ws.drop_connection(),
            (_, sio) => drop((sio, self.ecall)),
        }
    }

    async fn reject(&mut self, caller: &str) {
        match self.kind {
            Kind::Chatroulette => self.ws().send(json!({"type":"REJECT_CALL","payload":{"from":caller}})).await,
            Kind::Calling => {
                let handle = self.handle.clone();
                ask(self.ws(), json!({"type":"invite_deny","handle":handle}), 6).await;
            }
            Kind::Cloudkibo => {
                let msg = json!({"to": caller, "msg": kibo_status(caller, &self.name, "callrejected")});
                self.sio().emit("message", msg).await;
            }
            Kind::Ecall => {
                let now = self.now;
                self.device().act(now, Action::Reject { peer: caller.to_owned() }).await.unwrap();
                self.ecall_ended(caller, EndReason::Rejected).await;
            }
        }
    }

    /// The caller hears that the call did not connect, for `reason`
    /// (`None`: a plain rejection).
    async fn expect_declined(&mut self, callee: &str, reason: Option<&str>) {
        match self.kind {
            Kind::Chatroulette => {
                assert_eq!(self.ws().recv().await, chat_named("CALL_REJECTED", "by", callee, reason));
            }
            Kind::Calling => {
                let response = self.calling_next("invite_response").await;
                assert_eq!(
                    (&response["handle"], &response["accepted"]),
                    (self.handle.as_ref().unwrap(), &json!(false))
                );
            }
            Kind::Cloudkibo => {
                let word = match reason {
                    None => "callrejected",
                    Some("timeout") => "noanswer",
                    Some(other) => panic!("no cloudkibo status for {other}"),
                };
                let name = self.name.clone();
                assert_eq!(self.sio().expect("message").await, kibo_status(&name, callee, word));
            }
            // ECall's one word for a call that was not taken, the ring
            // timeout included: REJECT.
            Kind::Ecall => self.ecall_ended(callee, EndReason::Rejected).await,
        }
    }

    async fn cancel(&mut self, callee: &str) {
        match self.kind {
            Kind::Chatroulette => self.ws().send(json!({"type":"CANCEL_CALL","payload":{"to":callee}})).await,
            Kind::Calling => {
                let handle = self.handle.clone();
                self.ws().send(json!({"type":"invite_cancel","handle":handle,"tid":7})).await;
                self.calling_next("answer").await;
            }
            Kind::Cloudkibo => {
                let msg = json!({"to": callee, "msg": kibo_status(&self.name, callee, "missing")});
                self.sio().emit("message", msg).await;
            }
            Kind::Ecall => {
                let now = self.now;
                self.device().act(now, Action::Hangup { peer: callee.to_owned() }).await.unwrap();
                self.ecall_ended(callee, EndReason::Hangup).await;
            }
        }
    }

    /// The callee stops ringing, for `reason` (`None`: the caller cancelled).
    async fn expect_ringing_stopped(&mut self, caller: &str, reason: Option<&str>) {
        match self.kind {
            Kind::Chatroulette => {
                assert_eq!(self.ws().recv().await, chat_named("CALL_CANCELLED", "by", caller, reason));
            }
            Kind::Calling => {
                let cancelled = self.calling_next("invite_cancelled").await;
                assert_eq!(&cancelled["handle"], self.handle.as_ref().unwrap());
            }
            Kind::Cloudkibo => {
                let name = self.name.clone();
                assert_eq!(self.sio().expect("message").await, kibo_status(caller, &name, "missing"));
            }
            // The bridge's device withdrew the call it rang with.
            Kind::Ecall => self.ecall_ended(caller, EndReason::Cancelled).await,
        }
    }

    /// The caller's call to a busy `callee` is refused as busy (`answer`:
    /// calling's answer to its `invite_send`). Across nodes, only the
    /// callee's node knows it is busy: calling's invite is answered, then
    /// declined (`invite_response`, calling's only form for it), and the
    /// inviter's room is left as after any decline.
    async fn expect_busy(&mut self, callee: &str, answer: Option<Value>, across: bool) {
        match self.kind {
            Kind::Chatroulette => {
                let busy = json!({"type":"CALL_REJECTED","payload":{"by":callee,"reason":"busy"}});
                assert_eq!(self.ws().recv().await, busy);
            }
            Kind::Calling if across => {
                let answer = answer.expect("the invite_send answer");
                assert!(answer["data"]["handle"].is_number(), "{answer}");
                self.expect_declined(callee, Some("busy")).await;
                self.tidy().await;
            }
            Kind::Calling => {
                let answer = answer.expect("the invite_send answer");
                assert_eq!(answer["error"], format!("{callee} is busy"), "{answer}");
                let room = self.room.take();
                ask(self.ws(), json!({"type":"room_leave","room":room}), 8).await;
            }
            Kind::Cloudkibo => {
                let name = self.name.clone();
                assert_eq!(self.sio().expect("message").await, kibo_status(&name, callee, "calleeisbusy"));
            }
            // A REJECT, and the dialect's error saying why.
            Kind::Ecall => {
                self.ecall_ended(callee, EndReason::Rejected).await;
                let now = self.now;
                let refused = tokio::time::timeout(PATIENCE, self.device().receive(now)).await.expect("in time");
                assert!(
                    matches!(&refused, Err(ClientError::Refused(why)) if *why == format!("{callee} is busy")),
                    "{refused:?}"
                );
            }
        }
    }

    /// Leaves what the last call left of this side's own state (calling:
    /// the room of its own it called from), so the next call starts clean.
    async fn tidy(&mut self) {
        if self.kind == Kind::Calling
            && let Some(room) = self.room.take()
            && self.handle.take().is_some()
        {
            self.ws().send(json!({"type":"room_leave","room":room,"tid":9})).await;
            self.calling_next("answer").await;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Signal {
    Offer,
    Answer,
    Ice(u32),
    /// The browser's last `icecandidate`: an empty candidate.
    EndOfCandidates,
}

const KINDS: [Kind; 3] = [Kind::Chatroulette, Kind::Calling, Kind::Cloudkibo];

/// The SDP of `kind` with candidates `candidates` folded in, as a Wire
/// device gets it: `a=candidate` lines, then `a=end-of-candidates`.
fn folded(kind: &str, candidates: &[u32]) -> String {
    let mut sdp = sdp_text(kind);
    for &n in candidates {
        sdp.push_str(&format!("a={}\r\n", candidate(n)["candidate"].as_str().unwrap()));
    }
    sdp.push_str("a=end-of-candidates\r\n");
    sdp
}

/// The browser's end-of-candidates: an `RTCIceCandidateInit` with an empty
/// candidate.
fn end_of_candidates() -> Value {
    json!({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})
}

/// The whole script for one ordered pair; `caller_at` and `callee_at` may
/// be the same node or two nodes of a cluster; `clocks` are every node's.
async fn script(
    kinds: (Kind, Kind),
    at: (&TestServer, &TestServer),
    clocks: &[&TestServer],
    redis: Option<&RedisServer>,
    tag: &str,
) {
    let (caller_kind, callee_kind) = kinds;
    let mut caller = Party::connect(caller_kind, at.0, &format!("caller-{tag}")).await;
    let mut callee = Party::connect(callee_kind, at.1, &format!("callee-{tag}")).await;
    let mut spare = Party::connect(Kind::Chatroulette, at.1, &format!("spare-{tag}")).await;
    let (a, b) = (caller.name.clone(), callee.name.clone());
    if let Some(redis) = redis {
        // The names are in Redis before anyone calls across nodes.
        for name in [&a, &b, &spare.name] {
            redis.wait_for_name(name).await;
        }
    }

    // A whole call, hung up by the callee.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    callee.accept(&a).await;
    caller.expect_accepted(&b).await;
    caller.send_signal(&b, Signal::Offer).await;
    callee.expect_signal(&a, Signal::Offer).await;
    callee.send_signal(&a, Signal::Answer).await;
    if caller.trickles() {
        caller.expect_signal(&b, Signal::Answer).await;
        for n in 0..2 {
            caller.send_signal(&b, Signal::Ice(n)).await;
            callee.expect_signal(&a, Signal::Ice(n)).await;
            callee.send_signal(&a, Signal::Ice(10 + n)).await;
            caller.expect_signal(&b, Signal::Ice(10 + n)).await;
        }
    } else {
        // A Wire caller: what the callee trickles is folded into the
        // answer, which goes out at the end-of-candidates.
        for n in 0..2 {
            callee.send_signal(&a, Signal::Ice(10 + n)).await;
        }
        callee.send_signal(&a, Signal::EndOfCandidates).await;
        caller.expect_folded_answer(&b, &[10, 11]).await;
    }
    callee.hang_up(&a, &a, &b).await;
    caller.expect_ended(&b, &a, &b).await;
    caller.tidy().await;
    callee.tidy().await;

    // Again, hung up by the caller.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    callee.accept(&a).await;
    caller.expect_accepted(&b).await;
    caller.send_signal(&b, Signal::Offer).await;
    callee.expect_signal(&a, Signal::Offer).await;
    caller.hang_up(&b, &a, &b).await;
    callee.expect_ended(&a, &a, &b).await;
    caller.tidy().await;
    callee.tidy().await;

    // Rejected.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    callee.reject(&a).await;
    caller.expect_declined(&b, None).await;
    caller.tidy().await;

    // Cancelled.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    caller.cancel(&b).await;
    callee.expect_ringing_stopped(&a, None).await;
    caller.tidy().await;

    // Nobody answers within the ring timeout.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    for node in clocks {
        node.clock.advance(Duration::from_secs(30));
    }
    caller.expect_declined(&b, Some("timeout")).await;
    callee.expect_ringing_stopped(&a, Some("timeout")).await;
    caller.tidy().await;

    // Busy: the callee is calling someone else.
    let spare_name = spare.name.clone();
    callee.call(&spare_name).await;
    spare.expect_ring(&b).await;
    let answer = caller.call(&b).await;
    caller.expect_busy(&b, answer, redis.is_some()).await;
    callee.cancel(&spare_name).await;
    spare.expect_ringing_stopped(&b, None).await;
    callee.tidy().await;

    // Last, an answered call whose callee's connection closes.
    caller.call(&b).await;
    callee.expect_ring(&a).await;
    callee.accept(&a).await;
    caller.expect_accepted(&b).await;
    callee.disconnect();
    caller.expect_ended_for(&b, &a, &b, "disconnected").await;
}

/// The caller's side of a call to a Wire device up to its ring: the server
/// accepts for the device at once, so the caller's app sends its offer and
/// candidates, and the device rings on a `SETUP` that holds them.
async fn ring_a_wire_device(caller: &mut Party, callee: &mut Party) -> Option<Value> {
    let (a, b) = (caller.name.clone(), callee.name.clone());
    let answer = caller.call(&b).await;
    caller.expect_accepted(&b).await;
    caller.send_signal(&b, Signal::Offer).await;
    for n in 0..2 {
        caller.send_signal(&b, Signal::Ice(n)).await;
    }
    caller.send_signal(&b, Signal::EndOfCandidates).await;
    callee.expect_folded_offer(&a, &[0, 1]).await;
    answer
}

/// The script for a user of `caller_kind` calling a Wire device: the same
/// steps as [`script`], in the order a Wire callee takes them.
async fn script_to_wire(
    caller_kind: Kind,
    at: (&TestServer, &TestServer),
    clocks: &[&TestServer],
    redis: Option<&RedisServer>,
    tag: &str,
) {
    let mut caller = Party::connect(caller_kind, at.0, &format!("caller-{tag}")).await;
    let mut callee = Party::connect(Kind::Ecall, at.1, &format!("callee-{tag}")).await;
    let mut spare = Party::connect(Kind::Chatroulette, at.1, &format!("spare-{tag}")).await;
    let (a, b) = (caller.name.clone(), callee.name.clone());
    if let Some(redis) = redis {
        for name in [&a, &b, &spare.name] {
            redis.wait_for_name(name).await;
        }
    }

    // A whole call, renegotiated by the caller, hung up by the Wire device.
    ring_a_wire_device(&mut caller, &mut callee).await;
    callee.accept(&a).await;
    caller.expect_signal(&b, Signal::Answer).await;
    caller.send_signal(&b, Signal::Offer).await;
    caller.send_signal(&b, Signal::Ice(5)).await;
    caller.send_signal(&b, Signal::EndOfCandidates).await;
    callee.answer_update(&a, &[5]).await;
    caller.expect_signal(&b, Signal::Answer).await;
    callee.hang_up(&a, &a, &b).await;
    caller.expect_ended(&b, &a, &b).await;
    caller.tidy().await;

    // Again, hung up by the caller.
    ring_a_wire_device(&mut caller, &mut callee).await;
    callee.accept(&a).await;
    caller.expect_signal(&b, Signal::Answer).await;
    caller.hang_up(&b, &a, &b).await;
    callee.ecall_ended(&a, EndReason::RemoteHangup).await;
    caller.tidy().await;

    // Rejected: to the caller, whose call was taken, the call ends.
    ring_a_wire_device(&mut caller, &mut callee).await;
    callee.reject(&a).await;
    caller.expect_ended_for(&b, &a, &b, "rejected").await;
    caller.tidy().await;

    // Cancelled: the caller hangs up while the device rings.
    ring_a_wire_device(&mut caller, &mut callee).await;
    caller.hang_up(&b, &a, &b).await;
    callee.expect_ringing_stopped(&a, None).await;
    caller.tidy().await;

    // Nobody answers within the ring timeout.
    ring_a_wire_device(&mut caller, &mut callee).await;
    for node in clocks {
        node.clock.advance(Duration::from_secs(30));
    }
    caller.expect_ended_for(&b, &a, &b, "timeout").await;
    callee.expect_ringing_stopped(&a, Some("timeout")).await;
    caller.tidy().await;

    // Busy: the Wire device is calling someone else.
    let spare_name = spare.name.clone();
    callee.call(&spare_name).await;
    spare.expect_ring(&b).await;
    let answer = caller.call(&b).await;
    caller.expect_busy(&b, answer, redis.is_some()).await;
    callee.cancel(&spare_name).await;
    spare.expect_ringing_stopped(&b, None).await;

    // Last, an answered call whose Wire device's connection closes.
    ring_a_wire_device(&mut caller, &mut callee).await;
    callee.accept(&a).await;
    caller.expect_signal(&b, Signal::Answer).await;
    callee.disconnect();
    caller.expect_ended_for(&b, &a, &b, "disconnected").await;
}

#[tokio::test]
async fn every_ordered_pair_of_dialects_carries_a_whole_call_on_one_node() {
    let server = TestServer::start().await;
    for caller in KINDS {
        for callee in KINDS.into_iter().filter(|&callee| callee != caller) {
            let tag = format!("{caller:?}-{callee:?}").to_lowercase();
            script((caller, callee), (&server, &server), &[&server], None, &tag).await;
        }
    }
    server.stop().await;
}

/// A Wire device calls a user of each other app, through its codec's
/// bridge.
#[tokio::test]
async fn a_wire_device_carries_a_whole_call_with_every_other_dialect_on_one_node() {
    let server = TestServer::start().await;
    for callee in KINDS {
        let tag = format!("ecall-{callee:?}").to_lowercase();
        script((Kind::Ecall, callee), (&server, &server), &[&server], None, &tag).await;
    }
    server.stop().await;
}

/// A user of each other app calls a Wire device, through the device's
/// codec's bridge.
#[tokio::test]
async fn every_other_dialect_carries_a_whole_call_to_a_wire_device_on_one_node() {
    let server = TestServer::start().await;
    for caller in KINDS {
        let tag = format!("{caller:?}-ecall").to_lowercase();
        script_to_wire(caller, (&server, &server), &[&server], None, &tag).await;
    }
    server.stop().await;
}

/// The same script with the caller on one node and the callee on another.
#[tokio::test]
async fn every_ordered_pair_of_dialects_carries_a_whole_call_across_two_nodes() {
    let redis = RedisServer::start().await;
    let nodes = support::redis_server::cluster(&redis, &["pairs-a", "pairs-b"]).await;
    let clocks: Vec<&TestServer> = nodes.iter().collect();
    for caller in KINDS {
        for callee in KINDS.into_iter().filter(|&callee| callee != caller) {
            let tag = format!("x-{caller:?}-{callee:?}").to_lowercase();
            script((caller, callee), (&nodes[0], &nodes[1]), &clocks, Some(&redis), &tag).await;
        }
    }
    for node in nodes {
        node.stop().await;
    }
}

/// A Wire device and a user of each other app on two nodes, each calling
/// the other.
#[tokio::test]
async fn a_wire_device_and_every_other_dialect_call_each_other_across_two_nodes() {
    let redis = RedisServer::start().await;
    let nodes = support::redis_server::cluster(&redis, &["wire-a", "wire-b"]).await;
    let clocks: Vec<&TestServer> = nodes.iter().collect();
    for other in KINDS {
        let tag = format!("x-ecall-{other:?}").to_lowercase();
        script((Kind::Ecall, other), (&nodes[0], &nodes[1]), &clocks, Some(&redis), &tag).await;
        let tag = format!("x-{other:?}-ecall").to_lowercase();
        script_to_wire(other, (&nodes[0], &nodes[1]), &clocks, Some(&redis), &tag).await;
    }
    for node in nodes {
        node.stop().await;
    }
}
