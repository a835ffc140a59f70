//! The pub/sub ends of the link: each node reads its own channel,
//! `sb:link:<node>`, and publishes to the channel of the node a message is
//! for. Redis pub/sub delivers in order per publisher, which is all the
//! link needs: the events of one call between two nodes go one way
//! through one publisher.

use std::time::Duration;

use futures_util::StreamExt;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::{Cluster, LinkFrame, NodeId};
use crate::driver::DriverHandle;

/// Pushes (messages from other nodes) waiting for the driver. The push
/// sender cannot wait, so past this many a message is lost, and counted.
pub(super) const INBOUND_CAPACITY: usize = 8192;

/// Publishes in flight at once on the multiplexed connection. Issued in
/// order on one connection, they arrive in order.
const PUBLISHES_IN_FLIGHT: usize = 128;

fn channel(node: &NodeId) -> String {
    format!("sb:link:{node}")
}

/// Publishes queued messages until the last handle is gone. A message that
/// cannot be published is lost, and counted.
pub(super) async fn publish(cluster: Cluster, mut outbound: mpsc::Receiver<(NodeId, String)>) {
    let messages = futures_util::stream::poll_fn(|context| outbound.poll_recv(context));
    messages
        .map(|(node, text)| {
            cluster.inner.in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut redis = cluster.redis();
            async move {
                let result: redis::RedisResult<i64> =
                    redis::cmd("PUBLISH").arg(channel(&node)).arg(text).query_async(&mut redis).await;
                (node, result)
            }
        })
        .buffered(PUBLISHES_IN_FLIGHT)
        .for_each(|(node, result)| {
            let cluster = cluster.clone();
            async move {
                cluster.inner.in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                match cluster.heard(result) {
                    Ok(_) => cluster.inner.metrics.cluster_message_sent(),
                    // Ending this side's calls would leave the other side's
                    // going on, alone: only a node taken for dead
                    // (`nodes.rs`) ends calls, on every node at once.
                    Err(error) => {
                        tracing::warn!(%node, %error, "a message for another node was lost");
                        cluster.inner.metrics.cluster_message_lost();
                    }
                }
            }
        })
        .await;
}

/// Subscribes to this node's channel (again and again while Redis is
/// down; the connection manager subscribes again after a reconnect), then
/// hands every message to the driver.
pub(super) async fn subscribe(cluster: Cluster, mut inbound: mpsc::Receiver<PushInfo>, driver: DriverHandle) {
    let mine = channel(cluster.node());
    loop {
        let result = cluster.redis().subscribe(&mine).await;
        if cluster.heard(result).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !driver.is_running() {
            return;
        }
    }
    tracing::info!(channel = %mine, "listening for other nodes");
    cluster.inner.subscribed.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(push) = inbound.recv().await {
        match push.kind {
            PushKind::Message => {
                let Some(Value::BulkString(bytes)) = push.data.get(1) else { continue };
                match serde_json::from_slice::<LinkFrame>(bytes) {
                    // Pipes go to their connection tasks, not the driver.
                    Ok(LinkFrame::Pipe(message)) => {
                        cluster.inner.metrics.cluster_message_received();
                        cluster.take_pipe_message(message);
                    }
                    Ok(LinkFrame::Restarted { node }) => {
                        cluster.inner.metrics.cluster_message_received();
                        let Ok(node) = NodeId::parse(&node) else { continue };
                        tracing::info!(%node, "a node started again: ending what its former process had here");
                        if cluster.end_everything_with(node, &driver).await.is_err() {
                            return;
                        }
                    }
                    Ok(message) => {
                        cluster.inner.metrics.cluster_message_received();
                        if driver.link(message).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "a message from another node did not parse: dropped"),
                }
            }
            PushKind::Disconnection => {
                cluster.set_up(false);
            }
            _ => {}
        }
    }
}
