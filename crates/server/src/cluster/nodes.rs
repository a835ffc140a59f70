//! Which nodes are alive. Each node refreshes `sb:node:<id>`, a key that
//! expires after half the node timeout, and its expiry in the sorted set
//! `sb:nodes` (Centrifugo's presence: scores are expiry times, in Redis's
//! own clock). Every node reads the set to learn who is alive; a node that
//! has been missing from it for a quarter of the timeout more is dead, and
//! its calls end here. The margin lets every node announce itself again
//! after a Redis restart before anyone is taken for dead.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::Script;
use tokio::time::Instant;

use super::names::node_key;
use super::places::Place;
use super::{Cluster, NodeId, Unavailable};
use crate::driver::{DriverGone, DriverHandle};

/// Refreshes a node's key and its expiry in `sb:nodes`; returns whether
/// the key was there (when not, Redis lost this node's names, or it just
/// started).
static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return existed
",
    )
});

/// The nodes whose announcement has not expired, after dropping the ones
/// long gone.
static LIVE_NODES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
",
    )
});

const NODES: &str = "sb:nodes";

impl Cluster {
    /// How long a node's announcement lives.
    fn announcement_ttl(&self) -> Duration {
        self.inner.node_timeout / 2
    }

    /// The nodes whose announcement has not expired.
    pub(super) async fn live_nodes(&self) -> Result<Vec<NodeId>, Unavailable> {
        let result: redis::RedisResult<Vec<String>> = LIVE_NODES.key(NODES).invoke_async(&mut self.redis()).await;
        let live = self.heard(result)?;
        Ok(live.iter().filter_map(|node| NodeId::parse(node).ok()).collect())
    }

    /// Ends everything this node has with `node`'s sessions: its calls
    /// here end with `disconnected`, its stand-ins leave the places here,
    /// the pipes to it close, and where its places were is forgotten. For
    /// a node taken for dead, or started again under its id.
    pub(super) async fn end_everything_with(&self, node: NodeId, driver: &DriverHandle) -> Result<(), DriverGone> {
        self.forget_homes_on(&node);
        self.end_pipes_with(&node);
        driver.node_gone(node).await
    }
}

/// Announces this node every eighth of the node timeout until the driver
/// stops, and claims its names again when Redis has lost them.
pub(super) async fn heartbeat(cluster: Cluster, driver: DriverHandle) {
    let mut ticks = tokio::time::interval(cluster.inner.node_timeout / 8);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ttl = u64::try_from(cluster.announcement_ttl().as_millis()).unwrap_or(u64::MAX);
    // Places the core no longer held at the last check: unpinned only when
    // still gone at the next, so that a join on its way to the core keeps
    // the pin it just made.
    let gone_once = Arc::new(Mutex::new(HashSet::new()));
    while driver.is_running() {
        ticks.tick().await;
        // A start while Redis was down: what the former process left goes
        // first, or this node's announcement would make it look alive.
        if !cluster.try_start_fresh().await {
            continue;
        }
        let node = cluster.node().clone();
        let result: redis::RedisResult<i64> = HEARTBEAT
            .key(node_key(&node))
            .key(NODES)
            .arg(node.as_str())
            .arg(ttl)
            .invoke_async(&mut cluster.redis())
            .await;
        let announced = cluster.heard(result);
        if announced.is_ok() {
            cluster.inner.announced.store(true, Ordering::Relaxed);
        }
        // Slow work runs beside the beats, one at a time, never delaying
        // the next announcement.
        if let Ok(0) = announced
            && !cluster.inner.reclaiming.swap(true, Ordering::Relaxed)
        {
            tracing::info!(%node, "announced this node to the cluster");
            let cluster = cluster.clone();
            tokio::spawn(async move {
                cluster.claim_again().await;
                cluster.inner.reclaiming.store(false, Ordering::Relaxed);
            });
        }
        if announced.is_ok() && !cluster.inner.checking_places.swap(true, Ordering::Relaxed) {
            let (cluster, driver, gone_once) = (cluster.clone(), driver.clone(), gone_once.clone());
            tokio::spawn(async move {
                cluster.release_again().await;
                let pinned = cluster.pinned_places();
                if !pinned.is_empty()
                    && let Ok(gone) = driver.gone_places(pinned).await
                {
                    let confirmed: Vec<Place> = {
                        let mut before = gone_once.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let confirmed = gone.iter().filter(|place| before.contains(*place)).cloned().collect();
                        *before = gone.into_iter().collect();
                        confirmed
                    };
                    if !confirmed.is_empty() {
                        cluster.unpin(confirmed).await;
                    }
                }
                cluster.inner.checking_places.store(false, Ordering::Relaxed);
            });
        }
    }
}

/// Reads the live nodes every tenth of the node timeout; tells the driver
/// of each node that has been missing for a quarter of the timeout. Redis
/// being unreachable proves nothing about other nodes: while it is, and
/// for the margin after, nobody is taken for dead.
pub(super) async fn watch(cluster: Cluster, driver: DriverHandle) {
    let timeout = cluster.inner.node_timeout;
    let margin = timeout / 4;
    let mut ticks = tokio::time::interval(timeout / 10);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen: HashMap<NodeId, Instant> = HashMap::new();
    let mut reachable = false;
    while driver.is_running() {
        ticks.tick().await;
        let Ok(live) = cluster.live_nodes().await else {
            reachable = false;
            continue;
        };
        let now = Instant::now();
        if !reachable {
            // Everyone gets the whole margin again to show up.
            last_seen.values_mut().for_each(|seen| *seen = now);
            reachable = true;
        }
        cluster.inner.metrics.cluster_nodes(live.len());
        for node in live {
            last_seen.insert(node, now);
        }
        let gone: Vec<NodeId> = last_seen
            .iter()
            .filter(|(node, seen)| **node != *cluster.node() && now.duration_since(**seen) > margin)
            .map(|(node, _)| node.clone())
            .collect();
        for node in gone {
            last_seen.remove(&node);
            tracing::warn!(%node, "a node stopped announcing itself: ending its calls here");
            // Its names, pins and sets go too (every node may do it; the
            // script is idempotent), so that a crash leaves nothing behind.
            let janitor = cluster.clone();
            let dead = node.clone();
            tokio::spawn(async move { janitor.purge(&dead, true).await });
            if cluster.end_everything_with(node, &driver).await.is_err() {
                return;
            }
        }
    }
}
