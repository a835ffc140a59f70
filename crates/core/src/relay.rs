//! Relaying signals (SDP, ICE candidates, custom events) between parties.
//! The rule: only the two parties of a ringing or accepted call, or members
//! of the same room, may reach each other. `from` is always the sender's
//! registered name, never what the client claims.

use crate::{CommandError, Core, Event, RelayTarget, Reply, SessionId, Signal};

impl Core {
    pub(crate) fn relay(&mut self, session: SessionId, to: RelayTarget, signal: Signal) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        match to {
            RelayTarget::CallPeer(peer) => {
                if let Some((_, other)) = self.accepted_call_with(session, &peer) {
                    self.emit(other, Event::Relayed { from, signal });
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    let caller = self.invites[&invite].from_session;
                    if caller == session {
                        self.emit_to_user(&peer, None, Event::Relayed { from, signal });
                    } else {
                        self.emit(caller, Event::Relayed { from, signal });
                    }
                } else {
                    return Err(CommandError::NoCallWith(peer));
                }
            }
            RelayTarget::RoomMember { room, user } => {
                let members = match self.rooms.get(&room) {
                    Some(state) if state.members.contains(&session) => state.members.clone(),
                    _ => return Err(CommandError::NotInRoom(room)),
                };
                let targets: Vec<SessionId> =
                    members.into_iter().filter(|&s| s != session && self.user_of(s) == Some(&user)).collect();
                if targets.is_empty() {
                    return Err(CommandError::PeerNotInRoom { room, user });
                }
                for target in targets {
                    self.emit(target, Event::Relayed { from: from.clone(), signal: signal.clone() });
                }
            }
        }
        Ok(Reply::Done)
    }
}
