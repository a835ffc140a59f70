//! Call notes: what the core tells its driver about each call's life, for
//! metrics and logs. Clients never see them.
//!
//! A call is anything that rings: a 1:1 call (`Command::Call`) or an invite
//! into a named room (`Command::Invite`, calling's `invite_send`). Each gets
//! a [`CallId`] when it rings, and one [`CallStage::RingEnded`] note when
//! the ringing ends, however it ends. An answered 1:1 call also gets one
//! [`CallStage::Ended`] note when its room goes; an answered invite into a
//! named room is membership from then on, with no end of its own. A call
//! refused before it could ring because its callee was busy gets a single
//! `RingEnded` with [`CallOutcome::Busy`].

use std::fmt;
use std::time::Duration;

use crate::{EndReason, SessionId, UserId};

/// A call's id in logs: 128 random bits the core drew when it rang, so that
/// it is unique across nodes and restarts (`c` and 32 hex digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallId(pub(crate) u128);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{:032x}", self.0)
    }
}

/// How a call's ringing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The callee accepted.
    Answered,
    /// The callee declined.
    Rejected,
    /// The callee was in another call: refused before it rang, or declined
    /// as busy by the callee's client.
    Busy,
    /// Nobody answered within the ring timeout.
    Timeout,
    /// The caller withdrew the call (or hung up) while it rang.
    Cancelled,
    /// A party's connection closed while it rang.
    Failed,
}

impl CallOutcome {
    /// Every outcome, in the order of [`CallOutcome::as_str`]'s list.
    pub const ALL: [CallOutcome; 6] = [
        CallOutcome::Answered,
        CallOutcome::Rejected,
        CallOutcome::Busy,
        CallOutcome::Timeout,
        CallOutcome::Cancelled,
        CallOutcome::Failed,
    ];

    /// The outcome's name, a metric label value: `answered`, `rejected`,
    /// `busy`, `timeout`, `cancelled`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Busy => "busy",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Cancelled => "cancelled",
            CallOutcome::Failed => "failed",
        }
    }

    /// The outcome of ringing that ended for `reason` without an answer.
    pub(crate) fn unanswered(reason: EndReason) -> CallOutcome {
        match reason {
            EndReason::Rejected => CallOutcome::Rejected,
            EndReason::Busy => CallOutcome::Busy,
            EndReason::Timeout => CallOutcome::Timeout,
            EndReason::Cancelled | EndReason::Hangup => CallOutcome::Cancelled,
            EndReason::Disconnected | EndReason::AnsweredElsewhere => CallOutcome::Failed,
        }
    }
}

/// One party of a call: its session, when the core knows which one, and its
/// user. A callee rings on every session of its user, so before it answers
/// or declines its session is the first one the user has, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallParty {
    /// The session, for the dialect it speaks and for logs.
    pub session: Option<SessionId>,
    /// The user's name, logged only when the operator asks for names.
    pub user: UserId,
}

/// One step in a call's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallStage {
    /// The callee's sessions are ringing.
    Ringing,
    /// The ringing ended, `rang` after it began (zero for a call refused as
    /// busy before it rang).
    RingEnded {
        /// How it ended.
        outcome: CallOutcome,
        /// How long it rang.
        rang: Duration,
    },
    /// An answered 1:1 call ended.
    Ended {
        /// Why: `hangup` or `disconnected`.
        reason: EndReason,
        /// How long it rang before the answer (its set-up time).
        rang: Duration,
        /// From the answer to the end.
        lasted: Duration,
        /// From the answer to the first ICE candidate relayed in the call,
        /// if one was.
        first_ice: Option<Duration>,
    },
}

/// A note about one call, from [`Core::poll_call_note`](crate::Core::poll_call_note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallNote {
    /// The call.
    pub call: CallId,
    /// Who rang.
    pub caller: CallParty,
    /// Who was rung.
    pub callee: CallParty,
    /// What happened.
    pub stage: CallStage,
}
