//! `--config FILE` and `switchboard config print`, over the real binary: a
//! file sets every option, env vars and flags override it, an unknown key
//! is refused by name, secrets are never printed, `serve` listens where the
//! file says, and `deploy/switchboard.toml` documents every option.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

/// A non-default value for every option, as the file spells it. A new
/// option makes `every_option_has_a_value_here` fail until it is added.
const EVERY_OPTION: &str = r#"
listen = "0.0.0.0:9000"
chatroulette-listen = "0.0.0.0:8888"
calling-listen = "0.0.0.0:8081"
ring-timeout = "45s"
empty-room-ttl = "20m"
room-capacity = 3
mailbox-messages = 33
mailbox-bytes = 100000
mailboxes-per-sender = 17
rooms-per-session = 33
namespaces-per-session = 34
rate-limit = 51
rate-burst = 201
rate-abuse-after = 101
open-room-rate = 31
ring-burst = 21
ring-rate = 31
room-invite-burst = 51
room-invite-rate = 61
max-frame-bytes = 70000
session-queue = 300
resume-window = "45s"
resume-buffer = 300
ws-ping-after = "31s"
ws-idle-timeout = "56s"
ws-write-timeout = "11s"
header-timeout = "12s"
drain-timeout = "7m"
redis-url = "redis://:file-redis-password@redis.example:6379"
node-id = "node-a"
node-timeout = "15s"
max-connections-per-ip = 1001
max-sessions = 5000
register-timeout = "13s"
allowed-origin = ["https://a.example", "https://b.example"]
metrics-listen = "127.0.0.1:9100"
tls-cert = "/etc/switchboard/cert.pem"
tls-key = "/etc/switchboard/key.pem"
auth-jwt-secret = "file-jwt-secret-value"
auth-jwt-public-key = "/etc/switchboard/jwt.pem"
auth-audience = "switchboard"
auth-issuer = "https://issuer.example"
auth-leeway = "5s"
ice-server = ["stun:stun.example:3478", "turn:turn.example:3478"]
turn-secret = "file-turn-secret-value"
turn-open = true
turn-ttl = "2h"
log-format = "json"
log-filter = "debug"
log-user-names = true
"#;

