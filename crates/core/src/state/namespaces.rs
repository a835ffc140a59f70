//! Namespaces (calling-signaling's `ns_*`): directories of users and rooms
//! that subscribers are told about, with every back-index of them.

use std::collections::HashMap;
use std::hash::Hash;

use crate::{InvariantError, NamespaceId, RoomId, SessionId, UserId};

/// One directory. A namespace exists while it has a subscriber, a user or a
/// room: every edit that empties it deletes it.
#[derive(Debug, Default)]
struct Namespace {
    subscribers: Vec<SessionId>,
    users: Vec<UserId>,
    rooms: Vec<RoomId>,
}

impl Namespace {
    fn is_empty(&self) -> bool {
        self.subscribers.is_empty() && self.users.is_empty() && self.rooms.is_empty()
    }
}

/// Every namespace, and for each session, user and room the namespaces it
/// is in. Both sides of each relation change only here, together.
#[derive(Debug, Default)]
pub(crate) struct Namespaces {
    namespaces: HashMap<NamespaceId, Namespace>,
    subscriptions: HashMap<SessionId, Vec<NamespaceId>>,
    of_user: HashMap<UserId, Vec<NamespaceId>>,
    of_room: HashMap<RoomId, Vec<NamespaceId>>,
}

/// Which list of a namespace a relation is kept in.
trait Entry: Clone + Eq + Hash {
    fn list(namespace: &mut Namespace) -> &mut Vec<Self>;
    fn index(namespaces: &mut Namespaces) -> &mut HashMap<Self, Vec<NamespaceId>>;
}

impl Entry for SessionId {
    fn list(namespace: &mut Namespace) -> &mut Vec<Self> {
        &mut namespace.subscribers
    }
    fn index(namespaces: &mut Namespaces) -> &mut HashMap<Self, Vec<NamespaceId>> {
        &mut namespaces.subscriptions
    }
}

impl Entry for UserId {
    fn list(namespace: &mut Namespace) -> &mut Vec<Self> {
        &mut namespace.users
    }
    fn index(namespaces: &mut Namespaces) -> &mut HashMap<Self, Vec<NamespaceId>> {
        &mut namespaces.of_user
    }
}

impl Entry for RoomId {
    fn list(namespace: &mut Namespace) -> &mut Vec<Self> {
        &mut namespace.rooms
    }
    fn index(namespaces: &mut Namespaces) -> &mut HashMap<Self, Vec<NamespaceId>> {
        &mut namespaces.of_room
    }
}

fn listed<'a, K: Eq + Hash>(lists: &'a HashMap<K, Vec<NamespaceId>>, key: &K) -> &'a [NamespaceId] {
    lists.get(key).map(Vec::as_slice).unwrap_or_default()
}

impl Namespaces {
    /// Adds `entry` to `namespace`, creating it; `false` if it was there.
    fn add<E: Entry>(&mut self, namespace: &NamespaceId, entry: E) -> bool {
        let list = E::list(self.namespaces.entry(namespace.clone()).or_default());
        if list.contains(&entry) {
            return false;
        }
        list.push(entry.clone());
        E::index(self).entry(entry).or_default().push(namespace.clone());
        true
    }

    /// Takes `entry` out of `namespace`, deleting an emptied namespace;
    /// `false` if it was not there.
    fn remove<E: Entry>(&mut self, namespace: &NamespaceId, entry: &E) -> bool {
        let Some(directory) = self.namespaces.get_mut(namespace) else { return false };
        let list = E::list(directory);
        let Some(at) = list.iter().position(|e| e == entry) else { return false };
        list.remove(at);
        if directory.is_empty() {
            self.namespaces.remove(namespace);
        }
        let index = E::index(self);
        if let Some(namespaces) = index.get_mut(entry) {
            namespaces.retain(|ns| ns != namespace);
            if namespaces.is_empty() {
                index.remove(entry);
            }
        }
        true
    }

    pub(crate) fn exists(&self, namespace: &NamespaceId) -> bool {
        self.namespaces.contains_key(namespace)
    }

    /// Subscribes `session`; `false` if it already was.
    pub(crate) fn subscribe(&mut self, namespace: &NamespaceId, session: SessionId) -> bool {
        self.add(namespace, session)
    }

    /// Ends a subscription; `false` if there was none.
    pub(crate) fn unsubscribe(&mut self, namespace: &NamespaceId, session: SessionId) -> bool {
        self.remove(namespace, &session)
    }

    /// Lists `user`; `false` if it already was.
    pub(crate) fn list_user(&mut self, namespace: &NamespaceId, user: UserId) -> bool {
        self.add(namespace, user)
    }

