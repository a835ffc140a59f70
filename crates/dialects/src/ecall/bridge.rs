//! A Wire device's calls with users of other apps (Step 13): the codec
//! speaks ECall for the other party, with `switchboard_ecall`'s [`Device`]
//! playing that party's device, and turns what the Wire device says into
//! the core's 1:1 call (and back).
//!
//! A Wire device calls a chatroulette, calling or cloudkibo user:
//!
//! | Wire device | bridge | the other party's app |
//! |---|---|---|
//! | `SETUP` offer (its ICE candidates inside) | `Command::Call` | rings |
//! | rings on | holds the offer | accepts |
//! | | relays the offer (an SDP offer signal) | gets the offer, answers, trickles ICE |
//! | `SETUP resp: true` with the answer and the candidates folded in | gathers candidates until end-of-candidates or [`GATHERING`] | |
//! | `CANCEL` while ringing | `Command::Cancel` | stops ringing |
//! | `REJECT` | declined, busy, ring timeout, or the call could not be placed | rejects |
//! | `HANGUP` | `Command::Leave` of the call; the Wire device's `HANGUP resp: true` is absorbed | hangs up, or disconnects |
//!
//! The Wire device's `PROPSYNC` is confirmed by the bridge's [`Device`], as
//! a Wire peer would. What cannot cross is refused with the dialect's
//! `error` frame: an `UPDATE` (the other apps cannot renegotiate through
//! switchboard).

use std::time::{Duration, Instant};

use switchboard_core::{Command, InviteRef, Payload, RelayTarget, RoomRef, Signal, SignalKind, UserId};
use switchboard_ecall::{Action, CallState, Device, DeviceConfig, Output};

use super::candidates::{self, Candidate, Trickle};
use crate::json::ObjectWriter;

/// The client id the other party's device has in ECall messages to the
/// Wire device (`from_client`).
pub const BRIDGE_CLIENT: &str = "switchboard";

/// How long after the other party's SDP answer its trickled ICE candidates
/// are gathered into it, at most, when no end-of-candidates comes first. A
/// browser gathers host and server-reflexive candidates within a second or
/// so on most networks.
pub const GATHERING: Duration = Duration::from_secs(2);

/// Ended bridges kept per device, so that a late message of an ended call
/// (the Wire device's `HANGUP resp: true`) finds its call, as in
/// [`Device`], which keeps an ended call until the next with that peer.
const KEPT_ENDED: usize = 4;

/// What the bridge asks of the codec.
#[derive(Debug)]
pub(super) enum Step {
    /// A frame to the Wire device.
    Frame(String),
    /// A command for the core, in the Wire device's session.
    Command(Command),
    /// A refusal, worded, for the Wire device's `error` frame.
    Refuse(String),
}

/// Every bridged call of one Wire device, at most one per other party.
#[derive(Clone, Debug, Default)]
pub(super) struct Bridges {
    calls: Vec<Bridge>,
}

#[derive(Clone, Debug)]
struct Bridge {
    /// The other party.
    peer: UserId,
    /// The other party's device, as the Wire device sees it.
    device: Device,
    stage: Stage,
    /// Candidates trickled by the other party, not yet sent.
    candidates: Vec<Candidate>,
    /// The other party said it has gathered all its candidates.
    gathered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// The core rings the other party; the Wire device's offer waits for
    /// its accept.
    Ringing { offer: String },
    /// The offer went to the other party; its answer has not come.
    Offered,
    /// The answer came; candidates are gathered into it until `until`.
    Gathering { answer: String, until: Instant },
    /// The answer went to the Wire device, or the call is over.
    Answered,
}

impl Bridges {
    /// Whether a live or kept bridged call with `peer` exists: the Wire
    /// device's messages to `peer` go to it, not to the message channel.
    pub(super) fn has(&self, peer: &UserId) -> bool {
        self.calls.iter().any(|bridge| &bridge.peer == peer)
    }

    /// Whether the call of `wire_user` with `peer` is over (or there is
    /// none): a new `SETUP` offer to `peer` starts afresh.
    pub(super) fn ended(&self, wire_user: &str, peer: &UserId) -> bool {
        self.calls.iter().find(|bridge| &bridge.peer == peer).is_none_or(|bridge| !bridge.live(wire_user))
    }

    /// The other party of the call being placed: the last bridge still
    /// ringing, whose `Command::Call` a refusal answers.
    pub(super) fn placing(&self) -> Option<UserId> {
        self.calls.iter().rev().find(|bridge| matches!(bridge.stage, Stage::Ringing { .. })).map(|b| b.peer.clone())
    }

