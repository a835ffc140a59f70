//! Namespaces: directories of users and rooms that subscribers are told
//! about (calling-signaling's `ns_*`). A namespace exists while it has a
//! subscriber, a user or a room.

use crate::core::{Namespace, RoomKind};
use crate::{CommandError, Core, Event, NamespaceEvent, NamespaceId, Reply, RoomId, SessionId};

impl Core {
    pub(crate) fn subscribe(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        self.registered(session)?;
        let directory = self.namespaces.entry(namespace.clone()).or_default();
        if directory.subscribers.contains(&session) {
            return Err(CommandError::AlreadySubscribed(namespace));
        }
        directory.subscribers.push(session);
        let (users, rooms) = (directory.users.clone(), directory.rooms.clone());
        if let Some(state) = self.sessions.get_mut(&session) {
            state.subscriptions.push(namespace);
        }
        let users = users.into_iter().map(|user| {
            let status = self.status_of(&user).cloned();
            (user, status)
        });
        let users = users.collect();
        let rooms = rooms.iter().map(|room| self.room_view(room, None)).collect();
        Ok(Reply::Subscribed { users, rooms })
    }

    pub(crate) fn unsubscribe(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        self.registered(session)?;
        let directory = self.directory(&namespace)?;
        if !directory.subscribers.contains(&session) {
            return Err(CommandError::NotSubscribed(namespace));
        }
        self.drop_subscriber(session, &namespace);
        Ok(Reply::Done)
    }

    pub(crate) fn register_user(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        let directory = self.namespaces.entry(namespace.clone()).or_default();
        if directory.users.contains(&user) {
            return Err(CommandError::AlreadyInNamespace(namespace));
        }
        directory.users.push(user.clone());
        if let Some(state) = self.users.get_mut(&user) {
            state.namespaces.push(namespace.clone());
        }
        let status = self.status_of(&user).cloned();
        self.tell_namespace(&namespace, NamespaceEvent::UserAdded { user, status });
        Ok(Reply::Done)
    }

    pub(crate) fn unregister_user(
        &mut self,
        session: SessionId,
        namespace: NamespaceId,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        if !self.directory(&namespace)?.users.contains(&user) {
            return Err(CommandError::NotInNamespace(namespace));
        }
        self.unlist_user(&user, &namespace);
        Ok(Reply::Done)
    }

    pub(crate) fn register_room(&mut self, namespace: NamespaceId, room: RoomId) -> Result<Reply, CommandError> {
        if !self.rooms.get(&room).is_some_and(|state| state.kind == RoomKind::Named) {
            return Err(CommandError::NoSuchRoom(room));
        }
        let directory = self.namespaces.entry(namespace.clone()).or_default();
        if directory.rooms.contains(&room) {
            return Err(CommandError::RoomAlreadyInNamespace { namespace, room });
        }
        directory.rooms.push(room.clone());
        if let Some(state) = self.rooms.get_mut(&room) {
            state.namespaces.push(namespace.clone());
        }
        let view = self.room_view(&room, None);
        self.tell_namespace(&namespace, NamespaceEvent::RoomAdded { room: view });
        Ok(Reply::Done)
    }

    pub(crate) fn unregister_room(&mut self, namespace: NamespaceId, room: RoomId) -> Result<Reply, CommandError> {
        let directory = self.directory(&namespace)?;
        if !self.rooms.contains_key(&room) {
            return Err(CommandError::NoSuchRoom(room));
        }
        if !directory.rooms.contains(&room) {
            return Err(CommandError::RoomNotInNamespace { namespace, room });
        }
        self.tell_namespace(&namespace, NamespaceEvent::RoomRemoved { room: room.clone() });
        if let Some(state) = self.rooms.get_mut(&room) {
            state.namespaces.retain(|ns| *ns != namespace);
        }
        self.edit_namespace(&namespace, |directory| directory.rooms.retain(|r| *r != room));
        Ok(Reply::Done)
    }

    fn directory(&self, namespace: &NamespaceId) -> Result<&Namespace, CommandError> {
        self.namespaces.get(namespace).ok_or_else(|| CommandError::NoSuchNamespace(namespace.clone()))
    }

    /// Changes a namespace, then deletes it if nothing is left in it.
    fn edit_namespace(&mut self, namespace: &NamespaceId, edit: impl FnOnce(&mut Namespace)) {
        if let Some(directory) = self.namespaces.get_mut(namespace) {
            edit(directory);
            if directory.is_empty() {
                self.namespaces.remove(namespace);
            }
        }
    }

    /// Ends one subscription.
    pub(crate) fn drop_subscriber(&mut self, session: SessionId, namespace: &NamespaceId) {
        self.edit_namespace(namespace, |directory| directory.subscribers.retain(|&s| s != session));
        if let Some(state) = self.sessions.get_mut(&session) {
            state.subscriptions.retain(|ns| ns != namespace);
        }
    }

    /// Takes a user out of a namespace and tells the subscribers.
    pub(crate) fn unlist_user(&mut self, user: &crate::UserId, namespace: &NamespaceId) {
        self.tell_namespace(namespace, NamespaceEvent::UserRemoved { user: user.clone() });
        self.edit_namespace(namespace, |directory| directory.users.retain(|u| u != user));
        if let Some(state) = self.users.get_mut(user) {
            state.namespaces.retain(|ns| ns != namespace);
        }
    }

    /// Takes an emptied room out of every namespace it is listed in.
    pub(crate) fn unlist_room(&mut self, room: &RoomId) {
        let listed = self.rooms.get_mut(room).map(|state| std::mem::take(&mut state.namespaces)).unwrap_or_default();
        for namespace in listed {
            self.tell_namespace(&namespace, NamespaceEvent::RoomRemoved { room: room.clone() });
            self.edit_namespace(&namespace, |directory| directory.rooms.retain(|r| r != room));
        }
    }

    /// Sends an event to a namespace's subscribers.
    pub(crate) fn tell_namespace(&mut self, namespace: &NamespaceId, event: NamespaceEvent) {
        let Some(directory) = self.namespaces.get(namespace) else { return };
        let subscribers = directory.subscribers.clone();
        for session in subscribers {
            self.emit(session, Event::Namespace { namespace: namespace.clone(), event: event.clone() });
        }
    }

    /// Sends an event about a room to the subscribers of every namespace the
    /// room is listed in.
    pub(crate) fn tell_namespaces_of_room(&mut self, room: &RoomId, event: impl Fn(RoomId) -> NamespaceEvent) {
        let listed = self.rooms.get(room).map(|state| state.namespaces.clone()).unwrap_or_default();
        for namespace in listed {
            self.tell_namespace(&namespace, event(room.clone()));
        }
    }
}
