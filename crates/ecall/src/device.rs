//! The state machine of one device: [`Device`] and its inputs and outputs.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::message::{ECallMessage, MessageError, MessageType, Props};
use crate::sessid::SessidSource;

/// Settings of a [`Device`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// How long an outgoing call rings before the caller gives up: it sends CANCEL and ends with
    /// [`EndReason::Timeout`]. Default 30 s (seed 004).
    pub ring_timeout: Duration,
    /// How much longer than `ring_timeout` an incoming call rings when the caller's CANCEL never
    /// arrives (the caller crashed, or the message was lost); then it ends quietly with
    /// [`EndReason::Timeout`]. Default 5 s, so the caller's CANCEL normally comes first.
    pub incoming_grace: Duration,
    /// Seed of the session ids this device draws (see [`Device::new`]). Default 0; pass a random
    /// value (e.g. from `getrandom`) so a restarted device does not repeat its ids.
    pub seed: u64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig { ring_timeout: Duration::from_secs(30), incoming_grace: Duration::from_secs(5), seed: 0 }
    }
}

/// A local action of the user (or of the application's WebRTC stack), fed to
/// [`Device::handle_action`]. `peer` is always the other user's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a call with the SDP offer `sdp_offer`: state [`CallState::Outgoing`], and a SETUP
    /// (`resp: false`, props `{"videosend": "true"|"false"}`, the offer) to every client of `peer`.
    /// It rings for [`DeviceConfig::ring_timeout`].
    ///
    /// Errors: [`ActionError::SelfCall`] when `peer` is this device's own user,
    /// [`ActionError::CallExists`] when a call with `peer` is not ended.
    Call {
        /// The user to call.
        peer: String,
        /// The local SDP offer (with its ICE candidates gathered).
        sdp_offer: String,
        /// Whether to send video: the SETUP's `videosend`.
        video: bool,
    },
    /// Answer the incoming call from `peer` with `sdp_answer`: state [`CallState::Connecting`], and a
    /// SETUP (`resp: true`, props `{"videosend": ...}`, the answer) to the caller's client. The
    /// backend also copies it to this user's other clients, which stop ringing
    /// ([`EndReason::AnsweredElsewhere`]). `videosend` is `"false"` unless [`Action::SetVideo`]
    /// was given while ringing.
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] unless the call is incoming.
    Accept {
        /// The caller.
        peer: String,
        /// The local SDP answer to the caller's offer.
        sdp_answer: String,
    },
    /// Decline the incoming call from `peer`: state `Ended(Rejected)`, and a REJECT
    /// (`resp: false`) to the caller's client; the backend copies it to this user's other clients,
    /// which stop ringing too (`Ended(Rejected)`).
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] unless the call is incoming.
    Reject {
        /// The caller.
        peer: String,
    },
    /// End the call with `peer`, whatever its live state: while outgoing, a CANCEL (`resp: false`) to
    /// every client of `peer`; while incoming, the same as [`Action::Reject`] (and the reason is
    /// `Rejected`); while connecting or ongoing, a HANGUP (`resp: false`) to the peer's client. The
    /// state becomes `Ended(Hangup)` (or `Ended(Rejected)`).
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] when the call has ended.
    Hangup {
        /// The other user.
        peer: String,
    },
    /// Turn sending video on or off: a PROPSYNC (`resp: false`, props `{"videosend": ...}`) to the
    /// peer's client while connecting or ongoing, to every client of `peer` while outgoing. While
    /// incoming nothing is sent: it sets the `videosend` of the coming [`Action::Accept`].
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] when the call has ended.
    SetVideo {
        /// The other user.
        peer: String,
        /// Whether to send video.
        on: bool,
    },
    /// The peer connection's ICE state became connected: connecting → [`CallState::Ongoing`]
    /// (no message). Again while ongoing (ICE came back after a disconnection): nothing happens.
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] unless connecting or ongoing.
    IceConnected {
        /// The other user.
        peer: String,
    },
    /// The peer connection's ICE state became failed: a 1:1 call ends. A HANGUP (`resp: false`) to
    /// the peer's client, state `Ended(IceFailed)`.
    ///
    /// Errors: [`ActionError::NoCall`], or [`ActionError::WrongState`] unless connecting or ongoing.
    IceFailed {
        /// The other user.
        peer: String,
    },
    /// Renegotiate (e.g. an ICE restart or a new stream): an UPDATE (`resp: false`, `sdp_offer`) to
    /// the peer's client; the answer comes as [`Output::RemoteSdp`] with `answer: true`. When both
    /// sides send an UPDATE at once, the lower user id drops its own and answers the other's, like
    /// glare on SETUP.
    ///
    /// Errors: [`ActionError::NoCall`], [`ActionError::WrongState`] unless connecting or ongoing,
    /// [`ActionError::RenegotiationPending`] while an UPDATE offer is unanswered.
    Update {
        /// The other user.
        peer: String,
        /// The new local SDP offer.
        sdp_offer: String,
    },
    /// Answer the peer's UPDATE offer (given as [`Output::RemoteSdp`] with `answer: false` during a
    /// connecting or ongoing call): an UPDATE (`resp: true`, `sdp_answer`) to the peer's client.
    ///
    /// Errors: [`ActionError::NoCall`], [`ActionError::WrongState`] when the call has ended,
    /// [`ActionError::NoRemoteOffer`] when no UPDATE offer of the peer waits for an answer.
    UpdateAnswer {
        /// The other user.
        peer: String,
        /// The local SDP answer.
        sdp_answer: String,
    },
}

