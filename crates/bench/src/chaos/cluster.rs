//! The cluster the chaos runs against: one `redis-server` and a few
//! switchboard nodes, as child processes on loopback ports chosen here.
//! A node is killed with SIGKILL and started again on the same port under
//! the same `--node-id`, as a supervisor (systemd, Kubernetes) restarts a
//! crashed process; Redis is killed and started again empty (no
//! persistence), the harshest restart the cluster must survive.

use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a process may take to answer after it was started.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// How the cluster's processes are started.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The `switchboard` binary.
    pub server_bin: PathBuf,
    /// The `redis-server` binary.
    pub redis_bin: PathBuf,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Every node's `--node-timeout`.
    pub node_timeout: Duration,
    /// More options for every node.
    pub node_args: Vec<String>,
    /// Where each process's log goes (`redis.log`, `<node id>.log`),
    /// appended across restarts.
    pub log_dir: PathBuf,
}

/// A process of the cluster and the port it listens on.
struct Member {
    name: String,
    port: u16,
    child: Option<Child>,
}

impl Member {
    fn new(name: String) -> anyhow::Result<Self> {
        Ok(Self { name, port: free_port()?, child: None })
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// SIGKILL, and waits until the process is gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Redis and the nodes, running; every process is killed when this is
/// dropped.
pub struct Cluster {
    setup: Setup,
    redis: Member,
    nodes: Vec<Member>,
}

impl Cluster {
    /// Starts Redis, then every node, and waits until each node is ready
    /// (`/readyz` answers 200 once it listens on its channel and has
    /// announced itself).
    ///
    /// # Errors
    /// When a binary does not start or does not answer within 30 s.
    pub async fn start(setup: Setup) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&setup.log_dir).with_context(|| format!("creating {}", setup.log_dir.display()))?;
        let redis = Member::new("redis".into())?;
        let nodes = (0..setup.nodes).map(|index| Member::new(format!("chaos-{index}"))).collect::<Result<_, _>>()?;
        let mut cluster = Self { setup, redis, nodes };
        cluster.start_redis().await?;
        for index in 0..cluster.nodes.len() {
            cluster.start_node(index).await?;
        }
        Ok(cluster)
    }

    /// Nodes in the cluster.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Where node `index` listens.
    pub fn addr(&self, index: usize) -> SocketAddr {
        self.nodes[index].addr()
    }

    /// Node `index`'s id.
    pub fn node_id(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// Kills node `index` with SIGKILL.
    pub fn kill_node(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Starts node `index` (again) and waits until it is ready.
    ///
    /// # Errors
    /// When it does not start, or is not ready within 30 s.
    pub async fn start_node(&mut self, index: usize) -> anyhow::Result<()> {
        let redis_url = format!("redis://{}", self.redis.addr());
        let node = &mut self.nodes[index];
        let mut command = Command::new(&self.setup.server_bin);
        command
            .args(["serve", "--log-format", "json", "--listen", &node.addr().to_string()])
            .args(["--redis-url", &redis_url, "--node-id", &node.name])
            .args(["--node-timeout", &humantime::format_duration(self.setup.node_timeout).to_string()])
            .args(&self.setup.node_args);
        node.child = Some(spawn(command, &self.setup.log_dir, &node.name)?);
        let addr = node.addr();
        wait_until(&node.name, || ready(addr)).await
    }

    /// Kills Redis with SIGKILL.
    pub fn kill_redis(&mut self) {
        self.redis.kill();
    }

    /// Starts Redis (again, empty) and waits until it answers.
    ///
    /// # Errors
    /// When it does not start, or does not answer within 30 s.
    pub async fn start_redis(&mut self) -> anyhow::Result<()> {
        let mut command = Command::new(&self.setup.redis_bin);
        command.args(["--port", &self.redis.port.to_string(), "--bind", "127.0.0.1"]);
        command.args(["--save", "", "--appendonly", "no"]);
        self.redis.child = Some(spawn(command, &self.setup.log_dir, "redis")?);
        let addr = self.redis.addr();
        wait_until("redis", || pongs(addr)).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        self.redis.kill();
    }
}

/// A loopback port nobody listens on now. The listener is closed again,
/// so another process could take the port first; on a test machine that
/// is rare, and the start then fails loudly.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

fn spawn(mut command: Command, log_dir: &Path, name: &str) -> anyhow::Result<Child> {
    let log = log_file(log_dir, name)?;
    command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    command.spawn().with_context(|| format!("starting {name} ({:?})", command.get_program()))
}

fn log_file(log_dir: &Path, name: &str) -> anyhow::Result<File> {
    let path = log_dir.join(format!("{name}.log"));
    OpenOptions::new().create(true).append(true).open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Polls `check` every 50 ms until it holds, for at most 30 s.
async fn wait_until<F, Fut>(name: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + START_PATIENCE;
    while !check().await {
        if Instant::now() > deadline {
            bail!("{name} did not become ready within {START_PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Whether a node answers `GET /readyz` with 200.
async fn ready(addr: SocketAddr) -> bool {
    let request = b"GET /readyz HTTP/1.1\r\nHost: chaos\r\nConnection: close\r\n\r\n";
    answer(addr, request).await.is_some_and(|answer| answer.starts_with(b"HTTP/1.1 200"))
}

/// Whether Redis answers `PING`.
async fn pongs(addr: SocketAddr) -> bool {
    answer(addr, b"PING\r\n").await.is_some_and(|answer| answer.starts_with(b"+PONG"))
}

/// Sends `request` on a new connection and reads what comes back until
/// the answer's first line is in (or the connection closes).
async fn answer(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request).await.ok()?;
        let mut buffer = vec![0; 64];
        let mut filled = 0;
        while filled < buffer.len() && !buffer[..filled].windows(2).any(|pair| pair == b"\r\n") {
            match stream.read(&mut buffer[filled..]).await.ok()? {
                0 => break,
                read => filled += read,
            }
        }
        buffer.truncate(filled);
        Some(buffer)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange).await.ok().flatten()
}
