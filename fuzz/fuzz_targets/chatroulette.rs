#![no_main]
//! `cargo fuzz run chatroulette`: see `switchboard_fuzzing::chatroulette`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::chatroulette(data));
