//! Stand-ins for sessions of other nodes that act in a room or namespace
//! this node holds: one core session for each such remote session, with
//! its name and peer id, whose events are sent back to its node as they
//! are. Unlike a call's stand-in (`ghosts.rs`), which plays a remote user
//! in a call that both nodes hold, this one only carries: the place and
//! its rules live here alone.
//!
//! And beside them, the other way round: for each session of this node,
//! the nodes it has stand-ins on, to tell them when it goes.

use std::collections::HashMap;

use switchboard_core::{SessionId, SessionMap};

use super::NodeId;

/// Stand-ins here for remote sessions, and the remote nodes local sessions
/// act on.
#[derive(Debug, Default)]
pub(crate) struct Proxies {
    /// Stand-in here → (its session's node, its session's id).
    here: SessionMap<(NodeId, SessionId)>,
    /// (node, remote session) → stand-in here.
    by_remote: HashMap<(NodeId, SessionId), SessionId>,
    /// Local session → the nodes it has a stand-in on.
    away: SessionMap<Vec<NodeId>>,
}

/// The reply tag of a quiet command: its reply is dropped.
pub(crate) const QUIET_TAG: u64 = u64::MAX;

impl Proxies {
    /// Whether nothing is proxied either way.
    pub(crate) fn is_empty(&self) -> bool {
        self.here.is_empty() && self.away.is_empty()
    }

    /// The remote session a stand-in here stands for.
    pub(crate) fn remote_of(&self, stand_in: SessionId) -> Option<&(NodeId, SessionId)> {
        self.here.get(&stand_in)
    }

    /// The stand-in here for a remote session.
    pub(crate) fn stand_in(&self, node: &NodeId, session: SessionId) -> Option<SessionId> {
        self.by_remote.get(&(node.clone(), session)).copied()
    }

    /// Records a new stand-in.
    pub(crate) fn insert(&mut self, stand_in: SessionId, node: NodeId, session: SessionId) {
        self.by_remote.insert((node.clone(), session), stand_in);
        self.here.insert(stand_in, (node, session));
    }

    /// Forgets a stand-in here.
    pub(crate) fn remove(&mut self, stand_in: SessionId) {
        if let Some(remote) = self.here.remove(&stand_in) {
            self.by_remote.remove(&remote);
        }
    }

    /// Every stand-in here of `node`'s sessions.
    pub(crate) fn of_node(&self, node: &NodeId) -> Vec<SessionId> {
        self.here.iter().filter(|(_, (of, _))| of == node).map(|(&stand_in, _)| stand_in).collect()
    }

    /// Notes that a local session acts on `node`.
    pub(crate) fn went(&mut self, session: SessionId, node: &NodeId) {
        let nodes = self.away.entry(session).or_default();
        if !nodes.contains(node) {
            nodes.push(node.clone());
        }
    }

    /// The nodes a local session acts on.
    pub(crate) fn nodes_of(&self, session: SessionId) -> &[NodeId] {
        self.away.get(&session).map_or(&[], Vec::as_slice)
    }

    /// A local session closed: the nodes to tell.
    pub(crate) fn closed(&mut self, session: SessionId) -> Vec<NodeId> {
        self.away.remove(&session).unwrap_or_default()
    }

    /// A node is gone: local sessions no longer act on it.
    pub(crate) fn node_gone(&mut self, node: &NodeId) {
        for nodes in self.away.values_mut() {
            nodes.retain(|of| of != node);
        }
        self.away.retain(|_, nodes| !nodes.is_empty());
    }
}
