//! A real `redis-server` (Debian's, installed by `scripts/test`) on a free
//! loopback port, killed when dropped, and what tests ask of it.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

use redis::AsyncCommands as _;

/// A `redis-server` child process with no persistence: a restart loses
/// everything, the harshest restart a cluster must survive.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { port, child: None };
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        self.child = Some(child);
        // Waits for the event: each attempt is a connect that fails at once
        // until the server listens.
        let deadline = tokio::time::Instant::now() + super::PATIENCE;
        while self.connection().await.is_none() {
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::task::yield_now().await;
        }
    }

    /// A connection, if it answers.
    pub async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut connection).await.ok()?;
        (pong == "PONG").then_some(connection)
    }

    /// Waits until every one of `nodes` has announced itself and listens on
    /// its channel: a cluster ready for cross-node calls.
    pub async fn wait_for_nodes(&self, nodes: &[&str]) {
        let deadline = tokio::time::Instant::now() + super::PATIENCE;
        loop {
            if let Some(mut redis) = self.connection().await {
                let mut ready = true;
                for node in nodes {
                    let announced: bool = redis.exists(format!("sb:node:{node}")).await.unwrap_or(false);
                    let (_, listeners): (String, i64) = redis::cmd("PUBSUB")
                        .arg("NUMSUB")
                        .arg(format!("sb:link:{node}"))
                        .query_async(&mut redis)
                        .await
                        .unwrap_or_default();
                    ready &= announced && listeners > 0;
                }
                if ready {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "nodes {nodes:?} did not join the cluster");
            tokio::task::yield_now().await;
        }
    }
}

impl RedisServer {
    /// Waits until some session holds `name` in the cluster.
    pub async fn wait_for_name(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + super::PATIENCE;
        loop {
            if let Some(mut redis) = self.connection().await {
                let holders: i64 = redis.hlen(format!("sb:user:{name}")).await.unwrap_or(0);
                if holders > 0 {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "nobody claimed {name}");
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node's config on `redis`, under the id `node`.
pub fn node_config(redis: &RedisServer, node: &str) -> switchboard_server::Config {
    switchboard_server::Config {
        redis_url: Some(redis.url()),
        node_id: Some(switchboard_server::NodeId::parse(node).unwrap()),
        ..switchboard_server::Config::default()
    }
}

/// Starts one in-process node per name on `redis`, and waits until all
/// have joined.
pub async fn cluster(redis: &RedisServer, nodes: &[&str]) -> Vec<super::TestServer> {
    let mut servers = Vec::new();
    for node in nodes {
        servers.push(super::TestServer::start_with(node_config(redis, node)).await);
    }
    redis.wait_for_nodes(nodes).await;
    servers
}
