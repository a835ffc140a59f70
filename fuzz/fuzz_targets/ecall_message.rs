#![no_main]
//! `cargo fuzz run ecall_message`: see `switchboard_fuzzing::ecall_message`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzzing::ecall_message(data));
