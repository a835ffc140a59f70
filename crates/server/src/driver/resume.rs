//! Held sessions and their resume tokens (Step 11; README, "Resume").
//!
//! A session whose client asked for resume (`resume=1`) gets a token when it
//! opens: the record exists from the start, so a drop at any moment finds
//! it (socket.io-redis-streams-adapter #27 lost sessions by writing it at
//! disconnect). When its connection drops without a clean close, the
//! connection task parks its codec and its event queue here instead of
//! closing the session: the core keeps the session, its name, rooms and
//! calls, and nobody is told. Events go on into the queue, up to the resume
//! buffer. A new connection that shows the token within the window takes
//! the parked codec and queue back, and a fresh token; otherwise the window
//! or the buffer ends the session as a disconnect does.
//!
//! The driver owns this state, like every other piece of a session's.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use switchboard_core::{SessionId, SessionMap, UserId};
use tokio::sync::oneshot;

use super::EventQueue;
use crate::admission::Admission;

/// Random bytes in a token: 256 bits, of which the issue asks 128 at least.
const TOKEN_BYTES: usize = 32;

/// A resume token's secret: random bytes the server drew from the operating
/// system, never derived from anything a client sent. The text form is its
/// base64url ([`Token::to_text`]); it is never logged (no `Debug` shows it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Token([u8; TOKEN_BYTES]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A fresh token from the operating system's generator.
    pub(crate) fn draw() -> Self {
        let mut bytes = [0; TOKEN_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random generator works");
        Self(bytes)
    }

    /// The token as the client sees it: 43 characters of base64url.
    pub(crate) fn to_text(self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Reads a token's text form; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut bytes = [0; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(TOKEN_BYTES) => Some(Self(bytes)),
            _ => None,
        }
    }
}

/// A token's text split into the node it names, if any, and its secret: on
/// a node of a cluster a token reads `<node>.<secret>` (the secret is
/// base64url, which has no `.`), so that any node can tell where its
/// session is held; alone, just `<secret>`.
pub(crate) fn split_token(text: &str) -> (Option<&str>, &str) {
    match text.rsplit_once('.') {
        Some((node, secret)) => (Some(node), secret),
        None => (None, text),
    }
}

/// A held session's connection state: its codec, as the connection task's
/// own type, and its event queue, with whatever was queued still in it.
pub(crate) struct Parked {
    pub(crate) codec: Box<dyn Any + Send>,
    pub(crate) events: EventQueue,
    /// The dropped connection's place under the session caps
    /// (`--max-sessions`, `--max-connections-per-ip`), kept while the
    /// session is held: held sessions count, so dropping connections cannot
    /// pile up sessions past the caps. A resume gives it back (the new
    /// connection has its own).
    #[allow(dead_code, reason = "held for its Drop")]
    pub(crate) place: Option<Arc<Admission>>,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Parked")
    }
}

/// A resumed session, handed to the connection that resumed it.
#[derive(Debug)]
pub(crate) struct Resumed {
    pub(crate) session: SessionId,
    pub(crate) parked: Parked,
}

/// Why a resume was refused: the token names no session this node holds
/// (wrong, used or expired; the client is never told which), or the
/// connection does not match its [`ResumeKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no session to resume")]
pub(crate) struct ResumeRefused;

/// The answer to a resume, once the driver can give it.
pub(crate) type ResumeReply = oneshot::Sender<Result<Resumed, ResumeRefused>>;

/// How long sessions are held and how much is queued for them.
#[derive(Clone, Copy, Debug)]
pub struct ResumeSettings {
    /// `--resume-window`.
    pub window: Duration,
    /// `--resume-buffer`: events queued for one held session, at most.
    pub buffer: usize,
}

impl Default for ResumeSettings {
    fn default() -> Self {
        Self { window: Duration::from_secs(30), buffer: 256 }
    }
}

/// Why a held session ended without a resume, the `cause` label of
/// `switchboard_held_sessions_expired_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldEnd {
    /// The resume window passed.
    Window,
    /// More events came than the resume buffer holds.
    Buffer,
}

