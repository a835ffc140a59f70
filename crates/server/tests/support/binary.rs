//! The real `switchboard` binary as a child process, with JSON logs read as
//! they come.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

/// The binary Cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

/// The binary running; killed if a test fails before it stops it.
pub struct Running(pub Option<Child>);

impl Running {
    /// Sends `signal` (`-TERM`, `-INT`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.0.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// Waits for the process to exit, at most [`PATIENCE`](super::PATIENCE)
    /// (a bound on a hang: a process that waited for a ten-minute drain
    /// fails here).
    pub async fn exit(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().expect("running");
        let waited = tokio::task::spawn_blocking(move || child.wait());
        tokio::time::timeout(super::PATIENCE, waited).await.expect("the process exits").unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The rest of the binary's log, read by a thread of its own as it comes
/// (a trace log would fill the pipe and stall the server otherwise).
pub type Logs = mpsc::Receiver<String>;

/// Starts the binary with JSON logs and `args`; returns it, its address,
/// the log lines up to the one that names the address, and the rest.
pub fn start(args: &[&str]) -> (Running, String, Vec<Value>, Logs) {
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let running = Running(Some(child));
    let (lines, logs) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = logs.recv_timeout(super::PATIENCE).expect("the server logs its address");
        let entry: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line} after {seen:?}"));
        seen.push(entry.clone());
        if let Some(addr) = entry["fields"]["listen"].as_str() {
            return (running, addr.to_owned(), seen, logs);
        }
    }
}

/// Stops the binary (SIGTERM) and returns the rest of its log.
pub async fn stop(mut running: Running, logs: Logs) -> Vec<String> {
    let mut child = running.0.take().expect("running");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    tokio::task::spawn_blocking(move || {
        assert!(child.wait().unwrap().success());
        logs.iter().collect()
    })
    .await
    .unwrap()
}
