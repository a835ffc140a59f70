//! The node's metrics, through the `metrics` facade into one Prometheus
//! recorder per [`Application`](crate::Application), rendered at `/metrics`.
//!
//! The recorder is the application's own, never the process-wide global, so
//! that several applications in one process (the tests) count apart. Every
//! metric's name, labels and meaning are in `docs/metrics.md`; label values
//! come from closed sets (dialects, outcomes, causes, error kinds), never
//! from user names or room ids.

use std::time::Duration;

use metrics::{Counter, Histogram, Key, Label, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use switchboard_core::{CallNote, CallStage, CommandError, Stats};
use switchboard_dialects::codec::Dialect;

use crate::driver::HeldEnd;

/// Why a client was dropped, the `cause` label of
/// `switchboard_clients_dropped_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// It did not read its events (`--ws-write-timeout`, `--session-queue`).
    SlowReader,
    /// It sent nothing for `--ws-idle-timeout`, or did not register within
    /// `--register-timeout`.
    Idle,
    /// A frame over `--ws-max-message`.
    FrameTooLarge,
    /// It kept sending over `--rate-limit` (`--rate-abuse-after`).
    RateLimit,
    /// Its access token was missing or refused.
    Auth,
}

impl DropCause {
    const ALL: [DropCause; 5] =
        [DropCause::SlowReader, DropCause::Idle, DropCause::FrameTooLarge, DropCause::RateLimit, DropCause::Auth];

    fn as_str(self) -> &'static str {
        match self {
            DropCause::SlowReader => "slow_reader",
            DropCause::Idle => "idle",
            DropCause::FrameTooLarge => "frame_too_large",
            DropCause::RateLimit => "rate_limit",
            DropCause::Auth => "auth",
        }
    }
}

/// A session's dialect as a label: `unknown` for a socket.io connection
/// whose first event has not named its dialect yet.
pub(crate) fn dialect_label(dialect: Option<Dialect>) -> &'static str {
    dialect.map_or("unknown", Dialect::as_str)
}

/// The index of a dialect in per-dialect arrays; the last slot is `unknown`.
fn slot(dialect: Option<Dialect>) -> usize {
    dialect.map_or(Dialect::ALL.len(), |d| Dialect::ALL.iter().position(|&x| x == d).expect("in ALL"))
}

/// Every dialect label, in slot order.
fn dialect_slots() -> impl Iterator<Item = Option<Dialect>> {
    Dialect::ALL.into_iter().map(Some).chain([None])
}

const SLOTS: usize = Dialect::ALL.len() + 1;

// Names, shared by the handles and `docs/metrics.md`.
const SESSIONS: &str = "switchboard_sessions";
const SESSIONS_HELD: &str = "switchboard_sessions_held";
const RESUMES: &str = "switchboard_resumes_total";
const HELD_SESSIONS_EXPIRED: &str = "switchboard_held_sessions_expired_total";
const USERS: &str = "switchboard_users";
const ROOMS: &str = "switchboard_rooms";
const RINGING: &str = "switchboard_ringing_calls";
const CALLS_IN_PROGRESS: &str = "switchboard_calls_in_progress";
const NAMESPACES: &str = "switchboard_namespaces";
const HELD: &str = "switchboard_held_messages";
const HELD_EXPIRED: &str = "switchboard_held_messages_expired_total";
const CALLS: &str = "switchboard_calls_total";
const RELAYED: &str = "switchboard_relayed_messages_total";
const RELAYED_BYTES: &str = "switchboard_relayed_bytes_total";
const ERRORS: &str = "switchboard_errors_sent_total";
const DROPPED: &str = "switchboard_clients_dropped_total";
const SETUP: &str = "switchboard_call_setup_seconds";
const RING: &str = "switchboard_ring_duration_seconds";
const DURATION: &str = "switchboard_call_duration_seconds";
const FIRST_ICE: &str = "switchboard_first_ice_candidate_seconds";
const INPUT_LATENCY: &str = "switchboard_driver_input_latency_seconds";
const CLUSTER_SENT: &str = "switchboard_cluster_messages_sent_total";
const CLUSTER_RECEIVED: &str = "switchboard_cluster_messages_received_total";
const CLUSTER_LOST: &str = "switchboard_cluster_messages_lost_total";
const CLUSTER_REDIS_UP: &str = "switchboard_cluster_redis_up";
const CLUSTER_NODES: &str = "switchboard_cluster_nodes";