/// Who may take a session up: a connection of the same kind, and, when the
/// server checks access tokens, with a token of the same subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResumeKey {
    /// The connection task's codec type: a chatroulette token does not
    /// resume at `/ws/calling`.
    pub(crate) kind: TypeId,
    /// The access token's `sub`, if the server checks tokens: a resume is a
    /// bearer secret, but another user's access token does not carry one
    /// user's session on.
    pub(crate) subject: Option<UserId>,
}

/// One resumable session.
struct Record {
    token: Token,
    key: ResumeKey,
    state: State,
}

enum State {
    /// A connection serves it.
    Attached,
    /// Its connection dropped; nothing serves it until `until`.
    Held { until: Instant, parked: Parked, queued: usize },
    /// A new connection resumed it while its old one was still up: the old
    /// one was told to give it up, and this waits for its codec and queue.
    /// The token it replaced comes back should the old one not be told.
    TakingOver(ResumeReply, Token),
}

/// What [`Resumes::resume`] did.
pub(super) enum Resuming {
    /// The held session went to the resuming connection.
    HandedOver(SessionId),
    /// Its connection is up: it must be told to let go (the driver
    /// signals it); the answer waits for [`Resumes::hold`].
    TakeOver(SessionId),
    /// Nothing changed hands: the token resumes nothing (the resume was
    /// refused), or the resuming connection was gone already (the session
    /// stays held).
    Nothing,
}

/// What [`Resumes::hold`] did.
pub(super) enum Holding {
    /// The session waits for a resume.
    Held,
    /// A resume was waiting for it: it went to the new connection.
    HandedOver,
}

/// What happens to an event for a session ([`Resumes::queue`]).
pub(super) enum Queueing {
    /// The session is not held: deliver as usual.
    Attached,
    /// Held, and the event fits its buffer.
    Held,
    /// Held, and the buffer is full: the session ends.
    Overflow,
}

/// Every resumable session of this node, by session and by token.
pub(super) struct Resumes {
    settings: ResumeSettings,
    records: SessionMap<Record>,
    /// Keyed by the token itself with std's keyed hash: a client cannot pick
    /// tokens that collide, and a lookup does not compare secrets byte by
    /// byte against every record.
    tokens: HashMap<Token, SessionId>,
    /// Held sessions by when their window ends.
    deadlines: BTreeSet<(Instant, SessionId)>,
}

impl Resumes {
    pub(super) fn new(settings: ResumeSettings) -> Self {
        Self { settings, records: SessionMap::default(), tokens: HashMap::new(), deadlines: BTreeSet::new() }
    }

    /// A session opened with `resume=1` (or resumed): `token` resumes it.
    pub(super) fn open(&mut self, session: SessionId, token: Token, key: ResumeKey) {
        self.tokens.insert(token, session);
        self.records.insert(session, Record { token, key, state: State::Attached });
    }

    /// Sessions held now.
    pub(super) fn held(&self) -> usize {
        self.deadlines.len()
    }

    /// The connection of `session` dropped, or let go for a resume: park
    /// its state until a resume, or hand it to the resume waiting for it.
    /// `Err` gives `parked` back when the session is not resumable (or is
    /// gone): the caller closes it.
    pub(super) fn hold(&mut self, session: SessionId, parked: Parked, now: Instant) -> Result<Holding, Parked> {
        let Some(record) = self.records.get_mut(&session) else { return Err(parked) };
        match std::mem::replace(&mut record.state, State::Attached) {
            State::TakingOver(reply, _) => return Ok(self.hand_over(session, parked, reply, now)),
            State::Attached => self.park(session, parked, now),
            State::Held { until, .. } => {
                self.deadlines.remove(&(until, session));
                self.park(session, parked, now);
            }
        }
        Ok(Holding::Held)
    }