    /// Unlists `user`; `false` if it was not listed.
    pub(crate) fn unlist_user(&mut self, namespace: &NamespaceId, user: &UserId) -> bool {
        self.remove(namespace, user)
    }

    /// Lists `room`; `false` if it already was.
    pub(crate) fn list_room(&mut self, namespace: &NamespaceId, room: RoomId) -> bool {
        self.add(namespace, room)
    }

    /// Unlists `room`; `false` if it was not listed.
    pub(crate) fn unlist_room(&mut self, namespace: &NamespaceId, room: &RoomId) -> bool {
        self.remove(namespace, room)
    }

    pub(crate) fn subscribers(&self, namespace: &NamespaceId) -> &[SessionId] {
        self.namespaces.get(namespace).map(|d| d.subscribers.as_slice()).unwrap_or_default()
    }

    pub(crate) fn users(&self, namespace: &NamespaceId) -> &[UserId] {
        self.namespaces.get(namespace).map(|d| d.users.as_slice()).unwrap_or_default()
    }

    pub(crate) fn rooms(&self, namespace: &NamespaceId) -> &[RoomId] {
        self.namespaces.get(namespace).map(|d| d.rooms.as_slice()).unwrap_or_default()
    }

    /// The namespaces `session` subscribed to.
    pub(crate) fn subscriptions_of(&self, session: SessionId) -> &[NamespaceId] {
        listed(&self.subscriptions, &session)
    }

    /// The namespaces `user` is listed in.
    pub(crate) fn of_user(&self, user: &UserId) -> &[NamespaceId] {
        listed(&self.of_user, user)
    }

    /// The namespaces `room` is listed in.
    pub(crate) fn of_room(&self, room: &RoomId) -> &[NamespaceId] {
        listed(&self.of_room, room)
    }

    pub(crate) fn len(&self) -> usize {
        self.namespaces.len()
    }

    /// Sessions that subscribed to some namespace.
    pub(crate) fn subscribed_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.subscriptions.keys().copied()
    }

    /// Users listed in some namespace.
    pub(crate) fn listed_users(&self) -> impl Iterator<Item = &UserId> {
        self.of_user.keys()
    }

    /// Rooms listed in some namespace.
    pub(crate) fn listed_rooms(&self) -> impl Iterator<Item = &RoomId> {
        self.of_room.keys()
    }

    /// No empty namespace is kept; each relation agrees both ways, once.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        if let Some(namespace) = self.namespaces.iter().find_map(|(id, d)| d.is_empty().then_some(id)) {
            return Err(InvariantError::Namespace(format!("namespace {namespace:?} is empty but kept")));
        }
        check_relation(&self.namespaces, |d| &d.subscribers, &self.subscriptions, InvariantError::Subscription)?;
        check_relation(&self.namespaces, |d| &d.users, &self.of_user, InvariantError::NamespaceUser)?;
        check_relation(&self.namespaces, |d| &d.rooms, &self.of_room, InvariantError::NamespaceRoom)
    }

    /// Test-only drift: the namespace forgets its rooms, which still list it.
    #[cfg(test)]
    pub(crate) fn break_rooms(&mut self, namespace: &NamespaceId) {
        if let Some(directory) = self.namespaces.get_mut(namespace) {
            directory.rooms.clear();
        }
    }
}

/// One relation kept twice: each namespace's list, and the index of the
/// namespaces each entry is in. Each side holds each pair once, and the
/// other side holds it too.
fn check_relation<K: Eq + Hash + std::fmt::Debug>(
    namespaces: &HashMap<NamespaceId, Namespace>,
    list: impl Fn(&Namespace) -> &Vec<K>,
    index: &HashMap<K, Vec<NamespaceId>>,
    error: fn(String) -> InvariantError,
) -> Result<(), InvariantError> {
    for (namespace, directory) in namespaces {
        if let Some(entry) = super::duplicate(list(directory)) {
            return Err(error(format!("{namespace:?} lists {entry:?} twice")));
        }
        if let Some(entry) = list(directory).iter().find(|entry| !listed(index, entry).contains(namespace)) {
            return Err(error(format!("{namespace:?} lists {entry:?}, which does not list it")));
        }
    }
    for (entry, listed_in) in index {
        if listed_in.is_empty() {
            return Err(error(format!("{entry:?} keeps an empty list of namespaces")));
        }
        if let Some(namespace) = super::duplicate(listed_in) {
            return Err(error(format!("{entry:?} lists {namespace:?} twice")));
        }
        for namespace in listed_in {
            if !namespaces.get(namespace).is_some_and(|directory| list(directory).contains(entry)) {
                return Err(error(format!(
                    "{entry:?} lists {namespace:?}, which {}",
                    if namespaces.contains_key(namespace) { "does not list it" } else { "does not exist" }
                )));
            }
        }
    }
    Ok(())
}
