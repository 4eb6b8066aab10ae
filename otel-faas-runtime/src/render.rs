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

use std::collections::{BTreeMap, HashMap, HashSet};
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
    Forest::new(spans, false).render()
}

/// Renders spans as [`render_trees`] does, but a trace one of whose spans links to a span of
/// another trace is shown inside that trace, under the span it links to, after a line naming
/// the linking span:
///
/// ```text
/// trace 0af7651916cd43dd8448eb211c80319c
/// └─ POST /orders  SERVER  8.10 ms
///    └─ send orders  PRODUCER  3.02 ms
///       └─ ⇢ linked from process orders · trace 4bf92f3577b34da6a3ce929d0e0e4736
///          └─ orders-worker  SERVER  1.24 ms
///             └─ process orders  CONSUMER  0.98 ms
/// ```
///
/// So a producer and its consumers read as one flow. A trace is shown once, under the first
/// span (in its own start order) that links out of it; traces that link nowhere shown are
/// printed as roots.
pub fn render_connected(spans: &[SpanView]) -> String {
    Forest::new(spans, true).render()
}

/// The spans to render, by trace, and which traces are shown under which span.
struct Forest<'a> {
    /// Traces by id, each's spans in start order.
    traces: BTreeMap<&'a str, Vec<&'a SpanView>>,
    /// Span id → the traces shown under it, each with the span of that trace that links.
    attached: HashMap<&'a str, Vec<(&'a str, &'a SpanView)>>,
    /// Traces shown inside another.
    nested: HashSet<&'a str>,
}

impl<'a> Forest<'a> {
    fn new(spans: &'a [SpanView], connect: bool) -> Self {
        let mut traces: BTreeMap<&str, Vec<&SpanView>> = BTreeMap::new();
        for span in spans {
            traces.entry(&span.trace_id).or_default().push(span);
        }
        for spans in traces.values_mut() {
            spans.sort_by_key(|s| s.start);
        }
        let mut forest = Forest {
            traces,
            attached: HashMap::new(),
            nested: HashSet::new(),
        };
        if connect {
            forest.connect();
        }
        forest
    }