/// The binary with `args`, with no `SWITCHBOARD_*` or `RUST_LOG` from the
/// test's own environment.
fn switchboard(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SWITCHBOARD_") || name == "RUST_LOG" {
            command.env_remove(&*name);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A file in a fresh directory of its own under the target dir.
fn write_file(test: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config_file").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The option keys, read from what `config print` lists with no file.
fn every_key() -> Vec<String> {
    stdout(&run(&mut switchboard(&["config", "print"])))
        .lines()
        .filter_map(|line| match line.strip_prefix("# ") {
            // `# key: not set`, `# key: set, not shown (secret)  # source`
            Some(comment) => comment.split_once(": ").filter(|(_, rest)| rest.contains("set")).map(|(key, _)| key),
            None => line.split_once(" = ").map(|(key, _)| key),
        })
        .filter(|key| key.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned)
        .collect()
}

/// The printed `key = value  # source` line of `key`.
fn line_of<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")) || line.starts_with(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("no line for {key}:\n{printed}"))
}

#[test]
fn every_option_has_a_value_here() {
    let table: toml::Table = EVERY_OPTION.parse().unwrap();
    let mut listed: Vec<String> = table.keys().cloned().collect();
    let mut keys = every_key();
    listed.sort();
    keys.sort();
    assert_eq!(listed, keys, "EVERY_OPTION must set exactly the options `config print` lists");
}

#[test]
fn a_file_sets_every_option() {
    let path = write_file("every", EVERY_OPTION);
    let printed = stdout(&run(&mut switchboard(&["config", "print", "--config", path.to_str().unwrap()])));
    let read_back: toml::Table = printed.parse().unwrap();
    let table: toml::Table = EVERY_OPTION.parse().unwrap();
    for (key, value) in &table {
        let line = line_of(&printed, key);
        assert!(line.ends_with("# file"), "{key} should come from the file: {line}");
        if key.ends_with("-secret") || key == "redis-url" {
            assert!(line.starts_with(&format!("# {key}: set, not shown")), "{line}");
            assert!(!printed.contains(value.as_str().unwrap()), "a secret was printed:\n{printed}");
        } else {
            assert_eq!(read_back.get(key), Some(value), "{key}:\n{printed}");
        }
    }
    // What `config print` prints, `--config` takes back unchanged.
    let again = write_file("every-again", &printed);
    let reprinted = stdout(&run(&mut switchboard(&["config", "print", "--config", again.to_str().unwrap()])));
    let reread: toml::Table = reprinted.parse().unwrap();
    assert_eq!(reread, read_back);
}

#[test]
fn env_overrides_the_file_and_a_flag_overrides_both() {
    let path =
        write_file("layers", "ring-timeout = \"45s\"\nallowed-origin = [\"https://file.example\"]\nturn-open = true\n");
    let path = path.to_str().unwrap();

    let printed = stdout(&run(&mut switchboard(&["config", "print", "--config", path])));
    assert_eq!(line_of(&printed, "ring-timeout"), "ring-timeout = \"45s\"  # file");
    assert_eq!(line_of(&printed, "turn-open"), "turn-open = true  # file");

    // The file named by the environment, and an env var over one of its keys.
    let printed = stdout(&run(switchboard(&["config", "print"])
        .env("SWITCHBOARD_CONFIG", path)
        .env("SWITCHBOARD_RING_TIMEOUT", "50s")
        .env("SWITCHBOARD_ALLOWED_ORIGINS", "https://env.example")
        .env("SWITCHBOARD_TURN_OPEN", "false")));
    assert_eq!(line_of(&printed, "ring-timeout"), "ring-timeout = \"50s\"  # env SWITCHBOARD_RING_TIMEOUT");
    assert_eq!(
        line_of(&printed, "allowed-origin"),
        "allowed-origin = [\"https://env.example\"]  # env SWITCHBOARD_ALLOWED_ORIGINS"
    );
    assert_eq!(line_of(&printed, "turn-open"), "turn-open = false  # env SWITCHBOARD_TURN_OPEN");

    // A flag wins over both.
    let printed = stdout(&run(switchboard(&[
        "config",
        "print",
        "--ring-timeout",
        "55s",
        "--allowed-origin",
        "https://flag.example",
    ])
    .env("SWITCHBOARD_CONFIG", path)
    .env("SWITCHBOARD_RING_TIMEOUT", "50s")
    .env("SWITCHBOARD_ALLOWED_ORIGINS", "https://env.example")));
    assert_eq!(line_of(&printed, "ring-timeout"), "ring-timeout = \"55s\"  # flag");
    assert_eq!(line_of(&printed, "allowed-origin"), "allowed-origin = [\"https://flag.example\"]  # flag");
    assert_eq!(line_of(&printed, "turn-open"), "turn-open = true  # file");
}

#[test]
fn an_unknown_key_or_a_bad_value_is_refused_by_name() {
    let path = write_file("unknown", "listen = \"127.0.0.1:0\"\nring-timout = \"30s\"\n");
    for subcommand in [&["serve"][..], &["config", "print"]] {
        let mut args = subcommand.to_vec();
        args.extend(["--config", path.to_str().unwrap()]);
        let output = run(&mut switchboard(&args));
        assert!(!output.status.success(), "{args:?} took an unknown key");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("unknown key `ring-timout` (did you mean `ring-timeout`?)"), "{stderr}");
        assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    }

    let path = write_file("bad-value", "room-capacity = 0\n");
    let output = run(&mut switchboard(&["serve", "--config", path.to_str().unwrap()]));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`room-capacity`: invalid value \"0\": must be at least 1"), "{stderr}");

    let output = run(&mut switchboard(&["serve", "--config", "/nonexistent/switchboard.toml"]));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read config file /nonexistent/switchboard.toml"));
}

