//! How fast one client address may open rooms over HTTP (`POST /r/<id>`,
//! Tring-Tring's landing form), which needs no session and no token: without
//! a bound, anyone could fill the server with empty rooms, each kept for
//! `--empty-room-ttl`. A keyed token bucket (governor's, keyed by the
//! client's address as the session caps count it), on the server's clock.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::admission::client_key;
use crate::clock::Clock;

/// Addresses remembered at most before full buckets are forgotten.
const REMEMBERED: usize = 10_000;

/// The server's clock, as governor reads it.
#[derive(Clone, Debug)]
struct ServerClock(Clock);

impl GovernorClock for ServerClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.now()
    }
}

type Buckets = RateLimiter<IpAddr, HashMapStateStore<IpAddr>, ServerClock, NoOpMiddleware<Instant>>;

/// The limit on rooms opened over HTTP. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct RoomOpenings {
    /// `None`: no limit.
    buckets: Option<Arc<Buckets>>,
}

impl RoomOpenings {
    /// `per_minute` rooms per client address, that many at once; 0: no limit.
    pub(crate) fn new(per_minute: u32, clock: Clock) -> Self {
        let buckets = NonZeroU32::new(per_minute)
            .map(|rate| Arc::new(RateLimiter::hashmap_with_clock(Quota::per_minute(rate), ServerClock(clock))));
        Self { buckets }
    }

    /// Whether `peer` may open one more room now.
    pub(crate) fn allow(&self, peer: IpAddr) -> bool {
        let Some(buckets) = &self.buckets else { return true };
        if buckets.len() > REMEMBERED {
            // A full bucket is the same as a forgotten one.
            buckets.retain_recent();
        }
        buckets.check_key(&client_key(peer)).is_ok()
    }
}
