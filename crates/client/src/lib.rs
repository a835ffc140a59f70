//! Rust clients of switchboard's dialects.
//!
//! [`EcallClient`] is one ecall device: the sans-IO
//! [`switchboard_ecall::Device`] state machine run over a real WebSocket to
//! `/ws/ecall`. Time is the caller's: every call that may advance the state
//! machine takes `now`, so tests drive a 30-second ring timeout without
//! waiting. [`MediaPeer`] is a real WebRTC peer (str0m) for such a device:
//! it answers a caller's offer and exchanges media with the caller's
//! browser, for the `switchboard-wire-device` program the browser tests run.

#![warn(missing_docs)]

mod ecall;
mod media;

pub use ecall::{ClientError, EcallClient};
pub use media::{MediaError, MediaPeer, MediaReport};
