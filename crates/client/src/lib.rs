//! Rust clients of switchboard's dialects.
//!
//! [`EcallClient`] is one ecall device: the sans-IO
//! [`switchboard_ecall::Device`] state machine run over a real WebSocket to
//! `/ws/ecall`. Time is the caller's: every call that may advance the state
//! machine takes `now`, so tests drive a 30-second ring timeout without
//! waiting.

#![warn(missing_docs)]

mod ecall;

pub use ecall::{ClientError, EcallClient};
