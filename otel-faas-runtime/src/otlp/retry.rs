//! When an export is tried again, as the OTLP specification says
//! (open-telemetry/opentelemetry-proto `docs/specification.md`, "Retryable Response Codes",
//! "OTLP/HTTP Throttling", "All Other Responses" and "OTLP/HTTP Connection";
//! opentelemetry-specification `specification/protocol/exporter.md`, "Retry"): after `429`,
//! `502`, `503` and `504`, after a connection that could not be made or closed without an
//! answer, with exponential backoff and jitter, or after the `Retry-After` the server gave.
//!
//! Every wait stays inside the export's deadline (the flush budget, itself bounded by the
//! invocation's deadline): a wait that would end past it gives up at once instead of
//! sleeping into a cancellation, so the caller learns why the export was lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;

/// The first backoff; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether the specification says to retry an export answered with `status`.
pub(crate) fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Exponential backoff with jitter: the n-th wait is drawn from [b/2, b], b = 100 ms × 2ⁿ
/// (at most 5 s), unless the server said how long to wait.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff {
            next: FIRST_BACKOFF,
        }
    }

    /// The wait before the next attempt: `retry_after` when the server gave one.
    pub(crate) fn wait(&mut self, retry_after: Option<Duration>) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        match retry_after {
            Some(wait) => wait,
            None => base / 2 + base.mul_f64(random_fraction() / 2.0),
        }
    }
}

/// A `Retry-After` value as a delay from now: a number of seconds, or an HTTP date
/// (RFC 9110 §10.2.3); `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is an RFC 2822 date.
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// A number in [0, 1), different on every call (xorshift over a clock-seeded state: jitter
/// needs spread between processes, not unpredictability).
fn random_fraction() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_specifications_codes_are_retried() {
        for code in [429, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 415, 500, 501] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_bound() {
        let mut backoff = Backoff::new();
        let mut base = FIRST_BACKOFF;
        for _ in 0..10 {
            let wait = backoff.wait(None);
            assert!(
                wait >= base / 2 && wait <= base,
                "{wait:?} outside [{:?}, {base:?}]",
                base / 2
            );
            base = (base * 2).min(MAX_BACKOFF);
        }
        assert_eq!(
            backoff.wait(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        let later = SystemTime::now() + Duration::from_secs(3600);
        let date = chrono::DateTime::<chrono::Utc>::from(later).to_rfc2822();
        let wait = parse_retry_after(&date).expect("date");
        assert!(wait > Duration::from_secs(3500), "{wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