/// The node's metrics: handles on its own recorder.
#[derive(Debug)]
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    relayed: [Counter; SLOTS],
    relayed_bytes: [Counter; SLOTS],
    dropped: [Counter; DropCause::ALL.len()],
    resumes: Counter,
    /// By [`HeldEnd`]: the window, then the buffer.
    held_sessions_expired: [Counter; 2],
    input_latency: Histogram,
    setup: Histogram,
    duration: Histogram,
    first_ice: Histogram,
    cluster_sent: Counter,
    cluster_received: Counter,
    cluster_lost: Counter,
    cluster_redis_up: metrics::Gauge,
    cluster_nodes: metrics::Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with every metric described, and those with fixed labels
    /// registered, so that they show (at zero) before anything happens.
    pub fn new() -> Self {
        Self::for_node(None)
    }

    /// As [`Metrics::new`], for a node of a cluster: every metric carries
    /// the label `node` with its id, and the cluster's own metrics show.
    pub fn for_node(node: Option<&str>) -> Self {
        let builder = match node {
            Some(node) => PrometheusBuilder::new().add_global_label("node", node),
            None => PrometheusBuilder::new(),
        };
        let recorder = buckets(builder).build_recorder();
        let handle = recorder.handle();
        describe(&recorder);
        let counter = |name: &'static str, labels: Vec<Label>| register_counter(&recorder, name, labels);
        let histogram = |name: &'static str| recorder.register_histogram(&Key::from_name(name), &metadata());
        let by_dialect = |name: &'static str| {
            let counters: Vec<Counter> = dialect_slots().map(|d| counter(name, dialect_labels(d))).collect();
            counters.try_into().expect("one per slot")
        };
        Self {
            relayed: by_dialect(RELAYED),
            relayed_bytes: by_dialect(RELAYED_BYTES),
            dropped: DropCause::ALL.map(|cause| counter(DROPPED, vec![Label::new("cause", cause.as_str())])),
            resumes: counter(RESUMES, Vec::new()),
            held_sessions_expired: ["window", "buffer"]
                .map(|cause| counter(HELD_SESSIONS_EXPIRED, vec![Label::new("cause", cause)])),
            input_latency: histogram(INPUT_LATENCY),
            setup: histogram(SETUP),
            duration: histogram(DURATION),
            first_ice: histogram(FIRST_ICE),
            cluster_sent: counter(CLUSTER_SENT, Vec::new()),
            cluster_received: counter(CLUSTER_RECEIVED, Vec::new()),
            cluster_lost: counter(CLUSTER_LOST, Vec::new()),
            cluster_redis_up: recorder.register_gauge(&Key::from_name(CLUSTER_REDIS_UP), &metadata()),
            cluster_nodes: recorder.register_gauge(&Key::from_name(CLUSTER_NODES), &metadata()),
            recorder,
            handle,
        }
    }

    /// A relay of `bytes` of payload from a session speaking `dialect`.
    pub(crate) fn relayed(&self, dialect: Option<Dialect>, bytes: usize) {
        self.relayed[slot(dialect)].increment(1);
        self.relayed_bytes[slot(dialect)].increment(bytes as u64);
    }

    /// The core's refusal `error`, sent to a session speaking `dialect`.
    pub(crate) fn error_sent(&self, dialect: Option<Dialect>, error: &CommandError) {
        let labels = vec![Label::new("dialect", dialect_label(dialect)), Label::new("kind", error.kind())];
        register_counter(&self.recorder, ERRORS, labels).increment(1);
    }

    /// A client dropped for `cause`.
    pub(crate) fn dropped(&self, cause: DropCause) {
        let index = DropCause::ALL.iter().position(|&c| c == cause).expect("in ALL");
        self.dropped[index].increment(1);
    }

    /// A held session was resumed by a new connection.
    pub(crate) fn resumed(&self) {
        self.resumes.increment(1);
    }

    /// A held session ended without a resume.
    pub(crate) fn held_session_ended(&self, end: HeldEnd) {
        let index = match end {
            HeldEnd::Window => 0,
            HeldEnd::Buffer => 1,
        };
        self.held_sessions_expired[index].increment(1);
    }

    /// How long an input waited in the driver's inbox.
    pub(crate) fn input_waited(&self, waited: Duration) {
        self.input_latency.record(waited.as_secs_f64());
    }

    /// A call note, its parties speaking `caller` and `callee`.
    pub(crate) fn call(&self, note: &CallNote, caller: Option<Dialect>, callee: Option<Dialect>) {
        let pair = || vec![Label::new("caller", dialect_label(caller)), Label::new("callee", dialect_label(callee))];
        match &note.stage {
            CallStage::Ringing => {}
            CallStage::RingEnded { outcome, rang } => {
                let mut labels = pair();
                labels.push(Label::new("outcome", outcome.as_str()));
                register_counter(&self.recorder, CALLS, labels).increment(1);
                let ring = Key::from_parts(RING, vec![Label::new("outcome", outcome.as_str())]);
                self.recorder.register_histogram(&ring, &metadata()).record(rang.as_secs_f64());
                if *outcome == switchboard_core::CallOutcome::Answered {
                    self.setup.record(rang.as_secs_f64());
                }
            }
            CallStage::Ended { lasted, first_ice, .. } => {
                self.duration.record(lasted.as_secs_f64());
                if let Some(first_ice) = first_ice {
                    self.first_ice.record(first_ice.as_secs_f64());
                }
            }
        }
    }

    /// The Prometheus text: the gauges from `stats` and `sessions` (open
    /// sessions by dialect slot), then every counter and histogram.
    pub(crate) fn render(&self, stats: &Stats, sessions: &SessionsByDialect) -> String {
        for dialect in dialect_slots() {
            let key = Key::from_parts(SESSIONS, session_labels(dialect));
            self.recorder.register_gauge(&key, &metadata()).set(sessions.open[slot(dialect)] as f64);
        }
        self.recorder.register_gauge(&Key::from_name(SESSIONS_HELD), &metadata()).set(sessions.held as f64);
        let gauges = [
            (USERS, stats.users),
            (ROOMS, stats.rooms),
            (RINGING, stats.invites),
            (CALLS_IN_PROGRESS, stats.answered_calls),
            (NAMESPACES, stats.namespaces),
            (HELD, stats.held),
        ];
        for (name, value) in gauges {
            self.recorder.register_gauge(&Key::from_name(name), &metadata()).set(value as f64);
        }
        register_counter(&self.recorder, HELD_EXPIRED, Vec::new()).absolute(stats.held_expired);
        self.handle.render()
    }

    /// A message published to another node.
    pub(crate) fn cluster_message_sent(&self) {
        self.cluster_sent.increment(1);
    }

    /// A message from another node, taken in.
    pub(crate) fn cluster_message_received(&self) {
        self.cluster_received.increment(1);
    }

    /// A message to or from another node that was lost: a full queue, or
    /// Redis unreachable.
    pub(crate) fn cluster_message_lost(&self) {
        self.cluster_lost.increment(1);
    }

    /// Whether Redis answered the last request.
    pub(crate) fn cluster_redis_up(&self, up: bool) {
        self.cluster_redis_up.set(if up { 1.0 } else { 0.0 });
    }

    /// Nodes announcing themselves, this one included.
    pub(crate) fn cluster_nodes(&self, nodes: usize) {
        self.cluster_nodes.set(nodes as f64);
    }

    /// Drains histogram samples into their buckets: run every few seconds,
    /// or samples pile up between scrapes.
    pub(crate) fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Open sessions per dialect slot (the last: socket.io, dialect unknown),