    /// Attaches each trace under the first span of another trace that one of its spans
    /// links to, leaving out attachments that would make a cycle.
    fn connect(&mut self) {
        let owner: HashMap<&str, &str> = self
            .traces
            .iter()
            .flat_map(|(trace, spans)| spans.iter().map(move |s| (s.span_id.as_str(), *trace)))
            .collect();
        let mut parent_trace: HashMap<&str, &str> = HashMap::new();
        for (trace, spans) in &self.traces {
            let target = spans.iter().find_map(|span| {
                span.links
                    .iter()
                    .find_map(|(linked_trace, linked_span, _)| {
                        let owned_by = owner.get(linked_span.as_str())?;
                        (*owned_by == linked_trace.as_str() && owned_by != trace).then_some((
                            linked_span.as_str(),
                            *owned_by,
                            *span,
                        ))
                    })
            });
            let Some((linked_span, linked_trace, linking)) = target else {
                continue;
            };
            // Follow the chain up from the target: reaching `trace` again would be a cycle.
            let mut up = Some(linked_trace);
            while let Some(t) = up {
                if t == *trace {
                    break;
                }
                up = parent_trace.get(t).copied();
            }
            if up.is_some() {
                continue;
            }
            parent_trace.insert(trace, linked_trace);
            self.nested.insert(trace);
            self.attached
                .entry(linked_span)
                .or_default()
                .push((trace, linking));
        }
        for traces in self.attached.values_mut() {
            traces.sort_by_key(|(_, linking)| linking.start);
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let mut ordered: Vec<(&str, &Vec<&SpanView>)> = self
            .traces
            .iter()
            .filter(|(trace, _)| !self.nested.contains(*trace))
            .map(|(trace, spans)| (*trace, spans))
            .collect();
        ordered.sort_by_key(|(_, spans)| spans.first().map(|s| s.start));
        for (trace_id, _) in ordered {
            let _ = writeln!(out, "trace {trace_id}");
            self.render_trace(&mut out, trace_id, "");
        }
        out
    }

    /// The roots of one trace, each under `prefix`.
    fn render_trace(&self, out: &mut String, trace_id: &str, prefix: &str) {
        let spans = &self.traces[trace_id];
        let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let roots: Vec<&SpanView> = spans
            .iter()
            .copied()
            .filter(|s| s.parent_span_id.is_empty() || !ids.contains(s.parent_span_id.as_str()))
            .collect();
        for (i, root) in roots.iter().enumerate() {
            self.render_span(out, root, spans, prefix, i + 1 == roots.len());
        }
    }

    fn render_span(
        &self,
        out: &mut String,
        span: &SpanView,
        all: &[&SpanView],
        prefix: &str,
        last: bool,
    ) {
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
        let children: Vec<&SpanView> = all
            .iter()
            .copied()
            .filter(|s| s.parent_span_id == span.span_id)
            .collect();
        let linked = self
            .attached
            .get(span.span_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
        let detail = format!(
            "{child_prefix}{}  ",
            if children.is_empty() && linked.is_empty() {
                " "
            } else {
                "│"
            }
        );
        if !span.attributes.is_empty() {
            let _ = writeln!(out, "{detail}{}", join_attributes(&span.attributes));
        }
        if !span.parent_span_id.is_empty() && !all.iter().any(|s| s.span_id == span.parent_span_id)
        {
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
        for (i, child) in children.iter().enumerate() {
            let last = i + 1 == children.len() && linked.is_empty();
            self.render_span(out, child, all, &child_prefix, last);
        }
        for (i, (trace_id, linking)) in linked.iter().enumerate() {
            let last = i + 1 == linked.len();
            let branch = if last { "└─ " } else { "├─ " };
            let _ = writeln!(
                out,
                "{child_prefix}{branch}⇢ linked from {} · trace {trace_id}",
                linking.name
            );
            let nested = format!("{child_prefix}{}", if last { "   " } else { "│  " });
            self.render_trace(out, trace_id, &nested);
        }
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

    fn linked(mut span: SpanView, trace: &str, to_trace: &str, to_span: &str) -> SpanView {
        span.trace_id = trace.into();
        span.links = vec![(to_trace.into(), to_span.into(), vec![])];
        span
    }

    #[test]
    fn a_linked_trace_is_shown_under_the_span_it_links_to() {
        let mut producer = span("p", "r", "send orders", 2);
        producer.kind = "PRODUCER".into();
        let spans = vec![
            span("r", "", "POST /orders", 1),
            producer,
            span("after", "r", "respond", 3),
            linked(span("s2", "", "worker", 5), "t2", "t1", "zzz"),
            {
                let mut consumer = span("c2", "s2", "process orders", 6);
                consumer.trace_id = "t2".into();
                linked(consumer, "t2", "t1", "p")
            },
        ];
        let text = render_connected(&spans);
        assert_eq!(
            text.matches("trace ").count(),
            2,
            "one header, one linked line:\n{text}"
        );
        assert!(!text.contains("\ntrace t2"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} in\n{text}"))
        };
        assert!(at("send orders") < at("⇢ linked from process orders · trace t2"));
        assert!(at("⇢ linked from") < at("worker  INTERNAL"));
        assert!(at("worker  INTERNAL") < at("process orders  INTERNAL"));
        assert!(at("process orders  INTERNAL") < at("respond"), "{text}");
        // Nested one level deeper than the producer's children.
        assert!(
            lines[at("└─ ⇢ linked from")].starts_with("   │  └─ ⇢"),
            "{text}"
        );
        assert!(
            lines[at("worker  INTERNAL")].starts_with("   │     └─ worker"),
            "{text}"
        );
        // Without connecting, the same spans are two trees.
        assert_eq!(render_trees(&spans).matches("\ntrace t2").count(), 1);
    }

    #[test]
    fn traces_linking_each_other_are_both_printed_once() {
        let spans = vec![
            linked(span("a", "", "first", 1), "t1", "t2", "b"),
            linked(span("b", "", "second", 2), "t2", "t1", "a"),
        ];
        let text = render_connected(&spans);
        assert_eq!(text.matches("first  ").count(), 1, "{text}");
        assert_eq!(text.matches("second  ").count(), 1, "{text}");
    }

    #[test]
    fn long_values_are_cut() {
        let mut s = span("a", "", "x", 1);
        s.attributes = vec![("long".into(), "y".repeat(500))];
        assert!(render_trees(&[s]).contains(&format!("long={}…", "y".repeat(SHOWN_VALUE_LEN))));
    }
}
