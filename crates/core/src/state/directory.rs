//! Who is online: registered names, the sessions (devices) that hold each,
//! and presence status.

use std::collections::HashMap;

use crate::{CommandError, InvariantError, Payload, SessionId, SessionMap, UserId};

/// A registered name.
#[derive(Debug)]
struct User {
    /// Its sessions, in the order they registered.
    sessions: Vec<SessionId>,
    /// Its presence status, if it set one.
    status: Option<Payload>,
    /// Whether several sessions may hold the name.
    shared: bool,
}

/// The user directory: name → sessions and session → name, changed only
/// here, together. A user is online while it has a session.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    users: HashMap<UserId, User>,
    user_of: SessionMap<UserId>,
}

impl Directory {
    /// Registers `session` as `user`.
    ///
    /// # Errors
    /// [`CommandError::AlreadyRegistered`] when the session has a name, and
    /// [`CommandError::NameTaken`] when another session holds `user` and
    /// either side did not ask to share it.
    pub(crate) fn register(&mut self, session: SessionId, user: UserId, shared: bool) -> Result<(), CommandError> {
        if let Some(name) = self.user_of.get(&session) {
            return Err(CommandError::AlreadyRegistered(name.clone()));
        }
        match self.users.get_mut(&user) {
            Some(state) if shared && state.shared => state.sessions.push(session),
            Some(_) => return Err(CommandError::NameTaken(user)),
            None => {
                self.users.insert(user.clone(), User { sessions: vec![session], status: None, shared });
            }
        }
        self.user_of.insert(session, user);
        Ok(())
    }

    /// Takes `session` off its name; the last session takes the user
    /// offline. Returns the name it held.
    pub(crate) fn unregister(&mut self, session: SessionId) -> Option<UserId> {
        let user = self.user_of.remove(&session)?;
        if let Some(state) = self.users.get_mut(&user) {
            state.sessions.retain(|&s| s != session);
            if state.sessions.is_empty() {
                self.users.remove(&user);
            }
        }
        Some(user)
    }

    /// The name `session` registered, if it has.
    pub(crate) fn user_of(&self, session: SessionId) -> Option<&UserId> {
        self.user_of.get(&session)
    }

    pub(crate) fn is_online(&self, user: &UserId) -> bool {
        self.users.contains_key(user)
    }

    /// The sessions of `user`, in the order they registered; none when it is
    /// offline.
    pub(crate) fn sessions_of(&self, user: &UserId) -> &[SessionId] {
        self.users.get(user).map(|state| state.sessions.as_slice()).unwrap_or_default()
    }

    pub(crate) fn status(&self, user: &UserId) -> Option<&Payload> {
        self.users.get(user)?.status.as_ref()
    }

    /// Sets an online user's presence status; an offline user has none.
    pub(crate) fn set_status(&mut self, user: &UserId, status: Payload) {
        if let Some(state) = self.users.get_mut(user) {
            state.status = Some(status);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn users(&self) -> impl Iterator<Item = &UserId> {
        self.users.keys()
    }

    /// Both indexes agree; every user has a session, each once, and only a
    /// shared name has several.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        for (session, user) in &self.user_of {
            if !self.sessions_of(user).contains(session) {
                return Err(InvariantError::SessionUser(format!(
                    "{session:?} is registered as {user:?}, whose sessions do not list it"
                )));
            }
        }
        for (user, state) in &self.users {
            if state.sessions.is_empty() {
                return Err(InvariantError::SessionUser(format!("{user:?} is online with no session")));
            }
            if let Some(session) = super::duplicate(&state.sessions) {
                return Err(InvariantError::SessionUser(format!("{user:?} lists {session:?} twice")));
            }
            if let Some(session) = state.sessions.iter().find(|s| self.user_of.get(s) != Some(user)) {
                return Err(InvariantError::SessionUser(format!(
                    "{user:?} lists {session:?}, which is not registered as it"
                )));
            }
            if state.sessions.len() > 1 && !state.shared {
                return Err(InvariantError::SessionUser(format!(
                    "{user:?} is not shared but has sessions {:?}",
                    state.sessions
                )));
            }
        }
        Ok(())
    }

    /// Test-only drift: `session` forgets its name while the user keeps it.
    #[cfg(test)]
    pub(crate) fn break_user_of(&mut self, session: SessionId) {
        self.user_of.remove(&session);
    }
}
