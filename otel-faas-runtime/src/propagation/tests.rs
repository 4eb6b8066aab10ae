//! Tests of extraction: the X-Ray fast reader against the X-Ray crate, the grammars, the bounds.

use opentelemetry::trace::{SpanContext, TraceContextExt as _};

use super::extract::*;
use super::wire::*;
use super::xray::*;
use super::*;
use crate::config::PropagatorKind;

/// The X-Ray crate's reading of `header`, as a parent: `None` unless it names a valid one.
fn the_crates(header: &str) -> Option<SpanContext> {
    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header.trim())
        .filter(SpanContext::is_valid)
}

#[test]
fn the_xray_reader_agrees_with_the_xray_crate_on_ids_and_sampling() {
    let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
    let parent = "Parent=53995c3f42cd8ad8";
    let mut headers = vec![
        format!("{root};{parent};Sampled=1"),
        format!("{root};{parent};Sampled=0"),
        format!("{root};{parent};Sampled=?"),
        format!("{root};{parent}"),
        format!("{parent};{root}"),
        format!("{root};{parent};Sampled=1;"),
        format!("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1"),
        format!("{root};{parent};Parent=0000000000000001;Sampled=1"),
        format!("{root};{parent};Sampled=1;Self=1-67891233-abcdef012345678912345678"),
        format!("{root};{parent};Lineage=a87bd80c:1|68fd508a:5"),
        format!("{root};{parent};Sampled=0;Lineage=1:fe460cdd:0"),
        format!("Root==1-5759e988-bd862e3fe1be46a994272793;{parent}"),
        format!("{root};Parent=53995c3f42cd8ad8z"),
        format!("Root=2-5759e988-bd862e3fe1be46a994272793;{parent}"),
        format!("Root=1-5759e98-bd862e3fe1be46a9942727930;{parent}"),
        format!("Root=1-+759e988-bd862e3fe1be46a994272793;{parent}"),
        format!("Root=1-00000000-000000000000000000000000;{parent}"),
        format!("{root};Parent=0000000000000000"),
    ];
    // Ids of every digit in both cases, at every position (a reader that decodes digits
    // itself must place each nibble where the crate's `from_str_radix` does).
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..64 {
        let mut digits = String::new();
        for _ in 0..48 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            digits.push(b"0123456789abcdefABCDEF"[(seed >> 33) as usize % 22] as char);
        }
        let (time, id, span) = (&digits[..8], &digits[8..32], &digits[32..]);
        headers.push(format!("Root=1-{time}-{id};Parent={span};Sampled=1"));
    }
    // Every header with a field cut short or doubled, too.
    let more: Vec<String> = headers
        .iter()
        .flat_map(|h| [h[..h.len() / 2].to_owned(), format!("{h};{h}")])
        .collect();
    headers.extend(more);
    for header in &headers {
        let ours = XrayHeader::parse(header).map(|h| h.span_context());
        let theirs = the_crates(header);
        let ids = |sc: &SpanContext| (sc.trace_id(), sc.span_id(), sc.is_sampled());
        if ours.is_some() {
            assert!(!outside_the_grammar(header), "{header}");
        }
        if ours.is_none() && theirs.is_some() {
            assert!(outside_the_grammar(header), "{header}");
            continue;
        }
        assert_eq!(ours.as_ref().map(ids), theirs.as_ref().map(ids), "{header}");
        if let Some(ours) = ours {
            assert_eq!(ours.trace_state().header(), "", "{header}");
            assert_eq!(
                ours.trace_flags().to_u8() & !1,
                0,
                "only the sampled flag: {header}"
            );
        }
    }
}

/// The tracing header's grammar, written out apart from the reader: every field one
/// `key=value` (the Python propagator's `_extract_span_properties` raises
/// `AwsParseTraceHeaderError` otherwise, and the Java one refuses a field without `=`), `Root`
/// `1-{8 hex}-{24 hex}` and `Parent` 16 hex digits (AWS's guide), `Sampled` `1`, `0` or `?`
/// (Python and Java refuse any other value, `?` included, which is ours to decide).
fn outside_the_grammar(header: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    header.trim().split_terminator(';').any(|field| {
        let parts: Vec<&str> = field.split('=').collect();
        let [key, value] = parts[..] else {
            return true;
        };
        match key {
            "Root" => !matches!(value.split('-').collect::<Vec<_>>()[..],
                ["1", time, id] if hex(time, 8) && hex(id, 24)),
            "Parent" => !hex(value, 16),
            "Sampled" => !matches!(value, "0" | "1" | "?"),
            _ => false,
        }
    })
}

#[test]
fn the_xray_reader_refuses_what_the_python_and_java_propagators_refuse() {
    let valid = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";
    for header in [
        format!("{valid};Sampled=yes"),
        format!("{valid};Sampled=11"),
        format!("{valid};Sampled="),
        format!("{valid};junk"),
        format!("{valid};;Sampled=1"),
    ] {
        assert!(the_crates(&header).is_some(), "the crate takes {header}");
        assert!(outside_the_grammar(&header), "{header}");
        assert!(XrayHeader::parse(&header).is_none(), "{header}");
    }
}

#[test]
fn xray_fields_beyond_root_parent_and_sampled_stay_out_of_the_trace_state() {
    let header = format!("{XRAY};Self=1-67891233-abcdef012345678912345678;Lineage=1:fe460cdd:0");
    for kinds in [
        &[PropagatorKind::Xray][..],
        &[PropagatorKind::TraceContext, PropagatorKind::XrayLambda],
    ] {
        let sc = parent(kinds, &[(XRAY_HEADER, &header)], None);
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
        assert_eq!(sc.trace_state().header(), "", "{kinds:?}");
    }
    // The Lambda runtime's header (Lambda adds the lineage there) as well.
    let sc = parent(&[PropagatorKind::XrayLambda], &[], Some(&header));
    assert!(sc.is_valid());
    assert_eq!(sc.trace_state().header(), "");
}