impl Action {
    /// The other user this action is about.
    pub fn peer(&self) -> &str {
        match self {
            Action::Call { peer, .. }
            | Action::Accept { peer, .. }
            | Action::Reject { peer }
            | Action::Hangup { peer }
            | Action::SetVideo { peer, .. }
            | Action::IceConnected { peer }
            | Action::IceFailed { peer }
            | Action::Update { peer, .. }
            | Action::UpdateAnswer { peer, .. } => peer,
        }
    }

    /// A short lower-case name for error messages: `"call"`, `"accept"`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Action::Call { .. } => "call",
            Action::Accept { .. } => "accept",
            Action::Reject { .. } => "reject",
            Action::Hangup { .. } => "hang up",
            Action::SetVideo { .. } => "switch video on",
            Action::IceConnected { .. } => "report ICE connected on",
            Action::IceFailed { .. } => "report ICE failed on",
            Action::Update { .. } => "renegotiate",
            Action::UpdateAnswer { .. } => "answer an update on",
        }
    }
}

/// What the machine asks of its driver; drained with [`Device::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this message content (an [`ECallMessage`] as JSON) to user `to`: to its one client
    /// `to_client` if `Some`, else to all its clients. As Wire's backend does, the channel also
    /// copies it to this user's other clients.
    Send {
        /// The recipient user.
        to: String,
        /// The recipient client, or `None` for every client of `to`.
        to_client: Option<String>,
        /// The ECallMessage JSON.
        content: String,
    },
    /// The call with `peer` changed to `state`.
    State {
        /// The other user.
        peer: String,
        /// The new state.
        state: CallState,
    },
    /// The remote side's properties changed: only the keys whose values changed, from a SETUP,
    /// PROPSYNC (either `resp`) or UPDATE.
    RemoteProps {
        /// The other user.
        peer: String,
        /// The changed properties, e.g. `{"videosend": "true"}`.
        props: Props,
    },
    /// A remote SDP to apply to the peer connection: an offer (`answer: false`, from an incoming
    /// SETUP or an UPDATE `resp: false`) or an answer (`answer: true`, from a SETUP or UPDATE
    /// `resp: true`).
    RemoteSdp {
        /// The other user.
        peer: String,
        /// The SDP text, as received.
        sdp: String,
        /// Whether it is an answer (else an offer).
        answer: bool,
    },
}

