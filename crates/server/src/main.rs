//! `switchboard`: the signaling server's command line.

use std::path::PathBuf;

use clap::{ArgMatches, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use futures_util::Stream;
use switchboard_server::config_file::ConfigFile;
use switchboard_server::{Application, Clock, Config, config_print, init_tracing, probe};

/// jemalloc, not glibc's malloc: glibc keeps memory a session freed (the
/// buffers a call's SDP grew, given back when the session idles) resident
/// in its heap, while jemalloc returns unused pages to the system after a
/// few seconds. Measured in BENCHMARKS.md ("Memory after calls"). Without
/// the default `jemalloc` feature, glibc's malloc, for heaptrack.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// switchboard: a WebRTC signaling server for one-to-one audio and video
/// calls that speaks five dialects (chatroulette, calling, cloudkibo,
/// tringtring, ecall) so their existing clients can call each other.
#[derive(Parser)]
#[command(name = "switchboard", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signaling server (state in memory, on this node). Every option
    /// can also be set by the environment variable shown beside it, or in
    /// the `--config` file.
    Serve(Options),
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// GET an http:// URL and succeed on a 200 answer only: a health check
    /// for images without curl (`switchboard probe http://127.0.0.1:8080/healthz`).
    Probe {
        /// The URL, `http://HOST:PORT/PATH`.
        url: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the configuration `serve` would run with, given the same
    /// flags, environment and `--config`, as a TOML file `--config` reads;
    /// secrets are left out.
    Print(Options),
}

/// `serve`'s options and the file they may come from.
#[derive(Args)]
struct Options {
    /// Read options from this TOML file: the keys are the long flag names
    /// (`ring-timeout = "30s"`, `allowed-origin = ["https://a.example"]`,
    /// `turn-open = true`). Flags and environment variables override it.
    #[arg(long = "config", env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    config_file: Option<PathBuf>,

    #[command(flatten)]
    config: Config,
}

fn main() -> anyhow::Result<()> {
    let (cli, matches, file) = parse();
    match cli.command {
        Command::Serve(options) => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(options.config))
        }
        Command::Config(ConfigCommand::Print(_)) => {
            let options = options_matches(&matches).expect("config print has options");
            print!("{}", config_print::render(options, file.as_ref()));
            Ok(())
        }
        Command::Probe { url } => match probe::get_status(&url)? {
            200 => Ok(()),
            code => anyhow::bail!("{url}: status {code}"),
        },
    }
}

/// The command line, parsed twice when it names a config file: once to find
/// the file, then again with the file's values installed as the options'
/// defaults, so flags and env vars override them by clap's own rules.
/// Exits with clap's usage error when either parse, or the file, fails.
fn parse() -> (Cli, ArgMatches, Option<ConfigFile>) {
    let command = Cli::command();
    let matches = command.clone().get_matches();
    let path = options_matches(&matches).and_then(|options| options.get_one::<PathBuf>("config_file").cloned());
    let file = path.map(|path| {
        ConfigFile::read(&path).unwrap_or_else(|error| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{error}\n")).with_cmd(&command).exit()
        })
    });
    let matches = match &file {
        None => matches,
        Some(file) => command
            .mut_subcommand("serve", |serve| file.install(serve))
            .mut_subcommand("config", |config| config.mut_subcommand("print", |print| file.install(print)))
            .get_matches(),
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    (cli, matches, file)
}

/// The matches of the subcommand that takes [`Options`].
fn options_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    match matches.subcommand() {
        Some(("serve", options)) => Some(options),
        Some(("config", config)) => config.subcommand_matches("print"),
        _ => None,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    init_tracing(config.log_format, &config.log_filter)?;
    // Before anything listens: a signal that came between the first
    // connection and the handler's first poll would kill the process.
    let signals = stop_signals()?;
    let app = Application::build(config.clone(), Clock::System).await?;
    tracing::info!(
        listen = %app.local_addr(),
        chatroulette = ?app.chatroulette_addr(),
        calling = ?app.calling_addr(),
        metrics = ?app.metrics_addr(),
        "switchboard {}",
        env!("CARGO_PKG_VERSION")
    );
    // The first signal drains, a second cuts the drain short.
    app.run_until_drained(signals).await
}

/// One item for each SIGINT (Ctrl-C) or SIGTERM. The handlers are
/// installed when this is called, not when the stream is first polled.
///
/// # Errors
/// When a handler cannot be installed.
#[cfg(unix)]
fn stop_signals() -> anyhow::Result<impl Stream<Item = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    Ok(futures_util::stream::unfold(handlers, |(mut interrupt, mut terminate)| async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Some(((), (interrupt, terminate)))
    }))
}

/// One item for each Ctrl-C.
#[cfg(not(unix))]
fn stop_signals() -> anyhow::Result<impl Stream<Item = ()> + Send + 'static> {
    Ok(futures_util::stream::unfold((), |()| async {
        let _ = tokio::signal::ctrl_c().await;
        Some(((), ()))
    }))
}
