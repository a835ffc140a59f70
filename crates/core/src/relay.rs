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
                if let Some((room, other)) = self.accepted_call_with(session, &peer) {
                    self.emit(other, Event::Relayed { room, from, signal });
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    let (caller, room) = (self.invites[&invite].from_session, self.invites[&invite].room.clone());
                    if caller == session {
                        self.emit_to_user(&peer, None, Event::Relayed { room, from, signal });
                    } else {
                        self.emit(caller, Event::Relayed { room, from, signal });
                    }
                } else {
                    return Err(CommandError::NoCallWith(peer));
                }
            }
            RelayTarget::RoomMember { room, user } => {
                self.check_member(session, &room)?;
                let state = &self.rooms[&room];
                let targets: Vec<SessionId> = state
                    .members
                    .iter()
                    .map(|member| member.session)
                    .filter(|&s| s != session && self.user_of(s) == Some(&user))
                    .collect();
                if targets.is_empty() {
                    if state.invited.iter().any(|id| self.invites[id].to == user) {
                        return Err(CommandError::PeerPending(user));
                    }
                    return Err(CommandError::PeerNotInRoom { room, user });
                }
                for target in targets {
                    self.emit(
                        target,
                        Event::Relayed { room: room.clone(), from: from.clone(), signal: signal.clone() },
                    );
                }
            }
        }
        Ok(Reply::Done)
    }
}