/// and how many of them are held for a resume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionsByDialect {
    open: [usize; SLOTS],
    held: usize,
}

impl SessionsByDialect {
    /// Counts sessions speaking each of `dialects`, `held` of them held.
    pub(crate) fn count(dialects: impl Iterator<Item = Option<Dialect>>, held: usize) -> Self {
        let mut counts = Self { held, ..Self::default() };
        for dialect in dialects {
            counts.open[slot(dialect)] += 1;
        }
        counts
    }

    /// Sessions held for a resume.
    pub fn held(&self) -> usize {
        self.held
    }
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

fn register_counter(recorder: &PrometheusRecorder, name: &'static str, labels: Vec<Label>) -> Counter {
    recorder.register_counter(&Key::from_parts(name, labels), &metadata())
}

fn dialect_labels(dialect: Option<Dialect>) -> Vec<Label> {
    vec![Label::new("dialect", dialect_label(dialect))]
}

fn session_labels(dialect: Option<Dialect>) -> Vec<Label> {
    let transport = dialect.map_or("socket.io", Dialect::transport);
    vec![Label::new("dialect", dialect_label(dialect)), Label::new("transport", transport)]
}

/// Histogram buckets, in seconds, by what each measures.
fn buckets(builder: PrometheusBuilder) -> PrometheusBuilder {
    let ring = [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0];
    let duration = [5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0];
    let ice = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    let latency = [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1];
    [(SETUP, &ring[..]), (RING, &ring), (DURATION, &duration), (FIRST_ICE, &ice), (INPUT_LATENCY, &latency)]
        .into_iter()
        .fold(builder, |builder, (name, buckets)| {
            builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets).expect("buckets are not empty")
        })
}

