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
/// `is_secret_name` implements this list; its tests check the two agree.
#[cfg(test)]
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
/// every query parameter of every request). One pass over the name: at each byte, only the
/// parts of [`SECRET_NAME_PARTS`] that start with it are compared (a test checks the table
/// below covers every part).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.as_bytes();
    (0..name.len()).any(|at| {
        let rest = &name[at..];
        let parts: &[&str] = match rest[0].to_ascii_lowercase() {
            b't' => &["token"],
            b's' => &["secret", "sig", "session"], // `sig` covers `signature`
            b'p' => &["password", "passwd", "pwd"],
            b'k' => &["key"],
            b'a' => &["auth"],
            b'c' => &["credential", "code"],
            _ => return false,
        };
        parts.iter().any(|part| {
            rest.len() >= part.len() && rest[..part.len()].eq_ignore_ascii_case(part.as_bytes())
        })
    })
}

/// The query string with secret-looking parameter values replaced by [`REDACTED`]
/// (`page=2&access_token=abc` → `page=2&access_token=REDACTED`).
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    fn secret(pair: &str) -> Option<&str> {
        let (name, _) = pair.split_once('=')?;
        is_secret_name(name).then_some(name)
    }
    // One pass: the query is borrowed until its first secret, then copied from there on.
    let mut scrubbed: Option<String> = None;
    let mut at = 0;
    for pair in query.split('&') {
        let start = at;
        at += pair.len() + 1;
        let name = secret(pair);
        let out = match (&mut scrubbed, name) {
            (Some(out), _) => out,
            (None, Some(_)) => {
                // Everything before this pair, without the `&` that ends it (added below).
                let mut out = String::with_capacity(query.len());
                out.push_str(&query[..start.saturating_sub(1)]);
                scrubbed.insert(out)
            }
            (None, None) => continue,
        };
        if start > 0 {
            out.push('&');
        }
        match name {
            Some(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            None => out.push_str(pair),
        }
    }
    match scrubbed {
        Some(scrubbed) => Cow::Owned(scrubbed),
        None => Cow::Borrowed(query),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_part_is_recognised_in_any_case_and_position() {
        for part in SECRET_NAME_PARTS {
            assert!(is_secret_name(part), "{part}");
            assert!(
                is_secret_name(&format!("x_{}_y", part.to_uppercase())),
                "{part}"
            );
        }
        for name in ["include", "page", "q", "sort", "limit", "", "s", "to"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn the_one_pass_matcher_agrees_with_searching_every_part() {
        let naive = |name: &str| {
            SECRET_NAME_PARTS.iter().any(|part| {
                name.as_bytes()
                    .windows(part.len())
                    .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
            })
        };
        let fragments = [
            "",
            "s",
            "si",
            "sig",
            "SIGN",
            "se",
            "sess",
            "sessio",
            "t",
            "tok",
            "TOKEN",
            "p",
            "pw",
            "pwd",
            "pass",
            "passw",
            "PassWd",
            "k",
            "ke",
            "key",
            "a",
            "au",
            "auth",
            "c",
            "co",
            "code",
            "cred",
            "credential",
            "x",
            "_",
            "-",
            "é",
        ];
        for a in fragments {
            for b in fragments {
                for c in ["", "id", "ret", "ure", "ord", "y", "h"] {
                    let name = format!("{a}{b}{c}");
                    assert_eq!(is_secret_name(&name), naive(&name), "{name}");
                }
            }
        }
    }

    #[test]
    fn a_query_is_copied_only_from_its_first_secret() {
        assert!(matches!(redact_query("a=1&b=2"), Cow::Borrowed("a=1&b=2")));
        assert_eq!(redact_query("token=1"), "token=REDACTED");
        assert_eq!(
            redact_query("page=2&access_token=abc"),
            "page=2&access_token=REDACTED"
        );
        assert_eq!(redact_query("a=1&&token=1&b"), "a=1&&token=REDACTED&b");
        assert_eq!(redact_query(""), "");
    }

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
