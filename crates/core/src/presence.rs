//! Who is online: registering a name, presence status, and what a closing
//! connection takes with it.

use crate::state::RoomKind;
use crate::{
    CommandError, Core, EndReason, Event, NamespaceEvent, Payload, PeerStatus, PeerUpdate, Reply, RoomId, SessionId,
    UserId,
};

impl Core {
    pub(crate) fn register(
        &mut self,
        session: SessionId,
        wanted: Option<UserId>,
        shared: bool,
    ) -> Result<Reply, CommandError> {
        if let Some(user) = self.user_of(session) {
            return Err(CommandError::AlreadyRegistered(user.clone()));
        }
        let drawn = wanted.is_none();
        let user = match wanted {
            Some(user) => user,
            None => self.draw_free_name(),
        };
        // A shared name is held by sessions of one dialect (a phone's
        // sockets, a Wire user's devices): the user's call style is theirs.
        if let (Some(held), Some(mine)) = (self.user_style(&user), self.sessions.style(session))
            && held != mine
        {
            return Err(CommandError::NameTaken(user));
        }
        self.users.register(session, user.clone(), shared)?;
        self.deliver_held(&user, session);
        Ok(Reply::Registered { user, drawn })
    }

    fn draw_free_name(&mut self) -> UserId {
        loop {
            let name = UserId::parse(&self.draw_uuid()).expect("a UUID is a valid name");
            if !self.users.is_online(&name) {
                return name;
            }
        }
    }

    pub(crate) fn set_status(&mut self, session: SessionId, status: Payload) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        self.users.set_status(&user, status.clone());
        for namespace in self.namespaces.of_user(&user).to_vec() {
            let event = NamespaceEvent::UserUpdated { user: user.clone(), status: Some(status.clone()) };
            self.tell_namespace(&namespace, event);
        }
        for (room, peer) in self.named_rooms_of(&user) {
            let update = PeerUpdate::Status(PeerStatus { user: Some(status.clone()), peer });
            self.tell_peer_update(&room, &user, update);
        }
        Ok(Reply::Done)
    }

    /// The named rooms a user is a peer of (joined on any session, or
    /// invited), each with the user's peer status there.
    fn named_rooms_of(&self, user: &UserId) -> Vec<(RoomId, Option<Payload>)> {
        let mut rooms = Vec::new();
        for &session in self.users.sessions_of(user) {
            for room_id in self.rooms.of_session(session) {
                let Some(room) = self.rooms.get(room_id).filter(|room| room.kind == RoomKind::Named) else { continue };
                let peer = room.member(session).and_then(|m| m.status.clone());
                rooms.push((room_id.clone(), peer));
            }
        }
        for &invite in self.invites.incoming(user) {
            let Some(room) = self.invites.get(invite).map(|invite| &invite.room) else { continue };
            if self.rooms.kind(room) == Some(RoomKind::Named) {
                rooms.push((room.clone(), None));
            }
        }
        rooms
    }

    /// A user's presence status, if the user is online and set one.
    pub fn status_of(&self, user: &UserId) -> Option<&Payload> {
        self.users.status(user)
    }

    /// Whether a user is ringing or in a 1:1 call on any of its sessions.
    /// Invites into named rooms do not count.
    pub(crate) fn is_busy(&self, user: &UserId) -> bool {
        self.invites.incoming(user).iter().any(|&invite| self.is_call_invite(invite))
            || self.users.sessions_of(user).iter().any(|&session| self.session_in_call(session))
    }

    /// Whether a session is making a 1:1 call or is in one. A session of a
    /// dialect with named rooms ([`CallStyle::Rooms`](crate::CallStyle::Rooms))
    /// is in one when it is in a room of two (rtc-lib's way of calling), so
    /// that callers of the one-to-one dialects find it busy.
    pub(crate) fn session_in_call(&self, session: SessionId) -> bool {
        let rooms = self.sessions.style(session) == Some(crate::CallStyle::Rooms);
        self.invites.outgoing(session).iter().any(|&invite| self.is_call_invite(invite))
            || self.rooms.of_session(session).iter().any(|room_id| match self.rooms.get(room_id) {
                Some(room) if room.carries_a_call() => true,
                Some(room) => rooms && self.peers_in(room_id, room) == 2,
                None => false,
            })
    }

    /// Ends everything the session took part in, then forgets it: it leaves
    /// its rooms (its calls end), its outgoing invites stop ringing, and
    /// calls ringing its user are declined when this was the user's last
    /// session.
    pub(crate) fn disconnect(&mut self, session: SessionId) {
        if !self.sessions.contains(session) {
            return;
        }
        for namespace in self.namespaces.subscriptions_of(session).to_vec() {
            self.namespaces.unsubscribe(&namespace, session);
        }
        // Rooms first: an invitee still pending in a room hears that the
        // inviter left it before the invite is withdrawn (as the original
        // calling-signaling server orders it).
        for room in self.rooms.of_session(session).to_vec() {
            self.leave_room(session, &room, EndReason::Disconnected);
        }
        for invite in self.invites.outgoing(session).to_vec() {
            self.withdraw(invite, EndReason::Disconnected, None);
        }
        if let Some(user) = self.user_of(session).cloned()
            && self.users.sessions_of(&user) == [session]
        {
            // The user goes offline: what rings it is declined, and it
            // leaves the namespaces it is listed in.
            for invite in self.invites.incoming(&user).to_vec() {
                self.decline(invite, &user, Some(session), EndReason::Disconnected, None);
            }
            for namespace in self.namespaces.of_user(&user).to_vec() {
                self.unlist_user(&user, &namespace);
            }
        }
        if let Some(user) = self.users.unregister(session)
            && !self.users.is_online(&user)
        {
            self.throttles.forget_user(&user);
        }
        self.sessions.remove(session);
    }

    /// Tells every session of `user` except `except`.
    pub(crate) fn emit_to_user(&mut self, user: &UserId, except: Option<SessionId>, event: Event) {
        let sessions: Vec<SessionId> =
            self.users.sessions_of(user).iter().copied().filter(|&s| Some(s) != except).collect();
        for session in sessions {
            self.emit(session, event.clone());
        }
    }
}
