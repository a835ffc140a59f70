//! Throughput of the sans-IO core, in inputs per second.
//!
//! Each input is fed as the driver feeds it: with a `now` of its own (a fixed
//! start advanced by a few microseconds, since the core reads no clock) and
//! followed by draining every output. Setup happens outside the timed loop.
//!
//! `cargo bench -p switchboard-core`; the project's target for `core/relay`
//! is at least 1,000,000 inputs/s on one core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_core::*;

/// Pairs of users in accepted calls for `relay`, and in the pool of
/// `call_setup`.
const PAIRS: usize = 1_000;
/// Users online beside the churning sessions of `connect_register_disconnect`.
const BACKGROUND: usize = 1_000;
/// How far `now` moves per input.
const TICK: Duration = Duration::from_micros(3);

/// A trickle ICE candidate as a browser sends it, about 250 bytes.
fn ice_candidate() -> Payload {
    let candidate = "candidate:842163049 1 udp 1677729535 203.0.113.45 61544 typ srflx raddr 192.168.1.23 \
                     rport 61544 generation 0 ufrag Xw3c network-id 1 network-cost 10";
    let json = format!(
        r#"{{"candidate":"{candidate}","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xw3c","relayProtocol":null}}"#
    );
    Payload::new(json)
}

/// A browser's SDP offer of about 2 KB, one line per line; shared with the
/// codec benchmarks.
const SAMPLE_SDP: &str = include_str!("sample.sdp");

/// An SDP description of about 2 KB, as JSON (`{"type":…,"sdp":"v=0\r\n…"}`).
fn description(kind: &str) -> Payload {
    let sdp: String = SAMPLE_SDP.lines().map(|line| format!("{line}\\r\\n")).collect();
    Payload::new(format!(r#"{{"type":"{kind}","sdp":"{sdp}"}}"#))
}

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("a good name")
}

/// A core and the clock its driver keeps.
struct Driver {
    core: Core,
    now: Instant,
}

impl Driver {
    fn new() -> Self {
        Self { core: Core::new(CoreConfig::default()), now: Instant::now() }
    }

    /// Feeds one input a tick after the last and drains the outputs, as the
    /// server's driver does. Returns how many outputs came out.
    #[inline]
    fn feed(&mut self, input: Input) -> usize {
        self.now += TICK;
        self.core.handle_input(self.now, input);
        let mut outputs = 0;
        while let Some(output) = self.core.poll_output() {
            black_box(output);
            outputs += 1;
        }
        outputs
    }

    fn command(&mut self, session: SessionId, command: Command) -> usize {
        self.feed(Input::Command { session, request: Request::quiet(0), command })
    }

    /// A connected session registered as `name`.
    fn online(&mut self, session: SessionId, name: &UserId) {
        self.feed(Input::Connected { session, peer_id: None, style: Some(CallStyle::Signals) });
        let outputs = self.command(session, Command::Register { user: Some(name.clone()), shared: false });
        assert_eq!(outputs, 0, "registering {name:?}");
    }
}

/// A pair of users: sessions and names.
struct Pair {
    caller: (SessionId, UserId),
    callee: (SessionId, UserId),
}

/// `PAIRS` pairs online, with sessions numbered from `first`.
fn pairs(driver: &mut Driver, first: u128, prefix: &str) -> Vec<Pair> {
    (0..PAIRS as u128)
        .map(|i| {
            let caller = (SessionId::new(first + 2 * i), user(&format!("{prefix}-caller-{i}")));
            let callee = (SessionId::new(first + 2 * i + 1), user(&format!("{prefix}-callee-{i}")));
            driver.online(caller.0, &caller.1);
            driver.online(callee.0, &callee.1);
            Pair { caller, callee }
        })
        .collect()
}

fn relay(c: &mut Criterion) {
    let mut driver = Driver::new();
    let pairs = pairs(&mut driver, 1, "relay");
    for pair in &pairs {
        driver.command(pair.caller.0, Command::Call { to: pair.callee.1.clone(), data: Payload::null() });
        let accept = Command::Accept { invite: InviteRef::From(pair.caller.1.clone()), status: None, note: None };
        assert_eq!(driver.command(pair.callee.0, accept), 1, "CallAccepted to the caller");
    }
    let stats = driver.core.stats();
    assert_eq!((stats.rooms, stats.invites, stats.deadlines), (PAIRS, 0, 0), "{stats:?}");

    // Both directions of every call, in turn; the payload is shared, so each
    // input clones an Arc, as a codec's decoded Signal would be moved in.
    let signal = Signal { kind: SignalKind::IceCandidate, payload: ice_candidate() };
    let relays: Vec<Input> = pairs
        .iter()
        .flat_map(|pair| [(&pair.caller, &pair.callee), (&pair.callee, &pair.caller)])
        .map(|(from, to)| Input::Command {
            session: from.0,
            request: Request::quiet(0),
            command: Command::Relay { to: RelayTarget::CallPeer(to.1.clone()), signal: signal.clone() },
        })
        .collect();
    for input in &relays {
        assert_eq!(driver.feed(input.clone()), 1, "one Relayed per relay");
    }

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(1));
    let mut next = 0;
    group.bench_function("relay", |b| {
        b.iter(|| {
            let input = relays[next].clone();
            next = (next + 1) % relays.len();
            driver.feed(input)
        })
    });
    group.finish();
}