    /// The Wire device `wire` (its user and client) offers a call to `peer`,
    /// a user of another app: `setup` is its `SETUP` content. The call is
    /// placed in the core; the offer is held until `peer` accepts.
    pub(super) fn start(&mut self, now: Instant, wire: (&str, &str), peer: UserId, setup: &str, out: &mut Vec<Step>) {
        self.calls.retain(|bridge| bridge.peer != peer);
        let mut device = Device::new(peer.as_str(), BRIDGE_CLIENT, bridge_config());
        if let Err(error) = device.handle_message(now, wire.0, wire.1, setup) {
            return out.push(Step::Refuse(format!("bad content: {error}")));
        }
        let mut offer = None;
        drain(&mut device, out, |output| {
            if let Output::RemoteSdp { sdp, answer: false, .. } = output {
                offer = Some(sdp);
            }
        });
        let Some(offer) = offer else {
            return out.push(Step::Refuse(format!("{peer} is not a Wire client: only a SETUP offer can call it")));
        };
        out.push(Step::Command(Command::Call { to: peer.clone(), data: Payload::null() }));
        self.calls.push(Bridge {
            peer,
            device,
            stage: Stage::Ringing { offer },
            candidates: Vec::new(),
            gathered: false,
        });
        self.forget_old(wire.0);
    }

    /// A message of the Wire device (`wire`) to `peer`, whose bridged call
    /// exists ([`has`](Self::has)).
    pub(super) fn on_wire_message(
        &mut self,
        now: Instant,
        wire: (&str, &str),
        peer: &UserId,
        content: &str,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        let Some(bridge) = self.get_mut(peer) else { return out };
        let before = bridge.device.state(wire.0);
        if let Err(error) = bridge.device.handle_message(now, wire.0, wire.1, content) {
            out.push(Step::Refuse(format!("bad content: {error}")));
            return out;
        }
        let ringing = matches!(bridge.stage, Stage::Ringing { .. });
        let mut renegotiated = false;
        drain(&mut bridge.device, &mut out, |output| {
            if let Output::RemoteSdp { answer: false, .. } = output {
                renegotiated = true;
            }
        });
        let after = bridge.device.state(wire.0);
        if before.is_some_and(CallState::is_live) && after.is_some_and(|state| !state.is_live()) {
            // The Wire device withdrew its ringing call (CANCEL) or hung up.
            let command = if ringing {
                Command::Cancel { invite: InviteRef::To(peer.clone()), note: None }
            } else {
                Command::Leave { room: RoomRef::CallWith(peer.clone()) }
            };
            out.push(Step::Command(command));
            bridge.stage = Stage::Answered;
        }
        if renegotiated {
            out.push(Step::Refuse(format!("{peer}'s app cannot take a renegotiation (UPDATE) of the call")));
        }
        out
    }

    /// The core refused to place the call with `peer`, or `peer` declined
    /// it (rejected, busy, the ring timeout, gone): the Wire device hears a
    /// `REJECT`.
    pub(super) fn declined(&mut self, now: Instant, wire_user: &str, peer: &UserId) -> Vec<Step> {
        self.end_with(now, peer, Action::Reject { peer: wire_user.to_owned() })
    }

    /// `peer` accepted: the held offer goes to it.
    pub(super) fn accepted(&mut self, peer: &UserId) -> Vec<Step> {
        let Some(bridge) = self.get_mut(peer) else { return Vec::new() };
        let Stage::Ringing { offer } = std::mem::replace(&mut bridge.stage, Stage::Offered) else { return Vec::new() };
        let payload = ObjectWriter::new().string("type", "offer").string("sdp", &offer).finish();
        let signal = Signal { kind: SignalKind::Offer, payload: Payload::new(payload) };
        vec![Step::Command(Command::Relay { to: RelayTarget::CallPeer(peer.clone()), signal })]
    }

    /// `peer` ended the accepted call (it hung up, or its connection
    /// closed): the Wire device hears a `HANGUP`.
    pub(super) fn ended_by_peer(&mut self, now: Instant, wire_user: &str, peer: &UserId) -> Vec<Step> {
        self.end_with(now, peer, Action::Hangup { peer: wire_user.to_owned() })
    }

    /// A signal of `peer` in the call: its SDP answer, or a trickled ICE
    /// candidate. The answer goes to the Wire device once the candidates
    /// are in (end-of-candidates), or at the [`GATHERING`] deadline.
    pub(super) fn signal(&mut self, now: Instant, wire_user: &str, peer: &UserId, signal: &Signal) -> Vec<Step> {
        let Some(bridge) = self.get_mut(peer) else { return Vec::new() };
        match (&signal.kind, &bridge.stage) {
            (SignalKind::Answer, Stage::Offered) => {
                let Some(answer) = sdp_of(signal.payload.as_str(), "answer") else {
                    return vec![Step::Refuse(format!("{peer} sent an SDP answer that is not one"))];
                };
                bridge.stage = Stage::Gathering { answer, until: now + GATHERING };
                if bridge.gathered { bridge.send_answer(now, wire_user, true) } else { Vec::new() }
            }
            (SignalKind::IceCandidate, Stage::Offered | Stage::Gathering { .. }) => {
                match Trickle::read(signal.payload.as_str()) {
                    Trickle::Candidate(candidate) => {
                        bridge.candidates.push(candidate);
                        Vec::new()
                    }
                    Trickle::End if matches!(bridge.stage, Stage::Gathering { .. }) => {
                        bridge.send_answer(now, wire_user, true)
                    }
                    // End-of-candidates before the answer: the answer goes
                    // as soon as it comes.
                    Trickle::End => {
                        bridge.gathered = true;
                        Vec::new()
                    }
                    Trickle::Unreadable => Vec::new(),
                }
            }
            // Candidates after the answer went out: ECall has no trickle,
            // and the Wire device's own candidates are in its offer, so
            // connectivity checks from it reach the other party anyway.
            _ => Vec::new(),
        }
    }

