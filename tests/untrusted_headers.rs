//! Trace-context headers are attacker-controlled. Whatever `traceparent`, `X-Amzn-Trace-Id`
//! or `baggage` a request carries, the invocation is served and its span exported; a
//! malformed value starts a new root trace, never a panic. 12,000 generated headers run
//! through the whole glue (event deserialization, propagators, span creation, export).

use std::collections::HashMap;

use lambda_http::Request;
use opentelemetry::trace::{SpanId, TraceId};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::testing::TestKit;
use otel_faas_runtime::{Error, traced_function};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::json;

const VALID_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const VALID_XRAY: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const CASES: u32 = 4000;

#[traced_function(trigger = "http")]
async fn handler(_request: Request) -> Result<&'static str, Error> {
    Ok("ok")
}

/// Invokes the handler through a Function URL event carrying `headers`; returns the
/// invocation span's trace id and parent span id, or `None` when the span was not recorded
/// (a well-formed header may say the caller's trace is not sampled).
fn invoke(
    kit: &TestKit,
    runtime: &tokio::runtime::Runtime,
    headers: &[(&str, &str)],
) -> Option<(TraceId, SpanId)> {
    kit.clear();
    let headers: HashMap<&str, &str> = headers
        .iter()
        .copied()
        .chain([("host", "x.lambda-url.eu-west-1.on.aws")])
        .collect();
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "", "headers": headers,
        "requestContext": { "http": { "method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9" },
                            "requestId": "r", "routeKey": "$default", "stage": "$default", "timeEpoch": 0 },
        "isBase64Encoded": false
    });
    runtime
        .block_on(kit.invoke(handler, event))
        .expect("every header is served");
    let spans = kit.spans();
    assert!(spans.len() <= 1);
    spans
        .0
        .first()
        .map(|span| (span.span_context.trace_id(), span.parent_span_id))
}

