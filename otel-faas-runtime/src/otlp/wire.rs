//! Spans written straight into the protobuf wire format of `opentelemetry-proto`'s
//! `trace.v1.Span`, without building the generated messages first.
//!
//! `opentelemetry-proto`'s conversion copies every attribute key and string value into a
//! `String` of a generated `KeyValue` / `AnyValue`, every id into a `Vec`, only for prost to
//! write them out and the whole tree to be freed: on the production path that was a fifth
//! of the trace export's instructions, most of them `malloc` and `free` (issue 17). Here
//! the lengths are computed first (protobuf prefixes each message with its length) and the
//! bytes written from the `SpanData` as it is. What is written is exactly what the
//! conversion would have encoded — fields in the same order, defaults left out as proto3
//! does, a set `oneof` always written — and `encode`'s tests decode it back and compare it
//! with the conversion's own result.

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{WireType, encoded_len_varint, key_len};

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const IS_REMOTE: u32 = 0x200;

/// The span's encoded length, without its own key and length prefix.
pub(crate) fn span_len(span: &SpanData) -> usize {
    let status_len = status_len(&span.status);
    bytes_len(1, 16)
        + bytes_len(2, 8)
        + str_len(3, &span.span_context.trace_state().header())
        + parent_len(span.parent_span_id)
        + fixed32_len(16, span_flags(span))
        + str_len(5, &span.name)
        + varint_len(6, kind(span) as u64)
        + fixed64_len(7, nanos(span.start_time))
        + fixed64_len(8, nanos(span.end_time))
        + attributes_len(9, &span.attributes)
        + varint_len(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .events
            .iter()
            .map(|event| {
                message_len(
                    11,
                    fixed64_len(1, nanos(event.timestamp))
                        + str_len(2, &event.name)
                        + attributes_len(3, &event.attributes)
                        + varint_len(4, u64::from(event.dropped_attributes_count)),
                )
            })
            .sum::<usize>()
        + varint_len(12, u64::from(span.events.dropped_count))
        + span
            .links
            .links
            .iter()
            .map(|link| message_len(13, link_len(link)))
            .sum::<usize>()
        + varint_len(14, u64::from(span.links.dropped_count))
        + message_len(15, status_len)
}

/// Writes the span (without its own key and length prefix; [`span_len`] is its length).
pub(crate) fn encode_span(span: &SpanData, buf: &mut Vec<u8>) {
    let context = &span.span_context;
    put_bytes(1, &context.trace_id().to_bytes(), buf);
    put_bytes(2, &context.span_id().to_bytes(), buf);
    put_str(3, &context.trace_state().header(), buf);
    if span.parent_span_id != SpanId::INVALID {
        put_bytes(4, &span.parent_span_id.to_bytes(), buf);
    }
    put_fixed32(16, span_flags(span), buf);
    put_str(5, &span.name, buf);
    put_varint(6, kind(span) as u64, buf);
    put_fixed64(7, nanos(span.start_time), buf);
    put_fixed64(8, nanos(span.end_time), buf);
    put_attributes(9, &span.attributes, buf);
    put_varint(10, u64::from(span.dropped_attributes_count), buf);
    for event in span.events.events.iter() {
        let len = fixed64_len(1, nanos(event.timestamp))
            + str_len(2, &event.name)
            + attributes_len(3, &event.attributes)
            + varint_len(4, u64::from(event.dropped_attributes_count));
        put_header(11, len, buf);
        put_fixed64(1, nanos(event.timestamp), buf);
        put_str(2, &event.name, buf);
        put_attributes(3, &event.attributes, buf);
        put_varint(4, u64::from(event.dropped_attributes_count), buf);
    }
    put_varint(12, u64::from(span.events.dropped_count), buf);
    for link in span.links.links.iter() {
        put_header(13, link_len(link), buf);
        let context = &link.span_context;
        put_bytes(1, &context.trace_id().to_bytes(), buf);
        put_bytes(2, &context.span_id().to_bytes(), buf);
        put_str(3, &context.trace_state().header(), buf);
        put_attributes(4, &link.attributes, buf);
        put_varint(5, u64::from(link.dropped_attributes_count), buf);
        put_fixed32(6, link_flags(link), buf);
    }
    put_varint(14, u64::from(span.links.dropped_count), buf);
    put_header(15, status_len(&span.status), buf);
    if let Status::Error { description } = &span.status {
        put_str(2, description, buf);
    }
    put_varint(3, status_code(&span.status), buf);
}

fn link_len(link: &opentelemetry::trace::Link) -> usize {
    let context = &link.span_context;
    bytes_len(1, 16)
        + bytes_len(2, 8)
        + str_len(3, &context.trace_state().header())
        + attributes_len(4, &link.attributes)
        + varint_len(5, u64::from(link.dropped_attributes_count))
        + fixed32_len(6, link_flags(link))
}

fn span_flags(span: &SpanData) -> u32 {
    flags(
        span.parent_span_is_remote,
        span.span_context.trace_flags().to_u8(),
    )
}

fn link_flags(link: &opentelemetry::trace::Link) -> u32 {
    flags(
        link.span_context.is_remote(),
        link.span_context.trace_flags().to_u8(),
    )
}

/// As `opentelemetry-proto`'s `build_span_flags`.
fn flags(remote: bool, trace_flags: u8) -> u32 {
    let mut flags = u32::from(trace_flags) | HAS_IS_REMOTE;
    if remote {
        flags |= IS_REMOTE;
    }
    flags
}

/// `Span.SpanKind`.
fn kind(span: &SpanData) -> i32 {
    use opentelemetry::trace::SpanKind;
    match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `Status.StatusCode`.
fn status_code(status: &Status) -> u64 {
    match status {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error { .. } => 2,
    }
}

fn status_len(status: &Status) -> usize {
    let message = match status {
        Status::Error { description } => str_len(2, description),
        _ => 0,
    };
    message + varint_len(3, status_code(status))
}

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attributes_len(tag: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| message_len(tag, key_value_len(kv)))
        .sum()
}

fn put_attributes(tag: u32, attributes: &[KeyValue], buf: &mut Vec<u8>) {
    for kv in attributes {
        put_header(tag, key_value_len(kv), buf);
        put_str(1, kv.key.as_str(), buf);
        put_header(2, any_value_len(&kv.value), buf);
        put_any_value(&kv.value, buf);
    }
}

/// `KeyValue { key = 1, value = 2 }`: the value is always set.
fn key_value_len(kv: &KeyValue) -> usize {
    str_len(1, kv.key.as_str()) + message_len(2, any_value_len(&kv.value))
}

/// `AnyValue`'s one field; a set `oneof` is written even when it holds its default.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(v) => key_len(3) + encoded_len_varint(*v as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::String(v) => message_len(1, v.as_str().len()),
        Value::Array(array) => message_len(5, array_len(array)),
        // A kind of value newer than this code: an empty `AnyValue`.
        _ => 0,
    }
}