/// The state of a call, as in Wire's `ECall` (minus its `ignored` and `disconnecting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// This device called and it rings at the peer.
    Outgoing,
    /// The peer calls and this device rings.
    Incoming,
    /// Offer and answer are exchanged; ICE is connecting.
    Connecting,
    /// ICE connected: the call is up.
    Ongoing,
    /// The call is over; it stays in this state until a new call with the same peer.
    Ended(EndReason),
}

impl CallState {
    /// Whether the call is not ended.
    pub fn is_live(self) -> bool {
        !matches!(self, CallState::Ended(_))
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallState::Outgoing => f.write_str("outgoing"),
            CallState::Incoming => f.write_str("incoming"),
            CallState::Connecting => f.write_str("connecting"),
            CallState::Ongoing => f.write_str("ongoing"),
            CallState::Ended(reason) => write!(f, "ended ({reason})"),
        }
    }
}

/// Why a call ended, as seen from this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// This device hung up ([`Action::Hangup`]), or cancelled its own ringing call.
    Hangup,
    /// The peer hung up (HANGUP, or a CANCEL after the answer, which Wire clients send for a
    /// hangup that cannot use the data channel).
    RemoteHangup,
    /// The call was declined: on this device ([`Action::Reject`]), on another device of this user
    /// (a REJECT from it), or — on the caller's side — by the callee (a REJECT from the peer).
    Rejected,
    /// Nobody answered: the caller's ring timeout, or the callee's fallback when no CANCEL came.
    Timeout,
    /// The caller stopped ringing before this device answered (CANCEL or HANGUP while incoming).
    Cancelled,
    /// Another device of this user answered the call.
    AnsweredElsewhere,
    /// ICE failed ([`Action::IceFailed`]); a 1:1 call cannot continue.
    IceFailed,
}

impl EndReason {
    /// The snake_case name: `hangup`, `remote_hangup`, `rejected`, `timeout`, `cancelled`,
    /// `answered_elsewhere`, `ice_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Hangup => "hangup",
            EndReason::RemoteHangup => "remote_hangup",
            EndReason::Rejected => "rejected",
            EndReason::Timeout => "timeout",
            EndReason::Cancelled => "cancelled",
            EndReason::AnsweredElsewhere => "answered_elsewhere",
            EndReason::IceFailed => "ice_failed",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`Device::handle_action`] refused an action. The user's (or application's) fault; nothing
/// changed and nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// There is no call with `peer` at all.
    #[error("there is no call with {peer}")]
    NoCall {
        /// The other user.
        peer: String,
    },
    /// The call with `peer` is not in a state where the action makes sense (e.g. accepting an
    /// outgoing call).
    #[error("cannot {action} the call with {peer}: it is {state}")]
    WrongState {
        /// The action's name ([`Action::name`]).
        action: &'static str,
        /// The other user.
        peer: String,
        /// The call's state.
        state: CallState,
    },
    /// [`Action::Call`] while a call with `peer` is live.
    #[error("there is already a call with {peer}: it is {state}")]
    CallExists {
        /// The other user.
        peer: String,
        /// The live call's state.
        state: CallState,
    },
    /// [`Action::Call`] to this device's own user.
    #[error("cannot call your own user {user}")]
    SelfCall {
        /// The own user id.
        user: String,
    },
    /// [`Action::Update`] while this device's previous UPDATE offer is unanswered.
    #[error("an update of the call with {peer} is already waiting for its answer")]
    RenegotiationPending {
        /// The other user.
        peer: String,
    },
    /// [`Action::UpdateAnswer`] with no UPDATE offer of the peer waiting for an answer.
    #[error("{peer} sent no update offer to answer")]
    NoRemoteOffer {
        /// The other user.
        peer: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Caller,
    Callee,
}

