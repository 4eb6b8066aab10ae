//! SQS: sends are PRODUCER spans whose context every message carries; receives and deletes
//! are CLIENT spans with the messaging attributes of the SQS refinements
//! (`model/messaging/aws.yaml`: `span.messaging.aws.sqs.send.producer`,
//! `span.messaging.aws.sqs.receive.client`; a delete settles, `messaging.settle.client`).

use std::collections::HashMap;

use aws_sdk_sqs::operation::delete_message::{DeleteMessageError, DeleteMessageInput};
use aws_sdk_sqs::operation::delete_message_batch::{
    DeleteMessageBatchError, DeleteMessageBatchInput, DeleteMessageBatchOutput,
};
use aws_sdk_sqs::operation::receive_message::{
    ReceiveMessageError, ReceiveMessageInput, ReceiveMessageOutput,
};
use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageInput, SendMessageOutput};
use aws_sdk_sqs::operation::send_message_batch::{
    SendMessageBatchError, SendMessageBatchInput, SendMessageBatchOutput,
};
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue,
};
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as OperationError, Input, Output,
};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_MESSAGE_ID,
};

use super::{OutgoingSpan, SpanShape, TraceContext, carry_attributes, gather};
use crate::propagation::xray_span_context;
use crate::redact::bounded;

pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    let url = |url: &Option<String>| url.as_deref().unwrap_or_default().to_owned();
    *shape = if let Some(send) = input.downcast_ref::<SendMessageInput>() {
        SpanShape::sqs_send(&url(&send.queue_url), 1, limit)
    } else if let Some(batch) = input.downcast_ref::<SendMessageBatchInput>() {
        let count = batch.entries.as_deref().unwrap_or_default().len();
        SpanShape::sqs_send(&url(&batch.queue_url), count, limit)
    } else if let Some(receive) = input.downcast_ref::<ReceiveMessageInput>() {
        let url = url(&receive.queue_url);
        SpanShape::sqs(&url, "receive", "receive", SpanKind::Client, None, limit)
    } else if let Some(delete) = input.downcast_ref::<DeleteMessageInput>() {
        let url = url(&delete.queue_url);
        SpanShape::sqs(&url, "delete", "settle", SpanKind::Client, Some(1), limit)
    } else if let Some(batch) = input.downcast_ref::<DeleteMessageBatchInput>() {
        let count = batch.entries.as_deref().unwrap_or_default().len();
        let url = url(&batch.queue_url);
        SpanShape::sqs(
            &url,
            "delete",
            "settle",
            SpanKind::Client,
            Some(count),
            limit,
        )
    } else {
        return;
    };
}

/// Writes the send's span into each message.
pub(super) fn propagate(input: &mut Input, span: &OutgoingSpan) -> Option<String> {
    if let Some(send) = input.downcast_mut::<SendMessageInput>() {
        let left_out = carry(
            &span.trace_context(),
            &mut send.message_attributes,
            &mut send.message_system_attributes,
        );
        span.record_left_out(&left_out);
    } else if let Some(batch) = input.downcast_mut::<SendMessageBatchInput>() {
        let trace = span.trace_context();
        let mut left_out = vec![];
        for entry in batch.entries.as_deref_mut().unwrap_or_default() {
            let left = carry(
                &trace,
                &mut entry.message_attributes,
                &mut entry.message_system_attributes,
            );
            gather(&mut left_out, left);
        }
        span.record_left_out(&left_out);
    }
    None
}

/// Writes the trace into one message; returns the keys there was no room for.
fn carry(
    trace: &TraceContext,
    attributes: &mut Option<HashMap<String, MessageAttributeValue>>,
    system: &mut Option<HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>>,
) -> Vec<String> {
    if !trace.is_valid() {
        return vec![];
    }
    if let Some(header) = trace.xray_header() {
        let value = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(header)
            .build();
        if let Ok(value) = value {
            system
                .get_or_insert_with(HashMap::new)
                .insert(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
        }
    }
    carry_attributes(trace, attributes, |value| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .ok()
    })
}

pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
    if let Some(sent) = output.downcast_ref::<SendMessageOutput>() {
        if let Some(id) = &sent.message_id {
            span.record_message_id(id);
        }
    } else if let Some(batch) = output.downcast_ref::<SendMessageBatchOutput>() {
        if let Some(first) = batch.failed.first() {
            let total = batch.failed.len() + batch.successful.len();
            span.record_failure(
                &first.code,
                &format!("{} of {total} messages were not sent", batch.failed.len()),
            );
        }
    } else if let Some(received) = output.downcast_ref::<ReceiveMessageOutput>() {
        received_messages(span, received);
    } else if let Some(batch) = output.downcast_ref::<DeleteMessageBatchOutput>()
        && let Some(first) = batch.failed.first()
    {
        let total = batch.failed.len() + batch.successful.len();
        span.record_failure(
            &first.code,
            &format!(
                "{} of {total} messages were not deleted",
                batch.failed.len()
            ),
        );
    }
}

/// A receive's count, the id of a lone message, and a link to each message's producer
/// where the message carries an `AWSTraceHeader` (when the call asked for it).
fn received_messages(span: &OutgoingSpan, received: &ReceiveMessageOutput) {
    let Some(limit) = span.value_limit() else {
        return;
    };
    let messages = received.messages.as_deref().unwrap_or_default();
    let count = i64::try_from(messages.len()).unwrap_or(i64::MAX);
    span.set_attribute(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, count));
    if let [only] = messages
        && let Some(id) = &only.message_id
    {
        span.record_message_id(id);
    }
    for message in messages {
        let producer = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader))
            .and_then(|header| xray_span_context(header));
        if let Some(producer) = producer {
            let attributes = message
                .message_id
                .as_deref()
                .map(|id| vec![KeyValue::new(MESSAGING_MESSAGE_ID, bounded(id, limit))])
                .unwrap_or_default();
            span.add_link(producer, attributes);
        }
    }
}

pub(super) fn error_code(error: &OperationError) -> Option<String> {
    super::sdk_code!(error;
        SendMessageError,
        SendMessageBatchError,
        ReceiveMessageError,
        DeleteMessageError,
        DeleteMessageBatchError,
    )
}
