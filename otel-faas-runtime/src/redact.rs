//! What may leave the function: length limits on untrusted attribute values and scrubbing of
//! secrets in URLs.
//!
//! Request headers are never recorded wholesale (so `Authorization` and cookies cannot leak),
//! and bodies are never recorded. Query strings are recorded as `url.query` (and inside
//! `url.full`) with these parameters' values replaced by `REDACTED`:
//! - the keys the semantic conventions name ([`SEMCONV_KEYS`]: `X-Amz-Signature`,
//!   `X-Amz-Credential`, `X-Amz-Security-Token`, `AWSAccessKeyId`, `Signature`, `sig`,
//!   `X-Goog-Signature`; the `url.query` note in `model/url/registry.yaml` of
//!   open-telemetry/semantic-conventions);
//! - whole names that carry credentials by convention ([`CREDENTIAL_KEYS`]: OAuth 2.0's
//!   `access_token`, `refresh_token`, `id_token`, `client_secret` and `code` (RFC 6749), and
//!   `token`, `password`, `passwd`, `pwd`, `secret`, `api_key`, `apikey`, `x-api-key`,
//!   `auth`, `authorization`, `session_token`);
//! - the keys listed in `OTEL_FAAS_REDACT_QUERY_KEYS` (comma-separated), for an
//!   application's own.
//!
//! Names are compared whole and without regard to ASCII case: `key=hello`, `keyword=shoes`,
//! `design=blue` and `author=bob` are kept (matching fragments of names, as before, redacted
//! all four while a list of fragments can never be complete). Whatever its name, a value
//! holding a URL with a user and password (`next=https://bob:pw@h.test/x`, percent-encoded
//! or not) keeps the URL with the user and password replaced.

use std::borrow::Cow;

/// The replacement of a scrubbed value.
pub const REDACTED: &str = "REDACTED";

/// The query keys the semantic conventions say to redact by default.
pub const SEMCONV_KEYS: &[&str] = &[
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
];

/// Whole parameter names that carry credentials by convention, redacted beside
/// [`SEMCONV_KEYS`].
pub const CREDENTIAL_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "api_key",
    "apikey",
    "x-api-key",
    "auth",
    "authorization",
    "session_token",
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

/// Whether a parameter with this name carries a secret: one of [`SEMCONV_KEYS`],
/// [`CREDENTIAL_KEYS`] or `extra`, compared whole without regard to ASCII case.
pub(crate) fn is_secret_name(name: &str, extra: &[String]) -> bool {
    let same = |key: &str| key.len() == name.len() && key.eq_ignore_ascii_case(name);
    SEMCONV_KEYS.iter().any(|key| same(key))
        || CREDENTIAL_KEYS.iter().any(|key| same(key))
        || extra.iter().any(|key| same(key))
}

/// The query string with secret values replaced by [`REDACTED`] (`page=2&access_token=abc`
/// → `page=2&access_token=REDACTED`), and the user and password of a URL inside any value
/// too; `extra` names more secret keys (`OTEL_FAAS_REDACT_QUERY_KEYS`).
pub(crate) fn redact_query<'q>(query: &'q str, extra: &[String]) -> Cow<'q, str> {
    // One pass: the query is borrowed until its first change, then copied from there on.
    let mut scrubbed: Option<String> = None;
    let mut at = 0;
    for pair in query.split('&') {
        let start = at;
        at += pair.len() + 1;
        let replacement = match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name, extra) => {
                Some(Cow::Owned(format!("{name}={REDACTED}")))
            }
            Some((name, value)) => match without_userinfo(value) {
                Cow::Owned(value) => Some(Cow::Owned(format!("{name}={value}"))),
                Cow::Borrowed(_) => None,
            },
            None => None,
        };
        let out = match (&mut scrubbed, &replacement) {
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
        out.push_str(replacement.as_deref().unwrap_or(pair));
    }
    match scrubbed {
        Some(scrubbed) => Cow::Owned(scrubbed),
        None => Cow::Borrowed(query),
    }
}