/// Which side's UPDATE offer is waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renegotiation {
    LocalOffer,
    RemoteOffer,
}

#[derive(Debug, Clone)]
struct Call {
    sessid: String,
    state: CallState,
    role: Role,
    /// The peer's client the call talks to: the caller's for a callee, the answering one for a
    /// caller (`None` while outgoing).
    remote_client: Option<String>,
    /// When ringing ends: set while outgoing or incoming.
    deadline: Option<Instant>,
    local_video: bool,
    remote_props: Props,
    renegotiation: Option<Renegotiation>,
}

impl Call {
    /// Whether a message from `from_client` with `sessid` belongs to this live call.
    fn owns(&self, sessid: &str, from_client: &str) -> bool {
        self.state.is_live()
            && self.sessid == sessid
            && self.remote_client.as_deref().is_none_or(|client| client == from_client)
    }

    fn local_props(&self) -> Props {
        Props::from([("videosend".to_owned(), self.local_video.to_string())])
    }
}

/// One device (a client of a user) and its 1:1 calls, at most one per peer user.
///
/// Sans-IO: it never reads a clock or an RNG and does no I/O. Feed it actions, message contents
/// and wake-ups with the current time; drain [`poll_output`](Self::poll_output) after each; wake
/// it at [`poll_timeout`](Self::poll_timeout). See the crate docs for the protocol decisions.
#[derive(Debug, Clone)]
pub struct Device {
    user: String,
    client: String,
    config: DeviceConfig,
    /// Calls by peer user id; an ended call stays until the next call with that peer.
    calls: BTreeMap<String, Call>,
    outputs: VecDeque<Output>,
    sessids: SessidSource,
}

impl Device {
    /// A device of `user` with client id `client`. Its session ids derive from
    /// `config.seed`, `user` and `client` (four characters of `[0-9A-Za-z]` per call).
    pub fn new(user: impl Into<String>, client: impl Into<String>, config: DeviceConfig) -> Self {
        let (user, client) = (user.into(), client.into());
        let sessids = SessidSource::new(config.seed, &user, &client);
        Device { user, client, config, calls: BTreeMap::new(), outputs: VecDeque::new(), sessids }
    }

    /// The own user id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The own client id.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// The current state of the call with user `peer`, or `None` if there never was one.
    pub fn state(&self, peer: &str) -> Option<CallState> {
        self.calls.get(peer).map(|call| call.state)
    }

    /// The session id of the (current or last) call with user `peer`.
    pub fn sessid(&self, peer: &str) -> Option<&str> {
        self.calls.get(peer).map(|call| call.sessid.as_str())
    }

    /// The peer's client the call with `peer` talks to: the caller's client on the callee's side,
    /// the answering client on the caller's side; `None` while outgoing or without a call.
    pub fn remote_client(&self, peer: &str) -> Option<&str> {
        self.calls.get(peer).and_then(|call| call.remote_client.as_deref())
    }

