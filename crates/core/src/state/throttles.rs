//! Rate limits the core keeps, on the core's own clock: how fast a user may
//! ring (calls, invites, new rooms) and how fast one room may be invited
//! into. A limit throttles the one who rings, never the one rung.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::{RoomId, UserId};

/// A token bucket: `burst` at once, then one more every `per_minute`th of a
/// minute. Zero in either field means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Tokens the bucket holds when full.
    pub burst: u32,
    /// Tokens it regains per minute.
    pub per_minute: u32,
}

impl Rate {
    /// The governor quota, or `None` for no limit.
    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        let per_minute = NonZeroU32::new(self.per_minute)?;
        let period = Duration::from_secs(60) / per_minute.get();
        Some(Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(burst))
    }
}

/// The core's time, set before each check: the core reads no clock.
#[derive(Clone, Debug)]
struct CoreTime(Cell<Instant>);

impl Clock for CoreTime {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.get()
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, CoreTime, NoOpMiddleware<Instant>>;

/// One bucket per key, made full on first use and dropped with the key.
struct Buckets<K> {
    quota: Option<Quota>,
    buckets: HashMap<K, Bucket>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    fn new(rate: Rate) -> Self {
        Self { quota: rate.quota(), buckets: HashMap::new() }
    }

    /// Takes a token from `key`'s bucket at `now`; `false` when it is empty.
    fn take(&mut self, key: &K, now: Instant) -> bool {
        let Some(quota) = self.quota else { return true };
        let bucket = self
            .buckets
            .entry(key.clone())
            .or_insert_with(|| RateLimiter::direct_with_clock(quota, CoreTime(Cell::new(now))));
        bucket.clock().0.set(now);
        bucket.check().is_ok()
    }
}

impl<K: std::fmt::Debug> std::fmt::Debug for Buckets<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buckets").field("quota", &self.quota).field("keys", &self.buckets.keys()).finish()
    }
}

/// The ring limits: per ringing user and per room invited into.
#[derive(Debug)]
pub(crate) struct Throttles {
    users: Buckets<UserId>,
    rooms: Buckets<RoomId>,
}

impl Throttles {
    pub(crate) fn new(per_user: Rate, per_room: Rate) -> Self {
        Self { users: Buckets::new(per_user), rooms: Buckets::new(per_room) }
    }

    /// Takes one ring (a call, an invite, a new room) from `user` at `now`;
    /// `false` when the user has rung too fast.
    pub(crate) fn ring(&mut self, user: &UserId, now: Instant) -> bool {
        self.users.take(user, now)
    }

    /// Takes one invite into `room` at `now`; `false` when the room has
    /// been invited into too fast.
    pub(crate) fn invite_into(&mut self, room: &RoomId, now: Instant) -> bool {
        self.rooms.take(room, now)
    }

    /// Drops an offline user's bucket.
    pub(crate) fn forget_user(&mut self, user: &UserId) {
        self.users.buckets.remove(user);
    }

    /// Drops a deleted room's bucket.
    pub(crate) fn forget_room(&mut self, room: &RoomId) {
        self.rooms.buckets.remove(room);
    }

    pub(crate) fn users(&self) -> impl Iterator<Item = &UserId> {
        self.users.buckets.keys()
    }

    pub(crate) fn rooms(&self) -> impl Iterator<Item = &RoomId> {
        self.rooms.buckets.keys()
    }
}
