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
//! A chatroulette, calling or cloudkibo user calls a Wire device. The Wire
//! device can ring only on a `SETUP` offer, and those apps offer only once
//! the callee accepts, so the bridge accepts the core's call for the Wire
//! device at once and rings it when the offer is in:
//!
//! | other party's app | bridge | Wire device |
//! |---|---|---|
//! | calls | `Command::Accept` for the Wire device | — |
//! | hears "accepted"; offers, trickles ICE | gathers candidates until end-of-candidates or [`GATHERING`] | — |
//! | | the offer, candidates folded in | `SETUP` offer: rings, for [`RING_TIMEOUT`] |
//! | gets the answer | relays the `SETUP resp: true` answer | answers |
//! | the call ends (reason `rejected`, `timeout`) | `Command::EndCallWith` | `REJECT`, or rings out (`CANCEL` to it) |
//! | hangs up, or disconnects | `CANCEL` while ringing, else `HANGUP` | stops ringing, or hangs up |
//!
//! A renegotiation, either way, is ECall's `UPDATE`: the other party's new
//! offer (its candidates gathered in, as for the first) goes to the Wire
//! device as `UPDATE`, and its `UPDATE resp: true` back as the answer; the
//! Wire device's `UPDATE` goes to the other party as an offer, and its
//! answer back as `UPDATE resp: true`.
//!
//! The Wire device's `PROPSYNC` is confirmed by the bridge's [`Device`], as
//! a Wire peer would.

use std::time::{Duration, Instant};

use switchboard_core::{Command, EndReason, InviteId, InviteRef, Payload, RelayTarget, Signal, SignalKind, UserId};
use switchboard_ecall::{
    Action, CallState, Device, DeviceConfig, ECallMessage, EndReason as WireEnd, MessageType, Output,
};

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

/// How long a Wire device rings for a call from another app before the
/// bridge cancels it, unless the server says otherwise (`--ring-timeout`,
/// [`Ecall::with_ring_timeout`](super::Ecall::with_ring_timeout)): Wire's
/// own ring timeout, and the core's default.
pub const RING_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the other party's app has to send its SDP once the call is
/// accepted (its offer when it called, its answer when the Wire device
/// did); then the call ends with reason `timeout`. A browser sends it
/// within a second; the bound keeps a silent app from holding the call.
pub const SDP_WAIT: Duration = Duration::from_secs(30);

/// Candidates gathered into one SDP, at most; later ones are dropped. A
/// browser gathers a few per network interface and server.
const MAX_CANDIDATES: usize = 32;

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
#[derive(Clone, Debug)]
pub(super) struct Bridges {
    calls: Vec<Bridge>,
    /// Bridges made so far, for each one's [`session_seed`].
    made: u64,
    /// How long the Wire device rings for a call of the other party's.
    ring_timeout: Duration,
}

impl Default for Bridges {
    fn default() -> Self {
        Self::ringing_for(RING_TIMEOUT)
    }
}

#[derive(Clone, Debug)]
struct Bridge {
    /// The other party.
    peer: UserId,
    /// The tag of the `Command::Call` placing the Wire device's call, whose
    /// refusal declines it.
    call_tag: Option<u64>,
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
    // The Wire device calls.
    /// The core rings the other party; the Wire device's offer waits for
    /// its accept.
    Ringing { offer: String },
    /// The offer went to the other party; its answer must come by `until`.
    Offered { until: Instant },
    /// The answer came; candidates are gathered into it until `until`.
    Gathering { answer: String, until: Instant },

    // The other party calls.
    /// The bridge accepted the call for the Wire device; the other party's
    /// offer must come by `until`.
    AwaitingOffer { until: Instant },
    /// The offer came; candidates are gathered into it until `until`.
    GatheringOffer { offer: String, until: Instant },
    /// The offer went to the Wire device, which rings.
    Rung,

    // Either side renegotiates, once the call is answered.
    /// The other party's new offer; candidates are gathered into it until
    /// `until`.
    Renegotiating { offer: String, until: Instant },
    /// The other party's new offer went to the Wire device as `UPDATE`.
    Updating,
    /// The Wire device's `UPDATE` offer went to the other party.
    UpdateOffered,
    /// The other party's answer to it; candidates are gathered into it
    /// until `until`.
    UpdateGathering { answer: String, until: Instant },

    /// The SDPs are exchanged (the call is on), or the call is over.
    Answered,
}

