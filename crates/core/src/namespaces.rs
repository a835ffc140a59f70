//! Namespaces: directories of users and rooms that subscribers are told
//! about (calling-signaling's `ns_*`). A namespace exists while it has a
//! subscriber, a user or a room.

use crate::state::RoomKind;
use crate::{CommandError, Core, Event, NamespaceEvent, NamespaceId, Reply, RoomId, SessionId, UserId};

impl Core {
    pub(crate) fn subscribe(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        self.registered(session)?;
        let subscribed = self.namespaces.subscriptions_of(session).len();
        if subscribed >= self.config.namespaces_per_entry && !self.namespaces.subscribers(&namespace).contains(&session)
        {
            return Err(CommandError::TooManyNamespaces(self.config.namespaces_per_entry));
        }
        if !self.namespaces.subscribe(&namespace, session) {
            return Err(CommandError::AlreadySubscribed(namespace));
        }
        let users = self.namespaces.users(&namespace).iter().map(|user| (user.clone(), self.status_of(user).cloned()));
        let users = users.collect();
        let rooms = self.namespaces.rooms(&namespace).iter().map(|room| self.room_view(room, None)).collect();
        Ok(Reply::Subscribed { users, rooms })
    }

    pub(crate) fn unsubscribe(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        self.registered(session)?;
        self.check_namespace(&namespace)?;
        if !self.namespaces.unsubscribe(&namespace, session) {
            return Err(CommandError::NotSubscribed(namespace));
        }
        Ok(Reply::Done)
    }

    pub(crate) fn register_user(&mut self, session: SessionId, namespace: NamespaceId) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        let listed = self.namespaces.of_user(&user).len();
        if listed >= self.config.namespaces_per_entry && !self.namespaces.users(&namespace).contains(&user) {
            return Err(CommandError::TooManyNamespaces(self.config.namespaces_per_entry));
        }
        if !self.namespaces.list_user(&namespace, user.clone()) {
            return Err(CommandError::AlreadyInNamespace(namespace));
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
        self.check_namespace(&namespace)?;
        if !self.namespaces.users(&namespace).contains(&user) {
            return Err(CommandError::NotInNamespace(namespace));
        }
        self.unlist_user(&user, &namespace);
        Ok(Reply::Done)
    }

    pub(crate) fn register_room(&mut self, namespace: NamespaceId, room: RoomId) -> Result<Reply, CommandError> {
        if self.rooms.kind(&room) != Some(RoomKind::Named) {
            return Err(CommandError::NoSuchRoom(room));
        }
        let listed = self.namespaces.of_room(&room).len();
        if listed >= self.config.namespaces_per_entry && !self.namespaces.rooms(&namespace).contains(&room) {
            return Err(CommandError::TooManyNamespaces(self.config.namespaces_per_entry));
        }
        if !self.namespaces.list_room(&namespace, room.clone()) {
            return Err(CommandError::RoomAlreadyInNamespace { namespace, room });
        }
        let view = self.room_view(&room, None);
        self.tell_namespace(&namespace, NamespaceEvent::RoomAdded { room: view });
        Ok(Reply::Done)
    }

    pub(crate) fn unregister_room(&mut self, namespace: NamespaceId, room: RoomId) -> Result<Reply, CommandError> {
        self.check_namespace(&namespace)?;
        if !self.rooms.contains(&room) {
            return Err(CommandError::NoSuchRoom(room));
        }
        if !self.namespaces.rooms(&namespace).contains(&room) {
            return Err(CommandError::RoomNotInNamespace { namespace, room });
        }
        self.tell_namespace(&namespace, NamespaceEvent::RoomRemoved { room: room.clone() });
        self.namespaces.unlist_room(&namespace, &room);
        Ok(Reply::Done)
    }

    fn check_namespace(&self, namespace: &NamespaceId) -> Result<(), CommandError> {
        if self.namespaces.exists(namespace) { Ok(()) } else { Err(CommandError::NoSuchNamespace(namespace.clone())) }
    }

    /// Takes a user out of a namespace, telling the subscribers first.
    pub(crate) fn unlist_user(&mut self, user: &UserId, namespace: &NamespaceId) {
        self.tell_namespace(namespace, NamespaceEvent::UserRemoved { user: user.clone() });
        self.namespaces.unlist_user(namespace, user);
    }

    /// Takes an emptied room out of every namespace it is listed in.
    pub(crate) fn unlist_room(&mut self, room: &RoomId) {
        for namespace in self.namespaces.of_room(room).to_vec() {
            self.tell_namespace(&namespace, NamespaceEvent::RoomRemoved { room: room.clone() });
            self.namespaces.unlist_room(&namespace, room);
        }
    }

    /// Sends an event to a namespace's subscribers.
    pub(crate) fn tell_namespace(&mut self, namespace: &NamespaceId, event: NamespaceEvent) {
        for session in self.namespaces.subscribers(namespace).to_vec() {
            self.emit(session, Event::Namespace { namespace: namespace.clone(), event: event.clone() });
        }
    }

    /// Sends an event about a room to the subscribers of every namespace the
    /// room is listed in.
    pub(crate) fn tell_namespaces_of_room(&mut self, room: &RoomId, event: impl Fn(RoomId) -> NamespaceEvent) {
        for namespace in self.namespaces.of_room(room).to_vec() {
            self.tell_namespace(&namespace, event(room.clone()));
        }
    }
}
