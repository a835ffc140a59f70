//! Who is online: registering a name, presence status, and what a closing
//! connection takes with it.

use crate::core::{RoomKind, User};
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
            Some(user) => match self.users.get_mut(&user) {
                Some(state) if shared && state.shared => {
                    state.sessions.push(session);
                    if let Some(state) = self.sessions.get_mut(&session) {
                        state.user = Some(user.clone());
                    }
                    self.deliver_held(&user, session);
                    return Ok(Reply::Registered { user, drawn });
                }
                Some(_) => return Err(CommandError::NameTaken(user)),
                None => user,
            },
            None => self.draw_free_name(),
        };
        self.users.insert(user.clone(), User { sessions: vec![session], shared, ..User::default() });
        if let Some(state) = self.sessions.get_mut(&session) {
            state.user = Some(user.clone());
        }
        self.deliver_held(&user, session);
        Ok(Reply::Registered { user, drawn })
    }

    fn draw_free_name(&mut self) -> UserId {
        loop {
            let name = UserId::parse(&self.draw_uuid()).expect("a UUID is a valid name");
            if !self.users.contains_key(&name) {
                return name;
            }
        }
    }

    pub(crate) fn set_status(&mut self, session: SessionId, status: Payload) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        let Some(state) = self.users.get_mut(&user) else { return Ok(Reply::Done) };
        state.status = Some(status.clone());
        for namespace in state.namespaces.clone() {
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
        let Some(state) = self.users.get(user) else { return Vec::new() };
        let mut rooms = Vec::new();
        for &session in &state.sessions {
            for room_id in self.sessions.get(&session).map(|s| s.rooms.as_slice()).unwrap_or_default() {
                let Some(room) = self.rooms.get(room_id).filter(|room| room.kind == RoomKind::Named) else { continue };
                let peer = room.members.iter().find(|m| m.session == session).and_then(|m| m.status.clone());
                rooms.push((room_id.clone(), peer));
            }
        }
        for invite in &state.incoming {
            let Some(room) = self.invites.get(invite).map(|invite| &invite.room) else { continue };
            if self.rooms.get(room).is_some_and(|room| room.kind == RoomKind::Named) {
                rooms.push((room.clone(), None));
            }
        }
        rooms
    }

    /// A user's presence status, if the user is online and set one.
    pub fn status_of(&self, user: &UserId) -> Option<&Payload> {
        self.users.get(user)?.status.as_ref()
    }

    /// Whether a user is ringing or in a 1:1 call on any of its sessions.
    /// Invites into named rooms do not count.
    pub(crate) fn is_busy(&self, user: &UserId) -> bool {
        let Some(state) = self.users.get(user) else { return false };
        state.incoming.iter().any(|&invite| self.is_call_invite(invite))
            || state.sessions.iter().any(|&session| self.session_in_call(session))
    }

    /// Whether a session is making a 1:1 call or is in one.
    pub(crate) fn session_in_call(&self, session: SessionId) -> bool {
        let Some(state) = self.sessions.get(&session) else { return false };
        state.outgoing.iter().any(|&invite| self.is_call_invite(invite))
            || state.rooms.iter().any(|room| self.rooms.get(room).is_some_and(|room| room.kind == RoomKind::Call))
    }

    /// Ends everything the session took part in, then forgets it: it leaves
    /// its rooms (its calls end), its outgoing invites stop ringing, and
    /// calls ringing its user are declined when this was the user's last
    /// session.
    pub(crate) fn disconnect(&mut self, session: SessionId) {
        let Some(state) = self.sessions.get(&session) else { return };
        let outgoing = state.outgoing.clone();
        let rooms = state.rooms.clone();
        let subscriptions = state.subscriptions.clone();
        let user = state.user.clone();

        for namespace in subscriptions {
            self.drop_subscriber(session, &namespace);
        }
        // Rooms first: an invitee still pending in a room hears that the
        // inviter left it before the invite is withdrawn (as the original
        // calling-signaling server orders it).
        for room in rooms {
            self.leave_room(session, &room, EndReason::Disconnected);
        }
        for invite in outgoing {
            self.withdraw(invite, EndReason::Disconnected, None);
        }
        if let Some(user) = user {
            let last = self.users.get(&user).is_some_and(|state| state.sessions == [session]);
            if last {
                let incoming = self.users.get(&user).map(|u| u.incoming.clone()).unwrap_or_default();
                for invite in incoming {
                    self.decline(invite, &user, EndReason::Disconnected, None);
                }
                let listed = self.users.get(&user).map(|u| u.namespaces.clone()).unwrap_or_default();
                for namespace in listed {
                    self.unlist_user(&user, &namespace);
                }
                self.users.remove(&user);
            } else if let Some(state) = self.users.get_mut(&user) {
                state.sessions.retain(|&s| s != session);
            }
        }
        if let Some(state) = self.sessions.remove(&session)
            && self.peer_ids.get(&state.peer_id) == Some(&session)
        {
            self.peer_ids.remove(&state.peer_id);
        }
    }

    /// Tells every session of `user` except `except`.
    pub(crate) fn emit_to_user(&mut self, user: &UserId, except: Option<SessionId>, event: Event) {
        let sessions: Vec<SessionId> = match self.users.get(user) {
            Some(state) => state.sessions.iter().copied().filter(|&s| Some(s) != except).collect(),
            None => return,
        };
        for session in sessions {
            self.emit(session, event.clone());
        }
    }
}
