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

/// Whether a parameter with this name carries a secret (without allocating: it runs for
/// every query parameter of every request).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.as_bytes();
    SECRET_NAME_PARTS.iter().any(|part| {
        let part = part.as_bytes();
        name.windows(part.len())
            .any(|window| window.eq_ignore_ascii_case(part))
    })
}

/// The query string with secret-looking parameter values replaced by [`REDACTED`].
///
/// ```
/// # use otel_faas_runtime::redact::redact_query;
/// assert_eq!(redact_query("page=2&access_token=abc"), "page=2&access_token=REDACTED");
/// ```
pub fn redact_query(query: &str) -> Cow<'_, str> {
    fn secret(pair: &str) -> Option<&str> {
        let (name, _) = pair.split_once('=')?;
        is_secret_name(name).then_some(name)
    }
    if !query.split('&').any(|pair| secret(pair).is_some()) {
        return Cow::Borrowed(query);
    }
    let mut scrubbed = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            scrubbed.push('&');
        }
        match secret(pair) {
            Some(name) => {
                scrubbed.push_str(name);
                scrubbed.push('=');
                scrubbed.push_str(REDACTED);
            }
            None => scrubbed.push_str(pair),
        }
    }
    Cow::Owned(scrubbed)
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
    fn secret_names_are_found_in_any_case_and_anywhere() {
        for name in ["TOKEN", "x-Api-Key", "mySessionId", "oauth_code", "SiG"] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["page", "q", "", "ké", "to_ken"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn a_secret_name_without_value_is_left_alone() {
        assert_eq!(redact_query("token&page=1"), "token&page=1");
    }
}
