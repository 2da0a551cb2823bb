//! A [`TileSource`] over HTTP(S): `GET <url>/<path>` with `Authorization: Bearer <token>`
//! (`docs/protocol.md`, "Reads"), through `ureq` with rustls.
//!
//! Every request has a time-out and every body a limit (the largest valid file of its path),
//! so a hostile or broken server can neither hang a pull nor fill its memory.

use std::time::Duration;

use pbr_log::TileError;
use pbr_log::tiles::{CHECKPOINT_PATH, MAX_CHECKPOINT_LEN, TilePath, TileSource};

/// How long one request may take, from connecting to the end of its body.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A request the server did not answer with the file.
#[derive(Debug, thiserror::Error)]
#[error("GET {url}: {reason}")]
pub struct HttpError {
    /// The URL asked for.
    pub url: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// What went wrong, on one line.
    pub reason: String,
}

/// A tile tree served over HTTP.
#[derive(Debug)]
pub struct HttpSource {
    agent: ureq::Agent,
    url: String,
    token: Option<String>,
}

impl HttpSource {
    /// The tree at `url` (its prefix, without the trailing `/`), read with `token`.
    pub fn new(url: &str, token: Option<String>) -> HttpSource {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        HttpSource {
            agent,
            url: url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The tree's URL prefix.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn get(&self, path: &str, limit: usize) -> Result<Option<Vec<u8>>, HttpError> {
        let url = format!("{}/{path}", self.url);
        let fail = |status: Option<u16>, reason: String| HttpError {
            url: url.clone(),
            status,
            reason,
        };
        let mut request = self.agent.get(&url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .call()
            .map_err(|e| fail(None, one_line(&e.to_string())))?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            404 => return Ok(None),
            401 if self.token.is_none() => {
                return Err(fail(
                    Some(status),
                    "401 Unauthorized: the server needs a token (give --token-file)".to_owned(),
                ));
            }
            401 => {
                return Err(fail(
                    Some(status),
                    "401 Unauthorized: the server refused the token".to_owned(),
                ));
            }
            _ => {
                let reason = response
                    .body_mut()
                    .with_config()
                    .limit(512)
                    .read_to_string()
                    .map(|text| one_line(&text))
                    .unwrap_or_default();
                return Err(fail(Some(status), format!("status {status} {reason}")));
            }
        }
        // One byte over the limit is read, so that a file too large is told apart from one
        // exactly at the limit; the reader then refuses it.
        let body = response
            .body_mut()
            .with_config()
            .limit(limit as u64 + 1)
            .read_to_vec()
            .map_err(|e| fail(Some(status), one_line(&e.to_string())))?;
        Ok(Some(body))
    }
}

impl TileSource for HttpSource {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, TileError> {
        let limit = if path == CHECKPOINT_PATH {
            MAX_CHECKPOINT_LEN
        } else {
            TilePath::parse(path)?.max_len()
        };
        self.get(path, limit)
            .map_err(|e| TileError::Source(Box::new(e)))
    }
}

/// `text` on one line, trimmed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