fn kit(propagators: &str) -> TestKit {
    let propagators = propagators.to_owned();
    TestKit::with_config(Config::from_lookup(move |key| {
        (key == "OTEL_PROPAGATORS").then(|| propagators.clone())
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn runner() -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// The W3C Trace Context §3.2 format, written out independently of the runtime's check:
/// `vv-{32 hex}-{16 hex}-{2 hex}`, lower case, version not `ff`, ids not all zero; version
/// `00` ends there, a later one may go on after a `-`.
fn is_valid_traceparent(value: &str) -> bool {
    let lower_hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let Some(head) = value.get(..55) else {
        return false;
    };
    let tail = &value[55..];
    let fields: Vec<&str> = head.split('-').collect();
    let [version, trace, parent, flags] = fields[..] else {
        return false;
    };
    let tail_ok = if version == "00" {
        tail.is_empty()
    } else {
        tail.is_empty() || tail.starts_with('-')
    };
    version.len() == 2
        && lower_hex(version)
        && version != "ff"
        && trace.len() == 32
        && lower_hex(trace)
        && nonzero(trace)
        && parent.len() == 16
        && lower_hex(parent)
        && nonzero(parent)
        && flags.len() == 2
        && lower_hex(flags)
        && tail_ok
}

/// An X-Ray header from which a parent can be taken: `Root=1-{8 hex}-{24 hex}` and
/// `Parent={16 hex}`, not all zero.
fn has_xray_parent(value: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let fields: HashMap<&str, &str> = value.split(';').filter_map(|f| f.split_once('=')).collect();
    let root_ok = fields.get("Root").is_some_and(|r| {
        let parts: Vec<&str> = r.split('-').collect();
        matches!(parts[..], ["1", t, i] if t.len() == 8 && hex(t) && i.len() == 24 && hex(i))
    });
    let parent_ok = fields
        .get("Parent")
        .is_some_and(|p| p.len() == 16 && hex(p) && p.bytes().any(|b| b != b'0'));
    root_ok && parent_ok
}

/// Headers near a valid one: one character replaced, a field cut or grown, separators
/// changed, ids zeroed, the version made `ff` — and plain arbitrary text. Only values an
/// HTTP header can carry: API Gateway never delivers control characters (and `lambda_http`
/// refuses such an event whole, which `invocation_spans.rs` covers as a malformed event).
fn near_misses(valid: &'static str) -> impl Strategy<Value = String> {
    let any = prop_oneof![
        "\\PC{0,120}",
        (0..valid.len(), any::<char>()).prop_map(move |(at, c)| {
            let mut chars: Vec<char> = valid.chars().collect();
            chars[at] = c;
            chars.into_iter().collect()
        }),
        (0..valid.len()).prop_map(move |cut| valid[..cut].to_owned()),
        ("[0-9a-f]{0,40}", 0..4usize).prop_map(move |(extra, field)| {
            let mut fields: Vec<String> = valid.split('-').map(str::to_owned).collect();
            if field < fields.len() {
                fields[field].push_str(&extra);
            }
            fields.join("-")
        }),
        Just(valid.replace('-', "_")),
        Just(valid.to_uppercase()),
        Just(format!("ff{}", &valid[2..])),
        Just("00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned()),
        Just("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01".to_owned()),
        Just(format!("{valid},{valid}")),
        Just(valid.repeat(200)),
    ];
    any.prop_filter("a value an HTTP header can carry", |v| {
        http::HeaderValue::from_str(v).is_ok()
    })
}

#[test]
fn a_malformed_traceparent_starts_a_new_root_and_never_panics() {
    let (kit, runtime) = (kit("tracecontext,baggage"), runtime());
    let malformed = std::cell::Cell::new(0);
    runner()
        .run(&near_misses(VALID_TRACEPARENT), |header| {
            let span = invoke(&kit, &runtime, &[("traceparent", &header)]);
            if is_valid_traceparent(header.trim()) {
                // Well-formed: the caller's ids and sampling decision are honoured.
                if let Some((trace_id, parent)) = span {
                    prop_assert!(
                        header.contains(&format!("{trace_id}-{parent}")),
                        "{:?}",
                        header
                    );
                }
            } else {
                malformed.set(malformed.get() + 1);
                let (trace_id, parent) =
                    span.expect("a malformed header starts a new, recorded trace");
                prop_assert_eq!(
                    parent,
                    SpanId::INVALID,
                    "malformed {:?} must start a new root",
                    header
                );
                prop_assert!(!header.contains(&trace_id.to_string()));
            }
            Ok(())
        })
        .unwrap();
    assert!(
        malformed.get() > CASES / 2,
        "the generator mostly produces malformed headers ({})",
        malformed.get()
    );
    let (trace_id, parent) = invoke(&kit, &runtime, &[("traceparent", VALID_TRACEPARENT)]).unwrap();
    assert_eq!(
        (trace_id.to_string(), parent.to_string()),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            "00f067aa0ba902b7".into()
        )
    );
}

#[test]
fn a_malformed_xray_header_starts_a_new_root_and_never_panics() {
    let (kit, runtime) = (kit("xray"), runtime());
    runner()
        .run(&near_misses(VALID_XRAY), |header| {
            let span = invoke(&kit, &runtime, &[("x-amzn-trace-id", &header)]);
            if has_xray_parent(header.trim()) {
                if let Some((trace_id, parent)) = span {
                    let digits = header.replace('-', "").to_ascii_lowercase();
                    prop_assert!(
                        parent == SpanId::INVALID || digits.contains(&parent.to_string()),
                        "{:?}",
                        header
                    );
                    prop_assert!(
                        parent == SpanId::INVALID || digits.contains(&trace_id.to_string()),
                        "{:?}",
                        header
                    );
                }
            } else {
                let (_, parent) =
                    span.expect("a header without a usable parent starts a new, recorded trace");
                prop_assert_eq!(parent, SpanId::INVALID, "{:?}", header);
            }
            Ok(())
        })
        .unwrap();
    let (trace_id, _) = invoke(&kit, &runtime, &[("x-amzn-trace-id", VALID_XRAY)]).unwrap();
    assert_eq!(trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
}

#[test]
fn any_baggage_is_survived() {
    let (kit, runtime) = (kit("tracecontext,baggage"), runtime());
    let baggage = prop_oneof![
        "[ -~]{0,300}",
        proptest::collection::vec(("[a-z]{1,8}", "[ -~]{0,16}"), 0..400).prop_map(|pairs| pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")),
        Just(format!("k={}", "v".repeat(20_000))),
    ];
    runner()
        .run(&baggage, |baggage| {
            let span = invoke(
                &kit,
                &runtime,
                &[("traceparent", VALID_TRACEPARENT), ("baggage", &baggage)],
            );
            let (_, parent) = span.expect("the sampled parent is recorded");
            prop_assert_eq!(
                parent.to_string(),
                "00f067aa0ba902b7",
                "bad baggage does not cost the parent"
            );
            Ok(())
        })
        .unwrap();
}
