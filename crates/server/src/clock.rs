//! The server's one source of time. In production it is the system clock;
//! tests use a manual clock they move forward themselves, so a 30-second
//! ring timeout or a 55-second idle timeout happens in microseconds over
//! real sockets, without sleeping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A clock the driver and the connection tasks read and sleep on.
#[derive(Clone, Debug)]
pub enum Clock {
    /// `Instant::now()` and tokio's timers.
    System,
    /// Time stands still until [`ManualClock::advance`] moves it.
    Manual(ManualClock),
}

/// A clock that moves only when told. Cloning shares it.
#[derive(Clone, Debug)]
pub struct ManualClock {
    start: Instant,
    /// How far the clock has been moved since `start`; sleepers watch it.
    elapsed: Arc<watch::Sender<Duration>>,
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        Self { start: Instant::now(), elapsed: Arc::new(watch::Sender::new(Duration::ZERO)) }
    }

    /// Moves the clock forward and wakes every sleeper whose time has come.
    pub fn advance(&self, by: Duration) {
        self.elapsed.send_modify(|elapsed| *elapsed += by);
    }

    /// The clock's current reading.
    pub fn now(&self) -> Instant {
        self.start + *self.elapsed.borrow()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(clock) => clock.now(),
        }
    }

    /// Waits until `at`, or forever when `at` is `None`.
    ///
    /// Not an `async fn`, which would keep its arguments twice
    /// (rust-lang/rust#62958) in a future every connection task holds.
    #[allow(clippy::manual_async_fn, reason = "an async fn would store its arguments twice")]
    pub fn sleep_until(&self, at: Option<Instant>) -> impl Future<Output = ()> + Send + '_ {
        async move {
            let Some(at) = at else { return std::future::pending().await };
            match self {
                Clock::System => tokio::time::sleep_until(at.into()).await,
                Clock::Manual(clock) => {
                    let mut elapsed = clock.elapsed.subscribe();
                    while clock.start + *elapsed.borrow_and_update() < at {
                        if elapsed.changed().await.is_err() {
                            return std::future::pending().await;
                        }
                    }
                }
            }
        }
    }
}
