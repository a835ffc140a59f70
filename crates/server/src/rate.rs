//! The per-connection message rate limit: a token bucket of `--rate-burst`
//! messages refilled at `--rate-limit` per second, counting every message a
//! client sends (a WebSocket frame, a socket.io event). Over the limit, the
//! message's commands are dropped and answered with the dialect's error for
//! [`CommandError::RateLimited`]; `--rate-abuse-after` refusals in a row
//! close the connection (1008, or a socket.io disconnect). Only the sender
//! is slowed: what it would have sent to others never leaves.

use std::cell::Cell;
use std::num::NonZeroU32;
use std::time::Instant;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use switchboard_core::CommandError;
use switchboard_dialects::codec::{Codec, Effect};

use crate::clock::Clock;
use crate::guard;

/// The limit's settings, from the config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MessageRateLimit {
    /// `None`: no limit (`--rate-limit 0`).
    quota: Option<Quota>,
    /// Refusals in a row that close the connection; 0: never.
    abuse_after: u32,
}

impl MessageRateLimit {
    /// `per_second` messages a second after a burst of `burst`; either 0
    /// turns the limit off.
    pub(crate) fn new(per_second: u32, burst: u32, abuse_after: u32) -> Self {
        let quota = NonZeroU32::new(per_second)
            .zip(NonZeroU32::new(burst))
            .map(|(per_second, burst)| Quota::per_second(per_second).allow_burst(burst));
        Self { quota, abuse_after }
    }

    /// A full bucket for a new connection, at `now`.
    pub(crate) fn start(&self, now: Instant) -> Option<MessageRate> {
        let quota = self.quota?;
        let limiter = RateLimiter::direct_with_clock(quota, SetTime(Cell::new(now)));
        Some(MessageRate { limiter, refused_in_a_row: 0, abuse_after: self.abuse_after })
    }
}

/// The server clock's reading, set before each check, so that the bucket
/// refills on the manual clock in tests as on the system clock in service.
#[derive(Clone, Debug)]
struct SetTime(Cell<Instant>);

impl GovernorClock for SetTime {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.get()
    }
}

/// What the bucket says of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Within the limit.
    Pass,
    /// Over it: drop its commands, answer with the error.
    Refuse,
    /// Over it `abuse_after` times in a row: close the connection.
    Close,
}

/// One connection's bucket.
#[derive(Debug)]
pub(crate) struct MessageRate {
    limiter: RateLimiter<NotKeyed, InMemoryState, SetTime, NoOpMiddleware<Instant>>,
    refused_in_a_row: u32,
    abuse_after: u32,
}

impl MessageRate {
    /// Counts one message at the clock's `now`.
    fn check(&mut self, clock: &Clock) -> Verdict {
        self.limiter.clock().0.set(clock.now());
        if self.limiter.check().is_ok() {
            self.refused_in_a_row = 0;
            return Verdict::Pass;
        }
        self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
        if self.abuse_after != 0 && self.refused_in_a_row >= self.abuse_after {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

/// The close reason for a connection that kept sending over its limit.
pub(crate) const ABUSE_REASON: &str = "rate limit: too many messages";

/// Hands one client message to `codec`, counted against `rate` (`None`:
/// no limit). Over the limit, each command the message would have sent to
/// the core is replaced by the codec's answer to
/// [`CommandError::RateLimited`]; what the codec answers by itself goes on.
/// Returns `false`, with the message not handed over, when the connection
/// must close for sending over its limit too long ([`ABUSE_REASON`]).
pub(crate) fn on_client<C: Codec>(
    rate: Option<&mut MessageRate>,
    clock: &Clock,
    codec: &mut C,
    message: C::Inbound<'_>,
    effects: &mut Vec<Effect<C::Outbound>>,
) -> bool {
    let verdict = rate.map_or(Verdict::Pass, |rate| rate.check(clock));
    match verdict {
        Verdict::Pass => codec.on_client(message, effects),
        Verdict::Refuse => {
            codec.on_client(message, effects);
            *effects = guard::answer_instead(codec, std::mem::take(effects), |_| Err(CommandError::RateLimited));
        }
        Verdict::Close => return false,
    }
    true
}
