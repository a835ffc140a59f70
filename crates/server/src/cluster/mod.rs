//! Several nodes over Redis (`--redis-url`): the design is in
//! `docs/cluster.md`.
//!
//! Every node keeps its own core, the one owner of its sessions' state. A
//! user's name is claimed in Redis before the core registers it, so names
//! are unique across nodes. A 1:1 call between two nodes lives in both
//! cores: each node holds a *stand-in* session (a ghost) for the other
//! party, registered under its name, and each core rules on its own real
//! party (busy, ring timeout). What a core tells a stand-in crosses Redis
//! pub/sub to the other party's node ([`link`]), where it becomes the
//! command of that node's stand-in for this side. Nodes announce themselves
//! with a key that expires ([`nodes`]); when one stops announcing, every
//! other node ends its calls with `disconnected`.
//!
//! Redis I/O lives here and in tasks; the core sees only inputs.

mod bus;
pub(crate) mod ghosts;
pub(crate) mod link;
pub(crate) mod names;
mod nodes;
pub(crate) mod pipes;
pub(crate) mod places;
pub(crate) mod proxies;
pub(crate) mod rooms_away;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion};
use switchboard_core::{SessionMap, UserId};
use tokio::sync::mpsc;

use crate::driver::DriverHandle;
use crate::metrics::Metrics;

pub(crate) use link::LinkFrame;
pub(crate) use names::Located;

/// A node's name in the cluster: 1 to 64 of `A-Z a-z 0-9 - _ .`. It
/// names the node's Redis keys and pub/sub channel, and labels its
/// metrics. Give each node its own; a random one is drawn when none is
/// given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// Checks a node id.
    ///
    /// # Errors
    /// When it is empty, longer than 64 bytes, or holds another character.
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if text.is_empty() || text.len() > 64 || !text.chars().all(allowed) {
            return Err(format!("a node id is 1 to 64 of A-Z a-z 0-9 - _ . (got {text:?})"));
        }
        Ok(Self(text.into()))
    }

    /// A fresh random id, `node-` and 12 hex digits.
    pub fn random() -> Self {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).expect("the OS gives random bytes");
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(format!("node-{hex}").into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How this node joins a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// `redis://HOST:PORT[/DB]` (`--redis-url`); RESP3 is always used.
    pub redis_url: String,
    /// This node's id (`--node-id`).
    pub node: NodeId,
    /// How long after a node stops (SIGKILL, a lost network) the others
    /// take it for dead: its users' names are free again and its calls end
    /// with `disconnected` (`--node-timeout`, default 10 s).
    pub node_timeout: Duration,
}

/// Redis could not be reached for a request that needs it.
#[derive(Debug, thiserror::Error)]
#[error("Redis is unreachable: {0}")]
pub(crate) struct Unavailable(String);

impl From<redis::RedisError> for Unavailable {
    fn from(error: redis::RedisError) -> Self {
        Self(error.to_string())
    }
}

/// This node's handle on the cluster. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Cluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node: NodeId,
    node_timeout: Duration,
    redis: ConnectionManager,
    /// Whether this node listens on its channel and has announced itself
    /// once: until then `/readyz` answers 503, as other nodes cannot reach
    /// it yet.
    subscribed: AtomicBool,
    announced: AtomicBool,
    /// Whether what a former process with this id left is gone and the
    /// live nodes were told this node started again (`names.rs`,
    /// `start_fresh`): until then the node does not announce itself.
    fresh: AtomicBool,
    /// Whether the last Redis request worked: `/readyz` and the
    /// `switchboard_cluster_redis_up` gauge.
    up: AtomicBool,
    /// The names this node's sessions hold, and whether shared, so that a
    /// Redis that lost its data (a restart without persistence) gets them
    /// back at the next heartbeat. Held for one insert or removal at a time.
    claims: Mutex<SessionMap<(UserId, bool)>>,
    /// How each of this node's sessions calls, stored with the name it
    /// claims (`names.rs`). From the session's open (or its socket.io
    /// dialect's first event) until it is gone.
    styles: Mutex<SessionMap<switchboard_core::CallStyle>>,
    /// Where places were found (`places.rs`), so that relays in a room
    /// cost no Redis round trip. Bounded.
    known_homes: Mutex<std::collections::HashMap<places::Place, places::Home>>,
    /// Invites of other nodes that this node's sessions ring with or made,
    /// by id, so that their answers and cancels go to the node that holds
    /// the invite. Bounded.
    remote_invites: Mutex<std::collections::HashMap<switchboard_core::InviteId, NodeId>>,
    /// Names whose release Redis did not take, tried again at each
    /// heartbeat.
    unreleased: Mutex<Vec<(switchboard_core::SessionId, UserId)>>,
    /// Whether a slow piece of heartbeat work (claiming again, checking
    /// pins) is under way, so that beats never wait for it nor pile it up.
    reclaiming: AtomicBool,
    checking_places: AtomicBool,
    /// The rooms and namespaces this node pinned (`places.rs`), checked
    /// against the core at each heartbeat and unpinned once gone.
    pinned: Mutex<std::collections::HashSet<places::Place>>,
    /// Messages for other nodes, to the publisher task. Bounded: a Redis
    /// that cannot keep up loses messages (counted), never grows memory.
    outbound: mpsc::Sender<(NodeId, String)>,
    /// Messages taken from `outbound` and not yet published.
    in_flight: std::sync::atomic::AtomicUsize,
    metrics: Arc<Metrics>,
    /// Connections piped between this node and others (resume elsewhere).
    pipes: pipes::Pipes,
}

