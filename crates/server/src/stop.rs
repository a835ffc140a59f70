//! Why the server is stopping, told to every connection task at once, so
//! each can close its client with the code that explains it.

use tokio::sync::watch;

/// Why connections are being closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A graceful shutdown (SIGTERM, SIGINT), once the drain is over:
    /// WebSockets close with 1001.
    GoingAway,
    /// The task that owns the core ended, a panic most likely: nobody can
    /// be served any more, so WebSockets close with 1011 and the process
    /// exits non-zero for its supervisor to restart it.
    CoreFailed,
}

/// The sending side: `None` while the server runs.
pub(crate) type StopSender = watch::Sender<Option<Stop>>;

/// What every connection task watches.
pub(crate) type StopSignal = watch::Receiver<Option<Stop>>;

/// A channel with no stop yet.
pub(crate) fn channel() -> (StopSender, StopSignal) {
    watch::channel(None)
}

/// Completes with the reason once the server begins to stop. A sender that
/// is gone counts as a graceful stop.
pub(crate) async fn stopping(signal: &mut StopSignal) -> Stop {
    match signal.wait_for(Option::is_some).await {
        Ok(stop) => stop.unwrap_or(Stop::GoingAway),
        Err(_) => Stop::GoingAway,
    }
}
