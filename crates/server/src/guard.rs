//! The one authorization check of every dialect, between a connection's
//! codec and the core.
//!
//! A codec turns frames into core commands without knowing who may do what;
//! the core takes any command from any session. In between, each command a
//! codec emits is held against the connection's [`Grants`]:
//!
//! - a registration under a name: it must be `sub`
//!   ([`CommandError::NameNotGranted`] otherwise);
//! - a registration that names none (a chatroulette `CONNECT` without a
//!   name; calling's and tringtring's own, which draw one): it gets `sub`;
//! - creating, joining or inviting into a named room
//!   ([`Command::CreateRoom`], [`Command::Join`], [`Command::Invite`]):
//!   with a `rooms` claim, the room must be listed
//!   ([`CommandError::RoomNotGranted`] otherwise).
//!
//! A refused command never reaches the core. Its codec is handed the reply
//! the core would have sent, [`Event::Reply`] with the error, so that each
//! dialect refuses in its own words (chatroulette's `USERNAME_TAKEN`,
//! calling's `answer` with an `error`, socket.io's `error` event, ecall's
//! `error` frame), and the connection goes on. Accepting an invite is not
//! checked: an invite comes from someone allowed into the room (their own
//! grants were checked when they sent it).

use switchboard_core::{Command, CommandError, Event};
use switchboard_dialects::codec::{Codec, Effect};

use crate::auth::Grants;

/// Checks one turn's effects against `grants`, in order: a permitted
/// command goes on (rewritten if it registers without a name), a refused
/// one is replaced by what its codec answers to the refusal. Without grants
/// (the server runs open), the effects go on as they are.
pub(crate) fn authorize<C: Codec>(
    grants: Option<&Grants>,
    codec: &mut C,
    effects: Vec<Effect<C::Outbound>>,
) -> Vec<Effect<C::Outbound>> {
    let Some(grants) = grants else { return effects };
    answer_instead(codec, effects, |command| check(grants, command))
}

/// Runs every command of `effects` through `decide`, in order: what it
/// passes goes on to the core, what it refuses is replaced by the codec's
/// answer to [`Event::Reply`] with the error, exactly as if the core had
/// refused it. What the codec answered by itself goes on. The one way a
/// check between codec and core refuses (tokens here, the message rate in
/// `rate.rs`).
pub(crate) fn answer_instead<C: Codec>(
    codec: &mut C,
    effects: Vec<Effect<C::Outbound>>,
    mut decide: impl FnMut(Command) -> Result<Command, CommandError>,
) -> Vec<Effect<C::Outbound>> {
    if !effects.iter().any(|effect| matches!(effect, Effect::Command(..))) {
        return effects;
    }
    let mut checked = Vec::with_capacity(effects.len());
    for effect in effects {
        match effect {
            Effect::Command(request, command) => match decide(command) {
                Ok(command) => checked.push(Effect::Command(request, command)),
                Err(error) => codec.on_core(&Event::Reply { tag: request.tag, result: Err(error) }, &mut checked),
            },
            other => checked.push(other),
        }
    }
    checked
}

/// The command as `grants` permit it, or why they do not.
pub(crate) fn check(grants: &Grants, command: Command) -> Result<Command, CommandError> {
    match command {
        Command::Register { user: None, shared } => Ok(Command::Register { user: Some(grants.sub.clone()), shared }),
        Command::Register { user: Some(user), .. } if user != grants.sub => Err(CommandError::NameNotGranted(user)),
        Command::CreateRoom { ref room, .. } | Command::Invite { ref room, .. } if !grants.permits_room(Some(room)) => {
            Err(CommandError::RoomNotGranted(Some(room.clone())))
        }
        Command::Join { ref room, .. } if !grants.permits_room(room.as_ref()) => {
            Err(CommandError::RoomNotGranted(room.clone()))
        }
        command => Ok(command),
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::{Payload, Request, RoomId, UserId};
    use switchboard_dialects::chatroulette::Chatroulette;
    use switchboard_dialects::codec::TextFrame;

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn room(name: &str) -> RoomId {
        RoomId::parse(name).unwrap()
    }

    fn alice(rooms: Option<&[&str]>) -> Grants {
        Grants { sub: user("alice"), rooms: rooms.map(|rooms| rooms.iter().map(|name| room(name)).collect()) }
    }

    #[test]
    fn registrations_are_held_to_sub() {
        let grants = alice(None);
        let named = check(&grants, Command::Register { user: Some(user("alice")), shared: false });
        assert!(matches!(named, Ok(Command::Register { user: Some(u), shared: false }) if u == user("alice")));
        let nameless = check(&grants, Command::Register { user: None, shared: true });
        assert!(matches!(nameless, Ok(Command::Register { user: Some(u), shared: true }) if u == user("alice")));
        let other = check(&grants, Command::Register { user: Some(user("bob")), shared: true });
        assert_eq!(other.err(), Some(CommandError::NameNotGranted(user("bob"))));
        // NFKC-equal names are the same name: fullwidth "ａｌｉｃｅ".
        let fullwidth = user("\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}");
        assert!(check(&grants, Command::Register { user: Some(fullwidth), shared: false }).is_ok());
    }

    #[test]
    fn a_rooms_claim_limits_creating_joining_and_inviting() {
        let grants = alice(Some(&["team"]));
        let join = |name: Option<&str>| Command::Join { room: name.map(room), create: Some(2), status: None };
        assert!(check(&grants, join(Some("team"))).is_ok());
        assert_eq!(check(&grants, join(Some("other"))).err(), Some(CommandError::RoomNotGranted(Some(room("other")))));
        assert_eq!(check(&grants, join(None)).err(), Some(CommandError::RoomNotGranted(None)));
        let create = Command::CreateRoom { room: room("other"), capacity: 2 };
        assert!(check(&grants, create).is_err());
        let invite = |name| Command::Invite { room: room(name), to: user("bob"), data: Payload::null() };
        assert!(check(&grants, invite("team")).is_ok());
        assert!(check(&grants, invite("other")).is_err());
        // No claim: every room; and calls are not rooms the claim names.
        assert!(check(&alice(None), join(None)).is_ok());
        assert!(check(&grants, Command::Call { to: user("bob"), data: Payload::null() }).is_ok());
    }

    #[test]
    fn a_refusal_is_answered_by_the_codec_and_never_reaches_the_core() {
        let mut codec = Chatroulette::new();
        let mut effects = Vec::new();
        codec.on_client(TextFrame::Text(r#"{"type":"c","payload":"bob"}"#), &mut effects);
        let effects = authorize(Some(&alice(None)), &mut codec, effects);
        match effects.as_slice() {
            [Effect::Send(frame)] => assert_eq!(frame, r#"{"type":"ut"}"#),
            other => panic!("{other:?}"),
        }
        // Open: what the codec said goes on untouched.
        let mut effects = Vec::new();
        codec.on_client(TextFrame::Text(r#"{"type":"c","payload":"bob"}"#), &mut effects);
        let effects = authorize(None, &mut codec, effects);
        assert!(matches!(effects.as_slice(), [Effect::Command(Request { reply_on_success: true, .. }, _)]));
    }
}
