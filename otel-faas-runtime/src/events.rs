//! `tracing` events logged outside any `tracing` span — a handler's plain `tracing::error!`
//! — become events of the current OpenTelemetry span: the invocation's (or the trigger's)
//! while the handler body runs. `tracing-opentelemetry` handles events inside `tracing`
//! spans and ignores the others; this layer takes exactly those.
//!
//! The event is named by its message, and carries its level (as [`LEVEL`]), its fields and
//! its source location. Events inside `tracing` spans, which `tracing-opentelemetry`
//! records with `level`, `target` and `code.module.name` (none of them registry keys), are
//! brought to the same shape by [`conform`] when their span ends; so are the spans
//! themselves, which lose `code.module.name` (the layer is told to leave out `target` and
//! the busy/idle times).

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The key of an event's `tracing` level: not a registry key, so in this crate's namespace.
pub(crate) const LEVEL: &str = "otel_faas.level";

/// Brings a span bridged from `tracing`, and its events, to the keys the semantic
/// conventions define or this crate owns: `code.module.name` and an event's `target` are
/// dropped, an event's `level` becomes [`LEVEL`]. Spans of this crate carry none of them
/// and pass unchanged.
pub(crate) fn conform(span: &mut opentelemetry_sdk::trace::SpanData) {
    const MODULE: &str = "code.module.name";
    span.attributes.retain(|kv| kv.key.as_str() != MODULE);
    for event in span.events.events.iter_mut() {
        event
            .attributes
            .retain(|kv| !matches!(kv.key.as_str(), MODULE | "target"));
        for kv in event.attributes.iter_mut() {
            if kv.key.as_str() == "level" {
                kv.key = opentelemetry::Key::from_static_str(LEVEL);
            }
        }
    }
}

/// The layer; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventsOnCurrentSpan;

impl<S> Layer<S> for EventsOnCurrentSpan
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let in_tracing_span =
            event.parent().is_some() || (event.is_contextual() && ctx.lookup_current().is_some());
        if in_tracing_span {
            return;
        }
        let cx = Context::current();
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let meta = event.metadata();
        let mut fields = Fields {
            message: None,
            attributes: Vec::with_capacity(8),
        };
        fields
            .attributes
            .push(KeyValue::new(LEVEL, meta.level().as_str()));
        event.record(&mut fields);
        if let Some(file) = meta.file() {
            fields
                .attributes
                .push(KeyValue::new("code.file.path", file.to_owned()));
        }
        if let Some(line) = meta.line() {
            fields
                .attributes
                .push(KeyValue::new("code.line.number", i64::from(line)));
        }
        let name = fields.message.unwrap_or_else(|| meta.name().to_owned());
        span.add_event(name, fields.attributes);
    }
}

struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(
            |_| opentelemetry::Value::from(value.to_string()),
            Into::into,
        );
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            name => self
                .attributes
                .push(KeyValue::new(name, format!("{value:?}"))),
        }
    }
}
