//! The one way every codec matches the core's replies to its requests.
//!
//! The core answers every failed command, and a successful one only when
//! asked ([`Request::reply_on_success`]). So a request comes in two kinds:
//!
//! - **tracked** ([`Replies::track`]): the core always answers, and the
//!   answer finds what the codec left waiting for it (a calling `tid`, a
//!   socket.io ack), which is then gone;
//! - **quiet** ([`Replies::quiet`]): only a failure is answered, so nothing
//!   may wait for it (a success would leave it behind for ever). What the
//!   codec needs to word the failure rides in the tag itself, as a small
//!   label (chatroulette: the request's type and spelling).
//!
//! A tag is a sequence number above a label byte, so every tag is unique on
//! its connection.

use std::collections::HashMap;

use switchboard_core::Request;

/// Bits of a tag that hold a quiet request's label.
const LABEL_BITS: u32 = 8;

/// A label: what a quiet request's failure must be worded with (0 to 255).
pub type Label = u8;

/// The label of a quiet request whose failure needs no context to be worded.
pub const NO_LABEL: Label = 0;

/// What a reply answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Answers<T> {
    /// A tracked request, and what was waiting for its reply.
    Tracked(T),
    /// A quiet request (which failed), and its label.
    Quiet(Label),
    /// A tracked tag with nothing waiting: answered already. The core
    /// answers a request once, so this only follows a codec bug.
    Unknown,
}

/// One connection's requests waiting for the core, and its tag counter.
#[derive(Clone, Debug)]
pub struct Replies<T> {
    next: u64,
    waiting: HashMap<u64, T>,
}

impl<T> Default for Replies<T> {
    fn default() -> Self {
        Self { next: 0, waiting: HashMap::new() }
    }
}

impl<T> Replies<T> {
    /// No request yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request answered whatever its outcome; its reply finds `waiting`.
    pub fn track(&mut self, waiting: T) -> Request {
        let tag = self.next_tag(false, 0);
        self.waiting.insert(tag, waiting);
        Request::answered(tag)
    }

    /// A request answered only if it fails; the failure gives back `label`.
    pub fn quiet(&mut self, label: Label) -> Request {
        Request::quiet(self.next_tag(true, label))
    }

    /// What the reply with `tag` answers.
    pub fn answer(&mut self, tag: u64) -> Answers<T> {
        match self.waiting.remove(&tag) {
            Some(waiting) => Answers::Tracked(waiting),
            None if tag & QUIET != 0 => Answers::Quiet((tag & LABEL_MASK) as Label),
            None => Answers::Unknown,
        }
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// What waits for the core's replies, to be changed in place (ecall
    /// marks a waiting offer withdrawn).
    pub fn waiting_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.waiting.values_mut()
    }

    /// A fresh tag: the sequence number, the quiet bit, the label.
    fn next_tag(&mut self, quiet: bool, label: Label) -> u64 {
        let sequence = self.next;
        self.next = self.next.wrapping_add(1);
        sequence << (LABEL_BITS + 1) | if quiet { QUIET } else { 0 } | u64::from(label)
    }
}

/// The bit that marks a quiet tag.
const QUIET: u64 = 1 << LABEL_BITS;

/// The label bits of a tag.
const LABEL_MASK: u64 = (1 << LABEL_BITS) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_reply_finds_what_waited_once() {
        let mut replies = Replies::new();
        let first = replies.track("tid 1");
        let second = replies.track("tid 2");
        assert!(first.reply_on_success && second.reply_on_success);
        assert_ne!(first.tag, second.tag);
        assert_eq!(replies.answer(second.tag), Answers::Tracked("tid 2"));
        assert_eq!(replies.answer(second.tag), Answers::Unknown, "answered already");
        assert_eq!(replies.waiting(), 1);
    }

    #[test]
    fn a_quiet_reply_gives_back_its_label_and_keeps_nothing() {
        let mut replies: Replies<()> = Replies::new();
        let requests: Vec<_> = (0..=255).map(|label| replies.quiet(label)).collect();
        assert_eq!(replies.waiting(), 0, "a quiet success is never answered: nothing may wait");
        for (label, request) in requests.iter().enumerate() {
            assert!(!request.reply_on_success);
            assert_eq!(replies.answer(request.tag), Answers::Quiet(label as Label));
        }
        let mut tags: Vec<u64> = requests.iter().map(|request| request.tag).collect();
        tags.dedup();
        assert_eq!(tags.len(), 256, "every tag is unique");
    }
}