/// `value` with the user and password of every URL in it replaced by
/// `REDACTED:REDACTED`, whether the URL is written out (`https://bob:pw@h.test`) or
/// percent-encoded (`https%3A%2F%2Fbob%3Apw%40h.test`).
pub(crate) fn without_userinfo(value: &str) -> Cow<'_, str> {
    // Cheap test first: most values hold no URL at all.
    let bytes = value.as_bytes();
    let has_scheme = bytes.windows(3).any(|w| w == b"://")
        || bytes
            .windows(9)
            .any(|w| w.eq_ignore_ascii_case(b"%3A%2F%2F"));
    if !has_scheme {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut changed = false;
    while let Some((scheme_end, sep_len)) = find_scheme_separator(rest) {
        let authority_start = scheme_end + sep_len;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let authority_len = authority_end(after);
        match last_at(&after[..authority_len]) {
            Some((at, at_len)) => {
                out.push_str(REDACTED);
                out.push(':');
                out.push_str(REDACTED);
                out.push_str(&after[at..at + at_len]);
                rest = &after[at + at_len..];
                changed = true;
            }
            None => rest = after,
        }
    }
    if !changed {
        return Cow::Borrowed(value);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the first `://` (or its percent-encoded form) starts, and its length.
fn find_scheme_separator(value: &str) -> Option<(usize, usize)> {
    let bytes = value.as_bytes();
    (0..bytes.len()).find_map(|i| {
        if bytes[i..].starts_with(b"://") {
            Some((i, 3))
        } else if bytes.len() >= i + 9 && bytes[i..i + 9].eq_ignore_ascii_case(b"%3A%2F%2F") {
            Some((i, 9))
        } else {
            None
        }
    })
}

/// The length of the authority at the start of `after`: up to the first `/`, `?`, `#`, `&`
/// or their percent-encoded forms.
fn authority_end(after: &str) -> usize {
    let bytes = after.as_bytes();
    (0..bytes.len())
        .find(|&i| {
            matches!(bytes[i], b'/' | b'?' | b'#' | b'&')
                || (bytes.len() >= i + 3
                    && bytes[i] == b'%'
                    && [b"2F", b"3F", b"23", b"26"]
                        .iter()
                        .any(|code| bytes[i + 1..i + 3].eq_ignore_ascii_case(*code)))
        })
        .unwrap_or(bytes.len())
}

/// The last `@` (or `%40`) in an authority, and its length.
fn last_at(authority: &str) -> Option<(usize, usize)> {
    let bytes = authority.as_bytes();
    (0..bytes.len()).rev().find_map(|i| {
        if bytes[i] == b'@' {
            Some((i, 1))
        } else if bytes.len() >= i + 3 && bytes[i] == b'%' && &bytes[i + 1..i + 3] == b"40" {
            Some((i, 3))
        } else {
            None
        }
    })
}

/// A `serde` error message without the event's values in it: `invalid type: string
/// "S3CR3T", expected a map` becomes `invalid type: string, expected a map`. The kind of
/// value, the expected type and field names stay; what the caller sent does not (it may be
/// a secret, and it lands in the span status, `exception.message` and the log).
pub(crate) fn without_values(message: &str) -> String {
    const KINDS: [&str; 5] = [
        "string ",
        "integer ",
        "floating point ",
        "boolean ",
        "character ",
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while !rest.is_empty() {
        // `unknown variant `X`, expected …`: the variant is the caller's text, up to the last
        // `, expected` (a backtick inside it cannot end it early).
        if let Some(after) = rest.strip_prefix("unknown variant ") {
            out.push_str("unknown variant");
            match after
                .rfind(", expected")
                .or_else(|| after.rfind(", there are no"))
            {
                Some(end) => rest = &after[end..],
                None => return out,
            }
            continue;
        }
        let kind = KINDS.iter().find(|kind| {
            rest.starts_with(**kind) && matches!(rest.as_bytes().get(kind.len()), Some(b'"' | b'`'))
        });
        if let Some(kind) = kind {
            out.push_str(kind.trim_end());
            let value = &rest[kind.len()..];
            rest = match value.as_bytes()[0] {
                // `Debug`-quoted: ends at the first unescaped quote.
                b'"' => {
                    let mut escaped = false;
                    let end = value[1..].find(|c: char| {
                        let end = c == '"' && !escaped;
                        escaped = c == '\\' && !escaped;
                        end
                    });
                    end.map_or("", |end| &value[end + 2..])
                }
                // Backtick-quoted numbers, booleans and characters: at least one character.
                _ => {
                    let first = value[1..].chars().next().map_or(0, char::len_utf8);
                    value[1 + first..]
                        .find('`')
                        .map_or("", |end| &value[1 + first + end + 1..])
                }
            };
            continue;
        }
        let next = rest.chars().next().map_or(1, char::len_utf8);
        out.push_str(&rest[..next]);
        rest = &rest[next..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(query: &str) -> Cow<'_, str> {
        redact_query(query, &[])
    }

    #[test]
    fn the_semantic_conventions_keys_are_redacted_in_any_case() {
        for key in SEMCONV_KEYS.iter().chain(CREDENTIAL_KEYS) {
            assert_eq!(redact(&format!("{key}=v")), format!("{key}={REDACTED}"));
            let upper = key.to_uppercase();
            assert_eq!(redact(&format!("{upper}=v")), format!("{upper}={REDACTED}"));
        }
        assert_eq!(
            redact("AWSAccessKeyId=AKIA&Signature=xyz&sig=1&page=3&X-Goog-Signature=q&q=shoes"),
            "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&page=3&X-Goog-Signature=REDACTED&q=shoes"
        );
        assert_eq!(
            redact("X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=tok&X-Amz-Signature=ab"),
            "X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
        );
    }

    #[test]
    fn names_that_merely_contain_a_secret_word_are_kept() {
        let query = "key=hello&keyword=shoes&design=blue&author=bob&mySessionId=7&to_ken=1";
        assert!(matches!(redact(query), Cow::Borrowed(q) if q == query));
    }

    #[test]
    fn configured_keys_are_redacted_too() {
        let extra = ["OTP".to_owned()];
        assert_eq!(
            redact_query("otp=123456&page=1", &extra),
            "otp=REDACTED&page=1"
        );
        assert_eq!(redact("otp=123456"), "otp=123456");
    }

    #[test]
    fn a_url_inside_a_value_loses_its_user_and_password() {
        assert_eq!(
            redact("next=https://bob:SECRET@h.test/x&page=2"),
            "next=https://REDACTED:REDACTED@h.test/x&page=2"
        );
        assert_eq!(
            redact("next=https%3A%2F%2Fbob%3ASECRET%40h.test%2Fx"),
            "next=https%3A%2F%2FREDACTED:REDACTED%40h.test%2Fx"
        );
        assert_eq!(
            redact("a=ftp://u:p@one.test/&b=http://plain.test/p@q"),
            "a=ftp://REDACTED:REDACTED@one.test/&b=http://plain.test/p@q"
        );
        let plain = "next=https://h.test/x?y=1";
        assert!(matches!(redact(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn a_query_is_copied_only_from_its_first_change() {
        assert!(matches!(redact("a=1&b=2"), Cow::Borrowed("a=1&b=2")));
        assert_eq!(redact("token=1"), "token=REDACTED");
        assert_eq!(
            redact("page=2&access_token=abc"),
            "page=2&access_token=REDACTED"
        );
        assert_eq!(redact("a=1&&token=1&b"), "a=1&&token=REDACTED&b");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn serde_messages_keep_the_kind_and_the_expected_type_but_no_value() {
        let cases = [
            (
                r#"invalid type: string "S3CR3T", expected a map at line 1 column 9"#,
                "invalid type: string, expected a map at line 1 column 9",
            ),
            (
                r#"invalid type: string "a \"quoted\", expected x", expected a map"#,
                "invalid type: string, expected a map",
            ),
            (
                "invalid type: integer `42`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid value: floating point `1.5`, expected u8",
                "invalid value: floating point, expected u8",
            ),
            (
                "invalid type: character ```, expected a string",
                "invalid type: character, expected a string",
            ),
            (
                "unknown variant `S3CR3T`, expected one of `A`, `B`",
                "unknown variant, expected one of `A`, `B`",
            ),
            (
                "unknown variant `x`, expected `A`, expected one of `A`",
                "unknown variant, expected one of `A`",
            ),
            (
                "invalid type: map, expected a string",
                "invalid type: map, expected a string",
            ),
            ("missing field `messageId`", "missing field `messageId`"),
        ];
        for (message, expected) in cases {
            assert_eq!(without_values(message), expected, "{message}");
        }
        // As serde_json writes them, quotes and all.
        let tricky = r#""S3CR3T \", expected x`""#;
        let error = serde_json::from_str::<std::collections::HashMap<String, String>>(tricky)
            .unwrap_err()
            .to_string();
        assert!(error.contains("S3CR3T"), "{error}");
        assert_eq!(
            without_values(&error),
            "invalid type: string, expected a map at line 1 column 24"
        );
    }

    #[test]
    fn a_secret_name_without_value_is_left_alone() {
        assert_eq!(redact("token&page=1"), "token&page=1");
    }
}
