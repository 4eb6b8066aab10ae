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
    let at = parse_http_date(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// An HTTP-date (RFC 9110 §5.6.7): the IMF-fixdate a sender sends (`Sun, 06 Nov 1994
/// 08:49:37 GMT`), or one of the two obsolete forms a recipient must accept too, RFC 850's
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime's (`Sun Nov  6 08:49:37 1994`). The day
/// name is not checked against the date. `None` for anything else, and before 1970.
///
/// Written here rather than with `chrono`, whose RFC 2822 parser this replaced: it was the
/// only part of `chrono` a function binary linked, 30 KB of it.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let fields: Vec<&str> = value
        .split([' ', ','])
        .filter(|field| !field.is_empty())
        .collect();
    let (day, month, year, time) = match fields.as_slice() {
        [_, day, month, year, time, "GMT"] => (*day, *month, year.parse::<i64>().ok()?, *time),
        [_, date, time, "GMT"] => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            if year.len() != 2 || parts.next().is_some() {
                return None;
            }
            (day, month, two_digit_year(year.parse().ok()?), *time)
        }
        [_, month, day, time, year] => (*day, *month, year.parse::<i64>().ok()?, *time),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let mut clock = time.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if clock.next().is_some()
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..=60).contains(&second)
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// RFC 850's two-digit year: the most recent year with those digits that is not more than
/// 50 years in the future (RFC 9110 §5.6.7).
fn two_digit_year(year: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1970, |d| 1970 + d.as_secs() as i64 / 31_556_952);
    let candidate = now - now % 100 + year;
    match candidate > now + 50 {
        true => candidate - 100,
        false => candidate,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
        let date = chrono::DateTime::<chrono::Utc>::from(later)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = parse_retry_after(&date).expect("date");
        assert!(wait > Duration::from_secs(3500), "{wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn http_dates_are_read_in_their_three_forms() {
        // RFC 9110 §5.6.7's example, in each form: 784111777 s after the epoch.
        let example = Some(UNIX_EPOCH + Duration::from_secs(784_111_777));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), example);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), example);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), example);
        // Leap years and the ends of months, against chrono's arithmetic.
        for date in [
            "Thu, 29 Feb 2024 23:59:59 GMT",
            "Wed, 01 Mar 2000 00:00:00 GMT",
            "Fri, 31 Dec 2100 12:30:00 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            let expected = chrono::DateTime::parse_from_rfc2822(date)
                .unwrap()
                .timestamp();
            let parsed = parse_http_date(date).unwrap();
            let seconds = parsed.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(seconds as i64, expected, "{date}");
        }
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
