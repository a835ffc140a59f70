//! Messages held for a user with no session (the ecall dialect): Wire's
//! backend keeps a message until a device of the recipient fetches it; here
//! it is kept for the ring timeout, bounded in count and bytes per user,
//! and given to the first session that registers as that user.

use std::collections::VecDeque;

use crate::core::{Deadline, Held};
use crate::{CommandError, Core, Event, SessionId, UserId};

impl Core {
    /// Keeps `event` for `user`, who has no session.
    ///
    /// # Errors
    /// [`CommandError::MailboxFull`] when the user's held messages would pass
    /// the count or byte bound; nothing is kept then.
    pub(crate) fn hold(&mut self, user: &UserId, event: Event, bytes: usize) -> Result<(), CommandError> {
        let expires = self.now() + self.config.ring_timeout;
        let (max_messages, max_bytes) = (self.config.mailbox_messages, self.config.mailbox_bytes);
        let mailbox = self.mailboxes.entry(user.clone()).or_default();
        let held_bytes: usize = mailbox.iter().map(|held| held.bytes).sum();
        if mailbox.len() >= max_messages || held_bytes + bytes > max_bytes {
            if mailbox.is_empty() {
                self.mailboxes.remove(user);
            }
            return Err(CommandError::MailboxFull(user.clone()));
        }
        let first = mailbox.is_empty();
        mailbox.push_back(Held { event, bytes, expires });
        if first {
            self.set_deadline(expires, Deadline::Held(user.clone()));
        }
        Ok(())
    }

    /// Gives everything held for `user` to its new session.
    pub(crate) fn deliver_held(&mut self, user: &UserId, session: SessionId) {
        let Some(mailbox) = self.mailboxes.remove(user) else { return };
        if let Some(first) = mailbox.front() {
            self.clear_deadline(first.expires, Deadline::Held(user.clone()));
        }
        for held in mailbox {
            self.emit(session, held.event);
        }
    }

    /// Drops the messages held for `user` whose time is up, and counts them.
    pub(crate) fn expire_held(&mut self, user: &UserId) {
        let now = self.now();
        let Some(mailbox) = self.mailboxes.get_mut(user) else { return };
        let before = mailbox.len();
        mailbox.retain(|held| held.expires > now);
        self.held_expired += (before - mailbox.len()) as u64;
        match mailbox.front().map(|held| held.expires) {
            Some(next) => self.set_deadline(next, Deadline::Held(user.clone())),
            None => {
                self.mailboxes.remove(user);
            }
        }
    }

    /// How many messages are held for `user`.
    pub fn held_for(&self, user: &UserId) -> usize {
        self.mailboxes.get(user).map_or(0, VecDeque::len)
    }
}
