#![no_main]
//! `cargo fuzz run core`: see `switchboard_fuzzing::core`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::core(data));
