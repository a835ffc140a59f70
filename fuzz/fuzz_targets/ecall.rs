#![no_main]
//! `cargo fuzz run ecall`: see `switchboard_fuzzing::ecall`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::ecall(data));
