//! `setup`: pairs run whole call setups in a loop over fresh connections:
//! connect, request, accept, a ~2 KB offer, a ~2 KB answer, 8 ICE candidates
//! each way, hang up. Against the baseline the same messages go through the
//! bare relay and matchbox (which have no registration, ringing or hang-up
//! of their own).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::{histogram, percentiles};
use crate::target::{Server, Signal, Socket, Target, call, is_relayed, next_text, send};

/// `setup` options.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Pairs running setups at the same time.
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// Bytes of each SDP.
    #[arg(long, default_value_t = 2000)]
    sdp_size: usize,
    /// ICE candidates each way.
    #[arg(long, default_value_t = 8)]
    candidates: usize,
    /// How long to run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Each pair starts a setup at most this often (for example `20ms`), so
    /// that the server is not saturated and the latency is the hops' own,
    /// not queueing behind other setups. Without it, pairs run back to back.
    #[arg(long, value_parser = humantime::parse_duration)]
    pace: Option<Duration>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.pairs {
        let (args, stop) = (args.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut round = 0u64;
            let mut pace = args.pace.map(|every| {
                let mut pace = tokio::time::interval(every);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                pace
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let began = Instant::now();
                one_setup(&args, worker, round).await?;
                latency.record(began.elapsed().as_micros().max(1) as u64)?;
                round += 1;
            }
            anyhow::Ok(latency)
        }));
    }
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latency = histogram();
    for worker in workers {
        latency.add(worker.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = json!({
        "scenario": "setup",
        "server": args.server.target.server(),
        "dialect": args.server.target.dialect(),
        "cross_node": args.server.peer_addr.is_some(),
        "pairs": args.pairs,
        "pace_ms": args.pace.map(|every| every.as_secs_f64() * 1000.0),
        "sdp_size": args.sdp_size,
        "candidates": args.candidates,
        "seconds": elapsed,
        "setups_per_s": latency.len() as f64 / elapsed,
        "setup_us": percentiles(&latency),
    });
    println!("{report}");
    Ok(())
}

/// One whole call, on fresh connections.
async fn one_setup(args: &Args, worker: usize, round: u64) -> anyhow::Result<()> {
    let target = args.server.target;
    let run = std::process::id();
    let (caller, callee) = (format!("sc{run}x{worker}x{round}"), format!("se{run}x{worker}x{round}"));
    let mut call = call(args.server, &caller, &callee).await?;
    if matches!(target, Target::Baseline | Target::Matchbox) {
        // Stand-ins for the call request and its answer, which the bare
        // relay and matchbox have no form for.
        let (request, accept) =
            (call.frame(true, Signal::IceCandidate, 64), call.frame(false, Signal::IceCandidate, 64));
        relay(target, &mut call.caller.socket, &mut call.callee.socket, request).await?;
        relay(target, &mut call.callee.socket, &mut call.caller.socket, accept).await?;
    }
    let (offer, answer) =
        (call.frame(true, Signal::Offer, args.sdp_size), call.frame(false, Signal::Answer, args.sdp_size));
    relay(target, &mut call.caller.socket, &mut call.callee.socket, offer).await?;
    relay(target, &mut call.callee.socket, &mut call.caller.socket, answer).await?;
    let (to_callee, to_caller) =
        (call.frame(true, Signal::IceCandidate, 250), call.frame(false, Signal::IceCandidate, 250));
    for _ in 0..args.candidates {
        send(&mut call.caller.socket, to_callee.clone()).await?;
        send(&mut call.callee.socket, to_caller.clone()).await?;
    }
    for _ in 0..args.candidates {
        relayed(target, &mut call.caller.socket).await?;
        relayed(target, &mut call.callee.socket).await?;
    }
    call.hang_up().await?;
    call.close().await;
    Ok(())
}

/// Sends `frame` from one side and waits for it on the other.
async fn relay(target: Target, from: &mut Socket, to: &mut Socket, frame: String) -> anyhow::Result<()> {
    send(from, frame).await?;
    relayed(target, to).await
}

/// Waits for the next relayed frame, skipping answers to the peer's own
/// requests.
async fn relayed(target: Target, socket: &mut Socket) -> anyhow::Result<()> {
    while !is_relayed(target, &next_text(socket).await?) {}
    Ok(())
}
