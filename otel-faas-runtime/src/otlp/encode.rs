//! Export bodies: spans and metric points as `ExportTraceServiceRequest` and
//! `ExportMetricsServiceRequest`, in binary protobuf or OTLP/JSON, with
//! `opentelemetry-proto`'s generated types.
//!
//! A process has one resource, so it is converted and encoded once, when the encoder is
//! made, and spliced into every protobuf body as the `resource` field (1) of the single
//! `ResourceSpans` / `ResourceMetrics`. Spans are grouped by instrumentation scope with a
//! linear scan over the few scopes a function has, instead of the hash map
//! `opentelemetry-otlp` builds on every export — issue 17 measured that grouping as the
//! export's largest single cost — and in binary protobuf each span is written straight from
//! its `SpanData` ([`super::wire`]), without the generated messages in between.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::metrics::v1::ScopeMetrics;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
#[cfg(feature = "http-json")]
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::WireType;

use super::wire::{encode_key, encode_varint};

use super::settings::Protocol;

/// Encodes the export bodies of one process, its resource encoded once.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// The resource as field 1 of `ResourceSpans` / `ResourceMetrics`: key, length, message.
    resource_field: Vec<u8>,
    /// The resource's schema URL (field 3 of the same messages); empty when it has none.
    schema_url: String,
    /// The resource, for OTLP/JSON bodies.
    #[cfg_attr(not(feature = "http-json"), allow(dead_code))]
    resource: ProtoResource,
    /// The `InstrumentationScope` messages of the scopes seen so far (a function has a
    /// few: the glue's, its own tracers'), encoded once each.
    scopes: Mutex<Vec<(InstrumentationScope, Arc<[u8]>)>>,
}

/// The most scopes whose encoding is kept.
const SCOPES_KEPT: usize = 16;

impl Encoder {
    pub(crate) fn new(resource: &Resource) -> Self {
        let resource_proto = ProtoResource::from(resource);
        let mut resource_field = Vec::new();
        prost::encoding::message::encode(1, &resource_proto, &mut resource_field);
        Encoder {
            resource_field,
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
            resource: resource_proto,
            scopes: Mutex::new(Vec::new()),
        }
    }

