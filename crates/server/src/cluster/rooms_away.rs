//! The rooms this node's sessions are in on other nodes, and their peers,
//! as the events from there show them. When such a node dies, its rooms
//! die with it; each of this node's sessions in one then hears every peer
//! of it leave (`disconnected`), as it hears a peer go from a room of a
//! live node. Without this a room's members elsewhere heard nothing until
//! they acted: a calling or tringtring callee whose caller's node was
//! killed stayed in a call with nobody.

use std::collections::HashMap;

use switchboard_core::{EndReason, Event, InviteId, PeerInfo, PeerUpdate, Reply, RoomId, SessionId, UserId};

use super::NodeId;

/// A room on another node, as one local session sees it.
#[derive(Debug)]
struct RoomAway {
    /// The node that holds it.
    node: NodeId,
    /// Its other peers (members and invitees), in the order they came.
    peers: Vec<PeerInfo>,
}

impl RoomAway {
    /// Applies a peer's arrival, change or departure.
    fn peer_event(&mut self, event: &Event) {
        match event {
            Event::PeerJoined { peer, .. } => {
                // An invitee who joins was listed already, as pending.
                self.peers.retain(|known| known.user != peer.user || known.member.is_some());
                self.peers.push(peer.clone());
            }
            Event::PeerUpdated { user, update: PeerUpdate::Accepted, .. } => {
                self.peers.iter_mut().filter(|peer| peer.user == *user).for_each(|peer| peer.pending = false);
            }
            Event::PeerLeft { user, member, .. } => {
                // An invitee who accepted is listed without a member number.
                self.peers.retain(|peer| !(peer.user == *user && (peer.member == *member || peer.member.is_none())));
            }
            _ => {}
        }
    }
}

/// An invite into a room on another node, ringing a local session.
#[derive(Debug)]
struct Ring {
    room: RoomId,
    from: UserId,
    away: RoomAway,
}

/// A join or an accept sent to another node, not answered yet.
#[derive(Debug)]
enum Asked {
    /// The room is recorded from the join's answer, unless the session
    /// left it meanwhile.
    Join(RoomId),
    /// The room was recorded when the accept went; a refusal takes it out.
    Accept(RoomId),
}

/// Rooms on other nodes, per local session; the invites into such rooms
/// ringing it (an invitee who accepts joins the room it was shown); and
/// its joins and accepts on their way. Bounded by what the rooms' nodes
/// allow (rooms and rings per session, `--rooms-per-session`; places per
/// room) and by the requests a session has in flight.
#[derive(Debug, Default)]
pub(crate) struct RoomsAway {
    rooms: HashMap<(SessionId, RoomId), RoomAway>,
    rings: HashMap<(SessionId, InviteId), Ring>,
    asked: HashMap<(SessionId, u64), (NodeId, Asked)>,
}

impl RoomsAway {
    /// Notes what `event`, from a room `node` holds, tells local
    /// `session` about the room.
    pub(crate) fn saw(&mut self, session: SessionId, node: &NodeId, event: &Event) {
        match event {
            Event::Reply { tag, result } => match (self.asked.remove(&(session, *tag)), result) {
                (Some((_, Asked::Join(room))), Ok(Reply::Joined(view))) if view.id == room => {
                    let away = RoomAway { node: node.clone(), peers: view.peers.clone() };
                    self.rooms.insert((session, room), away);
                }
                (Some((_, Asked::Accept(room))), Err(_)) => {
                    self.rooms.remove(&(session, room));
                }
                _ => {}
            },
            Event::Ringing { invite, room, from, .. } => {
                let away = RoomAway { node: node.clone(), peers: room.peers.clone() };
                self.rings.insert((session, *invite), Ring { room: room.id.clone(), from: from.clone(), away });
            }
            Event::RingingStopped { invite, .. } => {
                self.rings.remove(&(session, *invite));
            }
            Event::PeerJoined { room, .. } | Event::PeerUpdated { room, .. } | Event::PeerLeft { room, .. } => {
                if let Some(away) = self.rooms.get_mut(&(session, room.clone())) {
                    away.peer_event(event);
                }
                for ((of, _), ring) in &mut self.rings {
                    if *of == session && ring.room == *room {
                        ring.away.peer_event(event);
                    }
                }
            }
            _ => {}
        }
    }

    /// Local `session` asked `node` to join `room`, with request `tag`
    /// when a success is answered: the room and its peers are then taken
    /// from the answer. A join answered only if it fails counts at once,
    /// its peers learned from the events that follow.
    pub(crate) fn asked_to_join(&mut self, session: SessionId, tag: Option<u64>, room: RoomId, node: &NodeId) {
        match tag {
            Some(tag) => {
                self.asked.insert((session, tag), (node.clone(), Asked::Join(room)));
            }
            None => {
                let away = RoomAway { node: node.clone(), peers: Vec::new() };
                self.rooms.entry((session, room)).or_insert(away);
            }
        }
    }

