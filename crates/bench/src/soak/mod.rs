//! `soak`: calls churn in every dialect at a stated rate while long-lived
//! calls keep relaying, for as long as asked (an hour, for RELIABILITY.md;
//! a minute in CI). Every relayed message carries a sequence number and is
//! checked on arrival: the soak fails on any message lost, duplicated or
//! reordered, on any call that fails, and when the server's open files do
//! not come back to where they started once the calls close. With
//! `--server-pid` it samples the server's RSS, open files and CPU every
//! `--sample-every`.
//!
//! Prints one JSON report, and exits non-zero when a check failed.

pub(crate) mod calls;
pub(crate) mod ledger;
mod sampler;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::target::{Server, Target};
use calls::{Shape, Until};
use ledger::Tally;
use sampler::{Sample, Sampler};

/// `soak` options.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// switchboard's address (`127.0.0.1:8080`).
    #[arg(long)]
    pub addr: SocketAddr,
    /// Another node of a cluster, where every callee connects.
    #[arg(long)]
    pub peer_addr: Option<SocketAddr>,
    /// The dialects whose calls churn, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "chatroulette,calling,tringtring,cloudkibo,ecall")]
    pub dialects: Vec<Target>,
    /// Churned calls started per second, per dialect.
    #[arg(long, default_value_t = 4.0)]
    pub churn_rate: f64,
    /// Churned calls in progress at most, per dialect: a server slower than
    /// the rate gets fewer calls (the report gives the rate reached).
    #[arg(long, default_value_t = 32)]
    pub max_churning: usize,
    /// Long-lived calls per dialect, relaying from start to end.
    #[arg(long, default_value_t = 4)]
    pub long_calls: usize,
    /// Messages per second each way in a long-lived call.
    #[arg(long, default_value_t = 10.0)]
    pub long_rate: f64,
    /// ICE candidates each way in a churned call, after the SDP.
    #[arg(long, default_value_t = 4)]
    pub candidates: u64,
    /// Bytes of each SDP.
    #[arg(long, default_value_t = 1500)]
    pub sdp_size: usize,
    /// How long to run.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The warm-up: RSS growth is measured from its end.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Instead of `--duration`: churned calls per dialect, after which the
    /// soak ends; long-lived calls then send this many messages each way.
    #[arg(long)]
    pub calls: Option<u64>,
    /// The server's process id, to sample its RSS, open files and CPU.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// How often to sample the server.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub sample_every: Duration,
    /// How long a receiver waits for the next message before counting the
    /// rest of its stream lost.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub loss_timeout: Duration,
    /// Also fail when the server's RSS grew by more than this percentage
    /// between the end of the warm-up and the end.
    #[arg(long)]
    pub max_rss_growth_pct: Option<f64>,
}

/// What the calls of one dialect did.
#[derive(Debug, Default, serde::Serialize)]
struct DialectTotals {
    churned_calls: u64,
    long_calls: u64,
    failed_calls: u64,
    messages: Tally,
    /// The first few failures, for the report.
    errors: Vec<String>,
}

/// Failures kept per dialect for the report.
const ERRORS_KEPT: usize = 5;

type Totals = Arc<Mutex<BTreeMap<&'static str, DialectTotals>>>;

fn record(totals: &Totals, dialect: &'static str, long: bool, outcome: anyhow::Result<Tally>) {
    let mut totals = totals.lock().expect("totals");
    let entry = totals.entry(dialect).or_default();
    match outcome {
        Ok(tally) => {
            *if long { &mut entry.long_calls } else { &mut entry.churned_calls } += 1;
            entry.messages.add(tally);
        }
        Err(error) => {
            entry.failed_calls += 1;
            if entry.errors.len() < ERRORS_KEPT {
                entry.errors.push(format!("{error:#}"));
            }
        }
    }
}

/// The soak's outcome: its JSON report and whether every check held.
pub struct Outcome {
    pub report: Value,
    pub ok: bool,
    pub messages: Tally,
    pub failed_calls: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let outcome = soak(&args).await?;
    println!("{}", outcome.report);
    anyhow::ensure!(
        outcome.ok,
        "the soak failed its checks: {:?}, {} failed calls (see \"failures\" in the report)",
        outcome.messages,
        outcome.failed_calls
    );
    Ok(())
}

