//! Messages held for users with no session (the ecall dialect): Wire's
//! backend keeps a message until a device of the recipient fetches it; here
//! it is kept for the ring timeout, bounded in count and bytes per user.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::{CommandError, Event, InvariantError, UserId};

/// A message held for a user with no session.
#[derive(Debug)]
pub(crate) struct Held {
    /// Who sent it.
    pub(crate) from: UserId,
    pub(crate) event: Event,
    pub(crate) bytes: usize,
    pub(crate) expires: Instant,
}

/// One queue per offline user with mail, oldest first; an emptied queue is
/// dropped. Beside it, for each sender, how many of its messages wait in
/// each mailbox, so that one sender cannot fill the mailboxes of many
/// made-up users.
#[derive(Debug)]
pub(crate) struct Mailboxes {
    boxes: HashMap<UserId, VecDeque<Held>>,
    /// Sender → recipient → messages of the sender held for the recipient.
    by_sender: HashMap<UserId, HashMap<UserId, usize>>,
    max_messages: usize,
    max_bytes: usize,
    max_per_sender: usize,
    /// Held messages that expired undelivered, since the core started.
    expired: u64,
}

impl Mailboxes {
    /// Empty mailboxes that each hold at most `max_messages` messages and
    /// `max_bytes` bytes, with mail from one sender in at most
    /// `max_per_sender` of them.
    pub(crate) fn new(max_messages: usize, max_bytes: usize, max_per_sender: usize) -> Self {
        Self { boxes: HashMap::new(), by_sender: HashMap::new(), max_messages, max_bytes, max_per_sender, expired: 0 }
    }

    /// Keeps `event` from `from` for `user` until `expires`. Returns whether
    /// it is the oldest message held for the user (whose expiry needs a
    /// deadline).
    ///
    /// # Errors
    /// Nothing is kept then:
    /// - [`CommandError::TooManyMailboxes`] when `from` holds messages for
    ///   as many other offline users as it may;
    /// - [`CommandError::MailboxFull`] when the user's held messages would
    ///   pass the count or byte bound.
    pub(crate) fn hold(
        &mut self,
        user: &UserId,
        from: &UserId,
        event: Event,
        bytes: usize,
        expires: Instant,
    ) -> Result<bool, CommandError> {
        let recipients = self.by_sender.get(from);
        if !recipients.is_some_and(|r| r.contains_key(user))
            && recipients.map_or(0, HashMap::len) >= self.max_per_sender
        {
            return Err(CommandError::TooManyMailboxes(self.max_per_sender));
        }
        let mailbox = self.boxes.get(user);
        let held = mailbox.map_or(0, VecDeque::len);
        let held_bytes: usize = mailbox.map_or(0, |mailbox| mailbox.iter().map(|held| held.bytes).sum());
        if held >= self.max_messages || held_bytes.saturating_add(bytes) > self.max_bytes {
            return Err(CommandError::MailboxFull(user.clone()));
        }
        self.boxes.entry(user.clone()).or_default().push_back(Held { from: from.clone(), event, bytes, expires });
        *self.by_sender.entry(from.clone()).or_default().entry(user.clone()).or_default() += 1;
        Ok(held == 0)
    }

    /// Takes everything held for `user`, oldest first.
    pub(crate) fn take(&mut self, user: &UserId) -> Option<VecDeque<Held>> {
        let mailbox = self.boxes.remove(user)?;
        for held in &mailbox {
            self.uncount(&held.from, user);
        }
        Some(mailbox)
    }

    /// One message from `from` to `user` is no longer held.
    fn uncount(&mut self, from: &UserId, user: &UserId) {
        let Some(recipients) = self.by_sender.get_mut(from) else { return };
        if let Some(count) = recipients.get_mut(user) {
            *count -= 1;
            if *count == 0 {
                recipients.remove(user);
            }
        }
        if recipients.is_empty() {
            self.by_sender.remove(from);
        }
    }

    /// Drops the messages held for `user` whose time is up by `now`, and
    /// counts them. Returns when the oldest one left expires, if any is.
    pub(crate) fn expire(&mut self, user: &UserId, now: Instant) -> Option<Instant> {
        let mailbox = self.boxes.get_mut(user)?;
        let mut gone = Vec::new();
        mailbox.retain(|held| {
            let keep = held.expires > now;
            if !keep {
                gone.push(held.from.clone());
            }
            keep
        });
        let next = mailbox.front().map(|held| held.expires);
        self.expired += gone.len() as u64;
        for from in &gone {
            self.uncount(from, user);
        }
        if next.is_none() {
            self.boxes.remove(user);
        }
        next
    }

    /// When the oldest message held for `user` expires.
    pub(crate) fn oldest(&self, user: &UserId) -> Option<Instant> {
        self.boxes.get(user)?.front().map(|held| held.expires)
    }

    pub(crate) fn held_for(&self, user: &UserId) -> usize {
        self.boxes.get(user).map_or(0, VecDeque::len)
    }

    /// Messages held for every user.
    pub(crate) fn held(&self) -> usize {
        self.boxes.values().map(VecDeque::len).sum()
    }

    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }

    /// Users with mail waiting.
    pub(crate) fn users(&self) -> impl Iterator<Item = &UserId> {
        self.boxes.keys()
    }

    /// No empty mailbox is kept, none is past a bound, and the per-sender
    /// counts are the messages held.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        let mut counted: HashMap<&UserId, HashMap<&UserId, usize>> = HashMap::new();
        for (user, mailbox) in &self.boxes {
            for held in mailbox {
                *counted.entry(&held.from).or_default().entry(user).or_default() += 1;
            }
        }
        let kept: HashMap<&UserId, HashMap<&UserId, usize>> = self
            .by_sender
            .iter()
            .map(|(from, recipients)| (from, recipients.iter().map(|(user, &count)| (user, count)).collect()))
            .collect();
        if counted != kept {
            return Err(InvariantError::Mailbox(format!(
                "the per-sender counts {kept:?} are not the messages held {counted:?}"
            )));
        }
        if let Some((from, recipients)) = self.by_sender.iter().find(|(_, r)| r.len() > self.max_per_sender) {
            return Err(InvariantError::Mailbox(format!(
                "{from:?} holds messages for {} users, past the bound {}",
                recipients.len(),
                self.max_per_sender
            )));
        }
        for (user, mailbox) in &self.boxes {
            if mailbox.is_empty() {
                return Err(InvariantError::Mailbox(format!("an empty mailbox is kept for {user:?}")));
            }
            let bytes = mailbox.iter().fold(0usize, |sum, held| sum.saturating_add(held.bytes));
            if mailbox.len() > self.max_messages || bytes > self.max_bytes {
                return Err(InvariantError::Mailbox(format!(
                    "{} messages, {bytes} bytes held for {user:?}, past the bounds {} and {}",
                    mailbox.len(),
                    self.max_messages,
                    self.max_bytes
                )));
            }
        }
        Ok(())
    }
}
