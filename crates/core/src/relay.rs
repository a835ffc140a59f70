//! Relaying signals (SDP, ICE candidates, custom events) between parties.
//! The rule: only the two parties of a ringing or accepted call, or members
//! of the same room, may reach each other. `from` is always the sender's
//! registered name, never what the client claims.

use crate::{CommandError, Core, Event, RelayTarget, Reply, RoomId, SessionId, Signal};

impl Core {
    pub(crate) fn relay(&mut self, session: SessionId, to: RelayTarget, signal: Signal) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        let from_peer = self.peer_id_of(session);
        let relayed = |room: RoomId, signal: Signal| Event::Relayed {
            room,
            from: from.clone(),
            from_session: session,
            from_peer: from_peer.clone(),
            signal,
        };
        match to {
            RelayTarget::CallPeer(peer) => {
                if let Some((room, other)) = self.accepted_call_with(session, &peer) {
                    self.emit(other, relayed(room, signal));
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    let (caller, room) = (self.invites[&invite].from_session, self.invites[&invite].room.clone());
                    if caller == session {
                        self.emit_to_user(&peer, None, relayed(room, signal));
                    } else {
                        self.emit(caller, relayed(room, signal));
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
                    self.emit(target, relayed(room.clone(), signal.clone()));
                }
            }
            RelayTarget::Peer { room, peer } => {
                let target = self.peer_ids.get(&peer).copied();
                self.relay_to_member(session, &room, target, || CommandError::UnknownPeer(peer.clone()))?;
                self.emit(target.expect("checked"), relayed(room, signal));
            }
            RelayTarget::Session { room, session: target } => {
                let unknown = || CommandError::UnknownPeer(target.0.to_string().into());
                self.relay_to_member(session, &room, Some(target), unknown)?;
                self.emit(target, relayed(room, signal));
            }
        }
        Ok(Reply::Done)
    }

    /// Checks that the sender and the named target are members of `room`.
    fn relay_to_member(
        &self,
        session: SessionId,
        room: &RoomId,
        target: Option<SessionId>,
        unknown: impl FnOnce() -> CommandError,
    ) -> Result<(), CommandError> {
        self.check_member(session, room)?;
        match target {
            Some(target) if target != session && self.rooms[room].has_member(target) => Ok(()),
            _ => Err(unknown()),
        }
    }
}