impl Stage {
    /// Whether the other party's trickled candidates are still taken in.
    fn gathers(&self) -> bool {
        matches!(
            self,
            Stage::Offered { .. }
                | Stage::Gathering { .. }
                | Stage::AwaitingOffer { .. }
                | Stage::GatheringOffer { .. }
                | Stage::Renegotiating { .. }
                | Stage::UpdateOffered
                | Stage::UpdateGathering { .. }
        )
    }

    /// Whether the core holds the call while the bridge's device has no
    /// call yet: the other party's offer is not in.
    fn before_ringing_wire(&self) -> bool {
        matches!(self, Stage::AwaitingOffer { .. } | Stage::GatheringOffer { .. })
    }

    /// When the other party's SDP must be in.
    fn sdp_due(&self) -> Option<Instant> {
        match self {
            Stage::Offered { until } | Stage::AwaitingOffer { until } => Some(*until),
            _ => None,
        }
    }

    /// Whether the SDP the candidates go into is in.
    fn has_sdp(&self) -> bool {
        self.gathering_until().is_some()
    }

    fn gathering_until(&self) -> Option<Instant> {
        match self {
            Stage::Gathering { until, .. }
            | Stage::GatheringOffer { until, .. }
            | Stage::Renegotiating { until, .. }
            | Stage::UpdateGathering { until, .. } => Some(*until),
            _ => None,
        }
    }
}

impl Bridges {
    /// No bridged call yet; a call of another app's rings the Wire device
    /// for `ring_timeout`.
    pub(super) fn ringing_for(ring_timeout: Duration) -> Self {
        Self { calls: Vec::new(), made: 0, ring_timeout }
    }

    /// Whether there is no bridged call, live or kept.
    pub(super) fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

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

    /// Notes that the `Command::Call` to `peer` went with request `tag`.
    pub(super) fn placed(&mut self, peer: &UserId, tag: u64) {
        if let Some(bridge) = self.get_mut(peer) {
            bridge.call_tag = Some(tag);
        }
    }

    /// The other party of the call whose `Command::Call` went with `tag`,
    /// while it still rings.
    pub(super) fn placed_with(&self, tag: u64) -> Option<UserId> {
        self.calls
            .iter()
            .find(|bridge| bridge.call_tag == Some(tag) && matches!(bridge.stage, Stage::Ringing { .. }))
            .map(|bridge| bridge.peer.clone())
    }

    /// The Wire device `wire` (its user and client) offers a call to `peer`,
    /// a user of another app: `setup` is its `SETUP` content. The call is
    /// placed in the core; the offer is held until `peer` accepts.
    pub(super) fn start(&mut self, now: Instant, wire: (&str, &str), peer: UserId, setup: &str, out: &mut Vec<Step>) {
        self.calls.retain(|bridge| bridge.peer != peer);
        let mut device = self.device_for(&peer);
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
        self.calls.push(Bridge::new(peer, device, Stage::Ringing { offer }));
        self.forget_old(wire.0);
    }

    /// `peer`, a user of another app, calls the Wire device's user
    /// (`wire_user`), ringing `invite`: the bridge accepts it for the Wire
    /// device, so that `peer`'s app sends its offer. While a bridged call
    /// with `peer` is live (both called each other at once, across nodes),
    /// the new call is declined as busy.
    pub(super) fn called(&mut self, now: Instant, wire_user: &str, peer: UserId, invite: InviteId) -> Vec<Step> {
        let which = InviteRef::Id(invite);
        if self.calls.iter().any(|bridge| bridge.peer == peer && bridge.live(wire_user)) {
            return vec![Step::Command(Command::Reject { invite: which, reason: EndReason::Busy, note: None })];
        }
        self.calls.retain(|bridge| bridge.peer != peer);
        let device = self.device_for(&peer);
        self.calls.push(Bridge::new(peer, device, Stage::AwaitingOffer { until: now + SDP_WAIT }));
        self.forget_old(wire_user);
        vec![Step::Command(Command::Accept { invite: which, status: None, note: None })]
    }

