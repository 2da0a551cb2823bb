//! The HTTP interface of `docs/protocol.md`: routes, credentials, limits, and the mapping of
//! the ledger's answers to statuses. Every refusal is a status and one line of text.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pbr_log::tiles::{DirSource, TilePath, TileSource, tile_width};
use tokio::sync::{mpsc, oneshot};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::framing::{self, Refusal};
use crate::rate::RateLimit;
use crate::sequencer::{Command, Failure, Receipt, Shared};
use crate::tokens::{Holder, Role, Tokens};
use crate::{Clock, Config};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct State {
    inner: Arc<Inner>,
    /// Set when shutdown begins: writes still arriving get 503.
    pub(crate) stopping: Arc<AtomicBool>,
}

struct Inner {
    tokens: Tokens,
    tiles: PathBuf,
    shared: Shared,
    sender: mpsc::Sender<Command>,
    rate: RateLimit,
    clock: Clock,
    max_body: usize,
    timeout: Duration,
    checkpoint_every: Duration,
}

impl State {
    pub(crate) fn new(
        config: &Config,
        tiles: PathBuf,
        shared: Shared,
        sender: mpsc::Sender<Command>,
    ) -> State {
        State {
            inner: Arc::new(Inner {
                tokens: Tokens::new(crate::tokens::tokens_path(&config.ledger)),
                tiles,
                shared,
                sender,
                rate: RateLimit::new(config.rate),
                clock: config.clock.clone(),
                max_body: config.max_body,
                timeout: config.timeout,
                checkpoint_every: config.checkpoint_every,
            }),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The largest body of any request but `POST /add`: they need none.
const OTHER_BODY_LIMIT: usize = 4096;

/// The routes, behind a body limit, a time-out and request tracing on every one.
pub(crate) fn router(state: State, config: &Config) -> Router {
    // `POST /add` limits its body itself (`read_body`), with a line that names the limit.
    let others = Router::new()
        .route("/checkpoint", get(get_checkpoint).post(post_checkpoint))
        .route("/tile/{*rest}", get(get_tile))
        .route("/receipt/{index}", get(get_receipt))
        .fallback(|| async { line(StatusCode::NOT_FOUND, "no such resource") })
        .layer(RequestBodyLimitLayer::new(OTHER_BODY_LIMIT));
    Router::new()
        .route("/add", post(post_add))
        .merge(others)
        .with_state(state)
        .layer(TraceLayer::new_for_http())
        // A backstop: `POST /add` times out its body itself, with a line that says so.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.timeout.saturating_mul(2),
        ))
}

/// Asks the sequencer to publish a checkpoint every `every` when the log has grown.
pub(crate) async fn checkpoint_schedule(sender: mpsc::Sender<Command>, every: Duration) {
    let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the sequencer published what the log held when it opened.
    interval.tick().await;
    loop {
        interval.tick().await;
        let command = Command::Checkpoint {
            only_if_grown: true,
            reply: None,
        };
        if sender.send(command).await.is_err() {
            return;
        }
    }
}

/// A status and one line of text.
fn line(status: StatusCode, text: &str) -> Response {
    let mut text = text.replace(['\n', '\r'], " ");
    text.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn internal(what: &str, error: &str) -> Response {
    tracing::error!("{what}: {error}");
    line(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("internal error: {what}: {error}"),
    )
}

fn unavailable() -> Response {
    line(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is shutting down",
    )
}

fn with_retry_after(mut response: Response, after: Duration) -> Response {
    let seconds = after.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The holder of the request's bearer token, or the `401` (or `500`, when the tokens file
/// cannot be read) to answer.
fn authorize(state: &State, headers: &HeaderMap) -> Result<Holder, Response> {
    let unauthorized = |why: &str| {
        let mut response = line(StatusCode::UNAUTHORIZED, why);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "a credential is required: Authorization: Bearer <token>",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?;
    match state.inner.tokens.holder(token) {
        Ok(Some(holder)) => Ok(holder),
        Ok(None) => Err(unauthorized("unknown token")),
        Err(error) => Err(internal("reading the tokens file", &error)),
    }
}

fn published(state: &State) -> Option<crate::Published> {
    state
        .inner
        .shared
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

async fn get_checkpoint(Extract(state): Extract<State>, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&state, &headers) {
        return response;
    }
    match published(&state) {
        None => line(
            StatusCode::NOT_FOUND,
            "no checkpoint is published yet: one is signed when the log has records",
        ),
        Some(published) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache, max-age=0"),
            ],
            published.text,
        )
            .into_response(),
    }
}

async fn get_tile(Extract(state): Extract<State>, request: Request) -> Response {
    if let Err(response) = authorize(&state, request.headers()) {
        return response;
    }
    // The raw path, not a decoded one: a tile path has only digits, letters, `x`, `.` and
    // `/`, and the grammar is checked on exactly what was sent.
    let raw = request.uri().path().trim_start_matches('/').to_owned();
    let path = match TilePath::parse(&raw) {
        Ok(path) => path,
        Err(error) => return line(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let Some(published) = published(&state) else {
        return line(StatusCode::NOT_FOUND, "no checkpoint is published yet");
    };
    let in_tree = tile_width(published.size, path.level().unwrap_or(0), path.index())
        .is_some_and(|width| path.width() <= width);
    if !in_tree {
        return line(
            StatusCode::NOT_FOUND,
            &format!(
                "{path} is not a tile of the published tree of size {}",
                published.size
            ),
        );
    }
    let source = DirSource::new(state.inner.tiles.clone());
    let name = path.to_string();
    let fetched = tokio::task::spawn_blocking(move || source.fetch(&name)).await;
    match fetched {
        Ok(Ok(Some(bytes))) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        // A partial tile of an earlier size that was never published.
        Ok(Ok(None)) => line(StatusCode::NOT_FOUND, &format!("{path} is not on disk")),
        Ok(Err(error)) => internal("reading a tile", &error.to_string()),
        Err(error) => internal("reading a tile", &error.to_string()),
    }
}

/// A decimal index with no sign and no leading zero.
fn parse_index(text: &str) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Sends `command` to the sequencer and waits for its reply; `None` when it has stopped.
async fn ask<T>(state: &State, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    state.inner.sender.send(command(reply)).await.ok()?;
    answer.await.ok()
}

async fn get_receipt(
    Extract(state): Extract<State>,
    axum::extract::Path(index): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorize(&state, &headers) {
        return response;
    }
    let Some(index) = parse_index(&index) else {
        return line(StatusCode::BAD_REQUEST, "the index is not a decimal number");
    };
    match ask(&state, |reply| Command::Receipt { index, reply }).await {
        None => unavailable(),
        Some(Ok(Receipt::Proof(text))) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache, max-age=0"),
            ],
            text,
        )
            .into_response(),
        Some(Ok(Receipt::NotYet)) => with_retry_after(
            line(
                StatusCode::NOT_FOUND,
                &format!("no published checkpoint covers record {index} yet"),
            ),
            state.inner.checkpoint_every,
        ),
        Some(Ok(Receipt::NoRecord)) => line(
            StatusCode::NOT_FOUND,
            &format!("there is no record {index}"),
        ),
        Some(Err(Failure::Rejected(error) | Failure::Internal(error))) => {
            internal("a receipt", &error)
        }
    }
}

async fn post_checkpoint(Extract(state): Extract<State>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers) {
        Err(response) => return response,
        Ok(holder) if holder.role != Role::Operator => {
            return line(
                StatusCode::FORBIDDEN,
                &format!(
                    "the token of {} is a reader's: only an operator token may ask for a checkpoint",
                    holder.party
                ),
            );
        }
        Ok(_) => {}
    }
    let answer = ask(&state, |reply| Command::Checkpoint {
        only_if_grown: false,
        reply: Some(reply),
    })
    .await;
    match answer {
        None => unavailable(),
        Some(Ok(published)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            published.text,
        )
            .into_response(),
        Some(Err(Failure::Rejected(error) | Failure::Internal(error))) => {
            internal("publishing a checkpoint", &error)
        }
    }
}

/// Whether `error` or one of its sources is a body over the limit.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

async fn read_body(state: &State, request: Request) -> Result<Bytes, Response> {
    let limit = state.inner.max_body;
    let timeout = state.inner.timeout;
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let body: Body = request.into_body();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(line(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the body did not arrive within {} s (--timeout)",
                timeout.as_secs_f32()
            ),
        )),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large(limit)),
        Ok(Err(error)) => Err(line(
            StatusCode::BAD_REQUEST,
            &format!("the body could not be read: {error}"),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

fn too_large(limit: usize) -> Response {
    line(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than the limit of {limit} bytes (--max-body)"),
    )
}

async fn post_add(Extract(state): Extract<State>, request: Request) -> Response {
    if state.stopping.load(Ordering::SeqCst) {
        return unavailable();
    }
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    // Decoding and signature checks cost CPU in proportion to the body: off the reactor.
    let parsed = tokio::task::spawn_blocking(move || framing::parse_body(&body)).await;
    let records = match parsed {
        Ok(Ok(records)) => records,
        Ok(Err(Refusal::Malformed(why))) => return line(StatusCode::BAD_REQUEST, &why),
        Ok(Err(Refusal::Signature(why))) => return line(StatusCode::FORBIDDEN, &why),
        Err(error) => return internal("checking the body", &error.to_string()),
    };
    let mut counts: HashMap<[u8; 32], u32> = HashMap::new();
    for submitted in &records {
        let count = counts.entry(submitted.record.public_key).or_default();
        *count = count.saturating_add(1);
    }
    if let Err(wait) = state.inner.rate.take(&counts, Instant::now()) {
        let response = line(
            StatusCode::TOO_MANY_REQUESTS,
            &match wait {
                Some(_) => "a key of this body submitted more than its limit of records per \
                            second (--rate); retry later"
                    .to_owned(),
                None => "a key of this body signs more records than its limit per second \
                         (--rate) allows in one body; split the body"
                    .to_owned(),
            },
        );
        return with_retry_after(response, wait.unwrap_or(Duration::from_secs(1)));
    }
    let now_micros = (state.inner.clock)();
    match ask(&state, |reply| Command::Add {
        records,
        now_micros,
        reply,
    })
    .await
    {
        None => unavailable(),
        Some(Ok(added)) => {
            let records: Vec<serde_json::Value> = added
                .records
                .iter()
                .map(|(index, new)| serde_json::json!({"index": index, "new": new}))
                .collect();
            let body = serde_json::json!({"size": added.size, "records": records});
            (
                [(header::CONTENT_TYPE, "application/json")],
                format!("{body}\n"),
            )
                .into_response()
        }
        Some(Err(Failure::Rejected(why))) => line(StatusCode::UNPROCESSABLE_ENTITY, &why),
        Some(Err(Failure::Internal(error))) => internal("appending", &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_strict_decimals() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("012"), None);
        assert_eq!(parse_index("+1"), None);
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("99999999999999999999999"), None);
    }
}
