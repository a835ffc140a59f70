//! `chaos`: the soak's calls over a cluster of switchboard nodes sharing
//! one Redis, started here as real processes, while a random node is
//! killed with SIGKILL and started again every `--kill-every`, and Redis is
//! killed and started again, empty, once.
//!
//! Every call runs between two nodes (every ordered pair in turn, the same
//! node too), relays numbered messages for `--call-length`, and hangs up;
//! each dialect keeps `--calls-per-dialect` calls going. The report puts
//! every call in a class by what went down while it ran
//! ([`verdict`]): calls whose parties' nodes stayed up must be clean; only
//! calls with a party on a killed node may lose it, and the other party
//! must hear that its peer is gone; how soon it heard is reported. Calls
//! that overlapped the Redis restart are reported, not judged.
//!
//! Prints one JSON report, and exits non-zero when a check failed.

mod calls;
mod cluster;
mod verdict;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::soak::Names;
use crate::soak::calls::Shape;
use crate::target::{Server, Target};
use calls::{Plan, Record, chaos_call};
use cluster::{Cluster, Setup};
use verdict::Incident;

/// `chaos` options.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The `switchboard` binary each node runs.
    #[arg(long)]
    pub server_bin: PathBuf,
    /// The `redis-server` binary.
    #[arg(long, default_value = "redis-server")]
    pub redis_bin: PathBuf,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The dialects whose calls run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "chatroulette,calling,tringtring,cloudkibo,ecall")]
    pub dialects: Vec<Target>,
    /// Calls in progress at once, per dialect: each ends and the next
    /// begins, on the next pair of nodes.
    #[arg(long, default_value_t = 6)]
    pub calls_per_dialect: usize,
    /// How long a call relays before it is hung up.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub call_length: Duration,
    /// Messages per second each way in a call.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Bytes of each SDP.
    #[arg(long, default_value_t = 1500)]
    pub sdp_size: usize,
    /// How long to run.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// A random node is killed and started again this often.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub kill_every: Duration,
    /// How long a killed node stays down before it is started again: 0
    /// restarts it at once (its peers then learn of the restart from the
    /// node itself); longer than the node timeout shows the others taking
    /// it for dead.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub down_for: Duration,
    /// When Redis is killed and started again, empty (default: halfway
    /// between the first two kills).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub redis_restart_at: Option<Duration>,
    /// Every node's `--node-timeout`: how soon the others take a killed
    /// node for dead.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub node_timeout: Duration,
    /// How long a receiver waits for the next message before counting the
    /// rest of its stream lost.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub loss_timeout: Duration,
    /// Which nodes die: the same seed kills the same nodes in the same order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the processes' logs go (default: a new folder in the
    /// system's temporary folder, named in the report).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// One more option for every node (repeat for more), e.g.
    /// `--node-arg=--ring-timeout=20s`.
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.nodes >= 2, "a cluster needs two nodes at least");
    anyhow::ensure!(args.rate > 0.0, "the rate must be above zero");
    anyhow::ensure!(!args.dialects.contains(&Target::Baseline), "the bare relay has no calls");
    anyhow::ensure!(
        !args.dialects.iter().any(|target| matches!(target, Target::CallingSignaling | Target::TringtringNode)),
        "calling-signaling and the Node socket.io server run on one node"
    );
    anyhow::ensure!(!args.dialects.contains(&Target::Matchbox), "matchbox has no calls");
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |since| since.as_nanos() as u64)
    });
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("switchboard-chaos-{}", std::process::id())));
    let setup = Setup {
        server_bin: args.server_bin.clone(),
        redis_bin: args.redis_bin.clone(),
        nodes: args.nodes,
        node_timeout: args.node_timeout,
        node_args: args.node_args.clone(),
        log_dir: log_dir.clone(),
    };
    let mut cluster = Cluster::start(setup).await?;
    let began = Instant::now();
    let records = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = watch::channel(false);
    let mut work = JoinSet::new();
    let shape = Shape { candidates: 0, sdp_size: args.sdp_size, loss_timeout: args.loss_timeout };
    let addrs: Vec<_> = (0..cluster.len()).map(|index| cluster.addr(index)).collect();
    for (index, &target) in args.dialects.iter().enumerate() {
        let turn = Arc::new(AtomicU64::new(0));
        for _ in 0..args.calls_per_dialect {
            let (turn, records, stopped, addrs) = (turn.clone(), records.clone(), stopped.clone(), addrs.clone());
            let args = args.clone();
            work.spawn(async move {
                while !*stopped.borrow() {
                    // Every ordered pair of nodes in turn, the same node too.
                    let n = turn.fetch_add(1, Ordering::Relaxed);
                    let nodes = addrs.len() as u64;
                    let (caller_node, callee_node) = ((n % nodes) as usize, ((n / nodes) % nodes) as usize);
                    let plan = Plan {
                        server: Server { target, addr: addrs[caller_node], peer_addr: Some(addrs[callee_node]) },
                        caller_node,
                        callee_node,
                        every: Duration::from_secs_f64(1.0 / args.rate),
                        length: args.call_length,
                        shape,
                        patience: (3 * args.node_timeout).max(args.loss_timeout + Duration::from_secs(5)),
                        began,
                    };
                    let (caller, callee) = Names { run: std::process::id(), dialect: index }.pair('x', n);
                    let record = chaos_call(plan, &caller, &callee).await;
                    records.lock().expect("records").push(record);
                }
            });
        }
    }

    let incidents = monkey(&mut cluster, &args, seed, began).await?;
    stop.send_replace(true);
    while work.join_next().await.is_some() {}
    let elapsed = began.elapsed().as_secs_f64();
    drop(cluster);

    let records: Vec<Record> = std::mem::take(&mut *records.lock().expect("records"));
    // The nodes announce themselves every eighth of the node timeout and
    // then claim their names again; a second more for the claims.
    let redis_settle_s = args.node_timeout.as_secs_f64() / 8.0 + 1.0;
    let (verdict, failures) = verdict::judge(&records, &incidents, redis_settle_s);
    let report = json!({
        "scenario": "chaos",
        "nodes": args.nodes,
        "dialects": args.dialects.iter().map(|target| target.dialect()).collect::<Vec<_>>(),
        "seconds": elapsed,
        "seed": seed,
        "node_timeout_s": args.node_timeout.as_secs_f64(),
        "down_for_s": args.down_for.as_secs_f64(),
        "calls_per_dialect": args.calls_per_dialect,
        "call_length_s": args.call_length.as_secs_f64(),
        "rate_per_s": args.rate,
        "calls": records.len(),
        "kills": incidents.iter().filter(|incident| matches!(incident, Incident::NodeKilled { .. })).count(),
        "redis_restarts": incidents.iter().filter(|incident| matches!(incident, Incident::RedisKilled { .. })).count(),
        "verdict": verdict,
        "incidents": incidents,
        "logs": log_dir,
        "failures": failures,
        "ok": failures.is_empty(),
    });
    println!("{report}");
    anyhow::ensure!(failures.is_empty(), "the chaos run failed its checks: {failures:#?}");
    Ok(())
}