    /// The next output, or `None` when drained. Call it until `None` after every `handle_*`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due: the earliest ring deadline of a
    /// live call, or `None` when nothing rings.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls.values().filter_map(|call| call.deadline).min()
    }

    /// Wakes the machine at `now`: every ring deadline at or before `now` fires. An outgoing call
    /// sends CANCEL (`resp: false`) to every client of the peer and ends with
    /// [`EndReason::Timeout`]; an incoming call whose CANCEL never came ends with `Timeout` quietly.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (peer, call) in &mut self.calls {
            if call.deadline.is_none_or(|deadline| deadline > now) {
                continue;
            }
            call.deadline = None;
            if call.state == CallState::Outgoing {
                let cancel = ECallMessage::new(MessageType::Cancel, false, &call.sessid);
                send(&mut self.outputs, peer, None, &cancel);
            }
            set_state(&mut self.outputs, peer, call, CallState::Ended(EndReason::Timeout));
        }
    }

    /// A local action at `now`; see [`Action`] for what each sends and changes.
    ///
    /// Errors: an [`ActionError`] when the action does not fit the call's state; then nothing
    /// changed and nothing was sent.
    pub fn handle_action(&mut self, now: Instant, action: Action) -> Result<(), ActionError> {
        let name = action.name();
        let outputs = &mut self.outputs;
        match action {
            Action::Call { peer, sdp_offer, video } => {
                if peer == self.user {
                    return Err(ActionError::SelfCall { user: peer });
                }
                let previous = match self.calls.get(&peer) {
                    Some(call) if call.state.is_live() => {
                        return Err(ActionError::CallExists { state: call.state, peer });
                    }
                    Some(call) => Some(call.sessid.as_str()),
                    None => None,
                };
                let sessid = self.sessids.next(previous);
                let call = Call {
                    sessid,
                    state: CallState::Outgoing,
                    role: Role::Caller,
                    remote_client: None,
                    deadline: Some(now + self.config.ring_timeout),
                    local_video: video,
                    remote_props: Props::new(),
                    renegotiation: None,
                };
                let setup = ECallMessage::new(MessageType::Setup, false, &call.sessid)
                    .with_props(call.local_props())
                    .with_sdp(sdp_offer);
                send(outputs, &peer, None, &setup);
                outputs.push_back(Output::State { peer: peer.clone(), state: CallState::Outgoing });
                self.calls.insert(peer, call);
            }
            Action::Accept { peer, sdp_answer } => {
                let call = live_call(&mut self.calls, name, &peer, |s| s == CallState::Incoming)?;
                let setup = ECallMessage::new(MessageType::Setup, true, &call.sessid)
                    .with_props(call.local_props())
                    .with_sdp(sdp_answer);
                send(outputs, &peer, call.remote_client.as_deref(), &setup);
                call.deadline = None;
                set_state(outputs, &peer, call, CallState::Connecting);
            }
            Action::Reject { peer } => {
                let call = live_call(&mut self.calls, name, &peer, |s| s == CallState::Incoming)?;
                reject(outputs, &peer, call);
            }
            Action::Hangup { peer } => {
                let call = live_call(&mut self.calls, name, &peer, CallState::is_live)?;
                match call.state {
                    CallState::Incoming => reject(outputs, &peer, call),
                    CallState::Outgoing => {
                        let cancel = ECallMessage::new(MessageType::Cancel, false, &call.sessid);
                        send(outputs, &peer, None, &cancel);
                        call.deadline = None;
                        set_state(outputs, &peer, call, CallState::Ended(EndReason::Hangup));
                    }
                    _ => hang_up(outputs, &peer, call, EndReason::Hangup),
                }
            }
            Action::SetVideo { peer, on } => {
                let call = live_call(&mut self.calls, name, &peer, CallState::is_live)?;
                call.local_video = on;
                if call.state != CallState::Incoming {
                    let propsync =
                        ECallMessage::new(MessageType::PropSync, false, &call.sessid).with_props(call.local_props());
                    send(outputs, &peer, call.remote_client.as_deref(), &propsync);
                }
            }
            Action::IceConnected { peer } => {
                let call = live_call(&mut self.calls, name, &peer, is_connected)?;
                if call.state == CallState::Connecting {
                    set_state(outputs, &peer, call, CallState::Ongoing);
                }
            }
            Action::IceFailed { peer } => {
                let call = live_call(&mut self.calls, name, &peer, is_connected)?;
                hang_up(outputs, &peer, call, EndReason::IceFailed);
            }
            Action::Update { peer, sdp_offer } => {
                let call = live_call(&mut self.calls, name, &peer, is_connected)?;
                if call.renegotiation == Some(Renegotiation::LocalOffer) {
                    return Err(ActionError::RenegotiationPending { peer });
                }
                let update = ECallMessage::new(MessageType::Update, false, &call.sessid).with_sdp(sdp_offer);
                send(outputs, &peer, call.remote_client.as_deref(), &update);
                call.renegotiation = Some(Renegotiation::LocalOffer);
            }
            Action::UpdateAnswer { peer, sdp_answer } => {
                let call = live_call(&mut self.calls, name, &peer, CallState::is_live)?;
                if call.renegotiation != Some(Renegotiation::RemoteOffer) {
                    return Err(ActionError::NoRemoteOffer { peer });
                }
                let update = ECallMessage::new(MessageType::Update, true, &call.sessid).with_sdp(sdp_answer);
                send(outputs, &peer, call.remote_client.as_deref(), &update);
                call.renegotiation = None;
            }
        }
        Ok(())
    }

    /// A `calling` message's `content` (the ECallMessage JSON) from user `from`, client
    /// `from_client`, at `now`.
    ///
    /// Messages that do not belong to a call of this device (unknown peer, another `sessid`,
    /// another client of the peer than the one the call talks to, a state where the type means
    /// nothing) are ignored. Messages from this user's other clients only matter when they answer
    /// or decline a call that rings here; this device's own echo is ignored.
    ///
    /// Errors: [`MessageError`] from [`ECallMessage::parse`] for a malformed content; then nothing
    /// changed and nothing was sent.
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: &str,
        from_client: &str,
        content: &str,
    ) -> Result<(), MessageError> {
        let message = ECallMessage::parse(content)?;
        if from == self.user {
            if from_client != self.client {
                self.on_own_message(&message);
            }
            return Ok(());
        }
        match (message.kind, message.resp) {
            (MessageType::Setup, false) => self.on_offer(now, from, from_client, message),
            (MessageType::Setup, true) => self.on_answer(from, from_client, message),
            (MessageType::Cancel | MessageType::Hangup, false) => self.on_remote_end(from, from_client, &message),
            (MessageType::Cancel | MessageType::Hangup, true) => {}
            (MessageType::PropSync, _) => self.on_propsync(from, from_client, &message),
            (MessageType::Update, _) => self.on_update(from, from_client, message),
            (MessageType::Reject, false) => self.on_reject(from, &message),
            (MessageType::Reject, true) => {}
        }
        Ok(())
    }

    /// A SETUP or REJECT of another client of this user: it answered or declined a call that rings
    /// here too (the same `sessid`).
    fn on_own_message(&mut self, message: &ECallMessage) {
        let reason = match (message.kind, message.resp) {
            (MessageType::Setup, true) => EndReason::AnsweredElsewhere,
            (MessageType::Reject, false) => EndReason::Rejected,
            _ => return,
        };
        for (peer, call) in &mut self.calls {
            if call.state == CallState::Incoming && call.sessid == message.sessid {
                call.deadline = None;
                set_state(&mut self.outputs, peer, call, CallState::Ended(reason));
            }
        }
    }

    /// SETUP `resp: false`: a new call from `from`, or glare.
    fn on_offer(&mut self, now: Instant, from: &str, from_client: &str, message: ECallMessage) {
        let mut local_video = false;
        if let Some(call) = self.calls.get_mut(from) {
            if call.sessid == message.sessid {
                return; // a repeat, or a late copy of a call that ended
            }
            match call.state {
                CallState::Ended(_) => {}
                CallState::Outgoing => {
                    // Glare: both called. The lower user id drops its own offer and answers.
                    if self.user.as_str() > from {
                        return;
                    }
                    // Stop the peer's other devices ringing for the dropped offer; the peer's
                    // calling device ignores this CANCEL (not its sessid).
                    let cancel = ECallMessage::new(MessageType::Cancel, false, &call.sessid);
                    send(&mut self.outputs, from, None, &cancel);
                    local_video = call.local_video;
                }
                // The caller started over (its CANCEL was lost): the new call replaces the old.
                CallState::Incoming => local_video = call.local_video,
                // The peer lost the call it had with us and calls again.
                CallState::Connecting | CallState::Ongoing => {
                    set_state(&mut self.outputs, from, call, CallState::Ended(EndReason::RemoteHangup));
                }
            }
        }
        let mut call = Call {
            sessid: message.sessid,
            state: CallState::Incoming,
            role: Role::Callee,
            remote_client: Some(from_client.to_owned()),
            deadline: Some(now + self.config.ring_timeout + self.config.incoming_grace),
            local_video,
            remote_props: Props::new(),
            renegotiation: None,
        };
        self.outputs.push_back(Output::State { peer: from.to_owned(), state: CallState::Incoming });
        update_props(&mut self.outputs, from, &mut call, message.props);
        if let Some(sdp) = message.sdp {
            self.outputs.push_back(Output::RemoteSdp { peer: from.to_owned(), sdp, answer: false });
        }
        self.calls.insert(from.to_owned(), call);
    }

    /// SETUP `resp: true`: the callee answered our call.
    fn on_answer(&mut self, from: &str, from_client: &str, message: ECallMessage) {
        let Some(call) = self.calls.get_mut(from) else { return };
        if !call.state.is_live() || call.sessid != message.sessid {
            return;
        }
        match call.state {
            CallState::Outgoing => {
                call.remote_client = Some(from_client.to_owned());
                call.deadline = None;
                set_state(&mut self.outputs, from, call, CallState::Connecting);
                update_props(&mut self.outputs, from, call, message.props);
                if let Some(sdp) = message.sdp {
                    self.outputs.push_back(Output::RemoteSdp { peer: from.to_owned(), sdp, answer: true });
                }
            }
            // A second device of the callee answered too late: the first answer won; end the
            // late one's call.
            CallState::Connecting | CallState::Ongoing
                if call.role == Role::Caller && call.remote_client.as_deref() != Some(from_client) =>
            {
                let hangup = ECallMessage::new(MessageType::Hangup, false, &call.sessid);
                send(&mut self.outputs, from, Some(from_client), &hangup);
            }
            _ => {}
        }
    }

    /// CANCEL or HANGUP `resp: false`: the peer ends the call; confirm with `resp: true`.
    fn on_remote_end(&mut self, from: &str, from_client: &str, message: &ECallMessage) {
        let Some(call) = self.calls.get_mut(from) else { return };
        if !call.owns(&message.sessid, from_client) {
            return;
        }
        let confirm = ECallMessage::new(message.kind, true, &call.sessid);
        send(&mut self.outputs, from, Some(from_client), &confirm);
        let reason = if call.state == CallState::Incoming { EndReason::Cancelled } else { EndReason::RemoteHangup };
        call.deadline = None;
        call.renegotiation = None;
        set_state(&mut self.outputs, from, call, CallState::Ended(reason));
    }

    /// PROPSYNC: the peer's properties; confirm a `resp: false` one with ours.
    fn on_propsync(&mut self, from: &str, from_client: &str, message: &ECallMessage) {
        let Some(call) = self.calls.get_mut(from) else { return };
        if !call.owns(&message.sessid, from_client) {
            return;
        }
        update_props(&mut self.outputs, from, call, message.props.clone());
        if !message.resp {
            let confirm = ECallMessage::new(MessageType::PropSync, true, &call.sessid).with_props(call.local_props());
            send(&mut self.outputs, from, Some(from_client), &confirm);
        }
    }

    /// UPDATE: a renegotiation offer (`resp: false`) or the answer to ours (`resp: true`).
    fn on_update(&mut self, from: &str, from_client: &str, message: ECallMessage) {
        let Some(call) = self.calls.get_mut(from) else { return };
        if !call.owns(&message.sessid, from_client) || !is_connected(call.state) {
            return;
        }
        let answer = message.resp;
        if answer {
            if call.renegotiation != Some(Renegotiation::LocalOffer) {
                return;
            }
            call.renegotiation = None;
        } else {
            // Glare on UPDATE: as on SETUP, the lower user id drops its own offer.
            if call.renegotiation == Some(Renegotiation::LocalOffer) && self.user.as_str() > from {
                return;
            }
            call.renegotiation = Some(Renegotiation::RemoteOffer);
        }
        update_props(&mut self.outputs, from, call, message.props);
        if let Some(sdp) = message.sdp {
            self.outputs.push_back(Output::RemoteSdp { peer: from.to_owned(), sdp, answer });
        }
    }

    /// REJECT `resp: false` from the peer: the callee declined our ringing call.
    fn on_reject(&mut self, from: &str, message: &ECallMessage) {
        let Some(call) = self.calls.get_mut(from) else { return };
        if call.state == CallState::Outgoing && call.sessid == message.sessid {
            call.deadline = None;
            set_state(&mut self.outputs, from, call, CallState::Ended(EndReason::Rejected));
        }
    }
}