    /// When the earliest gathering ends.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.calls
            .iter()
            .filter_map(|bridge| match bridge.stage {
                Stage::Gathering { until, .. } => Some(until),
                _ => None,
            })
            .min()
    }

    /// The clock reached [`deadline`](Self::deadline): every answer whose
    /// gathering is over goes out with the candidates it has.
    pub(super) fn on_deadline(&mut self, now: Instant, wire_user: &str) -> Vec<Step> {
        let mut out = Vec::new();
        for bridge in &mut self.calls {
            if matches!(bridge.stage, Stage::Gathering { until, .. } if until <= now) {
                out.extend(bridge.send_answer(now, wire_user, false));
            }
        }
        out
    }

    fn end_with(&mut self, now: Instant, peer: &UserId, action: Action) -> Vec<Step> {
        let mut out = Vec::new();
        let Some(bridge) = self.get_mut(peer) else { return out };
        bridge.stage = Stage::Answered;
        // An action that does not fit the state (the call ended on both
        // sides at once) sends nothing.
        if bridge.device.handle_action(now, action).is_ok() {
            drain(&mut bridge.device, &mut out, |_| {});
        }
        out
    }

    fn get_mut(&mut self, peer: &UserId) -> Option<&mut Bridge> {
        self.calls.iter_mut().find(|bridge| &bridge.peer == peer)
    }

    /// Drops the oldest ended bridges past [`KEPT_ENDED`].
    fn forget_old(&mut self, wire_user: &str) {
        while self.calls.iter().filter(|bridge| !bridge.live(wire_user)).count() > KEPT_ENDED {
            let oldest = self.calls.iter().position(|bridge| !bridge.live(wire_user)).expect("counted");
            self.calls.remove(oldest);
        }
    }
}

impl Bridge {
    /// Whether the call with the Wire device's user is not over.
    fn live(&self, wire_user: &str) -> bool {
        self.device.state(wire_user).is_some_and(CallState::is_live)
    }

    /// The answer, with the candidates gathered, as `SETUP resp: true`.
    fn send_answer(&mut self, now: Instant, wire_user: &str, ended: bool) -> Vec<Step> {
        let Stage::Gathering { answer, .. } = std::mem::replace(&mut self.stage, Stage::Answered) else {
            return Vec::new();
        };
        let sdp_answer = candidates::fold(&answer, &std::mem::take(&mut self.candidates), ended);
        let mut out = Vec::new();
        if self.device.handle_action(now, Action::Accept { peer: wire_user.to_owned(), sdp_answer }).is_ok() {
            drain(&mut self.device, &mut out, |_| {});
        }
        out
    }
}

/// The other party's device never rings out or times out by itself: the
/// core keeps the call's ring timeout, and tells the bridge.
fn bridge_config() -> DeviceConfig {
    let never = Duration::from_secs(60 * 60 * 24 * 365);
    DeviceConfig { ring_timeout: never, incoming_grace: never, seed: 0 }
}

/// Every output of `device`: messages become frames to the Wire device,
/// the rest goes to `also`.
fn drain(device: &mut Device, out: &mut Vec<Step>, mut also: impl FnMut(Output)) {
    while let Some(output) = device.poll_output() {
        match output {
            Output::Send { content, .. } => out.push(Step::Frame(calling_frame(device.user(), &content))),
            other => also(other),
        }
    }
}

/// `{"type":"calling","from":PEER,"from_client":"switchboard","content":...}`.
fn calling_frame(from: &str, content: &str) -> String {
    ObjectWriter::with_capacity(content.len() + 96)
        .string("type", "calling")
        .string("from", from)
        .string("from_client", BRIDGE_CLIENT)
        .string("content", content)
        .finish()
}

/// The `sdp` of an `RTCSessionDescriptionInit` of type `kind`.
fn sdp_of(payload: &str, kind: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Description {
        #[serde(rename = "type")]
        kind: String,
        sdp: String,
    }
    let description: Description = serde_json::from_str(payload).ok()?;
    (description.kind == kind && !description.sdp.is_empty()).then_some(description.sdp)
}
