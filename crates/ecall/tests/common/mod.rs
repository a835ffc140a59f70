//! A small network of devices for tests: it shuttles `Output::Send` contents between `Device`s the
//! way Wire's backend (and switchboard's `ecall` endpoint) does: to one client of the recipient or
//! all of them, plus a copy to the sender's other clients. Time is passed in; nothing sleeps.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use switchboard_ecall::{Action, ActionError, CallState, Device, DeviceConfig, ECallMessage, MessageType, Output};

/// A message put on the wire by a device.
#[derive(Debug, Clone)]
pub struct Sent {
    pub from: String,
    pub from_client: String,
    pub to: String,
    pub to_client: Option<String>,
    pub message: ECallMessage,
    pub content: String,
}

impl Sent {
    pub fn is(&self, kind: MessageType, resp: bool) -> bool {
        self.message.kind == kind && self.message.resp == resp
    }
}

pub struct Net {
    pub t0: Instant,
    devices: Vec<Device>,
    /// Non-Send outputs per device, in order, until taken.
    events: Vec<Vec<Output>>,
    /// Sent but not yet delivered.
    pending: VecDeque<Sent>,
    /// Everything ever sent, in order.
    pub log: Vec<Sent>,
}

impl Net {
    pub fn new() -> Self {
        Net { t0: Instant::now(), devices: Vec::new(), events: Vec::new(), pending: VecDeque::new(), log: Vec::new() }
    }

    /// Adds a device with the default config and a seed of its own; returns its index.
    pub fn add(&mut self, user: &str, client: &str) -> usize {
        let seed = self.devices.len() as u64 + 1;
        self.add_with(user, client, DeviceConfig { seed, ..DeviceConfig::default() })
    }

    pub fn add_with(&mut self, user: &str, client: &str, config: DeviceConfig) -> usize {
        self.devices.push(Device::new(user, client, config));
        self.events.push(Vec::new());
        self.devices.len() - 1
    }

    /// `t0 + ms` milliseconds.
    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub fn device(&self, i: usize) -> &Device {
        &self.devices[i]
    }

    pub fn state(&self, i: usize, peer: &str) -> Option<CallState> {
        self.devices[i].state(peer)
    }

    /// Runs an action on device `i` at `now`; its messages wait in `pending` until `deliver`.
    pub fn act(&mut self, i: usize, now: Instant, action: Action) -> Result<(), ActionError> {
        let result = self.devices[i].handle_action(now, action);
        self.drain(i);
        result
    }

    /// Like `act`, and panics on an error.
    pub fn ok(&mut self, i: usize, now: Instant, action: Action) {
        self.act(i, now, action).expect("action refused");
    }

    /// Wakes every device at `now`.
    pub fn tick(&mut self, now: Instant) {
        for i in 0..self.devices.len() {
            self.devices[i].handle_timeout(now);
            self.drain(i);
        }
    }

    /// Hands a raw content to device `i` as if `from`/`from_client` had sent it.
    pub fn inject(
        &mut self,
        i: usize,
        now: Instant,
        from: &str,
        from_client: &str,
        content: &str,
    ) -> Result<(), switchboard_ecall::MessageError> {
        let result = self.devices[i].handle_message(now, from, from_client, content);
        self.drain(i);
        result
    }

    /// Delivers pending messages (and the replies they cause) at `now` until none are left.
    pub fn deliver(&mut self, now: Instant) {
        while let Some(sent) = self.pending.pop_front() {
            for j in self.recipients(&sent) {
                self.devices[j]
                    .handle_message(now, &sent.from, &sent.from_client, &sent.content)
                    .expect("a device sent a malformed message");
                self.drain(j);
            }
        }
    }

    /// Forgets the pending messages (lost on the way).
    pub fn drop_pending(&mut self) -> Vec<Sent> {
        self.pending.drain(..).collect()
    }

    pub fn pending(&self) -> &VecDeque<Sent> {
        &self.pending
    }

    /// Takes the non-Send outputs of device `i` so far.
    pub fn take(&mut self, i: usize) -> Vec<Output> {
        std::mem::take(&mut self.events[i])
    }

    /// The states device `i` reported so far (and forgets all its events).
    pub fn states(&mut self, i: usize) -> Vec<CallState> {
        self.take(i)
            .into_iter()
            .filter_map(|output| match output {
                Output::State { state, .. } => Some(state),
                _ => None,
            })
            .collect()
    }

    /// The messages sent so far by the device `(user, client)`, in order.
    pub fn sent_by(&self, user: &str, client: &str) -> Vec<&Sent> {
        self.log.iter().filter(|s| s.from == user && s.from_client == client).collect()
    }

    /// Recipient device indexes of `sent`: the addressed client (or every client of `to`), and the
    /// sender's other clients; never the sender itself.
    fn recipients(&self, sent: &Sent) -> Vec<usize> {
        (0..self.devices.len())
            .filter(|&j| {
                let d = &self.devices[j];
                let me = d.user() == sent.from && d.client() == sent.from_client;
                let addressed = d.user() == sent.to && sent.to_client.as_deref().is_none_or(|c| c == d.client());
                let sibling = d.user() == sent.from && d.client() != sent.from_client;
                !me && (addressed || sibling)
            })
            .collect()
    }

    fn drain(&mut self, i: usize) {
        while let Some(output) = self.devices[i].poll_output() {
            match output {
                Output::Send { to, to_client, content } => {
                    let message = ECallMessage::parse(&content).expect("a device wrote an invalid message");
                    let d = &self.devices[i];
                    let sent = Sent {
                        from: d.user().to_owned(),
                        from_client: d.client().to_owned(),
                        to,
                        to_client,
                        message,
                        content,
                    };
                    self.log.push(sent.clone());
                    self.pending.push_back(sent);
                }
                other => self.events[i].push(other),
            }
        }
    }
}

pub fn call(peer: &str, video: bool) -> Action {
    Action::Call { peer: peer.into(), sdp_offer: format!("v=0 offer to {peer}"), video }
}

pub fn accept(peer: &str) -> Action {
    Action::Accept { peer: peer.into(), sdp_answer: format!("v=0 answer to {peer}") }
}

pub fn hangup(peer: &str) -> Action {
    Action::Hangup { peer: peer.into() }
}

pub fn ice_connected(peer: &str) -> Action {
    Action::IceConnected { peer: peer.into() }
}

pub fn props(pairs: &[(&str, &str)]) -> switchboard_ecall::Props {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// alice (a1) and bob (b1) in an ongoing call started by alice at t0, every event taken.
pub fn ongoing() -> (Net, usize, usize) {
    let mut net = Net::new();
    let (a, b) = (net.add("alice", "a1"), net.add("bob", "b1"));
    let now = net.at(0);
    net.ok(a, now, call("bob", false));
    net.deliver(now);
    net.ok(b, now, accept("alice"));
    net.deliver(now);
    net.ok(a, now, ice_connected("bob"));
    net.ok(b, now, ice_connected("alice"));
    assert_eq!(net.state(a, "bob"), Some(CallState::Ongoing));
    assert_eq!(net.state(b, "alice"), Some(CallState::Ongoing));
    net.take(a);
    net.take(b);
    (net, a, b)
}