fn is_connected(state: CallState) -> bool {
    matches!(state, CallState::Connecting | CallState::Ongoing)
}

/// The live call with `peer` whose state passes `allowed`, or the error for `action`.
fn live_call<'a>(
    calls: &'a mut BTreeMap<String, Call>,
    action: &'static str,
    peer: &str,
    allowed: impl Fn(CallState) -> bool,
) -> Result<&'a mut Call, ActionError> {
    match calls.get_mut(peer) {
        None => Err(ActionError::NoCall { peer: peer.to_owned() }),
        Some(call) if !allowed(call.state) => {
            Err(ActionError::WrongState { action, peer: peer.to_owned(), state: call.state })
        }
        Some(call) => Ok(call),
    }
}

fn send(outputs: &mut VecDeque<Output>, to: &str, to_client: Option<&str>, message: &ECallMessage) {
    outputs.push_back(Output::Send {
        to: to.to_owned(),
        to_client: to_client.map(str::to_owned),
        content: message.to_json(),
    });
}

fn set_state(outputs: &mut VecDeque<Output>, peer: &str, call: &mut Call, state: CallState) {
    if call.state != state {
        call.state = state;
        outputs.push_back(Output::State { peer: peer.to_owned(), state });
    }
}

/// Declines the incoming `call`: REJECT to the caller's client (copied by the backend to our
/// other clients).
fn reject(outputs: &mut VecDeque<Output>, peer: &str, call: &mut Call) {
    let reject = ECallMessage::new(MessageType::Reject, false, &call.sessid);
    send(outputs, peer, call.remote_client.as_deref(), &reject);
    call.deadline = None;
    set_state(outputs, peer, call, CallState::Ended(EndReason::Rejected));
}

/// Ends a connecting or ongoing `call`: HANGUP to the peer's client.
fn hang_up(outputs: &mut VecDeque<Output>, peer: &str, call: &mut Call, reason: EndReason) {
    let hangup = ECallMessage::new(MessageType::Hangup, false, &call.sessid);
    send(outputs, peer, call.remote_client.as_deref(), &hangup);
    call.renegotiation = None;
    set_state(outputs, peer, call, CallState::Ended(reason));
}

/// Merges `props` into the call's known remote properties and reports the changed keys.
fn update_props(outputs: &mut VecDeque<Output>, peer: &str, call: &mut Call, props: Option<Props>) {
    let mut changed = Props::new();
    for (key, value) in props.into_iter().flatten() {
        if call.remote_props.get(&key) != Some(&value) {
            call.remote_props.insert(key.clone(), value.clone());
            changed.insert(key, value);
        }
    }
    if !changed.is_empty() {
        outputs.push_back(Output::RemoteProps { peer: peer.to_owned(), props: changed });
    }
}