#[test]
fn a_w3c_trace_state_found_first_is_kept_under_an_xray_parent() {
    let sc = parent(
        &[PropagatorKind::TraceContext, PropagatorKind::Xray],
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "vendor=a"),
            (XRAY_HEADER, XRAY),
        ],
        None,
    );
    assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
    assert_eq!(sc.trace_state().header(), "vendor=a");
}

#[test]
fn xray_lineage_is_kept_for_xray_headers_only_when_it_cannot_break_a_reader() {
    let written = |lineage: &str| {
        let header = format!("{XRAY};Lineage={lineage}");
        let h = headers(&[(XRAY_HEADER, &header)]);
        let cx = Propagation::new(&[PropagatorKind::Xray]).extract(&HeaderCarrier(&h), None);
        assert!(cx.span().span_context().is_valid(), "{lineage}");
        header_of(&cx).expect("a header")
    };
    for lineage in [
        "1:fe460cdd:0",
        "a87bd80c:1|68fd508a:5|c512fbe3:2",
        "037bed70:0",
    ] {
        assert_eq!(written(lineage), format!("{XRAY};Lineage={lineage}"));
    }
    for lineage in ["", "a,b", "a b", "x\"y", &"1".repeat(MAX_LINEAGE + 1)] {
        assert_eq!(
            written(lineage),
            XRAY,
            "{lineage:?} is dropped, not the trace"
        );
    }
}

use opentelemetry::baggage::BaggageExt;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn parent(kinds: &[PropagatorKind], pairs: &[(&str, &str)], lambda: Option<&str>) -> SpanContext {
    let h = headers(pairs);
    Propagation::new(kinds)
        .extract(&HeaderCarrier(&h), lambda)
        .span()
        .span_context()
        .clone()
}

#[test]
fn w3c_parent_is_extracted() {
    let sc = parent(
        &[PropagatorKind::TraceContext],
        &[("traceparent", TRACEPARENT)],
        None,
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
    assert!(sc.is_remote() && sc.is_sampled());
}

#[test]
fn oversized_tracestate_is_dropped_but_the_parent_kept() {
    let long = format!("a={}", "x".repeat(600));
    let sc = parent(
        &[PropagatorKind::TraceContext],
        &[("traceparent", TRACEPARENT), ("tracestate", &long)],
        None,
    );
    assert!(sc.is_valid());
    assert_eq!(sc.trace_state().header(), "");
}

#[test]
fn oversized_baggage_is_ignored() {
    let long = format!("k={}", "v".repeat(9000));
    let h = headers(&[("baggage", &long)]);
    let cx = Propagation::new(&[PropagatorKind::Baggage]).extract(&HeaderCarrier(&h), None);
    assert_eq!(cx.baggage().len(), 0);
    let h = headers(&[("baggage", "tenant=acme")]);
    let cx = Propagation::new(&[PropagatorKind::Baggage]).extract(&HeaderCarrier(&h), None);
    assert_eq!(
        cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
        Some("acme".into())
    );
}

#[test]
fn xray_lambda_prefers_the_runtime_trace_header_over_the_request_header() {
    let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
    let sc = parent(
        &[PropagatorKind::XrayLambda],
        &[(XRAY_HEADER, XRAY)],
        Some(runtime),
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "5759e98800000000000000000000abcd"
    );
}

#[test]
fn xray_lambda_keeps_a_w3c_parent_found_first() {
    let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
    let sc = parent(
        &[PropagatorKind::TraceContext, PropagatorKind::XrayLambda],
        &[("traceparent", TRACEPARENT)],
        Some(runtime),
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[test]
fn plain_xray_ignores_the_runtime_trace_header() {
    let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
    assert!(!parent(&[PropagatorKind::Xray], &[], Some(runtime)).is_valid());
}

#[test]
fn traceparent_must_have_the_exact_w3c_format() {
    assert!(is_w3c_traceparent(TRACEPARENT));
    assert!(is_w3c_traceparent(&format!(
        "01{}-future-field",
        &TRACEPARENT[2..]
    )));
    for bad in [
        "00-1-2-01",
        &TRACEPARENT[..54],
        &format!("{TRACEPARENT}-extra"),
        &format!("ff{}", &TRACEPARENT[2..]),
        &TRACEPARENT.to_uppercase(),
        &format!("01{}x", &TRACEPARENT[2..]),
        "",
    ] {
        assert!(!is_w3c_traceparent(bad), "{bad}");
    }
}

#[test]
fn a_lenient_traceparent_does_not_become_the_parent() {
    for bad in [
        "00-1-2-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
    ] {
        assert!(
            !parent(
                &[PropagatorKind::TraceContext],
                &[("traceparent", bad)],
                None
            )
            .is_valid(),
            "{bad}"
        );
    }
}

#[test]
fn xray_header_must_have_a_full_root_and_parent() {
    assert!(is_xray_header(XRAY));
    for bad in [
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd86;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=2-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=5399",
        "Parent=53995c3f42cd8ad8",
    ] {
        assert!(!is_xray_header(bad), "{bad}");
    }
}

#[test]
fn aws_trace_header_becomes_a_span_context() {
    let sc = xray_span_context(XRAY).expect("valid header");
    assert_eq!(
        sc.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
    assert!(xray_span_context("Root=1-zz;Parent=;Sampled=1").is_none());
    assert!(xray_span_context(&"Root=".repeat(400)).is_none());
    assert!(xray_span_context("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").is_none());
}
