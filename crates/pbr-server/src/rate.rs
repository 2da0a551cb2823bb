//! The limit per key on writes (`--rate`, records per second per key): a token bucket per
//! Ed25519 public key, holding at most one second's worth of records.
//!
//! Invariant: memory is bounded. Buckets that have filled up again carry no information and
//! are dropped whenever the table grows past [`MAX_KEYS`]; if it is still that full, the
//! request is refused as if its key had no tokens, so a flood of fresh keys cannot grow it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys whose buckets are kept before full ones are dropped.
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by public key.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: f64,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

impl RateLimit {
    /// `per_second` records per second per key, with a burst of as many.
    pub(crate) fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `counts` records for each key at `now`, all or none: `Err(wait)` when a key has
    /// too few tokens left, with how long until it has enough (at least one second, and
    /// `None` when it never will: more records than the burst).
    pub(crate) fn take(
        &self,
        counts: &HashMap<[u8; 32], u32>,
        now: Instant,
    ) -> Result<(), Option<Duration>> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rate = self.per_second;
        let level = |bucket: Option<&Bucket>| {
            bucket.map_or(rate, |b| {
                (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(rate)
            })
        };
        if buckets.len() + counts.len() > MAX_KEYS {
            buckets.retain(|_, bucket| level(Some(bucket)) < rate);
            if buckets.len() + counts.len() > MAX_KEYS {
                return Err(Some(Duration::from_secs(1)));
            }
        }
        for (key, count) in counts {
            let want = f64::from(*count);
            if want > rate {
                return Err(None);
            }
            let have = level(buckets.get(key));
            if have < want {
                let seconds = ((want - have) / rate).ceil().max(1.0);
                return Err(Some(Duration::from_secs_f64(seconds)));
            }
        }
        for (key, count) in counts {
            let tokens = level(buckets.get(key)) - f64::from(*count);
            buckets.insert(*key, Bucket { tokens, at: now });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills() {
        let limit = RateLimit::new(2);
        let start = Instant::now();
        let one = HashMap::from([([1u8; 32], 1u32)]);
        assert!(limit.take(&one, start).is_ok());
        assert!(limit.take(&one, start).is_ok());
        assert!(limit.take(&one, start).is_err());
        assert!(limit.take(&one, start + Duration::from_secs(1)).is_ok());
        let many = HashMap::from([([2u8; 32], 3u32)]);
        assert_eq!(limit.take(&many, start), Err(None));
    }
}