fn put_any_value(value: &Value, buf: &mut Vec<u8>) {
    match value {
        Value::Bool(v) => {
            encode_key(2, WireType::Varint, buf);
            buf.push(u8::from(*v));
        }
        Value::I64(v) => {
            encode_key(3, WireType::Varint, buf);
            encode_varint(*v as u64, buf);
        }
        Value::F64(v) => {
            encode_key(4, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        Value::String(v) => {
            put_header(1, v.as_str().len(), buf);
            buf.extend_from_slice(v.as_str().as_bytes());
        }
        Value::Array(array) => {
            put_header(5, array_len(array), buf);
            for_each_element(array, |value| {
                put_header(1, any_value_len(&value), buf);
                put_any_value(&value, buf);
            });
        }
        _ => {}
    }
}

/// `ArrayValue { repeated AnyValue values = 1 }`.
fn array_len(array: &Array) -> usize {
    let mut len = 0;
    for_each_element(array, |value| len += message_len(1, any_value_len(&value)));
    len
}

fn for_each_element(array: &Array, mut f: impl FnMut(Value)) {
    match array {
        Array::Bool(values) => values.iter().for_each(|v| f(Value::Bool(*v))),
        Array::I64(values) => values.iter().for_each(|v| f(Value::I64(*v))),
        Array::F64(values) => values.iter().for_each(|v| f(Value::F64(*v))),
        // A `StringValue` clone is a reference count, or a copy of a static str.
        Array::String(values) => values.iter().for_each(|v| f(Value::String(v.clone()))),
        _ => {}
    }
}

fn parent_len(parent: SpanId) -> usize {
    match parent == SpanId::INVALID {
        true => 0,
        false => bytes_len(4, 8),
    }
}

/// A length-delimited field of `len` bytes: key, length, bytes.
fn message_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn bytes_len(tag: u32, len: usize) -> usize {
    match len {
        0 => 0,
        len => message_len(tag, len),
    }
}

fn str_len(tag: u32, value: &str) -> usize {
    bytes_len(tag, value.len())
}

fn varint_len(tag: u32, value: u64) -> usize {
    match value {
        0 => 0,
        value => key_len(tag) + encoded_len_varint(value),
    }
}

fn fixed32_len(tag: u32, value: u32) -> usize {
    match value {
        0 => 0,
        _ => key_len(tag) + 4,
    }
}

fn fixed64_len(tag: u32, value: u64) -> usize {
    match value {
        0 => 0,
        _ => key_len(tag) + 8,
    }
}

/// A varint, written into the `Vec` directly: `prost::encoding::encode_varint` goes through
/// `BufMut` one byte at a time, and on the production path it was a tenth of the span
/// encoding's instructions (issue 17). Same bytes: base 128, least significant group first.
#[inline]
pub(crate) fn encode_varint(mut value: u64, buf: &mut Vec<u8>) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A field's key (`tag << 3 | wire type`), as `prost::encoding::encode_key` writes it.
#[inline]
pub(crate) fn encode_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

/// The key and length of a length-delimited field.
pub(crate) fn put_header(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(tag: u32, value: &[u8], buf: &mut Vec<u8>) {
    if !value.is_empty() {
        put_header(tag, value.len(), buf);
        buf.extend_from_slice(value);
    }
}

fn put_str(tag: u32, value: &str, buf: &mut Vec<u8>) {
    put_bytes(tag, value.as_bytes(), buf);
}

fn put_varint(tag: u32, value: u64, buf: &mut Vec<u8>) {
    if value != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(value, buf);
    }
}

fn put_fixed32(tag: u32, value: u32, buf: &mut Vec<u8>) {
    if value != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, buf);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_fixed64(tag: u32, value: u64, buf: &mut Vec<u8>) {
    if value != 0 {
        encode_key(tag, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_are_written_as_prost_writes_them() {
        let mut values = vec![
            0,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
        ];
        values.extend((0..64).map(|shift| 1u64 << shift));
        values.extend((1..64).map(|shift| (1u64 << shift) - 1));
        values.push(u64::MAX);
        for value in values {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            encode_varint(value, &mut ours);
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value}");
            assert_eq!(ours.len(), encoded_len_varint(value), "{value}");
        }
        for tag in [1, 2, 15, 16, 2047, 2048, (1 << 29) - 1] {
            for wire_type in [
                WireType::Varint,
                WireType::SixtyFourBit,
                WireType::LengthDelimited,
                WireType::ThirtyTwoBit,
            ] {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                encode_key(tag, wire_type, &mut ours);
                prost::encoding::encode_key(tag, wire_type, &mut theirs);
                assert_eq!(ours, theirs, "{tag} {wire_type:?}");
            }
        }
    }
}
