//! `relay`: pairs in accepted calls echo ICE-sized (or SDP-sized) messages:
//! the caller keeps `in_flight` messages outstanding, the callee sends one
//! back for each it gets. A round trip is two relayed messages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{histogram, percentiles};
use crate::target::{Server, Signal, Socket, Target, call, is_relayed, keepalive_answer};

/// `relay` options.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Caller/callee pairs.
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// Messages each caller keeps outstanding.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Bytes per message frame.
    #[arg(long, default_value_t = 250)]
    size: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let run_id = std::process::id();
    let mut calls = Vec::with_capacity(args.pairs);
    for i in 0..args.pairs {
        calls.push(call(args.server, &format!("rc{run_id}x{i}"), &format!("re{run_id}x{i}")).await?);
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let round_trips = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for call in calls {
        let to_callee = call.frame(true, Signal::IceCandidate, args.size);
        let to_caller = call.frame(false, Signal::IceCandidate, args.size);
        tokio::spawn(echo(args.server.target, call.callee.socket, to_caller));
        callers.push(tokio::spawn(drive(
            args.server.target,
            call.caller.socket,
            to_callee,
            args.in_flight,
            measuring.clone(),
            stop.clone(),
            round_trips.clone(),
        )));
    }
    tokio::time::sleep(args.warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(args.duration).await;
    let trips = round_trips.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latency = histogram();
    for caller in callers {
        latency.add(caller.await??)?;
    }
    let messages = trips as f64 * 2.0 / elapsed;
    let report = json!({
        "scenario": "relay",
        "server": args.server.target.server(),
        "dialect": args.server.target.dialect(),
        "cross_node": args.server.peer_addr.is_some(),
        "pairs": args.pairs,
        "in_flight": args.in_flight,
        "size": args.size,
        "seconds": elapsed,
        "messages_per_s": messages,
        "mb_per_s": messages * args.size as f64 / 1e6,
        "round_trip_us": percentiles(&latency),
    });
    println!("{report}");
    Ok(())
}

/// The callee: one frame back for each relayed frame in.
async fn echo(target: Target, socket: Socket, reply: String) {
    let (mut sink, mut source) = socket.split();
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else { continue };
        let answer = if is_relayed(target, &text) {
            reply.clone()
        } else if let Some(pong) = keepalive_answer(target, &text) {
            pong.to_owned()
        } else {
            continue;
        };
        if sink.send(Message::text(answer)).await.is_err() {
            break;
        }
    }
}

/// The caller: keeps `in_flight` frames outstanding and times each round trip.
async fn drive(
    target: Target,
    socket: Socket,
    frame: String,
    in_flight: usize,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    round_trips: Arc<AtomicU64>,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let (mut sink, mut source) = socket.split();
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(in_flight);
    let mut latency = histogram();
    for _ in 0..in_flight {
        sent.push_back(Instant::now());
        sink.send(Message::text(frame.clone())).await?;
    }
    while !stop.load(Ordering::Relaxed) {
        match source.next().await {
            Some(Ok(Message::Text(text))) if is_relayed(target, &text) => {
                let at = sent.pop_front().expect("one outstanding per reply");
                if measuring.load(Ordering::Relaxed) {
                    latency.record(at.elapsed().as_micros().max(1) as u64)?;
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                sent.push_back(Instant::now());
                sink.send(Message::text(frame.clone())).await?;
            }
            Some(Ok(Message::Text(text))) => {
                if let Some(pong) = keepalive_answer(target, &text) {
                    sink.send(Message::text(pong)).await?;
                }
            }
            Some(Ok(_)) => {}
            _ => anyhow::bail!("a caller's connection closed"),
        }
    }
    Ok(latency)
}