/// Runs the soak `args` describe.
///
/// # Errors
/// When `args` name a target the soak does not take (the bare relay and
/// matchbox, which have no calls), or
/// the server's process cannot be read.
pub async fn soak(args: &Args) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !args.dialects.iter().any(|target| matches!(target, Target::Baseline | Target::Matchbox)),
        "the bare relay and matchbox have no calls to soak"
    );
    anyhow::ensure!(args.churn_rate > 0.0 && args.long_rate > 0.0, "rates must be above zero");
    let began = Instant::now();
    let mut sampler = args.server_pid.map(|pid| Sampler::new(pid, began));
    let start = sampler.as_mut().map(Sampler::sample).transpose()?;
    let shape = Shape { candidates: args.candidates, sdp_size: args.sdp_size, loss_timeout: args.loss_timeout };
    let totals = Totals::default();
    let (stop, stopped) = watch::channel(false);
    let mut work = JoinSet::new();
    for (index, &target) in args.dialects.iter().enumerate() {
        let server = Server { target, addr: args.addr, peer_addr: args.peer_addr };
        let names = Names { run: std::process::id(), dialect: index };
        for call in 0..args.long_calls {
            let until = match args.calls {
                Some(count) => Until::Sent(count),
                None => Until::Stopped(stopped.clone()),
            };
            let (caller, callee) = names.pair('l', call as u64);
            let every = Duration::from_secs_f64(1.0 / args.long_rate);
            let totals = totals.clone();
            work.spawn(async move {
                let outcome = calls::long_lived(server, &caller, &callee, every, until, shape).await;
                record(&totals, target.dialect(), true, outcome);
            });
        }
        work.spawn(churn(server, names, shape, args.clone(), stopped.clone(), totals.clone()));
    }

    let mut samples: Vec<Sample> = start.into_iter().collect();
    let mut at_warmup = None;
    let mut sampling = tokio::time::interval_at(tokio::time::Instant::now() + args.sample_every, args.sample_every);
    let deadline = tokio::time::sleep(args.duration);
    tokio::pin!(deadline);
    let counted = args.calls.is_some();
    loop {
        tokio::select! {
            _ = &mut deadline, if !counted => break,
            finished = work.join_next() => if finished.is_none() { break },
            _ = sampling.tick(), if sampler.is_some() => {
                let sample = sampler.as_mut().map(Sampler::sample).transpose()?.expect("a sampler");
                if at_warmup.is_none() && Duration::from_secs_f64(sample.at_s) >= args.warmup {
                    at_warmup = Some(sample);
                }
                samples.push(sample);
            }
        }
    }
    // The last sample under load, before the calls close.
    let at_end = sampler.as_mut().map(Sampler::sample).transpose()?;
    stop.send_replace(true);
    while work.join_next().await.is_some() {}
    let elapsed = began.elapsed().as_secs_f64();
    let files_after = match (&sampler, &start) {
        (Some(sampler), Some(start)) => Some(open_files_settled(sampler, start.open_files).await?),
        _ => None,
    };

    let totals = std::mem::take(&mut *totals.lock().expect("totals"));
    let mut messages = Tally::default();
    let (mut churned, mut failed) = (0, 0);
    for dialect in totals.values() {
        messages.add(dialect.messages);
        churned += dialect.churned_calls;
        failed += dialect.failed_calls;
    }
    let mut failures = Vec::new();
    if !messages.is_clean() {
        failures.push(format!("messages not delivered exactly once in order: {messages:?}"));
    }
    if failed > 0 {
        failures.push(format!("{failed} calls failed"));
    }
    if let (Some(start), Some(after)) = (&start, files_after)
        && after > start.open_files
    {
        failures.push(format!("open files {after} after the calls closed, {} before they began", start.open_files));
    }
    let growth = match (&at_warmup, &at_end) {
        (Some(warm), Some(end)) => Some(100.0 * (end.rss_kib as f64 - warm.rss_kib as f64) / warm.rss_kib as f64),
        _ => None,
    };
    if let (Some(growth), Some(limit)) = (growth, args.max_rss_growth_pct)
        && growth > limit
    {
        failures.push(format!("RSS grew {growth:.1} % after the warm-up, more than {limit} %"));
    }
    let rss_max = samples.iter().chain(at_end.iter()).map(|sample| sample.rss_kib).max();
    let report = json!({
        "scenario": "soak",
        "dialects": args.dialects.iter().map(|target| target.dialect()).collect::<Vec<_>>(),
        "cross_node": args.peer_addr.is_some(),
        "seconds": elapsed,
        "churn_rate_per_dialect": args.churn_rate,
        "churned_calls_per_s": churned as f64 / elapsed,
        "long_calls_per_dialect": args.long_calls,
        "long_rate_per_s": args.long_rate,
        "messages": messages,
        "failed_calls": failed,
        "by_dialect": totals,
        "server": sampler.as_ref().map(|_| json!({
            "rss_kib": {
                "start": start.map(|s| s.rss_kib),
                "warmup_end": at_warmup.map(|s| s.rss_kib),
                "end": at_end.map(|s| s.rss_kib),
                "max": rss_max,
            },
            "rss_growth_after_warmup_pct": growth,
            "open_files": { "start": start.map(|s| s.open_files), "under_load": at_end.map(|s| s.open_files), "after_close": files_after },
            "samples": samples,
        })),
        "failures": failures,
        "ok": failures.is_empty(),
    });
    Ok(Outcome { ok: failures.is_empty(), report, messages, failed_calls: failed })
}

