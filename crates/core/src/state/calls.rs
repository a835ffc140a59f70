//! Answered 1:1 calls in progress, by call room: what the call's end note
//! needs (when it was answered, its first ICE candidate).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::{CallId, CallParty, RoomId};

/// An answered 1:1 call.
#[derive(Clone, Debug)]
pub(crate) struct AnsweredCall {
    pub(crate) call: CallId,
    pub(crate) caller: CallParty,
    pub(crate) callee: CallParty,
    pub(crate) rang: Duration,
    pub(crate) answered_at: Instant,
    pub(crate) first_ice: Option<Duration>,
}

/// Every answered 1:1 call, by its room.
#[derive(Debug, Default)]
pub(crate) struct AnsweredCalls {
    by_room: HashMap<RoomId, AnsweredCall>,
}

impl AnsweredCalls {
    /// Records a call answered in `room`.
    pub(crate) fn insert(&mut self, room: RoomId, call: AnsweredCall) {
        self.by_room.insert(room, call);
    }

    /// Notes the first ICE candidate relayed in `room`'s call, at `now`.
    pub(crate) fn ice_relayed(&mut self, room: &RoomId, now: Instant) {
        if let Some(call) = self.by_room.get_mut(room)
            && call.first_ice.is_none()
        {
            call.first_ice = Some(now.saturating_duration_since(call.answered_at));
        }
    }

    /// Takes `room`'s call out, as it ends.
    pub(crate) fn take(&mut self, room: &RoomId) -> Option<AnsweredCall> {
        self.by_room.remove(room)
    }

    /// Answered calls in progress.
    pub(crate) fn len(&self) -> usize {
        self.by_room.len()
    }

    /// Each call's room, for the cross-part checks.
    pub(crate) fn rooms(&self) -> impl Iterator<Item = (&RoomId, &AnsweredCall)> {
        self.by_room.iter()
    }
}
