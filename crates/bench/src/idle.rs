//! `idle`: sessions connect, register and then sit idle (answering the
//! server's pings), so the server's memory per session and its idle CPU can
//! be read. Connections come from several 127.0.0.x source addresses.
//! Prints `{"ready": N}` once every session is registered, holds them for
//! `--hold`, then prints its report and exits.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, stream};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::target::{
    Server, Signal, Socket, Target, call_from, connect, is_relayed, keepalive_answer, next_text, send,
};
use crate::{calling, tringtring};

/// `idle` options.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Sessions this process opens.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Source addresses 127.0.0.2 ... to spread connections over.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// A prefix for user names, unique per generator process.
    #[arg(long, default_value = "idle")]
    prefix: String,
    /// How long to hold the sessions once all are registered.
    #[arg(long, default_value = "40s", value_parser = humantime::parse_duration)]
    hold: Duration,
    /// Before idling, the sessions pair up in calls that relay an SDP offer
    /// and answer of this many bytes, then hang up: the memory of an idle
    /// session that has been in a call, beside one that never was.
    #[arg(long)]
    after_call_sdp: Option<usize>,
}

/// Connections opened at once.
const CONCURRENCY: usize = 64;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let opened: Vec<Socket> = match args.after_call_sdp {
        None => {
            stream::iter(0..args.sessions)
                .map(|i| {
                    let args = args.clone();
                    async move { open(&args, i).await.map(|socket| vec![socket]) }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        }
        Some(sdp_size) => {
            stream::iter(0..args.sessions / 2)
                .map(|i| {
                    let args = args.clone();
                    async move { after_call(&args, i, sdp_size).await }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        }
    }
    .into_iter()
    .collect::<anyhow::Result<Vec<_>>>()?
    .into_iter()
    .flatten()
    .collect();
    println!("{}", json!({ "ready": opened.len() }));
    // Each session reads, so the client answers the server's pings.
    let alive = Arc::new(Semaphore::new(0));
    let target = args.server.target;
    for mut socket in opened {
        let alive = alive.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message
                    && let Some(pong) = keepalive_answer(target, &text)
                    && socket.send(Message::text(pong)).await.is_err()
                {
                    break;
                }
            }
            alive.add_permits(1);
        });
    }
    tokio::time::sleep(args.hold).await;
    let dropped = alive.available_permits();
    println!(
        "{}",
        json!({ "scenario": "idle", "server": args.server.target.server(), "dialect": args.server.target.dialect(), "sessions": args.sessions, "dropped": dropped, "held_s": args.hold.as_secs_f64() })
    );
    Ok(())
}

/// Two sessions from source address 127.0.0.(2 + i mod sources), in a
/// call that relays an SDP offer and answer of `sdp_size` bytes and hangs
/// up; their sockets, idle from then on.
async fn after_call(args: &Args, i: usize, sdp_size: usize) -> anyhow::Result<Vec<Socket>> {
    let source = Ipv4Addr::new(127, 0, 0, 2 + (i % args.sources.max(1) as usize) as u8);
    let (caller, callee) = (format!("{}x{i}a", args.prefix), format!("{}x{i}b", args.prefix));
    let mut call = call_from(args.server, Some(source), &caller, &callee).await?;
    for (from_caller, signal) in [(true, Signal::Offer), (false, Signal::Answer)] {
        let frame = call.frame(from_caller, signal, sdp_size);
        let (from, to) =
            if from_caller { (&mut call.caller, &mut call.callee) } else { (&mut call.callee, &mut call.caller) };
        send(&mut from.socket, frame).await?;
        while !is_relayed(call.target, &next_text(&mut to.socket).await?) {}
    }
    call.hang_up().await?;
    if call.target == Target::Calling {
        calling::leave(&mut call.callee, &call.room).await?;
    }
    Ok(vec![call.caller.socket, call.callee.socket])
}

/// One session from source address 127.0.0.(2 + i mod sources), registered
/// as its dialect registers: chatroulette's CONNECT, calling's hello (the
/// server registers every connection), or a tringtring user waiting in a
/// room of their own.
async fn open(args: &Args, i: usize) -> anyhow::Result<Socket> {
    let source = Ipv4Addr::new(127, 0, 0, 2 + (i % args.sources.max(1) as usize) as u8);
    let key = format!("{}x{i}", args.prefix);
    let mut peer = connect(args.server.target, args.server.addr, Some(source), &key).await?;
    if matches!(args.server.target, Target::Tringtring | Target::TringtringNode) {
        tringtring::wait_in_room(&mut peer, &key).await?;
    }
    Ok(peer.socket)
}
