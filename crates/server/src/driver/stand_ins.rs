//! The driver's side of the cluster (`docs/cluster.md`): the stand-ins
//! for parties on other nodes, and what goes to and comes from those nodes.
//! Redis I/O is `cluster/`'s; this part only feeds the core and hands
//! messages to the cluster's queues.

use std::sync::Arc;

use switchboard_core::{
    CallStyle, Command, CommandError, Event, Input, InviteRef, Output, Payload, RelayTarget, Reply, Request, RoomRef,
    SessionId, Signal, UserId,
};

use super::{Driver, ToDriver, draw_session_id, starts_a_call};
use crate::cluster::link::{self, LinkFrame, LinkMessage, ProxyMessage, ProxyOp};
use crate::cluster::places::{Home, Place};
use crate::cluster::proxies;
use crate::cluster::{Located, NodeId};

impl Driver {
    /// Everything another node can say.
    pub(super) fn take_from_other_node(&mut self, frame: LinkFrame) {
        match frame {
            LinkFrame::Call(message) => self.call_link_message(message),
            LinkFrame::Proxy(message) => self.proxied(message),
            LinkFrame::OpenRoom { room, capacity } => self.input(Input::OpenRoom { room, capacity }),
            LinkFrame::UserRelay { node: _, from, from_peer, to, peer, signal } => {
                self.user_relay_here(from, &from_peer, to, peer.as_deref(), signal);
            }
            LinkFrame::Collect { node, user } => self.collect_held(node, user),
            LinkFrame::UserEvent { node, user, event } => self.user_event(node, user, event),
            // Taken by the link itself (`cluster/pipes.rs`, `cluster/bus.rs`),
            // never sent here.
            LinkFrame::Pipe(_) | LinkFrame::Restarted { .. } => {}
        }
    }

    /// Which of `places` the core no longer holds.
    pub(super) fn gone_places(&self, places: Vec<Place>) -> Vec<Place> {
        places
            .into_iter()
            .filter(|place| match place {
                Place::Room(room) => !self.core.room_exists(room),
                Place::Namespace(namespace) => !self.core.namespace_exists(namespace),
            })
            .collect()
    }

    /// A node is gone: its stand-ins here disconnect (their calls end with
    /// `disconnected`, they leave the places here), and local sessions in
    /// its rooms hear each peer there leave.
    pub(super) fn node_gone(&mut self, node: &NodeId) {
        for ghost in self.ghosts.of_node(node) {
            self.ghosts.remove(ghost);
            self.input(Input::Disconnected { session: ghost });
        }
        for stand_in in self.proxies.of_node(node) {
            self.proxies.remove(stand_in);
            self.ghosts.remove(stand_in);
            self.input(Input::Disconnected { session: stand_in });
        }
        self.proxies.node_gone(node);
        let now = self.clock.now();
        for (session, left) in self.rooms_away.node_gone(node) {
            self.deliver(session, left, now);
        }
    }

    /// A node asks for the ecall messages held here for `user`, who has
    /// just connected there: a stand-in for the user takes them, as a
    /// device registering does, and sends them on.
    fn collect_held(&mut self, node: String, user: UserId) {
        let Ok(node) = NodeId::parse(&node) else { return };
        self.stand_in(node, user, None, None);
        self.deliver_pending();
        self.forget_idle_stand_ins();
    }

    /// Whether `session` stands in here for a party of another node.
    pub(super) fn is_stand_in(&self, session: SessionId) -> bool {
        self.ghosts.get(session).is_some() || self.proxies.remote_of(session).is_some()
    }

    /// What the core told a stand-in, sent on. A stand-in may play both
    /// parts: a user's party in a call, whose events the link translates
    /// (`ghosts.rs`), and a session in this node's places, whose events go
    /// back as they are (`proxies.rs`).
    pub(super) fn tell_stand_in(&mut self, session: SessionId, event: Event) {
        let ghost = self.ghosts.get(session).is_some();
        let proxy = self.proxies.remote_of(session).cloned();
        if let Event::Ringing { invite, room, .. } = &event
            && !self.core.carries_a_call(&room.id)
        {
            self.named_invites.insert(*invite);
        }
        let about_a_call = self.about_a_call(&event);
        let quiet = matches!(event, Event::Reply { tag: proxies::QUIET_TAG, .. });
        if ghost && about_a_call {
            self.call_link_event(session, &event);
        } else if let Some((node, remote)) = proxy
            && !about_a_call
            && !quiet
        {
            self.send_proxy(&node, remote, ProxyOp::Event(event));
        } else if ghost && !about_a_call && !quiet && !matches!(event, Event::Reply { .. }) {
            // A user of another node invited into a room here: the ring and
            // what follows go to every session it has there.
            self.send_user_event(session, event);
            self.touched.push(session);
        }
    }