    /// `scope`'s `InstrumentationScope` message, encoded.
    fn scope(&self, scope: &InstrumentationScope) -> Arc<[u8]> {
        let mut kept = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, encoded)) = kept.iter().find(|(known, _)| known == scope) {
            return encoded.clone();
        }
        let encoded: Arc<[u8]> =
            prost::Message::encode_to_vec(&ProtoScope::from((scope, None))).into();
        if kept.len() < SCOPES_KEPT {
            kept.push((scope.clone(), encoded.clone()));
        }
        encoded
    }

    /// The body of a span export: the spans grouped by instrumentation scope.
    pub(crate) fn traces(&self, spans: Vec<SpanData>, protocol: Protocol) -> Bytes {
        match protocol {
            Protocol::HttpProtobuf | Protocol::Grpc => self.traces_protobuf(&spans),
            #[cfg(feature = "http-json")]
            Protocol::HttpJson => {
                let scopes = group_by_scope(spans);
                use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
                use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
                let request = ExportTraceServiceRequest {
                    resource_spans: vec![ResourceSpans {
                        resource: Some(self.resource.clone()),
                        scope_spans: scopes,
                        schema_url: self.schema_url.clone(),
                    }],
                };
                json(&request)
            }
            #[cfg(not(feature = "http-json"))]
            Protocol::HttpJson => {
                unreachable!("http/json is refused at start-up without the feature")
            }
        }
    }

    /// The body of a metrics export.
    pub(crate) fn metrics(&self, metrics: &ScopeMetrics, protocol: Protocol) -> Bytes {
        match protocol {
            Protocol::HttpProtobuf | Protocol::Grpc => self.protobuf(std::slice::from_ref(metrics)),
            #[cfg(feature = "http-json")]
            Protocol::HttpJson => {
                use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
                use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics as ProtoResourceMetrics;
                let request = ExportMetricsServiceRequest {
                    resource_metrics: vec![ProtoResourceMetrics {
                        resource: Some(self.resource.clone()),
                        scope_metrics: vec![metrics.clone()],
                        schema_url: self.schema_url.clone(),
                    }],
                };
                json(&request)
            }
            #[cfg(not(feature = "http-json"))]
            Protocol::HttpJson => {
                unreachable!("http/json is refused at start-up without the feature")
            }
        }
    }

    /// [`Encoder::protobuf`] for spans, each written straight from its `SpanData`
    /// ([`super::wire`]): `ScopeSpans { 1: scope, 2: spans…, 3: schema_url }` per scope.
    fn traces_protobuf(&self, spans: &[SpanData]) -> Bytes {
        // Scopes in order of first appearance, each with its encoded scope and spans.
        let mut scopes: Vec<ScopeGroup<'_>> = Vec::with_capacity(2);
        let mut lens = Vec::with_capacity(spans.len());
        for (index, span) in spans.iter().enumerate() {
            lens.push(super::wire::span_len(span));
            let scope = &span.instrumentation_scope;
            match scopes.iter_mut().find(|group| group.scope == scope) {
                Some(group) => group.spans.push(index),
                None => scopes.push(ScopeGroup {
                    scope,
                    encoded: self.scope(scope),
                    spans: vec![index],
                }),
            }
        }
        let group_len = |group: &ScopeGroup<'_>| {
            let spans: usize = group
                .spans
                .iter()
                .map(|&i| length_delimited_len(2, lens[i]))
                .sum();
            let schema = group.scope.schema_url().unwrap_or_default();
            length_delimited_len(1, group.encoded.len())
                + spans
                + match schema.is_empty() {
                    true => 0,
                    false => length_delimited_len(3, schema.len()),
                }
        };
        let scopes_len: usize = scopes
            .iter()
            .map(|group| length_delimited_len(2, group_len(group)))
            .sum();
        let schema_len = match self.schema_url.is_empty() {
            true => 0,
            false => prost::encoding::string::encoded_len(3, &self.schema_url),
        };
        let inner = self.resource_field.len() + scopes_len + schema_len;
        let mut body = Vec::with_capacity(inner + 11);
        super::wire::put_header(1, inner, &mut body);
        body.extend_from_slice(&self.resource_field);
        for group in &scopes {
            super::wire::put_header(2, group_len(group), &mut body);
            super::wire::put_header(1, group.encoded.len(), &mut body);
            body.extend_from_slice(&group.encoded);
            for &i in &group.spans {
                super::wire::put_header(2, lens[i], &mut body);
                super::wire::encode_span(&spans[i], &mut body);
            }
            let schema = group.scope.schema_url().unwrap_or_default();
            if !schema.is_empty() {
                super::wire::put_header(3, schema.len(), &mut body);
                body.extend_from_slice(schema.as_bytes());
            }
        }
        if schema_len > 0 {
            prost::encoding::string::encode(3, &self.schema_url, &mut body);
        }
        debug_assert_eq!(
            body.len(),
            inner + 1 + prost::encoding::encoded_len_varint(inner as u64)
        );
        Bytes::from(body)
    }

    /// `Export…ServiceRequest { 1: [Resource… { 1: resource, 2: scopes…, 3: schema_url }] }`,
    /// with the resource field spliced in as encoded once.
    fn protobuf<M: prost::Message>(&self, scopes: &[M]) -> Bytes {
        let scopes_len: usize = scopes
            .iter()
            .map(|scope| prost::encoding::message::encoded_len(2, scope))
            .sum();
        let schema_len = match self.schema_url.is_empty() {
            true => 0,
            false => prost::encoding::string::encoded_len(3, &self.schema_url),
        };
        let inner = self.resource_field.len() + scopes_len + schema_len;
        let mut body = Vec::with_capacity(inner + 11);
        encode_key(1, WireType::LengthDelimited, &mut body);
        encode_varint(inner as u64, &mut body);
        body.extend_from_slice(&self.resource_field);
        for scope in scopes {
            prost::encoding::message::encode(2, scope, &mut body);
        }
        if schema_len > 0 {
            prost::encoding::string::encode(3, &self.schema_url, &mut body);
        }
        Bytes::from(body)
    }
}

