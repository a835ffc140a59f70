//! `switchboard`: the signaling server's command line.

use clap::{Parser, Subcommand};
use futures_util::Stream;
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
    // Before anything listens: a signal that came between the first
    // connection and the handler's first poll would kill the process.
    let signals = stop_signals()?;
    let app = Application::build(config.clone(), Clock::System).await?;
    tracing::info!(
        listen = %app.local_addr(),
        chatroulette = ?app.chatroulette_addr(),
        calling = ?app.calling_addr(),
        metrics = ?app.metrics_addr(),
        "switchboard {}",
        env!("CARGO_PKG_VERSION")
    );
    // The first signal drains, a second cuts the drain short.
    app.run_until_drained(signals).await
}

/// One item for each SIGINT (Ctrl-C) or SIGTERM. The handlers are
/// installed when this is called, not when the stream is first polled.
///
/// # Errors
/// When a handler cannot be installed.
#[cfg(unix)]
fn stop_signals() -> anyhow::Result<impl Stream<Item = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    Ok(futures_util::stream::unfold(handlers, |(mut interrupt, mut terminate)| async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Some(((), (interrupt, terminate)))
    }))
}

/// One item for each Ctrl-C.
#[cfg(not(unix))]
fn stop_signals() -> anyhow::Result<impl Stream<Item = ()> + Send + 'static> {
    Ok(futures_util::stream::unfold((), |()| async {
        let _ = tokio::signal::ctrl_c().await;
        Some(((), ()))
    }))
}