    /// Delivers what the core said to inputs fed to it directly.
    pub(super) fn deliver_pending(&mut self) {
        let now = self.clock.now();
        while let Some(Output { to, event }) = self.core.poll_output() {
            self.deliver(to, event, now);
        }
    }

    /// A call whose callee the cluster looked up: a callee on another node
    /// gets a stand-in here first, so that the core rings it like anyone.
    pub(super) fn call(&mut self, input: Input, located: Located) {
        if self.drain.is_none()
            && let Input::Command { session, request, command: Command::Call { to, .. } } = &input
            && !self.has_a_session_here(to)
        {
            match located {
                Located::On(node, style) => {
                    self.stand_in(node, to.clone(), None, style);
                }
                Located::Unknown => {
                    let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::ClusterUnavailable) };
                    self.deliver(*session, refusal, self.clock.now());
                    return;
                }
                Located::Here => {}
            }
        }
        self.handle(ToDriver::Input(input, None));
    }

    /// Whether `event` is about a 1:1 call (which the call link carries
    /// translated), rather than about a place (carried as it is).
    fn about_a_call(&self, event: &Event) -> bool {
        match event {
            Event::Ringing { room, .. } => self.core.carries_a_call(&room.id),
            Event::Relayed { room: Some(room), .. } => self.core.carries_a_call(room),
            Event::CallAccepted { room, .. } => self.core.carries_a_call(room),
            Event::CallDeclined { invite, .. } | Event::RingingStopped { invite, .. } => {
                !self.named_invites.contains(invite)
            }
            Event::CallEnded { .. } | Event::Reply { tag: link::CALL_TAG, .. } => true,
            _ => false,
        }
    }

    /// Sends an event of a user's stand-in to every session of the user on
    /// its node.
    fn send_user_event(&self, ghost: SessionId, event: Event) {
        let (Some(cluster), Some(state)) = (&self.cluster, self.ghosts.get(ghost)) else { return };
        let frame = LinkFrame::UserEvent { node: cluster.node().to_string(), user: state.user.clone(), event };
        cluster.send(&state.node, &frame);
    }

    /// An event for every session of `user` here from a place of `node`:
    /// an invite that rings it, and what follows. The session that answered
    /// it is not told it was answered elsewhere.
    fn user_event(&mut self, node: String, user: UserId, event: Event) {
        let Ok(node) = NodeId::parse(&node) else { return };
        if let (Some(cluster), Event::Ringing { invite, .. }) = (&self.cluster, &event) {
            cluster.invite_on(*invite, node.clone());
        }
        let answered_here = match &event {
            Event::RingingStopped { invite, .. } => self.accepting.remove(invite),
            _ => None,
        };
        let now = self.clock.now();
        let sessions: Vec<SessionId> = self
            .core
            .sessions_of(&user)
            .iter()
            .copied()
            .filter(|&s| {
                self.ghosts.get(s).is_none() && self.proxies.remote_of(s).is_none() && Some(s) != answered_here
            })
            .collect();
        for session in sessions {
            self.rooms_away.saw(session, &node, &event);
            self.deliver(session, event.clone(), now);
        }
    }

    /// An ecall message. The receiver's devices on other nodes get it from
    /// those nodes; this node's core delivers it here, and holds it when
    /// the receiver is online nowhere (noting so in Redis, so that the node
    /// the receiver connects to can collect it).
    pub(super) fn user_relay(&mut self, input: Input, nodes: Option<Vec<NodeId>>) {
        let Input::Command {
            session, command: Command::Relay { to: RelayTarget::User { user, peer }, signal }, ..
        } = &input
        else {
            return;
        };
        let nodes = nodes.unwrap_or_default();
        let sender = self.core.user_of(*session).cloned();
        if let (Some(cluster), Some(from), Some(from_peer)) = (&self.cluster, &sender, self.core.peer_id(*session)) {
            for node in &nodes {
                let frame = LinkFrame::UserRelay {
                    node: cluster.node().to_string(),
                    from: from.clone(),
                    from_peer: from_peer.to_string(),
                    to: user.clone(),
                    peer: peer.as_deref().map(str::to_owned),
                    signal: signal.clone(),
                };
                cluster.send(node, &frame);
            }
        }
        let online_here = self.has_a_session_here(user);
        if !nodes.is_empty() && !online_here {
            // Delivered elsewhere; the core would hold it here.
            return;
        }
        let user = user.clone();
        self.handle(ToDriver::Input(input, None));
        if !online_here && let Some(cluster) = &self.cluster {
            let (cluster, held_for) = (cluster.clone(), self.core.ring_time());
            tokio::spawn(async move { cluster.note_held(&user, held_for).await });
        }
    }

    /// An ecall message from another node, for the sessions here of its
    /// receiver (one device, or all) and of its sender (but the sending
    /// device), as the core delivers one from a session here.
    fn user_relay_here(&mut self, from: UserId, from_peer: &str, to: UserId, peer: Option<&str>, signal: Signal) {
        let now = self.clock.now();
        let real = |this: &Self, session: SessionId| {
            this.ghosts.get(session).is_none() && this.proxies.remote_of(session).is_none()
        };
        let mut sessions: Vec<SessionId> = self
            .core
            .sessions_of(&to)
            .iter()
            .copied()
            .filter(|&s| real(self, s) && peer.is_none_or(|peer| self.core.peer_id(s).as_deref() == Some(peer)))
            .collect();
        if from != to {
            sessions.extend(
                self.core
                    .sessions_of(&from)
                    .iter()
                    .copied()
                    .filter(|&s| real(self, s) && self.core.peer_id(s).as_deref() != Some(from_peer)),
            );
        }
        for session in sessions {
            let event = Event::Relayed {
                room: None,
                from: from.clone(),
                from_peer: Arc::from(from_peer),
                from_status: None,
                signal: signal.clone(),
            };
            self.deliver(session, event, now);
        }
    }

    /// An invite: a room here rings an invitee of another node through a
    /// stand-in for it; a room elsewhere gets the command, with where the
    /// invitee is.
    pub(super) fn invite(&mut self, input: Input, home: Home, located: Located) {
        let Input::Command { session, request, command: Command::Invite { to, .. } } = &input else { return };
        match (home, located) {
            (Home::Unknown, _) | (_, Located::Unknown) => {
                let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::ClusterUnavailable) };
                self.deliver(*session, refusal, self.clock.now());
            }
            (Home::Here, located) => {
                if self.drain.is_none()
                    && let Located::On(node, style) = located
                    && !self.has_a_session_here(to)
                {
                    // With the invitee's style, a calling invite to a
                    // one-to-one user is a call here, as on one node.
                    self.stand_in(node, to.clone(), None, style);
                }
                self.handle(ToDriver::Input(input, None));
            }
            (Home::On(node), located) => {
                let invitee_node = match located {
                    Located::On(invitee, _) if invitee != node => Some(invitee),
                    // The invitee is here (this node is not the room's).
                    Located::Here if self.has_a_session_here(to) => self.cluster.as_ref().map(|c| c.node().clone()),
                    _ => None,
                };
                self.away(node, input, invitee_node);
            }
        }
    }

    /// Whether `user` has a session here that can take a call: one of its
    /// own, or a call's stand-in; a place's stand-in cannot.
    fn has_a_session_here(&self, user: &UserId) -> bool {
        self.core.sessions_of(user).iter().any(|&session| self.proxies.remote_of(session).is_none())
    }

    /// The stand-in for `user` of `node`, made if there is none, with the
    /// call style of the user's session there when it is known (a callee
    /// looked up by name; a caller's comes with its link message).
    fn stand_in(&mut self, node: NodeId, user: UserId, peer: Option<&str>, style: Option<CallStyle>) -> SessionId {
        if let Some(ghost) = self.ghosts.find(&node, &user) {
            return ghost;
        }
        // The session already acts in a place here: the same stand-in
        // plays its part in the call (one peer id, one session).
        let place_stand_in = peer
            .and_then(|peer| self.core.session_with_peer_id(peer))
            .filter(|&session| self.proxies.remote_of(session).is_some_and(|(of, _)| *of == node));
        let session = match place_stand_in {
            Some(session) => session,
            None => {
                let session = draw_session_id(&self.shared.session_ids);
                // A peer id unknown (a callee looked up by name) is made up,
                // in a form no client's id takes.
                let peer_id = Arc::from(peer.map_or_else(|| format!("{user}@{node}"), str::to_owned));
                self.core.handle_input(self.clock.now(), Input::Connected { session, peer_id: Some(peer_id), style });
                session
            }
        };
        if self.core.user_of(session).is_none() {
            let register = Command::Register { user: Some(user.clone()), shared: true };
            let request = Request::quiet(proxies::QUIET_TAG);
            self.core.handle_input(self.clock.now(), Input::Command { session, request, command: register });
        }
        self.ghosts.insert(session, node, user);
        self.touched.push(session);
        session
    }

    /// A message from another node: the command of the stand-in for its
    /// sender. Only a call makes a stand-in; anything else about a call
    /// this node no longer has is dropped.
    fn call_link_message(&mut self, message: LinkMessage) {
        let (Ok(node), Ok(from)) = (NodeId::parse(&message.node), UserId::parse(&message.from)) else {
            return;
        };
        let Some((tag, command)) = message.command() else { return };
        let ghost = match &command {
            Command::Call { .. } if self.drain.is_some() => {
                let refused = link::refused_call(&CommandError::Draining);
                self.send_to_node(&node, message.to.clone(), message.from.clone(), None, None, refused);
                return;
            }
            Command::Call { to, .. } => {
                let ghost = self.stand_in(node, from, message.peer.as_deref(), None);
                if let Some(state) = self.ghosts.get_mut(ghost) {
                    state.calling = Some(to.clone());
                }
                ghost
            }
            _ => match self.ghosts.find(&node, &from) {
                Some(ghost) => ghost,
                None => return,
            },
        };
        // The party's style as its own node has it: before the ring for a
        // caller, before the answer for a callee found by name.
        if let Some(style) = message.style {
            self.core.handle_input(self.clock.now(), Input::Styled { session: ghost, style });
        }
        self.touched.push(ghost);
        self.input(Input::Command { session: ghost, request: Request::quiet(tag), command });
    }

    /// What the core told a stand-in, sent on to its user's node.
    pub(super) fn call_link_event(&mut self, session: SessionId, event: &Event) {
        let Some(ghost) = self.ghosts.get(session) else { return };
        let carried = match event {
            Event::Reply { tag: link::CALL_TAG, result: Err(error) } => {
                ghost.calling.clone().map(|callee| (callee, link::refused_call(error)))
            }
            _ => link::for_stand_in(event, |room| self.core.carries_a_call(room)),
        };
        if let Some((from, op)) = carried {
            let (node, to) = (ghost.node.clone(), ghost.user.to_string());
            // The local party's own session, not a stand-in of its user.
            let peer = self
                .core
                .sessions_of(&from)
                .iter()
                .find(|&&s| self.ghosts.get(s).is_none() && self.proxies.remote_of(s).is_none())
                .and_then(|&s| self.core.peer_id(s))
                .map(|peer| peer.to_string());
            let style = self.core.user_style(&from);
            self.send_to_node(&node, from.to_string(), to, peer, style, op);
        }
        self.touched.push(session);
    }

    fn send_to_node(
        &self,
        node: &NodeId,
        from: String,
        to: String,
        peer: Option<String>,
        style: Option<switchboard_core::CallStyle>,
        op: link::LinkOp,
    ) {
        let Some(cluster) = &self.cluster else { return };
        let message = LinkMessage { node: cluster.node().to_string(), from, to, peer, style, op };
        cluster.send(node, &LinkFrame::Call(message));
    }

    pub(super) fn send_proxy(&self, node: &NodeId, session: SessionId, op: ProxyOp) {
        let Some(cluster) = &self.cluster else { return };
        cluster.send(node, &LinkFrame::Proxy(ProxyMessage { node: cluster.node().to_string(), session, op }));
    }

    /// A local session's command for a place `node` holds: sent there, with
    /// what its stand-in needs to look like the session.
    pub(super) fn away(&mut self, node: NodeId, input: Input, invitee_node: Option<NodeId>) {
        let Input::Command { session, request, command } = input else { return };
        if let Command::Accept { invite: InviteRef::Id(invite), .. } = &command {
            self.accepting.insert(*invite, session);
        }
        if self.drain.is_some() && starts_a_call(&command) {
            let refusal = Event::Reply { tag: request.tag, result: Err(CommandError::Draining) };
            self.deliver(session, refusal, self.clock.now());
            return;
        }
        let Some(peer_id) = self.core.peer_id(session) else { return };
        self.proxies.went(session, &node);
        let user = self.core.user_of(session).cloned();
        let (tag, reply_on_success) = (request.tag, request.reply_on_success);
        match &command {
            Command::Join { room: Some(room), .. } => {
                self.rooms_away.asked_to_join(session, reply_on_success.then_some(tag), room.clone(), &node);
            }
            Command::Accept { invite: InviteRef::Id(invite), .. } => {
                self.rooms_away.accepted(session, *invite, reply_on_success.then_some(tag));
            }
            Command::Reject { invite: InviteRef::Id(invite), .. } => self.rooms_away.declined(session, *invite),
            Command::Leave { room: RoomRef::Id(room) } => self.rooms_away.left(session, room),
            _ => {}
        }
        let invitee_node = invitee_node.map(|node| node.to_string());
        let status = user.as_ref().and_then(|user| self.core.status_of(user)).cloned();
        let peer_id = peer_id.to_string();
        let op = ProxyOp::Command { tag, reply_on_success, quiet: false, user, peer_id, status, invitee_node, command };
        self.send_proxy(&node, session, op);
    }

    /// A local session's new status, copied to every node it acts on, where
    /// rooms and namespaces list it; its own node answers it.
    pub(super) fn copy_status_away(&self, session: SessionId, status: &Payload) {
        let Some(peer_id) = self.core.peer_id(session) else { return };
        let user = self.core.user_of(session).cloned();
        for node in self.proxies.nodes_of(session) {
            let command = Command::SetStatus { status: status.clone() };
            let op = ProxyOp::Command {
                tag: proxies::QUIET_TAG,
                reply_on_success: false,
                quiet: true,
                user: user.clone(),
                peer_id: peer_id.to_string(),
                status: None,
                invitee_node: None,
                command,
            };
            self.send_proxy(node, session, op);
        }
    }

    /// A local session closed: its stand-ins on other nodes go too.
    pub(super) fn tell_away_nodes_gone(&mut self, session: SessionId) {
        self.rooms_away.closed(session);
        if self.proxies.is_empty() {
            return;
        }
        for node in self.proxies.closed(session) {
            self.send_proxy(&node, session, ProxyOp::Gone);
        }
    }

    /// A message about a proxied session: a command of a remote session
    /// for a place here (its stand-in made if need be), an event for a
    /// local session from a place elsewhere, or a remote session gone.
    fn proxied(&mut self, message: ProxyMessage) {
        let Ok(node) = NodeId::parse(&message.node) else { return };
        match message.op {
            // Only for a local session that sent that node a command.
            ProxyOp::Event(event) if self.proxies.nodes_of(message.session).contains(&node) => {
                // An invite the session made there: its cancel goes there.
                if let (Some(cluster), Event::Reply { result: Ok(Reply::Calling { invite, .. }), .. }) =
                    (&self.cluster, &event)
                {
                    cluster.invite_on(*invite, node.clone());
                }
                self.rooms_away.saw(message.session, &node, &event);
                let now = self.clock.now();
                self.deliver(message.session, event, now);
            }
            ProxyOp::Event(_) => {}
            ProxyOp::Gone => {
                if let Some(stand_in) = self.proxies.stand_in(&node, message.session) {
                    self.proxies.remove(stand_in);
                    self.ghosts.remove(stand_in);
                    self.input(Input::Disconnected { session: stand_in });
                }
            }
            ProxyOp::Command { tag, reply_on_success, quiet, user, peer_id, status, invitee_node, command } => {
                if let (Some(invitee_node), Command::Invite { to, .. }) = (invitee_node, &command)
                    && let Ok(invitee_node) = NodeId::parse(&invitee_node)
                    && !self.has_a_session_here(to)
                {
                    self.stand_in(invitee_node, to.clone(), None, None);
                }
                // The session's user already plays a call here, under the
                // same peer id: the same stand-in acts in the place too.
                let call_stand_in = self
                    .core
                    .session_with_peer_id(&peer_id)
                    .filter(|&session| self.ghosts.get(session).is_some_and(|ghost| ghost.node == node));
                let stand_in = match self.proxies.stand_in(&node, message.session).or(call_stand_in) {
                    Some(stand_in) => {
                        if self.proxies.stand_in(&node, message.session).is_none() {
                            self.proxies.insert(stand_in, node.clone(), message.session);
                        }
                        stand_in
                    }
                    None => {
                        let stand_in = draw_session_id(&self.shared.session_ids);
                        let now = self.clock.now();
                        // A peer id taken here already would replace that
                        // session: made up instead (never a client's form).
                        let peer_id = if self.core.session_with_peer_id(&peer_id).is_some() {
                            format!("{peer_id}@{node}")
                        } else {
                            peer_id
                        };
                        let peer_id = Some(Arc::from(peer_id.as_str()));
                        self.core.handle_input(now, Input::Connected { session: stand_in, peer_id, style: None });
                        self.proxies.insert(stand_in, node.clone(), message.session);
                        stand_in
                    }
                };
                // The session may have registered since its last command here.
                if let Some(user) = user
                    && self.core.user_of(stand_in).is_none()
                {
                    let register = Command::Register { user: Some(user), shared: true };
                    let request = Request::quiet(proxies::QUIET_TAG);
                    self.core.handle_input(
                        self.clock.now(),
                        Input::Command { session: stand_in, request, command: register },
                    );
                }
                // Its status as its own node has it, before the command.
                if let Some(status) = status
                    && let Some(user) = self.core.user_of(stand_in)
                    && self.core.status_of(user) != Some(&status)
                {
                    let request = Request::quiet(proxies::QUIET_TAG);
                    let command = Command::SetStatus { status };
                    self.core.handle_input(self.clock.now(), Input::Command { session: stand_in, request, command });
                    self.deliver_pending();
                }
                let request =
                    if quiet { Request::quiet(proxies::QUIET_TAG) } else { Request { tag, reply_on_success } };
                self.handle(ToDriver::Input(Input::Command { session: stand_in, request, command }, None));
            }
        }
    }

    /// After a register: a name claimed for it that the core refused is
    /// given back; a name the core drew is claimed now (a UUID: nobody
    /// else can hold it).
    pub(super) fn registered(&self, session: SessionId, asked: Option<UserId>, shared: bool) {
        let Some(cluster) = &self.cluster else { return };
        let holds = self.core.user_of(session).cloned();
        match (asked, holds) {
            (Some(asked), holds)
                if holds.as_ref() != Some(&asked) && cluster.claim_of(session).as_ref() == Some(&asked) =>
            {
                let cluster = cluster.clone();
                tokio::spawn(async move { cluster.release(session).await });
            }
            (None, Some(drawn)) if cluster.claim_of(session).is_none() => {
                // Noted now, so that a close before Redis answers still
                // gives the name back.
                cluster.note_claim(session, drawn.clone(), shared);
                let cluster = cluster.clone();
                tokio::spawn(async move { cluster.claim_drawn(&drawn, session, shared).await });
            }
            _ => {}
        }
    }

    /// A session is gone: the name it held is free across the cluster.
    pub(super) fn release_name(&self, session: SessionId) {
        if let Some(cluster) = &self.cluster
            && cluster.claim_of(session).is_some()
        {
            let cluster = cluster.clone();
            tokio::spawn(async move { cluster.release(session).await });
        }
    }

    /// Forgets the stand-ins told something during the last input that no
    /// longer take part in a call.
    pub(super) fn forget_idle_stand_ins(&mut self) {
        while let Some(ghost) = self.touched.pop() {
            let invited = self.ghosts.get(ghost).is_some_and(|state| self.core.is_invited(&state.user));
            if self.ghosts.get(ghost).is_some() && !self.core.in_a_call(ghost) && !invited {
                self.ghosts.remove(ghost);
                if self.proxies.remote_of(ghost).is_some() {
                    continue; // still the session's stand-in in a place here
                }
                self.core.handle_input(self.clock.now(), Input::Disconnected { session: ghost });
                self.deliver_pending();
            }
        }
    }
}