/// The spans of one instrumentation scope in a span export.
struct ScopeGroup<'a> {
    scope: &'a opentelemetry::InstrumentationScope,
    /// Its `InstrumentationScope` message.
    encoded: Arc<[u8]>,
    /// Indexes of its spans in the batch.
    spans: Vec<usize>,
}

/// A length-delimited field of `len` bytes: key, length, bytes.
fn length_delimited_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(len as u64) + len
}

/// Spans grouped by instrumentation scope, in order of first appearance.
#[cfg(feature = "http-json")]
fn group_by_scope(spans: Vec<SpanData>) -> Vec<ScopeSpans> {
    let mut keys: Vec<opentelemetry::InstrumentationScope> = Vec::with_capacity(2);
    let mut groups: Vec<ScopeSpans> = Vec::with_capacity(2);
    for span in spans {
        let index = match keys.iter().position(|k| *k == span.instrumentation_scope) {
            Some(index) => index,
            None => {
                let scope = &span.instrumentation_scope;
                groups.push(ScopeSpans {
                    scope: Some(ProtoScope::from((scope, None))),
                    schema_url: scope.schema_url().unwrap_or_default().to_owned(),
                    spans: Vec::new(),
                });
                keys.push(scope.clone());
                keys.len() - 1
            }
        };
        groups[index].spans.push(Span::from(span));
    }
    groups
}

