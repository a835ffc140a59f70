#![no_main]
//! `cargo fuzz run ecall_bridge`: see `switchboard_fuzzing::ecall_bridge`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::ecall_bridge(data));
