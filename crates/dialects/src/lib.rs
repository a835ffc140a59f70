//! Codecs of the signaling dialects switchboard speaks (`PROTOCOLS.md`).
//!
//! Each dialect module turns a client's frames into core
//! [`Command`](switchboard_core::Command)s and core
//! [`Event`](switchboard_core::Event)s into frames for the receiving client.
//! Codecs never touch the core's state; any per-connection state (such as
//! which chatroulette spelling a client speaks) lives in an explicit struct.

#![warn(missing_docs)]

pub mod chatroulette;
mod json;
