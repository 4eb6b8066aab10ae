//! SNS: a publish is a PRODUCER span whose context each message carries in its attributes
//! (`span.messaging.aws.sns.send.producer`, `model/messaging/aws.yaml`).

use std::collections::HashMap;

use aws_sdk_sns::operation::publish::{PublishError, PublishInput, PublishOutput};
use aws_sdk_sns::operation::publish_batch::{
    PublishBatchError, PublishBatchInput, PublishBatchOutput,
};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as OperationError, Input, Output,
};

use super::{OutgoingSpan, SpanShape, TraceContext, carry_attributes, gather};

pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    if let Some(publish) = input.downcast_ref::<PublishInput>() {
        // A publish to a phone number has no topic, and its number is not recorded.
        let target = publish
            .topic_arn
            .as_deref()
            .or(publish.target_arn.as_deref());
        *shape = SpanShape::sns_publish(target.unwrap_or_default(), 1, limit);
    } else if let Some(batch) = input.downcast_ref::<PublishBatchInput>() {
        let count = batch
            .publish_batch_request_entries
            .as_deref()
            .unwrap_or_default()
            .len();
        *shape =
            SpanShape::sns_publish(batch.topic_arn.as_deref().unwrap_or_default(), count, limit);
    }
}

/// Writes the publish's span into each message.
pub(super) fn propagate(input: &mut Input, span: &OutgoingSpan) -> Option<String> {
    if let Some(publish) = input.downcast_mut::<PublishInput>() {
        let left_out = carry(&span.trace_context(), &mut publish.message_attributes);
        span.record_left_out(&left_out);
    } else if let Some(batch) = input.downcast_mut::<PublishBatchInput>() {
        let trace = span.trace_context();
        let mut left_out = vec![];
        let entries = batch
            .publish_batch_request_entries
            .as_deref_mut()
            .unwrap_or_default();
        for entry in entries {
            gather(&mut left_out, carry(&trace, &mut entry.message_attributes));
        }
        span.record_left_out(&left_out);
    }
    None
}

fn carry(
    trace: &TraceContext,
    attributes: &mut Option<HashMap<String, MessageAttributeValue>>,
) -> Vec<String> {
    if !trace.is_valid() {
        return vec![];
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
    if let Some(published) = output.downcast_ref::<PublishOutput>() {
        if let Some(id) = &published.message_id {
            span.record_message_id(id);
        }
    } else if let Some(batch) = output.downcast_ref::<PublishBatchOutput>() {
        let failed = batch.failed.as_deref().unwrap_or_default();
        if let Some(first) = failed.first() {
            let total = failed.len() + batch.successful.as_deref().unwrap_or_default().len();
            span.record_failure(
                &first.code,
                &format!("{} of {total} messages were not published", failed.len()),
            );
        }
    }
}

pub(super) fn error_code(error: &OperationError) -> Option<String> {
    super::sdk_code!(error; PublishError, PublishBatchError)
}