/// User names for one dialect's calls, unique per generator process.
#[derive(Clone, Copy)]
pub(crate) struct Names {
    pub(crate) run: u32,
    pub(crate) dialect: usize,
}

impl Names {
    /// Caller and callee of call `n` of a kind (`c` churned, `l` long-lived,
    /// `x` a chaos call).
    pub(crate) fn pair(self, kind: char, n: u64) -> (String, String) {
        let Names { run, dialect } = self;
        (format!("s{run}d{dialect}{kind}{n}a"), format!("s{run}d{dialect}{kind}{n}b"))
    }
}

/// Starts churned calls of one dialect at the rate asked, at most
/// `max_churning` at once, until stopped (or until `calls` were made).
async fn churn(
    server: Server,
    names: Names,
    shape: Shape,
    args: Args,
    mut stop: watch::Receiver<bool>,
    totals: Totals,
) {
    let permits = Arc::new(Semaphore::new(args.max_churning.max(1)));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.churn_rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = JoinSet::new();
    let dialect = server.target.dialect();
    let mut started = 0;
    while args.calls.is_none_or(|count| started < count) && !*stop.borrow() {
        let permit = tokio::select! {
            permit = async { tick.tick().await; permits.clone().acquire_owned().await } => permit.expect("never closed"),
            _ = stop.changed() => break,
        };
        let (caller, callee) = names.pair('c', started);
        started += 1;
        calls.spawn(async move {
            let outcome = calls::churned(server, &caller, &callee, shape).await;
            drop(permit);
            outcome
        });
        while let Some(done) = calls.try_join_next() {
            record(&totals, dialect, false, done.unwrap_or_else(|panic| Err(panic.into())));
        }
    }
    while let Some(done) = calls.join_next().await {
        record(&totals, dialect, false, done.unwrap_or_else(|panic| Err(panic.into())));
    }
}

/// The server's open files once the calls have closed: a closed
/// connection's socket goes a moment after the client sees it close, so
/// this reads again (every 100 ms, for at most 10 s) until the count is
/// back to `baseline`.
async fn open_files_settled(sampler: &Sampler, baseline: u64) -> anyhow::Result<u64> {
    let mut files = sampler.open_files()?;
    for _ in 0..100 {
        if files <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        files = sampler.open_files()?;
    }
    Ok(files)
}
