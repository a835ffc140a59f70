//! Open connections and the peer ids other clients name them by.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{CallStyle, InvariantError, SessionId, SessionMap};

/// Every open session with its peer id (a socket.io `socket.id`, or the
/// session's number), and the reverse index relays by peer id look up. Both
/// sides change only here, together.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    peer_ids: SessionMap<Arc<str>>,
    by_peer_id: HashMap<Arc<str>, SessionId>,
    /// How each session's dialect calls, when the core was told.
    styles: SessionMap<CallStyle>,
}

impl Sessions {
    /// Adds `session` under `peer_id`. The caller has disconnected the
    /// session that held the peer id before ([`Sessions::by_peer_id`]): a
    /// device that connects again replaces its older connection.
    pub(crate) fn insert(&mut self, session: SessionId, peer_id: Arc<str>, style: Option<CallStyle>) {
        self.by_peer_id.insert(peer_id.clone(), session);
        self.peer_ids.insert(session, peer_id);
        if let Some(style) = style {
            self.styles.insert(session, style);
        }
    }

    /// Forgets `session`, and its peer id unless a newer session holds it.
    pub(crate) fn remove(&mut self, session: SessionId) {
        self.styles.remove(&session);
        if let Some(peer_id) = self.peer_ids.remove(&session)
            && self.by_peer_id.get(&peer_id) == Some(&session)
        {
            self.by_peer_id.remove(&peer_id);
        }
    }

    pub(crate) fn contains(&self, session: SessionId) -> bool {
        self.peer_ids.contains_key(&session)
    }

    /// How other clients name `session`.
    pub(crate) fn peer_id(&self, session: SessionId) -> Option<&Arc<str>> {
        self.peer_ids.get(&session)
    }

    /// Sets an open session's call style ([`Input::Styled`](crate::Input::Styled)).
    pub(crate) fn set_style(&mut self, session: SessionId, style: CallStyle) {
        if self.peer_ids.contains_key(&session) {
            self.styles.insert(session, style);
        }
    }

    /// How `session`'s dialect calls, if the core was told.
    pub(crate) fn style(&self, session: SessionId) -> Option<CallStyle> {
        self.styles.get(&session).copied()
    }

    /// The session other clients name `peer_id`.
    pub(crate) fn by_peer_id(&self, peer_id: &str) -> Option<SessionId> {
        self.by_peer_id.get(peer_id).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.peer_ids.len()
    }

    /// The two indexes agree: each peer id names a session that has it, and
    /// each session is reached by its peer id (no two share one).
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        for (peer, session) in &self.by_peer_id {
            if self.peer_ids.get(session) != Some(peer) {
                return Err(InvariantError::PeerId(format!(
                    "peer id {peer:?} names {session:?}, which does not have it"
                )));
            }
        }
        for (session, peer) in &self.peer_ids {
            if self.by_peer_id.get(peer) != Some(session) {
                return Err(InvariantError::PeerId(format!(
                    "{session:?} has peer id {peer:?}, which names {:?}",
                    self.by_peer_id.get(peer)
                )));
            }
        }
        Ok(())
    }

    /// Test-only drift: `session` forgets its peer id while the index keeps it.
    #[cfg(test)]
    pub(crate) fn break_peer_id(&mut self, session: SessionId) {
        self.peer_ids.insert(session, Arc::from("drifted"));
    }
}
