//! The rooms this node's sessions are in on other nodes, and their peers,
//! as the events from there show them. When such a node dies, its rooms
//! die with it; each of this node's sessions in one then hears every peer
//! of it leave (`disconnected`), as it hears a peer go from a room of a
//! live node. Without this a room's members elsewhere heard nothing until
//! they acted: a calling or tringtring callee whose caller's node was
//! killed stayed in a call with nobody.

use std::collections::HashMap;

use switchboard_core::{EndReason, Event, InviteId, PeerInfo, PeerUpdate, Reply, RoomId, SessionId};

use super::NodeId;

/// A room on another node, as one local session sees it.
#[derive(Debug)]
struct RoomAway {
    /// The node that holds it.
    node: NodeId,
    /// Its other peers (members and invitees), in the order they came.
    peers: Vec<PeerInfo>,
}

/// Rooms on other nodes, per local session, and the invites into such
/// rooms ringing it (an invitee who accepts joins the room it was shown).
/// Bounded by what the rooms' nodes allow: rooms and rings per session
/// (`--rooms-per-session`) and places per room.
#[derive(Debug, Default)]
pub(crate) struct RoomsAway {
    rooms: HashMap<(SessionId, RoomId), RoomAway>,
    rings: HashMap<(SessionId, InviteId), (RoomId, RoomAway)>,
}

impl RoomsAway {
    /// Notes what `event`, from a room `node` holds, tells local
    /// `session` about the room.
    pub(crate) fn saw(&mut self, session: SessionId, node: &NodeId, event: &Event) {
        match event {
            Event::Reply { result: Ok(Reply::Joined(view)), .. } => {
                let room = RoomAway { node: node.clone(), peers: view.peers.clone() };
                self.rooms.insert((session, view.id.clone()), room);
            }
            Event::Ringing { invite, room, .. } => {
                let away = RoomAway { node: node.clone(), peers: room.peers.clone() };
                self.rings.insert((session, *invite), (room.id.clone(), away));
            }
            Event::RingingStopped { invite, .. } => {
                self.rings.remove(&(session, *invite));
            }
            Event::PeerJoined { room, peer, .. } => {
                if let Some(away) = self.rooms.get_mut(&(session, room.clone())) {
                    // An invitee who joins was listed already, as pending.
                    away.peers.retain(|known| known.user != peer.user || known.member.is_some());
                    away.peers.push(peer.clone());
                }
            }
            Event::PeerUpdated { room, user, update: PeerUpdate::Accepted } => {
                if let Some(away) = self.rooms.get_mut(&(session, room.clone())) {
                    away.peers.iter_mut().filter(|peer| peer.user == *user).for_each(|peer| peer.pending = false);
                }
            }
            Event::PeerLeft { room, user, member, .. } => {
                if let Some(away) = self.rooms.get_mut(&(session, room.clone())) {
                    away.peers.retain(|peer| !(peer.user == *user && peer.member == *member));
                }
            }
            _ => {}
        }
    }

    /// Local `session` accepted `invite` (its accept went to the invite's
    /// node): it is in the room it was shown.
    pub(crate) fn accepted(&mut self, session: SessionId, invite: InviteId) {
        if let Some((room, away)) = self.rings.remove(&(session, invite)) {
            self.rooms.insert((session, room), away);
        }
    }

    /// Local `session` left `room` (its leave went to the room's node).
    pub(crate) fn left(&mut self, session: SessionId, room: &RoomId) {
        self.rooms.remove(&(session, room.clone()));
    }

    /// Local `session` closed.
    pub(crate) fn closed(&mut self, session: SessionId) {
        if !self.rooms.is_empty() {
            self.rooms.retain(|(of, _), _| *of != session);
        }
        if !self.rings.is_empty() {
            self.rings.retain(|(of, _), _| *of != session);
        }
    }

