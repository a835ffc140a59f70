//! The parts of the core's state. Each part owns one kind of thing and
//! every index of the relations it keeps, with private fields behind narrow
//! methods, so that no handler can change one side of a relation and forget
//! the other:
//!
//! - [`Sessions`]: open connections and their peer ids;
//! - [`Directory`]: users, their sessions (devices) and presence status;
//! - [`Rooms`]: rooms and their members, and each session's rooms;
//! - [`Invites`]: ringing calls and invites, by sender, callee and room;
//! - [`AnsweredCalls`]: answered 1:1 calls in progress, for their end notes;
//! - [`Namespaces`]: directories of users and rooms, and their subscribers;
//! - [`Mailboxes`]: messages held for offline users;
//! - [`Deadlines`]: ring timeouts, empty-room deletions, mail expiry;
//! - [`Throttles`]: how fast each user rings and each room is invited into.
//!
//! Each part checks its own indexes ([`Rooms::check`], …); what ties parts
//! together (a member is a live session, an invite rings an online user) is
//! checked in `invariants.rs`.

mod calls;
mod deadlines;
mod directory;
mod invites;
mod mailboxes;
mod namespaces;
mod rooms;
mod sessions;
mod throttles;

use std::collections::HashSet;
use std::hash::Hash;

pub(crate) use calls::{AnsweredCall, AnsweredCalls};
pub(crate) use deadlines::{Deadline, Deadlines};
pub(crate) use directory::Directory;
pub(crate) use invites::{Invite, Invites};
pub(crate) use mailboxes::Mailboxes;
pub(crate) use namespaces::Namespaces;
pub(crate) use rooms::{Room, RoomKind, Rooms};
pub(crate) use sessions::Sessions;
pub use throttles::Rate;
pub(crate) use throttles::Throttles;

/// The first item that occurs twice.
pub(crate) fn duplicate<'a, T: Eq + Hash + 'a>(items: impl IntoIterator<Item = &'a T>) -> Option<&'a T> {
    let mut seen = HashSet::new();
    items.into_iter().find(|&item| !seen.insert(item))
}
