//! `setup`: pairs run whole call setups in a loop over fresh connections:
//! connect, request, accept, a ~2 KB offer, a ~2 KB answer, 8 ICE candidates
//! each way, hang up. Against the baseline the same messages go through the
//! bare relay (which has no registration, ringing or hang-up of its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::{histogram, percentiles};
use crate::target::{Socket, Target, candidate_frame, expect, next_text, pair, sdp_frame, send};

/// `setup` options.
#[derive(clap::Args)]
pub struct Args {
    /// The server to measure.
    #[arg(long, value_enum)]
    target: Target,
    /// Its base URL (`ws://127.0.0.1:8080`).
    #[arg(long)]
    url: String,
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
            while !stop.load(Ordering::Relaxed) {
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
        "target": args.target.name(),
        "pairs": args.pairs,
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
    let target = args.target;
    let run = std::process::id();
    let (caller, callee) = (format!("sc{run}-{worker}-{round}"), format!("se{run}-{worker}-{round}"));
    let (mut a, mut b) = pair(target, &args.url, &caller, &callee).await?;
    if target == Target::Baseline {
        // The baseline's stand-ins for the call request and its answer.
        relay(&mut a, &mut b, candidate_frame(target, &callee, 64)).await?;
        relay(&mut b, &mut a, candidate_frame(target, &caller, 64)).await?;
    }
    relay(&mut a, &mut b, sdp_frame(target, "SEND_CALLER_DESCRIPTOR", &callee, args.sdp_size)).await?;
    relay(&mut b, &mut a, sdp_frame(target, "SEND_RECIPIENT_DESCRIPTOR", &caller, args.sdp_size)).await?;
    for _ in 0..args.candidates {
        send(&mut a, candidate_frame(target, &callee, 250)).await?;
        send(&mut b, candidate_frame(target, &caller, 250)).await?;
    }
    for _ in 0..args.candidates {
        next_text(&mut a).await?;
        next_text(&mut b).await?;
    }
    match target {
        Target::Switchboard => {
            send(&mut a, format!(r#"{{"type":"HANG_UP","payload":{{"to":"{callee}"}}}}"#)).await?;
            expect(&mut b, "CALL_ENDED").await?;
        }
        Target::Baseline => relay(&mut a, &mut b, candidate_frame(target, &callee, 64)).await?,
    }
    let _ = tokio::join!(a.close(None), b.close(None));
    Ok(())
}

/// Sends `frame` from one side and waits for it on the other.
async fn relay(from: &mut Socket, to: &mut Socket, frame: String) -> anyhow::Result<()> {
    send(from, frame).await?;
    next_text(to).await?;
    Ok(())
}
