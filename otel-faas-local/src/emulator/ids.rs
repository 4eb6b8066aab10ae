//! Request IDs, log stream names and deadlines, written as the platform writes them.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use super::invocation::FunctionError;

/// A request ID travels as a path segment and a header: keep it to URL-safe ASCII.
pub(super) fn validate_request_id(request_id: &str) -> Result<(), FunctionError> {
    let is_path_safe =
        |character: char| character.is_ascii_alphanumeric() || "-_.~:".contains(character);
    if !request_id.is_empty() && request_id.chars().all(is_path_safe) {
        Ok(())
    } else {
        Err(FunctionError::invalid_invocation(format!(
            "request ID {request_id:?} must be non-empty ASCII letters, digits, '-', '_', '.', \
             '~' or ':'"
        )))
    }
}

pub(super) fn header_value(field: &str, value: &str) -> Result<HeaderValue, FunctionError> {
    HeaderValue::from_str(value).map_err(|_| {
        FunctionError::invalid_invocation(format!(
            "{field} {value:?} cannot be sent as an HTTP header value"
        ))
    })
}

/// Milliseconds since the Unix epoch, `timeout` from now (the `Lambda-Runtime-Deadline-Ms`
/// value).
pub(super) fn epoch_millis_after(timeout: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.saturating_add(timeout).as_millis()).unwrap_or(u64::MAX)
}

/// 128 bits that differ between calls and between processes, without a random-number crate:
/// the process-wide random hash keys of std's `RandomState` over a counter and the clock.
pub(super) fn unique_bits() -> (u64, u64) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let keys = KEYS.get_or_init(RandomState::new);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since_epoch| since_epoch.as_nanos())
        .unwrap_or_default();
    (
        keys.hash_one((count, nanos, 0_u8)),
        keys.hash_one((count, nanos, 1_u8)),
    )
}

/// A fresh request ID shaped like the platform's: a random (version 4) UUID.
pub(crate) fn fresh_request_id() -> String {
    let (high, low) = unique_bits();
    let high = (high & !0xF000) | 0x4000; // version 4
    let low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF,
    )
}

/// The platform's log stream name for an execution environment started at `started_at`:
/// `YYYY/MM/DD/[VERSION]` and 32 hex digits.
pub(super) fn log_stream_name(version: &str, started_at: SystemTime) -> String {
    let days_since_epoch = started_at
        .duration_since(UNIX_EPOCH)
        .map(|since_epoch| since_epoch.as_secs() / 86_400)
        .unwrap_or_default();
    let (year, month, day) = civil_date(i64::try_from(days_since_epoch).unwrap_or_default());
    let (high, low) = unique_bits();
    format!("{year:04}/{month:02}/{day:02}/[{version}]{high:016x}{low:016x}")
}

/// The proleptic Gregorian date `days_since_epoch` days after 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub(super) fn civil_date(days_since_epoch: i64) -> (i64, u32, u32) {
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March is 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}
