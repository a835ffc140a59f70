//! A real WebRTC peer for a Wire device, so that a browser calling it over
//! switchboard has someone to send media to (Step 13's browser test):
//! str0m, sans-IO, run on a thread of its own over one UDP socket on
//! 127.0.0.1. It answers the caller's SDP offer, takes the caller's audio
//! and video, and sends back Opus silence, 20 ms a packet, so the caller's
//! browser receives audio too.
//!
//! The peer is ICE-lite: the browser, a full ICE agent, runs the checks
//! towards its one host candidate, which its answer carries. ECall has no
//! trickle, so nothing else about candidates is needed.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// An Opus packet of 20 ms of silence (RFC 6716 §3.1: config 31, one
/// frame, and the frame's bytes of a silent SILK/CELT stream, as encoders
/// send during DTX).
const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

/// How often a packet of audio goes out: Opus's usual frame length.
const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// Samples per [`AUDIO_FRAME`] at Opus's 48 kHz RTP clock.
const SAMPLES_PER_FRAME: u64 = 960;

/// Why the peer could not answer.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The offer is not SDP that str0m can read.
    #[error("the offer is not usable SDP: {0}")]
    Offer(String),
    /// The UDP socket could not be bound, or str0m refused the offer.
    #[error("the peer could not start: {0}")]
    Start(String),
}

/// What the peer has seen so far, shared with its thread.
#[derive(Debug, Default)]
struct Seen {
    connected: AtomicBool,
    audio_bytes: AtomicU64,
    video_bytes: AtomicU64,
    audio_sent: AtomicU64,
}

/// The media so far: bytes of RTP payload received, by kind, and audio
/// packets sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaReport {
    /// ICE and DTLS are done: media can flow.
    pub connected: bool,
    /// Audio payload bytes received.
    pub audio_bytes: u64,
    /// Video payload bytes received.
    pub video_bytes: u64,
    /// Audio packets sent.
    pub audio_sent: u64,
}

/// A running WebRTC peer; it stops when dropped.
#[derive(Debug)]
pub struct MediaPeer {
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MediaPeer {
    /// Answers `offer`, the caller's whole SDP offer (its candidates folded
    /// in as `a=candidate` lines, as ECall carries it), and starts the peer.
    /// Returns the SDP answer, with the peer's host candidate in it.
    ///
    /// # Errors
    /// [`MediaError::Offer`] for SDP str0m cannot read,
    /// [`MediaError::Start`] when the socket or str0m fails.
    pub fn answer(offer: &str) -> Result<(String, MediaPeer), MediaError> {
        install_crypto();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|error| MediaError::Offer(error.to_string()))?;
        let start = |error: &dyn std::fmt::Display| MediaError::Start(error.to_string());
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| start(&e))?;
        let local = socket.local_addr().map_err(|e| start(&e))?;
        let mut rtc = RtcConfig::new().set_ice_lite(true).build(Instant::now());
        let candidate = Candidate::host(local, "udp").map_err(|e| start(&e))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| start(&e))?;
        let (seen, stop) = (Arc::new(Seen::default()), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || run(rtc, &socket, local, &seen, &stop))
        };
        Ok((answer.to_sdp_string(), MediaPeer { seen, stop, thread: Some(thread) }))
    }

    /// The media so far.
    pub fn report(&self) -> MediaReport {
        MediaReport {
            connected: self.seen.connected.load(Ordering::Relaxed),
            audio_bytes: self.seen.audio_bytes.load(Ordering::Relaxed),
            video_bytes: self.seen.video_bytes.load(Ordering::Relaxed),
            audio_sent: self.seen.audio_sent.load(Ordering::Relaxed),
        }
    }
}

impl Drop for MediaPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// str0m's crypto (its pure-Rust backend), once per process.
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

/// The peer's loop: str0m's outputs to the socket, the socket's datagrams
/// and the clock to str0m, and a packet of audio every [`AUDIO_FRAME`] once
/// connected. Ends on `stop`, or when ICE disconnects or str0m fails.
fn run(mut rtc: Rtc, socket: &UdpSocket, local: SocketAddr, seen: &Seen, stop: &AtomicBool) {
    let mut buf = vec![0; 2000];
    let mut audio: Option<Mid> = None;
    let mut next_audio = Instant::now();
    let mut samples = 0;
    while !stop.load(Ordering::Relaxed) {
        let wake = match rtc.poll_output() {
            Ok(Output::Timeout(at)) => at,
            Ok(Output::Transmit(transmit)) => {
                let _ = socket.send_to(&transmit.contents, transmit.destination);
                continue;
            }
            Ok(Output::Event(event)) => {
                match event {
                    Event::Connected => seen.connected.store(true, Ordering::Relaxed),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => return,
                    Event::MediaAdded(added)
                        if added.kind == MediaKind::Audio
                            && matches!(added.direction, Direction::SendRecv | Direction::SendOnly) =>
                    {
                        audio = Some(added.mid);
                    }
                    Event::MediaData(data) => {
                        let kind = rtc.media(data.mid).map(|media| media.kind());
                        let counter =
                            if kind == Some(MediaKind::Video) { &seen.video_bytes } else { &seen.audio_bytes };
                        counter.fetch_add(data.data.len() as u64, Ordering::Relaxed);
                    }
                    _ => {}
                }
                continue;
            }
            Err(_) => return,
        };
        let now = Instant::now();
        // Audio is due only once connected, and only with an audio section
        // that sends: before, the loop waits for str0m alone.
        let sending = audio.filter(|_| seen.connected.load(Ordering::Relaxed));
        if let Some(mid) = sending.filter(|_| now >= next_audio) {
            if send_silence(&mut rtc, mid, now, samples) {
                seen.audio_sent.fetch_add(1, Ordering::Relaxed);
            }
            samples += SAMPLES_PER_FRAME;
            next_audio = now + AUDIO_FRAME;
            continue;
        }
        let wake = if sending.is_some() { wake.min(next_audio) } else { wake };
        // At most a second: `stop` is looked at between datagrams.
        let until = wake.clamp(now + Duration::from_millis(1), now + Duration::from_secs(1));
        let _ = socket.set_read_timeout(Some(until - now));
        let input = match socket.recv_from(&mut buf) {
            Ok((n, source)) => match buf[..n].try_into() {
                Ok(contents) => Input::Receive(
                    Instant::now(),
                    Receive { proto: Protocol::Udp, source, destination: local, contents },
                ),
                Err(_) => continue,
            },
            Err(_) => Input::Timeout(Instant::now()),
        };
        if rtc.handle_input(input).is_err() {
            return;
        }
    }
}

/// One packet of Opus silence on `mid`, at RTP time `samples`; `false` when
/// the call negotiated no Opus.
fn send_silence(rtc: &mut Rtc, mid: Mid, now: Instant, samples: u64) -> bool {
    let Some(writer) = rtc.writer(mid) else { return false };
    let Some(pt) = writer.payload_params().find(|params| params.spec().codec == Codec::Opus).map(|p| p.pt()) else {
        return false;
    };
    let time = MediaTime::new(samples, Frequency::FORTY_EIGHT_KHZ);
    writer.write(pt, now, time, OPUS_SILENCE.to_vec()).is_ok()
}
