//! Messages held for a user with no session (the ecall dialect): Wire's
//! backend keeps a message until a device of the recipient fetches it; here
//! it is kept for the ring timeout, bounded in count and bytes per user,
//! and given to the first session that registers as that user.

use crate::state::Deadline;
use crate::{CommandError, Core, Event, SessionId, UserId};

impl Core {
    /// Keeps `event` from `from` for `user`, who has no session, for the
    /// ring timeout.
    ///
    /// # Errors
    /// [`CommandError::MailboxFull`] or [`CommandError::TooManyMailboxes`]
    /// when a bound would be passed; nothing is kept then.
    pub(crate) fn hold(
        &mut self,
        user: &UserId,
        from: &UserId,
        event: Event,
        bytes: usize,
    ) -> Result<(), CommandError> {
        let expires = self.now() + self.config.ring_timeout;
        if self.mailboxes.hold(user, from, event, bytes, expires)? {
            self.deadlines.set(expires, Deadline::Held(user.clone()));
        }
        Ok(())
    }

    /// Gives everything held for `user` to its new session.
    pub(crate) fn deliver_held(&mut self, user: &UserId, session: SessionId) {
        let Some(mailbox) = self.mailboxes.take(user) else { return };
        if let Some(first) = mailbox.front() {
            self.deadlines.clear(first.expires, Deadline::Held(user.clone()));
        }
        for held in mailbox {
            self.emit(session, held.event);
        }
    }

    /// Drops the messages held for `user` whose time is up.
    pub(crate) fn expire_held(&mut self, user: &UserId) {
        if let Some(next) = self.mailboxes.expire(user, self.now()) {
            self.deadlines.set(next, Deadline::Held(user.clone()));
        }
    }

    /// How many messages are held for `user`.
    pub fn held_for(&self, user: &UserId) -> usize {
        self.mailboxes.held_for(user)
    }
}