/// Kills a random node every `--kill-every` and starts it again at once,
/// and restarts Redis once, until the run's duration is over; returns
/// what it did, when. No kill comes later than three node timeouts before
/// the end, so that its calls' other parties are told before the run
/// stops.
async fn monkey(cluster: &mut Cluster, args: &Args, seed: u64, began: Instant) -> anyhow::Result<Vec<Incident>> {
    let at = |instant: Instant| instant.duration_since(began).as_secs_f64();
    let last_kill = args.duration.saturating_sub(3 * args.node_timeout + args.down_for);
    let redis_at = args.redis_restart_at.unwrap_or(args.kill_every * 3 / 2);
    let mut plan: Vec<(Duration, Option<usize>)> = Vec::new();
    let mut random = Xorshift(seed | 1);
    let mut kill_at = args.kill_every;
    while !args.kill_every.is_zero() && kill_at <= last_kill {
        plan.push((kill_at, Some((random.next() % cluster.len() as u64) as usize)));
        kill_at += args.kill_every;
    }
    if redis_at < args.duration {
        plan.push((redis_at, None));
    }
    plan.sort_by_key(|&(when, _)| when);

    let mut incidents = Vec::new();
    for (when, node) in plan {
        tokio::time::sleep_until((began + when).into()).await;
        match node {
            Some(node) => {
                say(&format!("killing {}", cluster.node_id(node)), began);
                // Noted first: a party may see its connection reset
                // before the kill returns.
                incidents.push(Incident::NodeKilled { node, at_s: at(Instant::now()) });
                cluster.kill_node(node);
                tokio::time::sleep(args.down_for).await;
                cluster.start_node(node).await?;
                incidents.push(Incident::NodeBack { node, at_s: at(Instant::now()) });
            }
            None => {
                say("killing redis", began);
                incidents.push(Incident::RedisKilled { at_s: at(Instant::now()) });
                cluster.kill_redis();
                cluster.start_redis().await?;
                incidents.push(Incident::RedisBack { at_s: at(Instant::now()) });
            }
        }
    }
    tokio::time::sleep_until((began + args.duration).into()).await;
    Ok(incidents)
}

/// A line on standard error for whoever watches the run.
fn say(what: &str, began: Instant) {
    eprintln!("chaos: {:>7.1} s: {what}", began.elapsed().as_secs_f64());
}

/// xorshift64: which node dies next, repeatable from a seed.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