    /// Local `session` accepted `invite` (its accept went to the invite's
    /// node): it is in the room it was shown. With the request's `tag`
    /// when a success is answered, so that a refusal takes it out again.
    pub(crate) fn accepted(&mut self, session: SessionId, invite: InviteId, tag: Option<u64>) {
        if let Some(ring) = self.rings.remove(&(session, invite)) {
            if let Some(tag) = tag {
                self.asked.insert((session, tag), (ring.away.node.clone(), Asked::Accept(ring.room.clone())));
            }
            self.rooms.insert((session, ring.room), ring.away);
        }
    }

    /// Local `session` declined `invite`: it no longer rings.
    pub(crate) fn declined(&mut self, session: SessionId, invite: InviteId) {
        self.rings.remove(&(session, invite));
    }

    /// Local `session` left `room` (its leave went to the room's node); a
    /// join of it still on its way no longer counts.
    pub(crate) fn left(&mut self, session: SessionId, room: &RoomId) {
        self.rooms.remove(&(session, room.clone()));
        self.asked.retain(|(of, _), (_, asked)| !(*of == session && matches!(asked, Asked::Join(r) if r == room)));
    }

    /// Local `session` closed.
    pub(crate) fn closed(&mut self, session: SessionId) {
        if !self.rooms.is_empty() {
            self.rooms.retain(|(of, _), _| *of != session);
        }
        if !self.rings.is_empty() {
            self.rings.retain(|(of, _), _| *of != session);
        }
        if !self.asked.is_empty() {
            self.asked.retain(|(of, _), _| *of != session);
        }
    }

