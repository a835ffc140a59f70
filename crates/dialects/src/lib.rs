//! Codecs of the signaling dialects switchboard speaks (`PROTOCOLS.md`).
//!
//! Each dialect module turns a client's frames into core
//! [`Command`](switchboard_core::Command)s and core
//! [`Event`](switchboard_core::Event)s into frames for the receiving client.
//! Codecs never touch the core's state; any per-connection state (such as
//! which chatroulette spelling a client speaks) lives in an explicit struct.

#![warn(missing_docs)]

pub mod calling;
pub mod chatroulette;
pub mod ecall;
mod json;
pub mod socketio;

use switchboard_core::{Command, Request};

/// What a connection does with one frame it read.
#[derive(Debug)]
pub enum Incoming {
    /// Hand this command to the core.
    Command(Request, Command),
    /// Send this frame straight back (an error, or an answer the codec can
    /// give by itself).
    Answer(String),
    /// Nothing to do (a refused request that asked for no answer).
    Nothing,
}