    /// `node` is gone, and its rooms with it: for each local session that
    /// was in one, a `PeerLeft` (`disconnected`) for each peer it had
    /// there, in the order they came.
    pub(crate) fn node_gone(&mut self, node: &NodeId) -> Vec<(SessionId, Event)> {
        self.rings.retain(|_, (_, away)| away.node != *node);
        let gone: Vec<(SessionId, RoomId)> =
            self.rooms.iter().filter(|(_, away)| away.node == *node).map(|(key, _)| key.clone()).collect();
        let mut events = Vec::new();
        for key in gone {
            let Some(away) = self.rooms.remove(&key) else { continue };
            let (session, room) = key;
            for peer in away.peers {
                let left = Event::PeerLeft {
                    room: room.clone(),
                    user: peer.user,
                    member: peer.member,
                    peer_id: peer.peer_id,
                    reason: EndReason::Disconnected,
                };
                events.push((session, left));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{PeerStatus, RoomView, UserId};

    fn node(id: &str) -> NodeId {
        NodeId::parse(id).unwrap()
    }

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn peer(user: &str, member: Option<u32>) -> PeerInfo {
        PeerInfo {
            user: UserId::parse(user).unwrap(),
            member,
            peer_id: member.map(|member| format!("p{member}").into()),
            pending: member.is_none(),
            status: PeerStatus::default(),
        }
    }

    fn joined(id: &str, peers: Vec<PeerInfo>) -> Event {
        let view = RoomView { id: room(id), peers, member: Some(9), status: Vec::new() };
        Event::Reply { tag: 1, result: Ok(Reply::Joined(view)) }
    }

    fn left_users(events: &[(SessionId, Event)]) -> Vec<(SessionId, String)> {
        events
            .iter()
            .map(|(session, event)| match event {
                Event::PeerLeft { user, reason: EndReason::Disconnected, .. } => (*session, user.to_string()),
                other => panic!("not a disconnect: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_dead_nodes_rooms_tell_their_members_here_that_every_peer_left() {
        let (a, b) = (node("a"), node("b"));
        let (alice, bob) = (SessionId::new(1), SessionId::new(2));
        let mut rooms = RoomsAway::default();
        rooms.saw(alice, &a, &joined("r1", vec![peer("carol", Some(1))]));
        rooms.saw(alice, &a, &Event::PeerJoined { room: room("r1"), peer: peer("dave", Some(3)), size: 3 });
        rooms.saw(bob, &b, &joined("r2", vec![peer("erin", Some(1))]));

        assert_eq!(left_users(&rooms.node_gone(&a)), [(alice, "carol".into()), (alice, "dave".into())]);
        assert!(rooms.node_gone(&a).is_empty(), "told once");
        assert_eq!(left_users(&rooms.node_gone(&b)), [(bob, "erin".into())]);
    }

    #[test]
    fn an_invitee_that_accepted_is_in_the_room_it_was_shown() {
        let a = node("a");
        let (alice, bob) = (SessionId::new(1), SessionId::new(2));
        let mut rooms = RoomsAway::default();
        let invite = InviteId(7);
        let view = RoomView { id: room("r1"), peers: vec![peer("carol", Some(1))], member: None, status: Vec::new() };
        let ringing = Event::Ringing {
            invite,
            room: view,
            from: UserId::parse("carol").unwrap(),
            data: switchboard_core::Payload::null(),
        };
        rooms.saw(alice, &a, &ringing);
        rooms.saw(bob, &a, &ringing);
        rooms.accepted(alice, invite);
        let stopped = Event::RingingStopped {
            invite,
            from: UserId::parse("carol").unwrap(),
            reason: EndReason::AnsweredElsewhere,
            note: None,
        };
        rooms.saw(bob, &a, &stopped);

        assert_eq!(left_users(&rooms.node_gone(&a)), [(alice, "carol".into())], "bob never joined");
    }

    #[test]
    fn peers_that_left_rooms_left_and_sessions_closed_are_not_told_again() {
        let a = node("a");
        let (alice, bob, carol) = (SessionId::new(1), SessionId::new(2), SessionId::new(3));
        let mut rooms = RoomsAway::default();
        rooms.saw(alice, &a, &joined("r1", vec![peer("dave", Some(1)), peer("erin", None)]));
        let dave_left = Event::PeerLeft {
            room: room("r1"),
            user: UserId::parse("dave").unwrap(),
            member: Some(1),
            peer_id: Some("p1".into()),
            reason: EndReason::Hangup,
        };
        rooms.saw(alice, &a, &dave_left);
        // erin, invited, joins: listed once, as a member.
        rooms.saw(alice, &a, &Event::PeerJoined { room: room("r1"), peer: peer("erin", Some(2)), size: 2 });
        rooms.saw(bob, &a, &joined("r2", vec![peer("frank", Some(1))]));
        rooms.left(bob, &room("r2"));
        rooms.saw(carol, &a, &joined("r3", vec![peer("grace", Some(1))]));
        rooms.closed(carol);

        assert_eq!(left_users(&rooms.node_gone(&a)), [(alice, "erin".into())]);
    }
}