#[test]
fn config_print_masks_the_turn_and_auth_secrets() {
    let path = write_file("secrets", "turn-secret = \"turn-secret-in-file\"\n");
    let output = run(switchboard(&["config", "print", "--config", path.to_str().unwrap()])
        .env("SWITCHBOARD_AUTH_JWT_SECRET", "jwt-secret-in-env"));
    let printed = stdout(&output);
    assert!(!printed.contains("turn-secret-in-file") && !printed.contains("jwt-secret-in-env"), "{printed}");
    assert_eq!(line_of(&printed, "turn-secret"), "# turn-secret: set, not shown (secret)  # file");
    assert_eq!(
        line_of(&printed, "auth-jwt-secret"),
        "# auth-jwt-secret: set, not shown (secret)  # env SWITCHBOARD_AUTH_JWT_SECRET"
    );
    let printed = stdout(&run(&mut switchboard(&["config", "print", "--turn-secret", "turn-secret-on-flag"])));
    assert!(!printed.contains("turn-secret-on-flag"), "{printed}");
}

#[test]
fn serve_listens_where_the_file_says_and_probe_checks_it() {
    // 127.0.0.2 is loopback too, and not the default 127.0.0.1: an address
    // logged there came from the file. So did JSON logs.
    let path = write_file(
        "serve",
        "listen = \"127.0.0.2:0\"\nmetrics-listen = \"127.0.0.3:0\"\nlog-format = \"json\"\nlog-filter = \"info\"\n",
    );
    let mut child = switchboard(&["serve", "--config", path.to_str().unwrap()]).stderr(Stdio::piped()).spawn().unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap());
    let (listen, metrics) = loop {
        let mut line = String::new();
        let read = logs.read_line(&mut line).unwrap();
        let entry: Option<Value> = serde_json::from_str(&line).ok();
        let Some(entry) = entry.filter(|_| read > 0) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no JSON log line with the address (log format from the file?): {line:?}");
        };
        if let Some(listen) = entry["fields"]["listen"].as_str() {
            break (listen.to_owned(), entry["fields"]["metrics"].as_str().unwrap_or_default().to_owned());
        }
    };
    let healthz = run(&mut switchboard(&["probe", &format!("http://{listen}/healthz")]));
    let missing = run(&mut switchboard(&["probe", &format!("http://{listen}/no-such-page")]));
    let metrics_on_main = run(&mut switchboard(&["probe", &format!("http://{listen}/metrics")]));
    let _ = child.kill();
    let _ = child.wait();
    assert!(listen.starts_with("127.0.0.2:"), "{listen}");
    assert!(metrics.contains("127.0.0.3:"), "{metrics}");
    assert!(healthz.status.success(), "{}", String::from_utf8_lossy(&healthz.stderr));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("status 404"));
    // `metrics-listen` from the file moved /metrics off the main port.
    assert!(!metrics_on_main.status.success());
}

#[test]
fn the_example_file_documents_every_option_and_parses() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/switchboard.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    stdout(&run(&mut switchboard(&["config", "print", "--config", example.to_str().unwrap()])));
    let lines: Vec<&str> = text.lines().collect();
    let keys = every_key();
    for key in &keys {
        let at = lines
            .iter()
            .position(|line| line.starts_with(&format!("{key} = ")) || line.starts_with(&format!("# {key} = ")))
            .unwrap_or_else(|| panic!("deploy/switchboard.toml does not list `{key}`"));
        assert!(at > 0 && lines[at - 1].starts_with('#'), "`{key}` has no comment above it");
    }
    // The commented-out examples are valid values too.
    let uncommented: String = lines
        .iter()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.split_once(" = ").is_some_and(|(key, _)| keys.iter().any(|k| k == key)) => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let all = write_file("example-uncommented", &uncommented);
    stdout(&run(&mut switchboard(&["config", "print", "--config", all.to_str().unwrap()])));
}