#[cfg(feature = "http-json")]
fn json(request: &impl serde::Serialize) -> Bytes {
    // Serializing generated messages into a Vec cannot fail: every map key is a string.
    Bytes::from(serde_json::to_vec(request).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue, Value};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;

    use super::*;

    pub(crate) fn span(name: &'static str, scope: &InstrumentationScope, id: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(0x00f0_67aa_0ba9_02b7),
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            end_time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_001),
            attributes: vec![KeyValue::new("faas.trigger", "pubsub")],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    pub(crate) fn resource() -> Resource {
        Resource::builder_empty()
            .with_service_name("orders")
            .with_schema_url(
                [KeyValue::new("cloud.provider", "aws")],
                "https://opentelemetry.io/schemas/1.37.0",
            )
            .build()
    }

    /// What `opentelemetry-proto`'s own conversion (the one `opentelemetry-otlp` uses) makes
    /// of the same spans.
    fn reference(spans: Vec<SpanData>, resource: &Resource) -> ExportTraceServiceRequest {
        use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
        let resource = ResourceAttributesWithSchema::from(resource);
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &resource),
        }
    }

    #[test]
    fn the_spliced_protobuf_body_decodes_as_the_fields_own_conversion() {
        let ours = InstrumentationScope::builder("otel-faas")
            .with_version("0.1.0")
            .build();
        let theirs = InstrumentationScope::builder("handler").build();
        let spans = vec![
            span("a", &ours, 1),
            span("b", &theirs, 2),
            span("c", &ours, 3),
        ];
        let resource = resource();
        let encoder = Encoder::new(&resource);
        let body = encoder.traces(spans.clone(), Protocol::HttpProtobuf);
        // The scopes' encodings are kept: a later body, scopes in the other order, is the
        // same as one from an encoder that never saw them.
        let reversed: Vec<SpanData> = spans.iter().rev().cloned().collect();
        assert_eq!(
            encoder.traces(reversed.clone(), Protocol::HttpProtobuf),
            Encoder::new(&resource).traces(reversed, Protocol::HttpProtobuf)
        );
        let decoded = ExportTraceServiceRequest::decode(body).expect("protobuf");
        let mut expected = reference(spans, &resource);
        // The field's conversion leaves the resource's entity refs empty as we do; scopes
        // come in order of first appearance in both.
        let ResourceSpans { scope_spans, .. } = &mut expected.resource_spans[0];
        assert_eq!(scope_spans.len(), 2);
        assert_eq!(decoded, expected);
        assert_eq!(
            decoded.resource_spans[0].schema_url,
            "https://opentelemetry.io/schemas/1.37.0"
        );
    }

    #[test]
    fn every_part_of_a_span_is_written_as_the_fields_own_conversion_writes_it() {
        use opentelemetry::trace::{Event, Link};
        use opentelemetry::{Array, StringValue};
        let scope = InstrumentationScope::builder("handler")
            .with_version("2.0")
            .with_attributes([KeyValue::new("scope.key", 7)])
            .build();
        let mut rich = span("rich", &scope, 5);
        rich.parent_span_is_remote = true;
        rich.span_context = SpanContext::new(
            TraceId::from(7_u128),
            SpanId::from(8_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("vendor", "value")]).expect("trace state"),
        );
        rich.span_kind = SpanKind::Consumer;
        rich.attributes = vec![
            KeyValue::new("s", "text"),
            KeyValue::new("empty", ""),
            KeyValue::new("b", false),
            KeyValue::new("i", -3_i64),
            KeyValue::new("zero", 0_i64),
            KeyValue::new("f", 0.5),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec![
                    StringValue::from("a"),
                    StringValue::from(""),
                ])),
            ),
            KeyValue::new("ints", Value::Array(Array::I64(vec![1, 0]))),
            KeyValue::new("none", Value::Array(Array::Bool(vec![]))),
        ];
        rich.dropped_attributes_count = 2;
        rich.events.events.push(Event::new(
            "exception",
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500),
            vec![KeyValue::new("exception.message", "boom")],
            1,
        ));
        rich.events.dropped_count = 3;
        let remote = SpanContext::new(
            TraceId::from(9_u128),
            SpanId::from(10_u64),
            TraceFlags::default(),
            true,
            TraceState::default(),
        );
        rich.links
            .links
            .push(Link::new(remote, vec![KeyValue::new("l", true)], 4));
        rich.links.dropped_count = 1;
        rich.status = Status::error("it failed");
        let mut root = span("root", &scope, 6);
        root.parent_span_id = SpanId::INVALID;
        root.status = Status::Ok;
        let spans = vec![rich, root];
        let resource = Resource::builder_empty().build();
        let body = Encoder::new(&resource).traces(spans.clone(), Protocol::HttpProtobuf);
        let decoded = ExportTraceServiceRequest::decode(body.clone()).expect("protobuf");
        assert_eq!(decoded, reference(spans, &resource));
        assert_eq!(
            body.len(),
            decoded.encoded_len(),
            "the same bytes as prost writes: no field written that proto3 leaves out"
        );
    }

    #[cfg(feature = "http-json")]
    #[test]
    fn the_json_body_follows_the_otlp_json_rules() {
        // opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding": ids as hex,
        // enums as integers, lowerCamelCase keys, 64-bit integers as decimal strings.
        let scope = InstrumentationScope::builder("otel-faas").build();
        let body =
            Encoder::new(&resource()).traces(vec![span("a", &scope, 0x11)], Protocol::HttpJson);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["spanId"], "0000000000000011");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["kind"], 2, "SPAN_KIND_SERVER as an integer");
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["attributes"][0]["key"], "faas.trigger");
        assert_eq!(span["attributes"][0]["value"]["stringValue"], "pubsub");
        assert_eq!(
            json["resourceSpans"][0]["schemaUrl"],
            "https://opentelemetry.io/schemas/1.37.0"
        );
        assert!(span.get("trace_id").is_none(), "no snake_case keys");
    }
}
