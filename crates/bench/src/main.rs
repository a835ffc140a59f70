//! `switchboard-bench`: load scenarios against switchboard or a bare relay,
//! and the bare relay itself.
//!
//! Every scenario prints one JSON object on standard output with its
//! figures; `scripts/bench` runs them side by side and writes BENCHMARKS.md.

mod baseline;
mod calling;
mod chaos;
mod chatroulette;
mod cloudkibo;
mod ecall;
mod idle;
mod matchbox;
mod relay;
mod report;
mod setup;
mod soak;
mod target;
#[cfg(test)]
mod tests;
mod tringtring;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "switchboard-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// A minimal WebSocket server that pairs connections in arrival order
    /// and forwards frames between the two of a pair without parsing them:
    /// the ceiling for relay work on this machine.
    BaselineRelay(baseline::Args),
    /// Pairs in accepted calls relay messages as fast as the server takes
    /// them: messages/s, MB/s and round-trip latency.
    Relay(relay::Args),
    /// Pairs run full call setups in a loop: setups/s and setup latency.
    Setup(setup::Args),
    /// Sessions connect, register and sit idle, for the server's memory per
    /// session and idle CPU.
    Idle(idle::Args),
    /// Calls churn in every dialect while long-lived calls keep relaying,
    /// each message checked to arrive once and in order; samples the
    /// server's RSS, open files and CPU. Exits non-zero on any fault.
    Soak(soak::Args),
    /// The soak's calls over a cluster of nodes and Redis started here,
    /// while a random node is killed and started again every minute and
    /// Redis once: which calls lost a party, how soon the other heard, and
    /// whether the calls on surviving nodes lost anything. Exits non-zero
    /// on any broken promise.
    Chaos(chaos::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Scenario::BaselineRelay(args) => baseline::run(args).await,
        Scenario::Relay(args) => relay::run(args).await,
        Scenario::Setup(args) => setup::run(args).await,
        Scenario::Idle(args) => idle::run(args).await,
        Scenario::Soak(args) => soak::run(args).await,
        Scenario::Chaos(args) => chaos::run(args).await,
    }
}
