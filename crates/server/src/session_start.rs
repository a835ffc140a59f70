//! How a connection's session begins, the same on every transport: opened
//! as a new session, opened resumable (`resume=1`: the codec is given the
//! token for its first message), or resumed (`resume=<token>`: the held
//! session's codec replaces the connection's, and greets). README, "Resume".

use std::any::TypeId;
use std::sync::Arc;

use switchboard_core::Event;
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::resume::ResumeAsk;

use crate::admission::Admission;
use crate::auth::Grants;
use crate::driver::{DriverGone, DriverHandle, EventQueue, OpenSession, Parked, ResumeError, ResumeKey};

/// Core events taken from a session's queue in one turn, so that one write
/// carries them all.
const EVENT_BATCH: usize = 32;

/// Encodes `first` and what else is queued now, up to a batch, into `out`.
/// Returns whether the driver asks the connection to let go of the session
/// (a resume elsewhere): what it took before is its own to send, then it
/// lets go.
pub(crate) fn encode_batch<C: Codec>(
    codec: &mut C,
    first: &Event,
    events: &mut EventQueue,
    out: &mut Vec<Effect<C::Outbound>>,
) -> bool {
    codec.on_core(first, out);
    let mut taken = 1;
    while taken < EVENT_BATCH
        && let Some(event) = events.try_recv()
    {
        codec.on_core(&event, out);
        taken += 1;
    }
    events.detached()
}

/// What [`start`] did.
pub(crate) enum Start<'a> {
    /// The session is open (or resumed): the first turn's effects are in
    /// the caller's list. A resumed session brings its place under the
    /// session caps, which the resuming connection takes over (it was
    /// admitted without one, `edge.rs`).
    Opened(OpenSession<'a>, EventQueue, Option<Arc<Admission>>),
    /// The token resumes nothing: the refusal (the dialect's error, then
    /// a close with 4004) is in the caller's list. No session was opened.
    Refused,
    /// The driver has stopped.
    DriverGone,
}

/// Begins the session of a connection whose codec is `codec`, named
/// `peer_id` to other clients and let in with `grants`, as `resume` asks; the first turn's effects go
/// in `effects`. Connection tasks call it boxed: its state is needed only
/// while the session opens, and every byte of their futures is paid by each
/// idle session.
pub(crate) async fn start<'a, C: Codec>(
    driver: &'a DriverHandle,
    codec: &mut C,
    (peer_id, grants): (Option<Arc<str>>, Option<&Grants>),
    resume: Option<ResumeAsk>,
    effects: &mut Vec<Effect<C::Outbound>>,
) -> Start<'a> {
    let key = || ResumeKey { kind: TypeId::of::<C>(), subject: grants.map(|grants| grants.sub.clone()) };
    match resume {
        None => match driver.open(peer_id, codec.dialect()).await {
            Ok((open, events)) => {
                codec.open(effects);
                Start::Opened(open, events, None)
            }
            Err(DriverGone) => Start::DriverGone,
        },
        Some(ResumeAsk::OptIn) => match driver.open_resumable(peer_id, codec.dialect(), key()).await {
            Ok((open, events, token)) => {
                codec.open(effects);
                codec.offer_resume(token.into(), effects);
                Start::Opened(open, events, None)
            }
            Err(DriverGone) => Start::DriverGone,
        },
        Some(ResumeAsk::Token(token)) => match driver.resume(&token, key()).await {
            Ok((open, Parked { codec: parked, events, place }, token)) => {
                *codec = *parked.downcast::<C>().expect("a token resumes only a connection of its own kind");
                codec.resumed(token.into(), effects);
                Start::Opened(open, events, place)
            }
            Err(ResumeError::Refused) => {
                codec.resume_refused(effects);
                Start::Refused
            }
            Err(ResumeError::DriverGone) => Start::DriverGone,
        },
    }
}