    /// `peer`'s call stopped ringing before the bridge's accept took it
    /// (another device of the user took it, or `peer` cancelled): it was
    /// never this device's.
    pub(super) fn ringing_stopped(&mut self, peer: &UserId) {
        self.calls.retain(|bridge| !(&bridge.peer == peer && matches!(bridge.stage, Stage::AwaitingOffer { .. })));
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
        let offers = ECallMessage::parse(content).is_ok_and(|m| m.kind == MessageType::Setup && !m.resp);
        if offers && bridge.live(wire.0) {
            // A new call to `peer` while one is live: glare with `peer`'s
            // own call (its offer is not in yet), or a device that lost
            // track of its call. The live call stays.
            if bridge.stage.before_ringing_wire() && bridge.device.handle_message(now, wire.0, wire.1, content).is_ok()
            {
                // Declined by the bridge's device, as a Wire peer in a call
                // declines a second one.
                let _ = bridge.device.handle_action(now, Action::Reject { peer: wire.0.to_owned() });
                drain(&mut bridge.device, &mut out, |_| {});
            }
            out.push(Step::Refuse(format!("you are in a call with {peer} already")));
            return out;
        }
        let before = bridge.device.state(wire.0);
        if let Err(error) = bridge.device.handle_message(now, wire.0, wire.1, content) {
            out.push(Step::Refuse(format!("bad content: {error}")));
            return out;
        }
        let ringing = matches!(bridge.stage, Stage::Ringing { .. });
        let rung = bridge.stage == Stage::Rung;
        let (mut update, mut answer) = (None, None);
        drain(&mut bridge.device, &mut out, |output| match output {
            Output::RemoteSdp { sdp, answer: false, .. } => update = Some(sdp),
            Output::RemoteSdp { sdp, answer: true, .. } => answer = Some(sdp),
            _ => {}
        });
        if let Some(answer) = answer.filter(|_| matches!(bridge.stage, Stage::Rung | Stage::Updating)) {
            // The Wire device answered the other party's offer, or its new
            // one (`UPDATE resp: true`).
            out.push(Step::Command(relay_sdp(peer, SignalKind::Answer, &answer)));
            bridge.stage = Stage::Answered;
        }
        if let Some(offer) = update {
            // The Wire device renegotiates (`UPDATE`): its new offer goes to
            // the other party, whose answer comes back as `UPDATE resp: true`.
            if bridge.stage == Stage::Answered {
                out.push(Step::Command(relay_sdp(peer, SignalKind::Offer, &offer)));
                bridge.stage = Stage::UpdateOffered;
                bridge.start_gathering();
            } else {
                out.push(Step::Refuse(format!("the call with {peer} is being negotiated; try the UPDATE again")));
            }
        }
        let after = bridge.device.state(wire.0);
        if before.is_some_and(CallState::is_live) && after.is_some_and(|state| !state.is_live()) {
            // One command ends the call whatever the core has made of it
            // by now: a CANCEL that crossed the other party's accept ends
            // the accepted call.
            let reason = if rung && after == Some(CallState::Ended(WireEnd::Rejected)) {
                // The Wire device declined a call of the other party's,
                // which the core holds as accepted.
                EndReason::Rejected
            } else if ringing {
                // The Wire device withdrew its ringing call (CANCEL).
                EndReason::Cancelled
            } else {
                EndReason::Hangup
            };
            out.push(Step::Command(Command::EndCallWith { peer: peer.clone(), reason, note: None }));
            bridge.stage = Stage::Answered;
        }
        out
    }

    /// The core refused to place the call with `peer`, or `peer` declined
    /// it (rejected, busy, the ring timeout, gone): the Wire device hears a
    /// `REJECT`.
    pub(super) fn declined(&mut self, now: Instant, wire_user: &str, peer: &UserId) -> Vec<Step> {
        self.end_with(now, peer, Action::Reject { peer: wire_user.to_owned() })
    }

    /// `peer` accepted: the held offer goes to it. An accept of a call the
    /// Wire device has ended already finds it over, and does nothing: the
    /// device's end reaches the core after it, and ends the call there.
    pub(super) fn accepted(&mut self, now: Instant, peer: &UserId) -> Vec<Step> {
        let Some(bridge) = self.get_mut(peer) else { return Vec::new() };
        if !matches!(bridge.stage, Stage::Ringing { .. }) {
            return Vec::new();
        }
        let Stage::Ringing { offer } = std::mem::replace(&mut bridge.stage, Stage::Offered { until: now + SDP_WAIT })
        else {
            unreachable!("matched above")
        };
        vec![Step::Command(relay_sdp(peer, SignalKind::Offer, &offer))]
    }

    /// `peer` ended the accepted call (it hung up, or its connection
    /// closed): the Wire device hears a `HANGUP`.
    pub(super) fn ended_by_peer(&mut self, now: Instant, wire_user: &str, peer: &UserId) -> Vec<Step> {
        self.end_with(now, peer, Action::Hangup { peer: wire_user.to_owned() })
    }