    /// The old connection could not be asked to let go: the resume waiting
    /// for it is refused, and the session stays with it.
    pub(super) fn refuse_take_over(&mut self, session: SessionId) {
        let Some(record) = self.records.get_mut(&session) else { return };
        if let State::TakingOver(reply, previous) = std::mem::replace(&mut record.state, State::Attached) {
            // The client never got the new token: the old one stays good.
            self.tokens.remove(&record.token);
            self.tokens.insert(previous, session);
            record.token = previous;
            let _ = reply.send(Err(ResumeRefused));
        }
    }

    /// Hands `parked` to the connection waiting on `reply`. One that gave up
    /// waiting leaves the session held, as if its old connection had
    /// dropped.
    fn hand_over(&mut self, session: SessionId, parked: Parked, reply: ResumeReply, now: Instant) -> Holding {
        parked.events.reattach();
        match reply.send(Ok(Resumed { session, parked })) {
            Ok(()) => Holding::HandedOver,
            Err(unsent) => {
                if let Ok(Resumed { parked, .. }) = unsent {
                    self.park(session, parked, now);
                }
                Holding::Held
            }
        }
    }

    fn park(&mut self, session: SessionId, parked: Parked, now: Instant) {
        let until = now + self.settings.window;
        if let Some(record) = self.records.get_mut(&session) {
            record.state = State::Held { until, parked, queued: 0 };
            self.deadlines.insert((until, session));
        }
    }

    /// A client shows `token` on a connection that matches `key`: the
    /// session it names, if held, goes to it through `reply` at once, and
    /// `fresh` replaces the token (single use). A session whose connection
    /// is still up is taken over. Anything else is refused through `reply`.
    pub(super) fn resume(
        &mut self,
        (token, fresh): (Token, Token),
        key: &ResumeKey,
        reply: ResumeReply,
        now: Instant,
    ) -> Resuming {
        let session = self.tokens.get(&token).copied();
        let Some((session, record)) = session.and_then(|session| Some((session, self.records.get_mut(&session)?)))
        else {
            let _ = reply.send(Err(ResumeRefused));
            return Resuming::Nothing;
        };
        if record.key != *key || matches!(record.state, State::TakingOver(..)) {
            let _ = reply.send(Err(ResumeRefused));
            return Resuming::Nothing;
        }
        self.tokens.remove(&token);
        self.tokens.insert(fresh, session);
        record.token = fresh;
        match std::mem::replace(&mut record.state, State::Attached) {
            State::Held { until, parked, .. } => {
                self.deadlines.remove(&(until, session));
                match self.hand_over(session, parked, reply, now) {
                    Holding::HandedOver => Resuming::HandedOver(session),
                    Holding::Held => Resuming::Nothing,
                }
            }
            State::Attached => {
                record.state = State::TakingOver(reply, token);
                Resuming::TakeOver(session)
            }
            State::TakingOver(..) => unreachable!("refused above"),
        }
    }

    /// An event for `session` is about to be queued.
    pub(super) fn queue(&mut self, session: SessionId) -> Queueing {
        let Some(Record { state: State::Held { queued, .. }, .. }) = self.records.get_mut(&session) else {
            return Queueing::Attached;
        };
        if *queued >= self.settings.buffer {
            return Queueing::Overflow;
        }
        *queued += 1;
        Queueing::Held
    }

    /// The session is gone: its token resumes nothing any more, and a
    /// resume waiting for it is refused.
    pub(super) fn forget(&mut self, session: SessionId) {
        let Some(record) = self.records.remove(&session) else { return };
        self.tokens.remove(&record.token);
        match record.state {
            State::Held { until, .. } => {
                self.deadlines.remove(&(until, session));
            }
            State::TakingOver(reply, _) => {
                let _ = reply.send(Err(ResumeRefused));
            }
            State::Attached => {}
        }
    }

    /// When the next held session's window ends.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(until, _)| *until)
    }

    /// A held session whose window has passed by `now`, if any.
    pub(super) fn expired(&self, now: Instant) -> Option<SessionId> {
        self.deadlines.first().filter(|(until, _)| *until <= now).map(|(_, session)| *session)
    }
}
