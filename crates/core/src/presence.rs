//! Who is online: registering a name, presence status, and what a closing
//! connection takes with it.

use std::time::Instant;

use crate::core::{RoomKind, User};
use crate::{CommandError, Core, EndReason, Event, Payload, Reply, SessionId, UserId};

impl Core {
    pub(crate) fn register(&mut self, session: SessionId, wanted: Option<UserId>) -> Result<Reply, CommandError> {
        if let Some(user) = self.user_of(session) {
            return Err(CommandError::AlreadyRegistered(user.clone()));
        }
        let drawn = wanted.is_none();
        let user = match wanted {
            Some(user) if self.users.contains_key(&user) => {
                return Err(CommandError::NameTaken(user));
            }
            Some(user) => user,
            None => self.draw_free_name(),
        };
        self.users.insert(user.clone(), User { sessions: vec![session], ..User::default() });
        if let Some(state) = self.sessions.get_mut(&session) {
            state.user = Some(user.clone());
        }
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
        if let Some(state) = self.users.get_mut(&user) {
            state.status = Some(status);
        }
        Ok(Reply::Done)
    }

    /// A user's presence status, if the user is online and set one.
    pub fn status_of(&self, user: &UserId) -> Option<&Payload> {
        self.users.get(user)?.status.as_ref()
    }

    /// Whether a user is ringing or in a 1:1 call on any of its sessions.
    pub(crate) fn is_busy(&self, user: &UserId) -> bool {
        let Some(state) = self.users.get(user) else { return false };
        !state.incoming.is_empty() || state.sessions.iter().any(|&session| self.session_in_call(session))
    }

    /// Whether a session is making a call or is in one.
    pub(crate) fn session_in_call(&self, session: SessionId) -> bool {
        let Some(state) = self.sessions.get(&session) else { return false };
        !state.outgoing.is_empty()
            || state.rooms.iter().any(|room| self.rooms.get(room).is_some_and(|room| room.kind == RoomKind::Call))
    }

    /// Ends everything the session took part in, then forgets it: its
    /// outgoing calls stop ringing, its calls end, it leaves its rooms, and
    /// calls ringing its user are declined when this was the user's last
    /// session.
    pub(crate) fn disconnect(&mut self, now: Instant, session: SessionId) {
        let Some(state) = self.sessions.get(&session) else { return };
        let outgoing = state.outgoing.clone();
        let rooms = state.rooms.clone();
        let user = state.user.clone();

        for invite in outgoing {
            self.withdraw(invite, EndReason::Disconnected);
        }
        for room in rooms {
            self.leave_room(now, session, &room, EndReason::Disconnected);
        }
        if let Some(user) = user {
            let last = self.users.get(&user).is_some_and(|state| state.sessions == [session]);
            if last {
                let incoming = self.users.get(&user).map(|u| u.incoming.clone()).unwrap_or_default();
                for invite in incoming {
                    self.decline(invite, &user, EndReason::Disconnected);
                }
                self.users.remove(&user);
            } else if let Some(state) = self.users.get_mut(&user) {
                state.sessions.retain(|&s| s != session);
            }
        }
        self.sessions.remove(&session);
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
