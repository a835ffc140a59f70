//! The stand-ins: one session in this node's core for each user of another
//! node that a local user has a 1:1 call with. It is registered under the
//! remote user's name (shared, so it never blocks the real holder's
//! devices), its events go to the remote node over the link, and the
//! remote node's messages become its commands. The driver forgets one as
//! soon as it takes part in no call, and ends all of a node's when that
//! node is gone.

use std::collections::HashMap;

use switchboard_core::{SessionId, SessionMap, UserId};

use super::NodeId;

/// A stand-in's facts.
#[derive(Debug)]
pub(crate) struct Ghost {
    /// Where the real user is.
    pub node: NodeId,
    /// Its name.
    pub user: UserId,
    /// The callee of the call it last made here, so that a refusal of
    /// that call can be carried back.
    pub calling: Option<UserId>,
}

/// Every stand-in of this node, by session and by (node, user).
#[derive(Debug, Default)]
pub(crate) struct Ghosts {
    by_session: SessionMap<Ghost>,
    by_user: HashMap<(NodeId, UserId), SessionId>,
}

impl Ghosts {
    /// Whether there is none (the one-node case costs one check).
    pub(crate) fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// The stand-in `session`, if it is one.
    pub(crate) fn get(&self, session: SessionId) -> Option<&Ghost> {
        self.by_session.get(&session)
    }

    /// The stand-in `session`, to change.
    pub(crate) fn get_mut(&mut self, session: SessionId) -> Option<&mut Ghost> {
        self.by_session.get_mut(&session)
    }

    /// The stand-in for `user` of `node`, if there is one.
    pub(crate) fn find(&self, node: &NodeId, user: &UserId) -> Option<SessionId> {
        self.by_user.get(&(node.clone(), user.clone())).copied()
    }

    /// Records a new stand-in.
    pub(crate) fn insert(&mut self, session: SessionId, node: NodeId, user: UserId) {
        self.by_user.insert((node.clone(), user.clone()), session);
        self.by_session.insert(session, Ghost { node, user, calling: None });
    }

    /// Forgets a stand-in.
    pub(crate) fn remove(&mut self, session: SessionId) -> Option<Ghost> {
        let ghost = self.by_session.remove(&session)?;
        self.by_user.remove(&(ghost.node.clone(), ghost.user.clone()));
        Some(ghost)
    }

    /// Every stand-in of `node`.
    pub(crate) fn of_node(&self, node: &NodeId) -> Vec<SessionId> {
        self.by_session.iter().filter(|(_, ghost)| ghost.node == *node).map(|(&session, _)| session).collect()
    }
}
