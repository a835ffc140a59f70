#![no_main]
//! `cargo fuzz run calling`: see `switchboard_fuzzing::calling`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::calling(data));
