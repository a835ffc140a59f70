//! Exactly once and in order: every relayed message of the soak carries a
//! sequence number (`seq:N;` in its candidate string or SDP), counted from
//! 0 for each direction of each call, and the receiving side checks each
//! against the ones before it.

use std::collections::BTreeSet;

/// The marker before a message's sequence number.
const TAG: &str = "seq:";

/// The text a relayed message carries for sequence number `seq`.
pub fn tag(seq: u64) -> String {
    format!("{TAG}{seq};")
}

/// The sequence number in a relayed frame, if it carries one.
pub fn seq_of(frame: &str) -> Option<u64> {
    let start = frame.find(TAG)? + TAG.len();
    let digits = &frame[start..];
    let end = digits.find(';')?;
    digits[..end].parse().ok()
}

/// Messages sent and what became of them, for one stream or summed over
/// many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    /// Arrived for the first time (in order or not).
    pub delivered: u64,
    /// Never arrived.
    pub lost: u64,
    /// Arrived again after it had arrived once.
    pub duplicated: u64,
    /// Arrived after a later one of the same stream.
    pub reordered: u64,
}

impl Tally {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
    }

    /// Whether every message arrived exactly once, in order.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.reordered == 0 && self.delivered == self.sent
    }
}

/// The receiving side of one stream.
#[derive(Debug, Default)]
pub struct Stream {
    /// The sequence number expected next: every lower one arrived or is in
    /// `missing`.
    next: u64,
    /// Skipped over by a later one and not (yet) arrived.
    missing: BTreeSet<u64>,
    tally: Tally,
}

impl Stream {
    /// Records the arrival of message `seq`.
    pub fn receive(&mut self, seq: u64) {
        if seq == self.next {
            self.next += 1;
            self.tally.delivered += 1;
        } else if seq > self.next {
            self.missing.extend(self.next..seq);
            self.next = seq + 1;
            self.tally.delivered += 1;
        } else if self.missing.remove(&seq) {
            self.tally.reordered += 1;
            self.tally.delivered += 1;
        } else {
            self.tally.duplicated += 1;
        }
    }

    /// Whether message `seq`, or a later one, has arrived: a stream is
    /// relayed in order, so what is missing before it by then is lost.
    pub fn has_reached(&self, seq: u64) -> bool {
        self.next > seq
    }

    /// The stream's counts, once its sender has sent `sent` messages
    /// (numbered `0..sent`) and no more will arrive.
    pub fn finish(self, sent: u64) -> Tally {
        let never_reached = sent.saturating_sub(self.next);
        Tally { sent, lost: self.missing.len() as u64 + never_reached, ..self.tally }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(arrivals: &[u64], sent: u64) -> Tally {
        let mut stream = Stream::default();
        for &seq in arrivals {
            stream.receive(seq);
        }
        stream.finish(sent)
    }

    #[test]
    fn tags_read_back() {
        let frame = format!(r#"{{"candidate":"{}xxxx"}}"#, tag(1234));
        assert_eq!(seq_of(&frame), Some(1234));
        assert_eq!(seq_of(r#"{"candidate":"xxxx"}"#), None);
        assert_eq!(seq_of("seq:12"), None);
    }

    #[test]
    fn in_order_once_is_clean() {
        let tally = stream_of(&[0, 1, 2, 3], 4);
        assert_eq!(tally, Tally { sent: 4, delivered: 4, ..Tally::default() });
        assert!(tally.is_clean());
    }

    #[test]
    fn each_fault_is_counted_as_itself() {
        assert_eq!(stream_of(&[0, 2, 3], 4), Tally { sent: 4, delivered: 3, lost: 1, ..Tally::default() });
        assert_eq!(stream_of(&[0, 1, 2], 4), Tally { sent: 4, delivered: 3, lost: 1, ..Tally::default() });
        assert_eq!(stream_of(&[0, 1, 1, 2], 3), Tally { sent: 3, delivered: 3, duplicated: 1, ..Tally::default() });
        assert_eq!(stream_of(&[0, 2, 1, 3], 4), Tally { sent: 4, delivered: 4, reordered: 1, ..Tally::default() });
        for faulty in [stream_of(&[0, 2], 3), stream_of(&[0, 0, 1], 2), stream_of(&[1, 0], 2)] {
            assert!(!faulty.is_clean(), "{faulty:?}");
        }
    }

    #[test]
    fn a_stream_knows_when_it_reached_a_message() {
        let mut stream = Stream::default();
        assert!(!stream.has_reached(0));
        stream.receive(0);
        assert!(stream.has_reached(0) && !stream.has_reached(1));
        stream.receive(2);
        assert!(stream.has_reached(1), "1 was skipped: it is lost or late");
        assert_eq!(stream.finish(3).lost, 1);
    }
}
