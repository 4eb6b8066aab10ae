//! What may leave the function: length limits on untrusted attribute values and scrubbing of
//! secrets in URLs.
//!
//! Request headers are never recorded wholesale (so `Authorization` and cookies cannot leak),
//! and bodies are never recorded. Query strings are recorded as `url.query` with the value of
//! every parameter whose name looks secret replaced by `REDACTED`, which covers the names the
//! semantic conventions list (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`) and the
//! usual token, password and key parameters.

use std::borrow::Cow;

/// The replacement of a scrubbed value.
pub const REDACTED: &str = "REDACTED";

/// Parts of a parameter name that mark its value as secret (compared case-insensitively).
const SECRET_NAME_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "signature",
    "sig",
    "auth",
    "credential",
    "session",
    "code",
];

/// Cuts `value` to at most `limit` bytes on a character boundary.
pub(crate) fn truncate(value: &str, limit: usize) -> &str {
    if value.len() <= limit {
        return value;
    }
    let mut end = limit;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// An owned attribute value from untrusted input, cut to `limit` bytes.
pub(crate) fn bounded(value: &str, limit: usize) -> String {
    truncate(value, limit).to_owned()
}

/// Whether a parameter with this name carries a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

/// The query string with secret-looking parameter values replaced by [`REDACTED`].
///
/// ```
/// # use otel_faas_runtime::redact::redact_query;
/// assert_eq!(redact_query("page=2&access_token=abc"), "page=2&access_token=REDACTED");
/// ```
pub fn redact_query(query: &str) -> Cow<'_, str> {
    if !query
        .split('&')
        .any(|pair| is_secret_name(pair.split('=').next().unwrap_or_default()))
    {
        return Cow::Borrowed(query);
    }
    let scrubbed: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => Cow::Owned(format!("{name}={REDACTED}")),
            _ => Cow::Borrowed(pair),
        })
        .collect();
    Cow::Owned(scrubbed.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn secret_parameters_are_scrubbed_and_others_kept() {
        assert_eq!(
            redact_query(
                "AWSAccessKeyId=AKIA&Signature=xyz&sig=1&page=3&X-Goog-Signature=q&q=shoes"
            ),
            "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&page=3&X-Goog-Signature=REDACTED&q=shoes"
        );
        assert_eq!(
            redact_query("password=hunter2&user=bob"),
            "password=REDACTED&user=bob"
        );
        assert!(matches!(redact_query("page=1&q=x"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_name_without_value_is_left_alone() {
        assert_eq!(redact_query("token&page=1"), "token&page=1");
    }
}