/// Every metric's `# HELP` line.
fn describe(recorder: &PrometheusRecorder) {
    let gauges = [
        (SESSIONS, "Open sessions, by dialect and transport."),
        (SESSIONS_HELD, "Sessions whose connection dropped, held for a resume."),
        (USERS, "Registered (online) users."),
        (ROOMS, "Rooms, 1:1 call rooms included."),
        (RINGING, "Calls and invites ringing now."),
        (CALLS_IN_PROGRESS, "Answered 1:1 calls in progress."),
        (NAMESPACES, "calling namespaces in use."),
        (HELD, "ecall messages held for users with no device online."),
        (CLUSTER_REDIS_UP, "1 while the cluster's Redis answers, else 0 (0 on a node without --redis-url)."),
        (CLUSTER_NODES, "Nodes of the cluster announcing themselves, this one included."),
    ];
    for (name, help) in gauges {
        recorder.describe_gauge(name.into(), None, help.into());
    }
    let counters = [
        (HELD_EXPIRED, "Held ecall messages dropped undelivered after the ring timeout."),
        (RESUMES, "Held sessions that a new connection resumed."),
        (HELD_SESSIONS_EXPIRED, "Held sessions ended without a resume: the window passed, or the buffer filled."),
        (CALLS, "Calls by the caller's and callee's dialects and how their ringing ended."),
        (RELAYED, "Signals (SDP, ICE candidates, messages) relayed, by the sender's dialect."),
        (RELAYED_BYTES, "Payload bytes relayed, by the sender's dialect."),
        (ERRORS, "Refusals sent to clients, by dialect and error kind."),
        (DROPPED, "Clients the server dropped, by cause."),
        (CLUSTER_SENT, "Messages this node published to other nodes of the cluster."),
        (CLUSTER_RECEIVED, "Messages this node received from other nodes of the cluster."),
        (CLUSTER_LOST, "Messages to or from other nodes lost to a full queue or an unreachable Redis."),
    ];
    for (name, help) in counters {
        recorder.describe_counter(name.into(), None, help.into());
    }
    let histograms = [
        (SETUP, "Call set-up time: from ringing to the answer."),
        (RING, "How long calls rang, by outcome."),
        (DURATION, "Answered 1:1 calls, from the answer to the hang-up."),
        (FIRST_ICE, "From a call's answer to its first relayed ICE candidate."),
        (INPUT_LATENCY, "How long inputs waited for the signaling core, from queued to handled."),
    ];
    for (name, help) in histograms {
        recorder.describe_histogram(name.into(), Some(Unit::Seconds), help.into());
    }
}
