#![no_main]
//! `cargo fuzz run socketio`: see `switchboard_fuzzing::socketio`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::socketio(data));
