#![no_main]
//! `cargo fuzz run query`: see `switchboard_fuzzing::query`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::query(data));
