//! Every fuzz target as an ordinary property: arbtest feeds it random bytes
//! for a short budget, so each `cargo test` exercises the targets, and runs
//! each committed seed of `fuzz/corpus/<target>` (fuzz finds included) once.

use std::path::Path;

/// Milliseconds of random inputs per target and `cargo test`.
const BUDGET_MS: u64 = 300;

fn property(target: &str, run: fn(&[u8])) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let seeds = std::fs::read_dir(&corpus).unwrap_or_else(|error| panic!("{}: {error}", corpus.display()));
    let mut count = 0;
    for seed in seeds {
        run(&std::fs::read(seed.expect("a corpus entry").path()).expect("a readable seed"));
        count += 1;
    }
    assert!(count > 0, "{target} has seeds in {}", corpus.display());
    arbtest::arbtest(|u| {
        let len = u.arbitrary_len::<u8>()?;
        run(u.bytes(len)?);
        Ok(())
    })
    .budget_ms(BUDGET_MS);
}

#[test]
fn chatroulette_frames() {
    property("chatroulette", switchboard_fuzzing::chatroulette);
}

#[test]
fn calling_requests() {
    property("calling", switchboard_fuzzing::calling);
}

#[test]
fn ecall_frames() {
    property("ecall", switchboard_fuzzing::ecall);
}

#[test]
fn ecall_bridged_calls() {
    property("ecall_bridge", switchboard_fuzzing::ecall_bridge);
}

#[test]
fn ecall_messages() {
    property("ecall_message", switchboard_fuzzing::ecall_message);
}

#[test]
fn socketio_events() {
    property("socketio", switchboard_fuzzing::socketio);
}

#[test]
fn http_queries() {
    property("query", switchboard_fuzzing::query);
}

#[test]
fn core_inputs() {
    property("core", switchboard_fuzzing::core);
}
