//! Codecs of the signaling dialects switchboard speaks (`PROTOCOLS.md`).
//!
//! Each dialect module turns a client's frames into core
//! [`Command`](switchboard_core::Command)s and core
//! [`Event`](switchboard_core::Event)s into frames for the receiving client.
//! Codecs never touch the core's state; any per-connection state (such as
//! which chatroulette spelling a client speaks) lives in an explicit struct.
//!
//! Every codec keeps one contract, [`codec::Codec`]: a client message in
//! (`on_client`) or a core event in (`on_core`), [`codec::Effect`]s out (a
//! command for the core, a message for the client, a close), which the
//! transport carries out in order. chatroulette, calling and ecall speak
//! WebSocket text frames; [`socketio::SocketIoSession`] speaks socket.io
//! events for cloudkibo and tringtring. Every codec matches the core's
//! replies to its requests the same way, with [`replies::Replies`].

#![warn(missing_docs)]

pub mod calling;
pub mod chatroulette;
pub mod codec;
pub mod ecall;
mod json;
pub mod replies;
pub mod resume;
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

impl Incoming {
    /// What the transport does for it: at most one effect.
    pub fn into_effect(self) -> Option<codec::Effect<String>> {
        match self {
            Incoming::Command(request, command) => Some(codec::Effect::Command(request, command)),
            Incoming::Answer(frame) => Some(codec::Effect::Send(frame)),
            Incoming::Nothing => None,
        }
    }
}