fn call_setup(c: &mut Criterion) {
    let mut driver = Driver::new();
    let pairs = pairs(&mut driver, 1, "setup");
    let offer = Signal { kind: SignalKind::Offer, payload: description("offer") };
    let answer = Signal { kind: SignalKind::Answer, payload: description("answer") };
    // One call: ring, answer, offer and answer relayed, hang up.
    let call = |pair: &Pair| -> [Input; 5] {
        let command =
            |session: SessionId, command: Command| Input::Command { session, request: Request::quiet(0), command };
        let (caller, callee) = (&pair.caller, &pair.callee);
        [
            command(caller.0, Command::Call { to: callee.1.clone(), data: Payload::null() }),
            command(callee.0, Command::Accept { invite: InviteRef::From(caller.1.clone()), status: None, note: None }),
            command(caller.0, Command::Relay { to: RelayTarget::CallPeer(callee.1.clone()), signal: offer.clone() }),
            command(callee.0, Command::Relay { to: RelayTarget::CallPeer(caller.1.clone()), signal: answer.clone() }),
            command(caller.0, Command::Leave { room: RoomRef::CallWith(callee.1.clone()) }),
        ]
    };
    let calls: Vec<[Input; 5]> = pairs.iter().map(call).collect();
    // Each call once, checked: every step gives its events and leaves nothing.
    for inputs in &calls {
        let outputs: Vec<usize> = inputs.iter().map(|input| driver.feed(input.clone())).collect();
        assert_eq!(outputs, [1, 1, 1, 1, 1], "Ringing, CallAccepted, 2 Relayed, CallEnded");
    }
    let stats = driver.core.stats();
    assert_eq!((stats.rooms, stats.invites, stats.deadlines), (0, 0, 0), "{stats:?}");

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(5));
    let mut next = 0;
    group.bench_function("call_setup", |b| {
        b.iter(|| {
            let inputs = calls[next].clone();
            next = (next + 1) % calls.len();
            inputs.into_iter().map(|input| driver.feed(input)).sum::<usize>()
        })
    });
    group.finish();
}

fn connect_register_disconnect(c: &mut Criterion) {
    let mut driver = Driver::new();
    for i in 0..BACKGROUND as u128 {
        driver.online(SessionId::new(i + 1), &user(&format!("online-{i}")));
    }
    let names: Vec<UserId> = (0..PAIRS).map(|i| user(&format!("churn-{i}"))).collect();
    let mut session = BACKGROUND as u128 + 1;
    let mut next = 0;
    let mut churn = move |driver: &mut Driver| {
        let name = names[next].clone();
        next = (next + 1) % names.len();
        session += 1;
        let session = SessionId::new(session);
        driver.feed(Input::Connected { session, peer_id: None, style: Some(CallStyle::Signals) })
            + driver.command(session, Command::Register { user: Some(name), shared: false })
            + driver.feed(Input::Disconnected { session })
    };
    for _ in 0..PAIRS {
        assert_eq!(churn(&mut driver), 0, "a quiet churn");
    }
    let stats = driver.core.stats();
    assert_eq!((stats.sessions, stats.users), (BACKGROUND, BACKGROUND), "{stats:?}");

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(3));
    group.bench_function("connect_register_disconnect", |b| b.iter(|| churn(&mut driver)));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = relay, call_setup, connect_register_disconnect
}
criterion_main!(benches);
