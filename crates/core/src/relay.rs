//! Relaying signals (SDP, ICE candidates, custom events) between parties.
//! The rule: only the two parties of a ringing or accepted call, or members
//! of the same room, may reach each other. `from` is always the sender's
//! registered name, never what the client claims.

use crate::{CommandError, Core, Event, Payload, RelayTarget, Reply, RoomId, SessionId, Signal, SignalKind, UserId};

impl Core {
    pub(crate) fn relay(&mut self, session: SessionId, to: RelayTarget, signal: Signal) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        let from_peer = self.peer_id_of(session);
        // Only the dialect that addresses peers by peer id (tringtring) names
        // the sender by its status; the others are spared the lookup.
        let from_status = match &to {
            RelayTarget::Peer { room, .. } => self.member_status(session, room),
            RelayTarget::RoomMember { .. } | RelayTarget::CallPeer(_) | RelayTarget::User { .. } => None,
        };
        let relayed = |room: Option<RoomId>, signal: Signal| Event::Relayed {
            room,
            from: from.clone(),
            from_peer: from_peer.clone(),
            from_status: from_status.clone(),
            signal,
        };
        match to {
            RelayTarget::CallPeer(peer) => {
                if let Some((room, other)) = self.accepted_call_with(session, &peer) {
                    self.check_carried(session, other, &peer, &signal, true)?;
                    self.note_ice(&room, &signal);
                    self.emit(other, relayed(Some(room), signal));
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    let Some(call) = self.invites.get(invite) else { return Err(CommandError::NoCallWith(peer)) };
                    let (caller, room) = (call.from_session, call.room.clone());
                    let receiver =
                        if caller == session { self.users.sessions_of(&peer).first().copied() } else { Some(caller) };
                    if let Some(receiver) = receiver {
                        self.check_carried(session, receiver, &peer, &signal, true)?;
                    }
                    if caller == session {
                        self.emit_to_user(&peer, None, relayed(Some(room), signal));
                    } else {
                        self.emit(caller, relayed(Some(room), signal));
                    }
                } else {
                    return Err(CommandError::NoCallWith(peer));
                }
            }
            RelayTarget::RoomMember { room, user } => {
                self.check_member(session, &room)?;
                let Some(state) = self.rooms.get(&room) else { return Err(CommandError::NotInRoom(room)) };
                let targets: Vec<SessionId> = state
                    .members()
                    .iter()
                    .map(|member| member.session())
                    .filter(|&s| s != session && self.user_of(s) == Some(&user))
                    .collect();
                if targets.is_empty() {
                    if self.invites.pending_in(&room).iter().any(|&id| self.invites.is(id, |i| i.to == user)) {
                        return Err(CommandError::PeerPending(user));
                    }
                    return Err(CommandError::PeerNotInRoom { room, user });
                }
                let in_call = self.carries_a_call(&room);
                self.check_carried(session, targets[0], &user, &signal, in_call)?;
                self.note_ice(&room, &signal);
                for target in targets {
                    self.emit(target, relayed(Some(room.clone()), signal.clone()));
                }
            }
            RelayTarget::Peer { room, peer } => {
                let target = self.sessions.by_peer_id(&peer);
                self.relay_to_member(session, &room, target, || CommandError::UnknownPeer(peer.clone()))?;
                let target = target.expect("checked");
                if let Some(user) = self.user_of(target).cloned() {
                    self.check_carried(session, target, &user, &signal, self.carries_a_call(&room))?;
                }
                self.note_ice(&room, &signal);
                self.emit(target, relayed(Some(room), signal));
            }
            RelayTarget::User { user, peer } => {
                if self.users.is_online(&user)
                    && self.sessions.style(session) == Some(crate::CallStyle::Messages)
                    && self.user_style(&user).is_some_and(|style| style != crate::CallStyle::Messages)
                {
                    return Err(CommandError::NotCarried { to: user, what: "Wire calling messages".into() });
                }
                let event = relayed(None, signal);
                self.relay_to_user(session, &from, &user, peer, event)?;
            }
        }
        Ok(Reply::Done)
    }

    /// The message channel: every session of `to` (or the one named by
    /// `peer`) and every other session of the sender's user.
    fn relay_to_user(
        &mut self,
        session: SessionId,
        from: &UserId,
        to: &UserId,
        peer: Option<std::sync::Arc<str>>,
        event: Event,
    ) -> Result<(), CommandError> {
        let receivers: Vec<SessionId> = match (&peer, self.users.is_online(to)) {
            (_, false) => {
                let bytes = match &event {
                    Event::Relayed { signal, .. } => signal.payload.len(),
                    _ => 0,
                };
                self.hold(to, from, event.clone(), bytes)?;
                Vec::new()
            }
            (Some(peer), true) => match self.sessions.by_peer_id(peer) {
                Some(target) if self.user_of(target) == Some(to) => vec![target],
                _ => return Err(CommandError::UnknownPeer(peer.clone())),
            },
            (None, true) => self.users.sessions_of(to).to_vec(),
        };
        let own: Vec<SessionId> = self.users.sessions_of(from).iter().copied().filter(|&s| s != session).collect();
        for target in receivers.into_iter().chain(own) {
            if target != session {
                self.emit(target, event.clone());
            }
        }
        Ok(())
    }

    /// Whether `receiver` (of user `to`) can take `signal` from `sender`: a
    /// dialect's own events (a `Custom` signal) cross only to a session of
    /// the same call style, whose dialect knows them; SDP and ICE cross to
    /// every style, but reach a Wire device or a cloudkibo phone only within
    /// a 1:1 call (`in_call`), where the receiver's codec bridges them (into
    /// ECall messages; into the media room it plays): in a named room (a
    /// tringtring room cloudkibo `init`ed) its client would never read them.
    ///
    /// # Errors
    /// [`CommandError::NotCarried`], naming what could not be taken.
    fn check_carried(
        &self,
        sender: SessionId,
        receiver: SessionId,
        to: &UserId,
        signal: &Signal,
        in_call: bool,
    ) -> Result<(), CommandError> {
        use crate::CallStyle::{MediaRoom, Messages};
        let (Some(from), Some(into)) = (self.sessions.style(sender), self.sessions.style(receiver)) else {
            return Ok(());
        };
        if from == into {
            return Ok(());
        }
        let what: std::sync::Arc<str> = match &signal.kind {
            SignalKind::Custom(name) => format!("the event {name:?} of another app").into(),
            // Within a call, the Wire device's codec bridges them into ECall.
            _ if into == Messages && !in_call => "SDP or ICE outside Wire calling messages".into(),
            _ if into == MediaRoom && !in_call => "SDP or ICE outside a call".into(),
            _ => return Ok(()),
        };
        Err(CommandError::NotCarried { to: to.clone(), what })
    }

    /// Notes an ICE candidate relayed in `room`: the first one after a 1:1
    /// call's answer times its connection set-up.
    fn note_ice(&mut self, room: &RoomId, signal: &Signal) {
        if signal.kind == SignalKind::IceCandidate {
            let now = self.now();
            self.answered.ice_relayed(room, now);
        }
    }

    /// The peer status `session` joined `room` with, if it is a member.
    fn member_status(&self, session: SessionId, room: &RoomId) -> Option<Payload> {
        self.rooms.get(room)?.member(session)?.status.clone()
    }

    /// Checks that the sender and the named target are members of `room`.
    fn relay_to_member(
        &self,
        session: SessionId,
        room: &RoomId,
        target: Option<SessionId>,
        unknown: impl FnOnce() -> CommandError,
    ) -> Result<(), CommandError> {
        self.check_member(session, room)?;
        match target {
            Some(target) if target != session && self.rooms.get(room).is_some_and(|r| r.has_member(target)) => Ok(()),
            _ => Err(unknown()),
        }
    }
}
