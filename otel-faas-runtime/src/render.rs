//! Finished spans as a readable tree: what the console exporter, the local runner and the
//! test kit print.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736
//! └─ orders-consumer  SERVER  1.24 ms
//!      faas.trigger=pubsub  faas.coldstart=true  faas.invocation_id=8f2e…
//!    └─ process orders  CONSUMER  0.98 ms
//!         messaging.system=aws_sqs  messaging.batch.message_count=3
//!         link → 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331  messaging.message.id=m-1
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

/// Attributes rendered for reading: `(key, value)` pairs in recorded order.
pub type Attributes = Vec<(String, String)>;

/// A finished span, reduced to what a person reads; built from SDK [`SpanData`] or, in the
/// local runner, from a decoded OTLP span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanView {
    /// Trace id, 32 hex digits.
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// Parent span id, 16 hex digits; empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// `SERVER`, `CONSUMER`, `INTERNAL`, …
    pub kind: String,
    /// Start time.
    pub start: SystemTime,
    /// Duration.
    pub duration: Duration,
    /// Attributes as `(key, rendered value)`, in recorded order.
    pub attributes: Attributes,
    /// Events as `(name, attributes)`.
    pub events: Vec<(String, Attributes)>,
    /// Links as `(trace id, span id, attributes)`.
    pub links: Vec<(String, String, Attributes)>,
    /// `None` when unset, `Some("")` for OK, `Some(description)` for an error.
    pub error: Option<String>,
    /// Whether the status is OK (explicitly set).
    pub ok: bool,
}

impl SpanView {
    /// The rendered value of attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl From<&SpanData> for SpanView {
    fn from(span: &SpanData) -> Self {
        let kv = |attributes: &[opentelemetry::KeyValue]| -> Vec<(String, String)> {
            attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect()
        };
        let parent = span.parent_span_id;
        SpanView {
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: if parent == opentelemetry::trace::SpanId::INVALID {
                String::new()
            } else {
                parent.to_string()
            },
            name: span.name.to_string(),
            kind: kind_name(&span.span_kind).to_owned(),
            start: span.start_time,
            duration: span
                .end_time
                .duration_since(span.start_time)
                .unwrap_or_default(),
            attributes: kv(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| (e.name.to_string(), kv(&e.attributes)))
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| {
                    (
                        l.span_context.trace_id().to_string(),
                        l.span_context.span_id().to_string(),
                        kv(&l.attributes),
                    )
                })
                .collect(),
            error: match &span.status {
                Status::Error { description } => Some(description.to_string()),
                _ => None,
            },
            ok: matches!(span.status, Status::Ok),
        }
    }
}

/// The upper-case name of a span kind.
pub fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

/// Longest attribute value shown before it is cut with `…`.
const SHOWN_VALUE_LEN: usize = 96;

/// Renders spans as one tree per trace, children ordered by start time. A span whose parent
/// is not among `spans` is shown as a root, with its remote parent id.
pub fn render_trees(spans: &[SpanView]) -> String {
    let mut traces: BTreeMap<&str, Vec<&SpanView>> = BTreeMap::new();
    for span in spans {
        traces.entry(&span.trace_id).or_default().push(span);
    }
    let mut out = String::new();
    let mut ordered: Vec<(&str, Vec<&SpanView>)> = traces.into_iter().collect();
    ordered.sort_by_key(|(_, spans)| spans.iter().map(|s| s.start).min());
    for (trace_id, mut spans) in ordered {
        spans.sort_by_key(|s| s.start);
        let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let _ = writeln!(out, "trace {trace_id}");
        let roots: Vec<&SpanView> = spans
            .iter()
            .copied()
            .filter(|s| s.parent_span_id.is_empty() || !ids.contains(s.parent_span_id.as_str()))
            .collect();
        for (i, root) in roots.iter().enumerate() {
            render_span(&mut out, root, &spans, "", i + 1 == roots.len());
        }
    }
    out
}

fn render_span(out: &mut String, span: &SpanView, all: &[&SpanView], prefix: &str, last: bool) {
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(
        out,
        "{prefix}{branch}{}  {}  {}",
        span.name,
        span.kind,
        format_duration(span.duration)
    );
    match &span.error {
        Some(description) if description.is_empty() => out.push_str("  ✗ ERROR"),
        Some(description) => {
            let _ = write!(out, "  ✗ ERROR: {}", shorten(description));
        }
        None if span.ok => out.push_str("  ✓ OK"),
        None => {}
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let detail = format!(
        "{child_prefix}{}  ",
        if all.iter().any(|s| s.parent_span_id == span.span_id) {
            "│"
        } else {
            " "
        }
    );
    if !span.attributes.is_empty() {
        let _ = writeln!(out, "{detail}{}", join_attributes(&span.attributes));
    }
    if !span.parent_span_id.is_empty() && !all.iter().any(|s| s.span_id == span.parent_span_id) {
        let _ = writeln!(out, "{detail}parent ← {} (remote)", span.parent_span_id);
    }
    for (trace_id, span_id, attributes) in &span.links {
        let _ = write!(out, "{detail}link → {trace_id}/{span_id}");
        if !attributes.is_empty() {
            let _ = write!(out, "  {}", join_attributes(attributes));
        }
        out.push('\n');
    }
    for (name, attributes) in &span.events {
        let _ = writeln!(out, "{detail}event {name}  {}", join_attributes(attributes));
    }
    let children: Vec<&SpanView> = all
        .iter()
        .copied()
        .filter(|s| s.parent_span_id == span.span_id)
        .collect();
    for (i, child) in children.iter().enumerate() {
        render_span(out, child, all, &child_prefix, i + 1 == children.len());
    }
}

fn join_attributes(attributes: &[(String, String)]) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={}", shorten(v)))
        .collect::<Vec<_>>()
        .join("  ")
}

fn shorten(value: &str) -> String {
    let one_line = value.replace('\n', "⏎");
    match one_line.char_indices().nth(SHOWN_VALUE_LEN) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.2} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, name: &str, start_ms: u64) -> SpanView {
        SpanView {
            trace_id: "t1".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind: "INTERNAL".into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(start_ms),
            duration: Duration::from_micros(1500),
            attributes: vec![("k".into(), "v".into())],
            events: vec![],
            links: vec![],
            error: None,
            ok: false,
        }
    }

    #[test]
    fn children_nest_under_their_parent_in_start_order() {
        let spans = vec![
            span("c2", "r", "second", 3),
            span("r", "", "root", 1),
            span("c1", "r", "first", 2),
            span("g", "c1", "grand", 4),
        ];
        let text = render_trees(&spans);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "trace t1");
        assert!(lines[1].starts_with("└─ root  INTERNAL  1.50 ms"), "{text}");
        let first = text.find("first").unwrap();
        let grand = text.find("grand").unwrap();
        let second = text.find("second").unwrap();
        assert!(first < grand && grand < second, "{text}");
    }

    #[test]
    fn a_span_with_a_remote_parent_is_a_root_that_names_it() {
        let text = render_trees(&[span("a", "feedfacefeedface", "handler", 1)]);
        assert!(text.contains("└─ handler"), "{text}");
        assert!(
            text.contains("parent ← feedfacefeedface (remote)"),
            "{text}"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let mut s = span("a", "", "x", 1);
        s.attributes = vec![("long".into(), "y".repeat(500))];
        assert!(render_trees(&[s]).contains(&format!("long={}…", "y".repeat(SHOWN_VALUE_LEN))));
    }
}
