//! The bodies of switchboard's fuzz targets (Step 12; `fuzz/` runs them
//! under libFuzzer with `cargo fuzz run TARGET`). Each takes the fuzzer's
//! bytes and panics only on a defect: a decoder that panics, or answers a
//! frame with anything but one command or one error in its dialect's form;
//! a core whose invariants break. `tests/properties.rs` runs every target
//! on random bytes with arbtest, so each `cargo test` exercises them too.
//!
//! | target | what it feeds |
//! |---|---|
//! | [`chatroulette`] | chatroulette text frames |
//! | [`calling`] | calling requests |
//! | [`ecall`] | ecall frames, and the ECall message inside ([`ecall_message`]) |
//! | [`ecall_bridge`] | a Wire device's codec bridging calls with other apps: its device's actions, the core's events, the clock |
//! | [`socketio`] | cloudkibo and tringtring event payloads |
//! | [`query`] | the HTTP query of ecall's device and of resume |
//! | [`core`] | a byte-driven sequence of the core's inputs |

#![warn(missing_docs)]

mod core_inputs;
mod decoders;
mod ecall_bridge;

pub use core_inputs::core;
pub use decoders::{calling, chatroulette, ecall, ecall_message, query, socketio};
pub use ecall_bridge::ecall_bridge;