    /// A signal of `peer` in the call: its SDP offer (it called) or answer
    /// (the Wire device called), or a trickled ICE candidate. The SDP goes
    /// to the Wire device once the candidates are in (end-of-candidates), or
    /// at the [`GATHERING`] deadline.
    pub(super) fn signal(&mut self, now: Instant, wire_user: &str, peer: &UserId, signal: &Signal) -> Vec<Step> {
        let Some(bridge) = self.get_mut(peer) else { return Vec::new() };
        let until = now + GATHERING;
        match (&signal.kind, &bridge.stage) {
            (SignalKind::Answer, Stage::Offered { .. }) => {
                let Some(answer) = sdp_of(signal.payload.as_str(), "answer") else {
                    return self.fail(now, wire_user, peer, "an SDP answer that is not one");
                };
                bridge.stage = Stage::Gathering { answer, until };
            }
            (SignalKind::Offer, Stage::AwaitingOffer { .. }) => {
                let Some(offer) = sdp_of(signal.payload.as_str(), "offer") else {
                    return self.fail(now, wire_user, peer, "an SDP offer that is not one");
                };
                bridge.stage = Stage::GatheringOffer { offer, until };
            }
            // A renegotiation of the answered call; `UpdateOffered`: the
            // other party's answer to the Wire device's own.
            (SignalKind::Offer, Stage::Answered) if bridge.live(wire_user) => {
                let Some(offer) = sdp_of(signal.payload.as_str(), "offer") else {
                    return self.fail(now, wire_user, peer, "an SDP offer that is not one");
                };
                bridge.start_gathering();
                bridge.stage = Stage::Renegotiating { offer, until };
            }
            (SignalKind::Answer, Stage::UpdateOffered) => {
                let Some(answer) = sdp_of(signal.payload.as_str(), "answer") else {
                    return self.fail(now, wire_user, peer, "an SDP answer that is not one");
                };
                bridge.stage = Stage::UpdateGathering { answer, until };
            }
            (SignalKind::IceCandidate, stage) if stage.gathers() => match Trickle::read(signal.payload.as_str()) {
                Trickle::Candidate(candidate) if bridge.candidates.len() < MAX_CANDIDATES => {
                    bridge.candidates.push(candidate);
                }
                Trickle::Candidate(_) => {}
                // End-of-candidates before the SDP: it goes as soon as it comes.
                Trickle::End => bridge.gathered = true,
                Trickle::Unreadable => {}
            },
            // Candidates after the SDP went out: ECall has no trickle, and
            // the Wire device's own candidates are in its SDP, so
            // connectivity checks from it reach the other party anyway.
            (SignalKind::IceCandidate, _) => return Vec::new(),
            // An offer or answer while one is under way (both sides
            // renegotiating at once), or after the call: nothing to give it.
            _ => return Vec::new(),
        }
        if bridge.gathered && bridge.stage.has_sdp() { bridge.send_folded(now, wire_user, true) } else { Vec::new() }
    }