/// Messages waiting to be published to other nodes.
const OUTBOUND_CAPACITY: usize = 8192;

/// What [`Cluster::connect`] hands back beside the handle: the ends the
/// tasks started by [`Cluster::run`] read.
pub(crate) struct ClusterTasks {
    outbound: mpsc::Receiver<(NodeId, String)>,
    inbound: mpsc::Receiver<redis::PushInfo>,
}

impl Cluster {
    /// Sets up the Redis connection for `config`. Connecting is lazy and
    /// retried for ever, so a node starts, and keeps running, while Redis
    /// is down (it answers requests that need Redis with
    /// `ClusterUnavailable` meanwhile).
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub(crate) fn connect(config: &ClusterConfig, metrics: Arc<Metrics>) -> anyhow::Result<(Self, ClusterTasks)> {
        let info = config.redis_url.as_str().into_connection_info()?;
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))?;
        let (pushes, inbound) = mpsc::channel(bus::INBOUND_CAPACITY);
        let push_metrics = metrics.clone();
        let manager = ConnectionManagerConfig::new()
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(2)
            // The push sender must not block the connection: a full queue
            // loses the message, counted.
            .set_push_sender(move |push: redis::PushInfo| {
                if pushes.try_send(push).is_err() {
                    push_metrics.cluster_message_lost();
                }
                Ok::<(), ()>(())
            });
        let redis = ConnectionManager::new_lazy_with_config(client, manager)?;
        let (outbound_sender, outbound) = mpsc::channel(OUTBOUND_CAPACITY);
        let inner = Inner {
            node: config.node.clone(),
            node_timeout: config.node_timeout,
            redis,
            up: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            announced: AtomicBool::new(false),
            fresh: AtomicBool::new(false),
            claims: Mutex::new(SessionMap::default()),
            styles: Mutex::new(SessionMap::default()),
            pinned: Mutex::new(std::collections::HashSet::new()),
            unreleased: Mutex::new(Vec::new()),
            remote_invites: Mutex::new(std::collections::HashMap::new()),
            known_homes: Mutex::new(std::collections::HashMap::new()),
            reclaiming: AtomicBool::new(false),
            checking_places: AtomicBool::new(false),
            outbound: outbound_sender,
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            metrics,
            pipes: pipes::Pipes::default(),
        };
        Ok((Self { inner: Arc::new(inner) }, ClusterTasks { outbound, inbound }))
    }

    /// Starts the cluster's tasks: the heartbeat, the watch on other nodes,
    /// and the pub/sub ends. They run until the driver is gone.
    pub(crate) fn run(&self, tasks: ClusterTasks, driver: DriverHandle) -> Vec<tokio::task::JoinHandle<()>> {
        let ClusterTasks { outbound, inbound } = tasks;
        vec![
            tokio::spawn(bus::publish(self.clone(), outbound)),
            tokio::spawn(bus::subscribe(self.clone(), inbound, driver.clone())),
            tokio::spawn(nodes::heartbeat(self.clone(), driver.clone())),
            tokio::spawn(nodes::watch(self.clone(), driver)),
        ]
    }

    /// Waits, up to `grace`, until every queued message for other nodes
    /// is published.
    pub(crate) async fn flush(&self, grace: Duration) {
        let outbound = &self.inner.outbound;
        let flushed = async {
            while outbound.capacity() < outbound.max_capacity() || self.inner.in_flight.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(grace, flushed).await;
    }

    /// Notes that invite `invite` is held by `node`.
    pub(crate) fn invite_on(&self, invite: switchboard_core::InviteId, node: NodeId) {
        let mut invites = self.inner.remote_invites.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if invites.len() >= 65_536 {
            invites.clear();
        }
        invites.insert(invite, node);
    }

    /// The node that holds invite `invite`, if another does.
    pub(crate) fn node_of_invite(&self, invite: switchboard_core::InviteId) -> Option<NodeId> {
        self.inner.remote_invites.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&invite).cloned()
    }

    /// Whether this node has joined the cluster: it listens on its
    /// channel and has announced itself.
    pub(crate) fn joined(&self) -> bool {
        self.inner.subscribed.load(Ordering::Relaxed) && self.inner.announced.load(Ordering::Relaxed)
    }

    /// This node's id.
    pub(crate) fn node(&self) -> &NodeId {
        &self.inner.node
    }

    fn redis(&self) -> ConnectionManager {
        self.inner.redis.clone()
    }

    /// Notes how a Redis request went, and passes its result on.
    fn heard<T>(&self, result: redis::RedisResult<T>) -> Result<T, Unavailable> {
        self.set_up(result.is_ok());
        Ok(result?)
    }

    /// Notes whether Redis is reachable, logging each change.
    fn set_up(&self, up: bool) {
        if self.inner.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("Redis is reachable");
            } else {
                tracing::warn!("Redis is unreachable: requests that need it are refused until it is back");
            }
        }
        self.inner.metrics.cluster_redis_up(up);
    }

    /// Queues `message` for `node`'s channel; `false` when the queue is
    /// full (the message is lost, and counted).
    pub(crate) fn send(&self, node: &NodeId, message: &LinkFrame) -> bool {
        let text = serde_json::to_string(message).expect("a link message serializes");
        match self.inner.outbound.try_send((node.clone(), text)) {
            Ok(()) => true,
            Err(_) => {
                self.inner.metrics.cluster_message_lost();
                false
            }
        }
    }
}
