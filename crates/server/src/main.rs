//! `switchboard`: the signaling server's command line.

use clap::{Parser, Subcommand};
use switchboard_server::{Application, Clock, Config, init_tracing};

/// switchboard: a WebRTC signaling server for one-to-one audio and video
/// calls that speaks five dialects (chatroulette, calling, cloudkibo,
/// tringtring, ecall) so their existing clients can call each other.
#[derive(Parser)]
#[command(name = "switchboard", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signaling server (state in memory, on this node). Every option
    /// can also be set by the environment variable shown beside it.
    Serve(Config),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { command: Command::Serve(config) } = Cli::parse();
    init_tracing(config.log_format, &config.log_filter)?;
    let app = Application::build(config.clone(), Clock::System).await?;
    tracing::info!(
        listen = %app.local_addr(),
        chatroulette = ?app.chatroulette_addr(),
        calling = ?app.calling_addr(),
        "switchboard {}",
        env!("CARGO_PKG_VERSION")
    );
    app.run_until_stopped(stop_signal()).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