    /// `node` is gone, and its rooms and invites with it: for each local
    /// session, a `RingingStopped` (`disconnected`) for each invite there
    /// ringing it, and a `PeerLeft` (`disconnected`) for each peer it had
    /// in a room there, in the order they came.
    pub(crate) fn node_gone(&mut self, node: &NodeId) -> Vec<(SessionId, Event)> {
        self.asked.retain(|_, (of, _)| of != node);
        let mut events = Vec::new();
        let rings: Vec<(SessionId, InviteId)> =
            self.rings.iter().filter(|(_, ring)| ring.away.node == *node).map(|(key, _)| *key).collect();
        for (session, invite) in rings {
            let Some(ring) = self.rings.remove(&(session, invite)) else { continue };
            let stopped =
                Event::RingingStopped { invite, from: ring.from, reason: EndReason::Disconnected, note: None };
            events.push((session, stopped));
        }
        let rooms: Vec<(SessionId, RoomId)> =
            self.rooms.iter().filter(|(_, away)| away.node == *node).map(|(key, _)| key.clone()).collect();
        for key in rooms {
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
    use switchboard_core::{CommandError, Payload, PeerStatus, RoomView};

    fn node(id: &str) -> NodeId {
        NodeId::parse(id).unwrap()
    }

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn peer(name: &str, member: Option<u32>) -> PeerInfo {
        PeerInfo {
            user: user(name),
            member,
            peer_id: member.map(|member| format!("p{member}").into()),
            pending: member.is_none(),
            status: PeerStatus::default(),
        }
    }

    fn view(id: &str, peers: Vec<PeerInfo>) -> RoomView {
        RoomView { id: room(id), peers, member: Some(9), status: Vec::new() }
    }

    /// `session` asks `node` to join room `id` and is answered with `peers`.
    fn join(rooms: &mut RoomsAway, session: SessionId, node: &NodeId, id: &str, peers: Vec<PeerInfo>) {
        rooms.asked_to_join(session, Some(1), room(id), node);
        rooms.saw(session, node, &Event::Reply { tag: 1, result: Ok(Reply::Joined(view(id, peers))) });
    }

    fn ringing(invite: InviteId, id: &str, from: &str) -> Event {
        Event::Ringing {
            invite,
            room: view(id, vec![peer(from, Some(1))]),
            from: user(from),
            data: Payload::null(),
            from_style: None,
        }
    }

    fn left(name: &str, member: Option<u32>) -> Event {
        let peer_id = member.map(|member| format!("p{member}").into());
        Event::PeerLeft { room: room("r1"), user: user(name), member, peer_id, reason: EndReason::Hangup }
    }

    /// What the sessions hear when the node dies: `(session, "left:USER")`
    /// or `(session, "stopped:INVITE")`.
    fn told(events: &[(SessionId, Event)]) -> Vec<(SessionId, String)> {
        events
            .iter()
            .map(|(session, event)| match event {
                Event::PeerLeft { user, reason: EndReason::Disconnected, .. } => (*session, format!("left:{user}")),
                Event::RingingStopped { invite, reason: EndReason::Disconnected, .. } => {
                    (*session, format!("stopped:{}", invite.0))
                }
                other => panic!("not a disconnect: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_dead_nodes_rooms_tell_their_members_here_that_every_peer_left() {
        let (a, b) = (node("a"), node("b"));
        let (alice, bob) = (SessionId::new(1), SessionId::new(2));
        let mut rooms = RoomsAway::default();
        join(&mut rooms, alice, &a, "r1", vec![peer("carol", Some(1))]);
        rooms.saw(alice, &a, &Event::PeerJoined { room: room("r1"), peer: peer("dave", Some(3)), size: 3 });
        join(&mut rooms, bob, &b, "r2", vec![peer("erin", Some(1))]);

        assert_eq!(told(&rooms.node_gone(&a)), [(alice, "left:carol".into()), (alice, "left:dave".into())]);
        assert!(rooms.node_gone(&a).is_empty(), "told once");
        assert_eq!(told(&rooms.node_gone(&b)), [(bob, "left:erin".into())]);
    }

    #[test]
    fn an_invitee_that_accepted_is_in_the_room_it_was_shown() {
        let a = node("a");
        let (alice, bob) = (SessionId::new(1), SessionId::new(2));
        let mut rooms = RoomsAway::default();
        rooms.saw(alice, &a, &ringing(InviteId(7), "r1", "carol"));
        rooms.saw(bob, &a, &ringing(InviteId(7), "r1", "carol"));
        // dave joins while it rings: the invitee will be in a room with him.
        rooms.saw(alice, &a, &Event::PeerJoined { room: room("r1"), peer: peer("dave", Some(2)), size: 3 });
        rooms.accepted(alice, InviteId(7), Some(3));
        rooms.saw(alice, &a, &Event::Reply { tag: 3, result: Ok(Reply::Done) });
        let stopped = Event::RingingStopped {
            invite: InviteId(7),
            from: user("carol"),
            reason: EndReason::AnsweredElsewhere,
            note: None,
        };
        rooms.saw(bob, &a, &stopped);

        assert_eq!(told(&rooms.node_gone(&a)), [(alice, "left:carol".into()), (alice, "left:dave".into())]);
    }

    #[test]
    fn a_dead_nodes_invites_stop_ringing() {
        let a = node("a");
        let alice = SessionId::new(1);
        let mut rooms = RoomsAway::default();
        rooms.saw(alice, &a, &ringing(InviteId(7), "r1", "carol"));
        rooms.saw(alice, &a, &ringing(InviteId(8), "r2", "carol"));
        rooms.declined(alice, InviteId(8));

        assert_eq!(told(&rooms.node_gone(&a)), [(alice, "stopped:7".into())]);
    }

    #[test]
    fn peers_that_left_rooms_left_and_sessions_closed_are_not_told_again() {
        let a = node("a");
        let (alice, bob, carol) = (SessionId::new(1), SessionId::new(2), SessionId::new(3));
        let mut rooms = RoomsAway::default();
        join(&mut rooms, alice, &a, "r1", vec![peer("dave", Some(1)), peer("erin", None), peer("gus", None)]);
        rooms.saw(alice, &a, &left("dave", Some(1)));
        // erin, invited, joins: listed once, as a member.
        rooms.saw(alice, &a, &Event::PeerJoined { room: room("r1"), peer: peer("erin", Some(2)), size: 2 });
        // gus accepts (no member number is sent then), and leaves later.
        let accepted = Event::PeerUpdated { room: room("r1"), user: user("gus"), update: PeerUpdate::Accepted };
        rooms.saw(alice, &a, &accepted);
        rooms.saw(alice, &a, &left("gus", Some(3)));
        join(&mut rooms, bob, &a, "r2", vec![peer("frank", Some(1))]);
        rooms.left(bob, &room("r2"));
        join(&mut rooms, carol, &a, "r3", vec![peer("grace", Some(1))]);
        rooms.closed(carol);

        assert_eq!(told(&rooms.node_gone(&a)), [(alice, "left:erin".into())]);
    }

    #[test]
    fn a_room_left_before_its_join_was_answered_or_refused_to_an_accept_is_not_kept() {
        let a = node("a");
        let (alice, bob) = (SessionId::new(1), SessionId::new(2));
        let mut rooms = RoomsAway::default();
        rooms.asked_to_join(alice, Some(1), room("r1"), &a);
        rooms.left(alice, &room("r1"));
        let late = Event::Reply { tag: 1, result: Ok(Reply::Joined(view("r1", vec![peer("carol", Some(1))]))) };
        rooms.saw(alice, &a, &late);
        rooms.saw(bob, &a, &ringing(InviteId(7), "r2", "carol"));
        rooms.accepted(bob, InviteId(7), Some(4));
        rooms.saw(bob, &a, &Event::Reply { tag: 4, result: Err(CommandError::NoSuchInvite) });

        assert!(rooms.node_gone(&a).is_empty());
    }
}
