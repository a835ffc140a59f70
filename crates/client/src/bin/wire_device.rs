//! `switchboard-wire-device`: a Wire device with a real WebRTC peer, for
//! the browser tests of calls across dialects (Step 13). It connects to
//! `/ws/ecall` as one device of a user, answers every call that rings it
//! with [`MediaPeer`]'s answer, and reports on stdout, one JSON object a
//! line:
//!
//! - `{"event":"ready"}`: registered; it can be called;
//! - `{"event":"ringing","from":USER}`, then `{"event":"answered","from":USER}`;
//! - `{"event":"media","audio_bytes":N,"video_bytes":N,"audio_sent":N}`:
//!   once the peer is connected, has received audio and video, and has
//!   sent audio;
//! - `{"event":"ended","from":USER,"reason":REASON}` (ECall's end reason),
//!   after which it exits.
//!
//! Errors go to stderr, with exit status 1.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use switchboard_client::{ClientError, EcallClient, MediaPeer};
use switchboard_ecall::{Action, CallState, DeviceConfig, Output};

/// A Wire device that answers every call with real media.
#[derive(Parser)]
struct Args {
    /// The server, as a WebSocket base URL (`ws://127.0.0.1:8080`).
    #[arg(long)]
    server: String,
    /// The device's user.
    #[arg(long)]
    user: String,
    /// The device's client id.
    #[arg(long, default_value = "wire-device")]
    client: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(error) = run(&args).await {
        eprintln!("switchboard-wire-device: {error}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut device = EcallClient::connect(&args.server, &args.user, &args.client, DeviceConfig::default()).await?;
    // A barrier: the server refuses a frame that is not one, in order, so
    // once the refusal is here the registration before it is done.
    device.send_raw("{}".to_owned()).await?;
    match device.receive(Instant::now()).await {
        Err(ClientError::Refused(_)) => {}
        other => return Err(format!("expected the refusal of an empty frame, got {other:?}").into()),
    }
    report(json!({"event": "ready"}));
    let mut peer: Option<Arc<MediaPeer>> = None;
    loop {
        match device.next_event(Instant::now()).await? {
            Output::RemoteSdp { peer: from, sdp, answer: false } => {
                report(json!({"event": "ringing", "from": from}));
                let (sdp_answer, media) = MediaPeer::answer(&sdp)?;
                let media = Arc::new(media);
                tokio::spawn(report_media(Arc::downgrade(&media)));
                peer = Some(media);
                device.act(Instant::now(), Action::Accept { peer: from.clone(), sdp_answer }).await?;
                report(json!({"event": "answered", "from": from}));
            }
            Output::State { peer: from, state: CallState::Ended(reason) } => {
                report(json!({"event": "ended", "from": from, "reason": reason.as_str()}));
                drop(peer);
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Reports the media once it flows both ways; gives up when the call's
/// peer is gone.
async fn report_media(peer: Weak<MediaPeer>) {
    loop {
        let Some(media) = peer.upgrade().map(|peer| peer.report()) else { return };
        if media.connected && media.audio_bytes > 0 && media.video_bytes > 0 && media.audio_sent > 0 {
            let (audio_bytes, video_bytes, audio_sent) = (media.audio_bytes, media.video_bytes, media.audio_sent);
            return report(
                json!({"event": "media", "audio_bytes": audio_bytes, "video_bytes": video_bytes, "audio_sent": audio_sent}),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn report(line: serde_json::Value) {
    println!("{line}");
}