    /// When the earliest gathering ends, the other party's SDP is due, or
    /// a Wire device rung by the other party rings out.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.calls
            .iter()
            .flat_map(|bridge| [bridge.stage.gathering_until(), bridge.stage.sdp_due(), bridge.device.poll_timeout()])
            .flatten()
            .min()
    }

    /// The clock reached [`deadline`](Self::deadline): every SDP whose
    /// gathering is over goes out with the candidates it has; a call whose
    /// other party sent no SDP in time ends with reason `timeout` (the Wire
    /// device hears `REJECT` if it was ringing the other party); a Wire
    /// device that rang out hears `CANCEL` while the other party's call ends
    /// with reason `timeout`.
    pub(super) fn on_deadline(&mut self, now: Instant, wire_user: &str) -> Vec<Step> {
        let mut out = Vec::new();
        for bridge in &mut self.calls {
            if bridge.stage.sdp_due().is_some_and(|until| until <= now) {
                bridge.stage = Stage::Answered;
                if bridge.device.handle_action(now, Action::Hangup { peer: wire_user.to_owned() }).is_ok() {
                    drain(&mut bridge.device, &mut out, |_| {});
                }
                let end = Command::EndCallWith { peer: bridge.peer.clone(), reason: EndReason::Timeout, note: None };
                out.push(Step::Command(end));
                continue;
            }
            if bridge.stage.gathering_until().is_some_and(|until| until <= now) {
                out.extend(bridge.send_folded(now, wire_user, false));
            }
            if bridge.device.poll_timeout().is_some_and(|at| at <= now) {
                bridge.device.handle_timeout(now);
                drain(&mut bridge.device, &mut out, |_| {});
                if bridge.device.state(wire_user) == Some(CallState::Ended(WireEnd::Timeout)) {
                    let end =
                        Command::EndCallWith { peer: bridge.peer.clone(), reason: EndReason::Timeout, note: None };
                    out.push(Step::Command(end));
                    bridge.stage = Stage::Answered;
                }
            }
        }
        out
    }

    /// `peer`'s app sent `what`, which the Wire device cannot be given: the
    /// call ends on both sides, and the Wire device is told why.
    fn fail(&mut self, now: Instant, wire_user: &str, peer: &UserId, what: &str) -> Vec<Step> {
        let mut out = self.end_with(now, peer, Action::Hangup { peer: wire_user.to_owned() });
        out.push(Step::Command(Command::EndCallWith { peer: peer.clone(), reason: EndReason::Hangup, note: None }));
        out.push(Step::Refuse(format!("{peer}'s app sent {what}; the call ends")));
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

    /// A new device playing `peer`, whose ECall session ids differ from
    /// every earlier one's: a Wire device takes a `SETUP` with the `sessid`
    /// of a call that ended for a repeat of it.
    fn device_for(&mut self, peer: &UserId) -> Device {
        self.made += 1;
        let config = DeviceConfig { seed: session_seed(self.made), ..bridge_config(self.ring_timeout) };
        Device::new(peer.as_str(), BRIDGE_CLIENT, config)
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
    fn new(peer: UserId, device: Device, stage: Stage) -> Self {
        Self { peer, call_tag: None, device, stage, candidates: Vec::new(), gathered: false }
    }

    /// Whether the call with the Wire device's user is not over: its
    /// device's call is live, or the core holds a call of the other party's
    /// whose offer is not in yet.
    fn live(&self, wire_user: &str) -> bool {
        self.stage.before_ringing_wire() || self.device.state(wire_user).is_some_and(CallState::is_live)
    }

    /// A new SDP of the other party's is coming: its candidates start
    /// afresh.
    fn start_gathering(&mut self) {
        self.candidates.clear();
        self.gathered = false;
    }

    /// The SDP gathered into, with its candidates: an answer goes to the
    /// Wire device as `SETUP resp: true`, an offer as a `SETUP` that rings
    /// it; in a renegotiation, as `UPDATE` and `UPDATE resp: true`.
    fn send_folded(&mut self, now: Instant, wire_user: &str, ended: bool) -> Vec<Step> {
        let candidates = std::mem::take(&mut self.candidates);
        let peer = wire_user.to_owned();
        let action = match std::mem::replace(&mut self.stage, Stage::Answered) {
            Stage::Gathering { answer, .. } => {
                Action::Accept { peer, sdp_answer: candidates::fold(&answer, &candidates, ended) }
            }
            Stage::GatheringOffer { offer, .. } => {
                self.stage = Stage::Rung;
                let video = offer.lines().any(|line| line.starts_with("m=video"));
                Action::Call { peer, sdp_offer: candidates::fold(&offer, &candidates, ended), video }
            }
            Stage::Renegotiating { offer, .. } => {
                self.stage = Stage::Updating;
                Action::Update { peer, sdp_offer: candidates::fold(&offer, &candidates, ended) }
            }
            Stage::UpdateGathering { answer, .. } => {
                Action::UpdateAnswer { peer, sdp_answer: candidates::fold(&answer, &candidates, ended) }
            }
            other => {
                self.stage = other;
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        if self.device.handle_action(now, action).is_ok() {
            drain(&mut self.device, &mut out, |_| {});
        }
        out
    }
}

/// A call of the Wire device's rings the other party for the core's ring
/// timeout, which tells the bridge: the other party's device never gives up
/// on it by itself. A call of the other party's rings the Wire device for
/// `ring_timeout`, kept by that device, as the core accepted it already.
fn bridge_config(ring_timeout: Duration) -> DeviceConfig {
    let never = Duration::from_secs(60 * 60 * 24 * 365);
    DeviceConfig { ring_timeout, incoming_grace: never, seed: 0 }
}

/// A seed for the session ids of bridge number `made`: std's hasher keys
/// are drawn at random per process and per thread, so a restarted server
/// or a reconnected Wire device does not repeat the ids of earlier calls.
fn session_seed(made: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(made)
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

/// A relay of an SDP of `kind` (offer or answer) to `peer`, in the call, as
/// an `RTCSessionDescriptionInit`.
fn relay_sdp(peer: &UserId, kind: SignalKind, sdp: &str) -> Command {
    let name = if kind == SignalKind::Offer { "offer" } else { "answer" };
    let payload = ObjectWriter::new().string("type", name).string("sdp", sdp).finish();
    Command::Relay { to: RelayTarget::CallPeer(peer.clone()), signal: Signal { kind, payload: Payload::new(payload) } }
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
