//! Where a named room or a calling namespace lives: `sb:room:<room>` and
//! `sb:ns:<namespace>` hold the id of the node that holds it (LiveKit's
//! `room_node_map`), so that its capacity, its members and its directory
//! have one owner. A pin to a node that is not alive counts for nothing, so
//! a dead node's rooms can be made again elsewhere at once. Sessions of
//! other nodes act in a place through stand-ins there (`proxies.rs`).

use std::sync::LazyLock;

use redis::Script;
use switchboard_core::{Command, NamespaceId, RelayTarget, RoomId, RoomRef};

use super::{Cluster, NodeId};

/// Returns the live node a place is pinned to; with `ARGV[2] == '1'`, pins
/// an unpinned place (or one pinned to a dead node) to `ARGV[1]` first.
/// Returns `""` for an unpinned place not to be made.
static PIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holder = redis.call('GET', KEYS[1])
if holder and redis.call('EXISTS', 'sb:node:' .. holder) == 1 then return holder end
if ARGV[2] ~= '1' then return '' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return ARGV[1]
",
    )
});

/// Unpins a place this node pinned and no longer holds.
static UNPIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], KEYS[1])
return 0
",
    )
});

/// A room or a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    /// A named room.
    Room(RoomId),
    /// A calling namespace.
    Namespace(NamespaceId),
}

impl Place {
    fn key(&self) -> String {
        match self {
            Place::Room(room) => format!("sb:room:{room}"),
            Place::Namespace(namespace) => format!("sb:ns:{namespace}"),
        }
    }
}

/// The place a command acts on, and whether the command makes it when it
/// does not exist. `None` for commands about the session itself or its
/// 1:1 calls, which its own node rules on.
pub(crate) fn place_of(command: &Command) -> Option<(Place, bool)> {
    let room = |room: &RoomId, makes: bool| Some((Place::Room(room.clone()), makes));
    let namespace = |namespace: &NamespaceId| Some((Place::Namespace(namespace.clone()), true));
    match command {
        Command::Join { room: Some(id), create, .. } => room(id, create.is_some()),
        Command::CreateRoom { room: id, .. } | Command::Invite { room: id, .. } => room(id, true),
        Command::Leave { room: RoomRef::Id(id) } => room(id, false),
        Command::SetPeerStatus { room: id, .. } | Command::SetRoomStatus { room: id, .. } => room(id, false),
        Command::Relay {
            to: RelayTarget::RoomMember { room: id, .. } | RelayTarget::Peer { room: id, .. }, ..
        } => room(id, false),
        Command::Subscribe { namespace: id }
        | Command::Unsubscribe { namespace: id }
        | Command::RegisterUser { namespace: id }
        | Command::UnregisterUser { namespace: id }
        | Command::RegisterRoom { namespace: id, .. }
        | Command::UnregisterRoom { namespace: id, .. } => namespace(id),
        _ => None,
    }
}

/// Places whose home is remembered, at most; past it the memory starts
/// again (a bound, not a cache policy worth more).
const KNOWN_HOMES: usize = 65_536;

/// Where a place is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Home {
    /// Here, or nowhere and not to be made: this node's core rules.
    Here,
    /// On another live node.
    On(NodeId),
    /// Redis could not be asked.
    Unknown,
}

fn places_key(node: &NodeId) -> String {
    format!("sb:places:{node}")
}

impl Cluster {
    /// Where `place` is; pinned here first when `makes` and it is nowhere.
    ///
    /// Where a place was found before is remembered: a place here needs no
    /// Redis again until it is unpinned (its relays go on while Redis is
    /// down), and one elsewhere none for commands that do not make it (its
    /// relays cost no round trip). A command that makes a place asks again
    /// when it was elsewhere, since that node may have let it go.
    pub(crate) async fn home_of(&self, place: &Place, makes: bool) -> Home {
        match self.known_homes().get(place) {
            Some(Home::Here) => return Home::Here,
            Some(Home::On(node)) if !makes => return Home::On(node.clone()),
            _ => {}
        }
        let home = self.ask_home_of(place, makes).await;
        if matches!(home, Home::On(_)) || (home == Home::Here && self.pinned().contains(place)) {
            let mut known = self.known_homes();
            if known.len() >= KNOWN_HOMES {
                known.clear();
            }
            known.insert(place.clone(), home.clone());
        }
        home
    }

    /// Forgets where places of `node` are (it is gone).
    pub(crate) fn forget_homes_on(&self, node: &NodeId) {
        self.known_homes().retain(|_, home| *home != Home::On(node.clone()));
    }

    fn known_homes(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Place, Home>> {
        self.inner.known_homes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn ask_home_of(&self, place: &Place, makes: bool) -> Home {
        let node = self.node();
        let result: redis::RedisResult<String> = PIN
            .key(place.key())
            .key(places_key(node))
            .arg(node.as_str())
            .arg(if makes { "1" } else { "0" })
            .invoke_async(&mut self.redis())
            .await;
        match self.heard(result) {
            Ok(found) if found == node.as_str() => {
                self.pinned().insert(place.clone());
                Home::Here
            }
            Ok(found) if found.is_empty() => Home::Here,
            Ok(found) => NodeId::parse(&found).map_or(Home::Here, Home::On),
            Err(_) => Home::Unknown,
        }
    }

    /// Pins again the places this node holds, after Redis lost its pins.
    /// A place pinned elsewhere meanwhile keeps that pin, logged: it has two
    /// owners until it empties here.
    pub(super) async fn pin_again(&self) {
        for place in self.pinned_places() {
            match self.home_of(&place, true).await {
                Home::Here => {}
                Home::On(node) => {
                    tracing::warn!(?place, %node, "a place held here was pinned elsewhere while Redis was empty")
                }
                Home::Unknown => return,
            }
        }
    }

    /// The places this node pinned, to check against its core.
    pub(crate) fn pinned_places(&self) -> Vec<Place> {
        self.pinned().iter().cloned().collect()
    }

    /// Unpins places this node no longer holds.
    pub(crate) async fn unpin(&self, places: Vec<Place>) {
        let node = self.node().clone();
        for place in places {
            self.pinned().remove(&place);
            self.known_homes().remove(&place);
            let result: redis::RedisResult<i64> =
                UNPIN.key(place.key()).key(places_key(&node)).arg(node.as_str()).invoke_async(&mut self.redis()).await;
            if self.heard(result).is_err() {
                return;
            }
        }
    }

    fn pinned(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<Place>> {
        self.inner.pinned.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The LEAVE script's part for places: every pin of the node goes.
pub(super) const LEAVE_PLACES: &str = r"
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[3])
";

pub(super) fn places_key_of(node: &NodeId) -> String {
    places_key(node)
}
