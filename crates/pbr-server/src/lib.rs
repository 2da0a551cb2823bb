//! `pbr serve`: one ledger made reachable over HTTP (DESIGN §7, `docs/protocol.md`).
//!
//! Reads are the C2SP `tlog-tiles` API, served from the tile tree the server writes each
//! time it publishes a checkpoint (`DIR/server/tiles`), behind per-party bearer tokens
//! (`tokens.rs`). Writes (`POST /add`) are records signed elsewhere, framed as in an entry
//! bundle (`framing.rs`), appended through one sequencer thread that owns the ledger
//! (`sequencer.rs`), exactly as a local import of a record signed elsewhere
//! (`Input::Signed`). Handlers parse, call the ledger, and map its answers to statuses
//! (`routes.rs`); no admission rule lives here.
//!
//! Architecture invariants:
//! - This crate and `pbr-cli` are the only ones that know HTTP; nothing below it does.
//! - It reads no wall clock and no randomness: `recorded_at` comes from the caller's clock
//!   ([`Config::clock`]); only monotonic timers (time-outs, the rate limit) are its own.
//! - Every request is bounded: the body by [`Config::max_body`], the time by
//!   [`Config::timeout`], the queue to the sequencer by [`sequencer::QUEUE`], the rate per
//!   key by [`Config::rate`].

#![warn(clippy::unwrap_used)]

mod framing;
mod rate;
mod routes;
pub mod sequencer;
pub mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pbr_ledger::{LedgerError, SignerKey};

pub use sequencer::Published;
pub use tokens::{Holder, Role, token_hash, token_line, tokens_path};

/// The server's own directory inside the ledger directory: tokens and tiles.
pub const SERVER_DIR: &str = "server";

/// The tile tree the server publishes: `DIR/server/tiles`.
pub fn tiles_path(ledger: &Path) -> PathBuf {
    ledger.join(SERVER_DIR).join("tiles")
}

/// A wall clock, in microseconds since the epoch: every record's `recorded_at` is checked
/// against it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How to run a server.
#[derive(Clone)]
pub struct Config {
    /// The ledger directory.
    pub ledger: PathBuf,
    /// The address to listen on (`127.0.0.1:0` lets the system pick a port).
    pub listen: SocketAddr,
    /// The log key, which signs checkpoints.
    pub log_key: SignerKey,
    /// Sign and publish a checkpoint this often when the log has grown.
    pub checkpoint_every: Duration,
    /// The largest body of `POST /add`.
    pub max_body: usize,
    /// The time a client has to send its request; every request ends within twice this.
    pub timeout: Duration,
    /// Records per second per public key.
    pub rate: u32,
    /// The wall clock.
    pub clock: Clock,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The ledger could not be opened (in use, damaged, not a ledger) or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The configuration does not fit the ledger (a log key of another log).
    #[error("{0}")]
    Config(String),
    /// Listening or another system call failed.
    #[error("{0}")]
    Io(String),
}

/// Runs the server until `shutdown` completes, then lets the requests in flight finish,
/// stops the sequencer and closes the ledger. `listening` is called once with the bound
/// address, before any request is served.
pub fn run<F>(
    config: Config,
    listening: impl FnOnce(SocketAddr),
    shutdown: F,
) -> Result<(), ServerError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pbr-http")
        .build()
        .map_err(|e| ServerError::Io(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve(config, listening, shutdown))
}

async fn serve<F>(
    config: Config,
    listening: impl FnOnce(SocketAddr),
    shutdown: F,
) -> Result<(), ServerError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let tiles = tiles_path(&config.ledger);
    let shared: sequencer::Shared = Arc::default();
    let sequencer = sequencer::start(
        config.ledger.clone(),
        tiles.clone(),
        config.log_key.clone(),
        shared.clone(),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| ServerError::Io(format!("cannot read the bound address: {e}")))?;
    let state = routes::State::new(&config, tiles, shared, sequencer.sender.clone());
    let app = routes::router(state.clone(), &config);
    let ticker = tokio::spawn(routes::checkpoint_schedule(
        sequencer.sender.clone(),
        config.checkpoint_every,
    ));
    listening(address);
    tracing::info!(%address, "listening");
    let stopping = state.stopping.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("shutting down: finishing the requests in flight");
        })
        .await
        .map_err(|e| ServerError::Io(format!("serving: {e}")));
    ticker.abort();
    // Requests still queued get 503; then the ledger closes.
    let _ = sequencer.sender.send(sequencer::Command::Shutdown).await;
    drop(state);
    let closed = tokio::task::spawn_blocking(move || sequencer.thread.join())
        .await
        .map_err(|e| ServerError::Io(format!("the sequencer thread: {e}")))?;
    match closed {
        Ok(result) => result?,
        Err(_) => {
            return Err(ServerError::Io("the sequencer thread panicked".to_owned()));
        }
    }
    tracing::info!("ledger closed");
    served
}
