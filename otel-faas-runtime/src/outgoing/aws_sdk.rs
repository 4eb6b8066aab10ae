//! The AWS SDK for Rust, traced: one interceptor on a client gives every send and invoke a
//! PRODUCER or CLIENT span and passes the trace on in the request itself.
//!
//! ```ignore
//! use otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor;
//!
//! let config = aws_config::load_from_env().await;
//! let sqs = aws_sdk_sqs::Client::from_conf(
//!     aws_sdk_sqs::config::Builder::from(&config).interceptor(TraceInterceptor::new()).build(),
//! );
//! sqs.send_message().queue_url(url).message_body(body).send().await?;
//! ```
//!
//! | feature | operations | span | the trace travels in |
//! |---|---|---|---|
//! | `aws-sdk-sqs` | `SendMessage`, `SendMessageBatch` | PRODUCER `send {queue}` | the `AWSTraceHeader` system attribute, and message attributes as room allows |
//! | `aws-sdk-sns` | `Publish`, `PublishBatch` | PRODUCER `publish {topic}` | message attributes, as room allows |
//! | `aws-sdk-eventbridge` | `PutEvents` | PRODUCER `publish {bus}` | each entry's `TraceHeader`, and `traceContext` in a JSON `detail` |
//! | `aws-sdk-lambda` | `Invoke` | CLIENT `invoke {function}` | the client context's `custom` map (synchronous invokes); the request's `X-Amzn-Trace-Id`, which Lambda passes on as the invocation's trace header (asynchronous too; read with `OTEL_PROPAGATORS=xray-lambda`) |
//!
//! Other operations of the same clients pass through untouched. The span records the message
//! id (`messaging.message.id`) or the AWS request id the answer carries, and a failure —
//! an error, failed batch entries, a function error — as status Error with `error.type`.
//!
//! Message attributes: SQS and SNS allow ten per message. The caller's own attributes are
//! never dropped; the trace's are added while there is room, `traceparent` first (on SQS the
//! `AWSTraceHeader` system attribute, which does not count, carries the trace whatever
//! happens), and what did not fit is recorded on the span as
//! [`LEFT_OUT`](super::LEFT_OUT).

use std::sync::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    Error as OperationError, FinalizerInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::OutgoingSpan;
#[cfg(any(feature = "aws-sdk-sqs", feature = "aws-sdk-sns"))]
use super::TraceContext;
use crate::propagation::lineage_of;
use crate::propagation::wire::XRAY_HEADER;

/// Traces the sends and invokes of an AWS SDK client; add it with the client config
/// builder's `.interceptor(TraceInterceptor::new())`. See the [module](self).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TraceInterceptor;

impl TraceInterceptor {
    /// The interceptor.
    pub fn new() -> TraceInterceptor {
        TraceInterceptor
    }
}

/// The span of the operation under way, between the interceptor's hooks, and the X-Ray
/// header its HTTP request is to carry.
#[derive(Debug)]
struct Pending {
    span: Mutex<Option<OutgoingSpan>>,
    trace_header: Option<String>,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

impl Intercept for TraceInterceptor {
    fn name(&self) -> &'static str {
        "otel-faas TraceInterceptor"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let region = cfg
            .load::<aws_types::region::Region>()
            .map(|r| r.as_ref().to_owned());
        if let Some((span, trace_header)) = start(context.input_mut(), region.as_deref()) {
            cfg.interceptor_state().store_put(Pending {
                span: Mutex::new(Some(span)),
                trace_header,
            });
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(ours) = cfg
            .load::<Pending>()
            .and_then(|p| p.trace_header.as_deref())
        else {
            return Ok(());
        };
        let headers = context.request_mut().headers_mut();
        let header = match headers.get(XRAY_HEADER) {
            Some(set) => merge_xray(set, ours),
            None => ours.to_owned(),
        };
        headers.insert(XRAY_HEADER, header);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(span) = cfg
            .load::<Pending>()
            .and_then(|p| p.span.lock().ok()?.take())
        else {
            return Ok(());
        };
        if let Some(id) = context
            .response()
            .and_then(|r| r.headers().get("x-amzn-requestid"))
        {
            span.record_request_id(id);
        }
        match context.output_or_error() {
            Some(Ok(output)) => finish(&span, output),
            Some(Err(error)) => record_error(&span, error),
            None => {}
        }
        Ok(())
    }
}

/// Opens the span of a traced operation and writes its context into the input; `None` for
/// an operation this interceptor does not trace. With the span, the X-Ray header its HTTP
/// request is to carry, if any.
fn start(input: &mut Input, region: Option<&str>) -> Option<(OutgoingSpan, Option<String>)> {
    #[cfg(feature = "aws-sdk-sqs")]
    if let Some(span) = sqs::start(input) {
        return Some((span, None));
    }
    #[cfg(feature = "aws-sdk-sns")]
    if let Some(span) = sns::start(input) {
        return Some((span, None));
    }
    #[cfg(feature = "aws-sdk-eventbridge")]
    if let Some(span) = eventbridge::start(input) {
        return Some((span, None));
    }
    #[cfg(feature = "aws-sdk-lambda")]
    if let Some(span) = lambda::start(input, region) {
        // Lambda hands an asynchronous invoke no client context, but passes the request's
        // X-Ray header on as the invocation's trace header (`xray-lambda` reads it).
        let header = span.trace_context().xray_header();
        return Some((span, header));
    }
    let _ = region;
    None
}

/// `ours`, with the `Lineage` of the header already `set` when `ours` has none: the AWS
/// SDK's recursion detection copies the invocation's `_X_AMZN_TRACE_ID` there, and Lambda's
/// recursive-loop detection reads its `Lineage`. Nothing else of it is kept: an X-Ray header
/// written here carries `Root`, `Parent`, `Sampled` and `Lineage` only.
fn merge_xray(set: &str, ours: &str) -> String {
    let has_lineage = ours.split(';').any(|f| f.starts_with("Lineage="));
    match lineage_of(set).filter(|_| !has_lineage) {
        Some(lineage) => format!("{ours};Lineage={lineage}"),
        None => ours.to_owned(),
    }
}

/// Records what the operation's output says.
fn finish(
    span: &OutgoingSpan,
    output: &aws_smithy_runtime_api::client::interceptors::context::Output,
) {
    #[cfg(feature = "aws-sdk-sqs")]
    sqs::finish(span, output);
    #[cfg(feature = "aws-sdk-sns")]
    sns::finish(span, output);
    #[cfg(feature = "aws-sdk-eventbridge")]
    eventbridge::finish(span, output);
    #[cfg(feature = "aws-sdk-lambda")]
    lambda::finish(span, output);
}

/// Records a failed operation: the service's error code when it answered, else what kind of
/// failure it was.
fn record_error(span: &OutgoingSpan, error: &OrchestratorError<OperationError>) {
    let code = error.as_operation_error().and_then(error_code);
    let kind = if error.is_timeout_error() {
        "timeout"
    } else if error.is_connector_error() {
        "connection"
    } else if error.is_response_error() {
        "response"
    } else {
        "_OTHER"
    };
    span.record_failure(code.as_deref().unwrap_or(kind), &error.to_string());
}

/// The AWS error code of an operation error of a traced operation.
fn error_code(error: &OperationError) -> Option<String> {
    fn code<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        error: &OperationError,
    ) -> Option<String> {
        error.downcast_ref::<E>()?.code().map(str::to_owned)
    }
    type Code = fn(&OperationError) -> Option<String>;
    let codes: &[Code] = &[
        #[cfg(feature = "aws-sdk-sqs")]
        code::<aws_sdk_sqs::operation::send_message::SendMessageError>,
        #[cfg(feature = "aws-sdk-sqs")]
        code::<aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError>,
        #[cfg(feature = "aws-sdk-sns")]
        code::<aws_sdk_sns::operation::publish::PublishError>,
        #[cfg(feature = "aws-sdk-sns")]
        code::<aws_sdk_sns::operation::publish_batch::PublishBatchError>,
        #[cfg(feature = "aws-sdk-eventbridge")]
        code::<aws_sdk_eventbridge::operation::put_events::PutEventsError>,
        #[cfg(feature = "aws-sdk-lambda")]
        code::<aws_sdk_lambda::operation::invoke::InvokeError>,
    ];
    codes.iter().find_map(|code| code(error))
}

/// Fits the trace into a message's attributes, next to the caller's own: `string` makes the
/// SDK's string attribute value. Returns the keys there was no room for.
#[cfg(any(feature = "aws-sdk-sqs", feature = "aws-sdk-sns"))]
fn carry_attributes<V>(
    trace: &TraceContext,
    attributes: &mut Option<std::collections::HashMap<String, V>>,
    string: impl Fn(String) -> Option<V>,
) -> Vec<String> {
    let taken = attributes.iter().flat_map(|a| a.keys()).map(String::as_str);
    let fitted = trace.message_attributes(taken, super::MAX_MESSAGE_ATTRIBUTES);
    for (key, value) in fitted.fields {
        if let Some(value) = string(value) {
            attributes
                .get_or_insert_with(Default::default)
                .insert(key, value);
        }
    }
    fitted.left_out
}

/// Adds `keys` to `all`, once each.
#[cfg(any(feature = "aws-sdk-sqs", feature = "aws-sdk-sns"))]
fn gather(all: &mut Vec<String>, keys: Vec<String>) {
    for key in keys {
        if !all.contains(&key) {
            all.push(key);
        }
    }
}

#[cfg(feature = "aws-sdk-sqs")]
mod sqs {
    use std::collections::HashMap;

    use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};
    use aws_sdk_sqs::operation::send_message_batch::{
        SendMessageBatchInput, SendMessageBatchOutput,
    };
    use aws_sdk_sqs::types::{
        MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    };
    use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

    use super::{OutgoingSpan, TraceContext, carry_attributes, gather};

    pub(super) fn start(input: &mut Input) -> Option<OutgoingSpan> {
        if let Some(send) = input.downcast_mut::<SendMessageInput>() {
            let span = OutgoingSpan::sqs_send(send.queue_url.as_deref().unwrap_or_default());
            let trace = span.trace_context();
            let left_out = carry(
                &trace,
                &mut send.message_attributes,
                &mut send.message_system_attributes,
            );
            span.record_left_out(&left_out);
            return Some(span);
        }
        let batch = input.downcast_mut::<SendMessageBatchInput>()?;
        let entries = batch.entries.as_deref_mut().unwrap_or_default();
        let span = OutgoingSpan::sqs_send_batch(
            batch.queue_url.as_deref().unwrap_or_default(),
            entries.len(),
        );
        let trace = span.trace_context();
        let mut left_out = vec![];
        for entry in entries {
            let left = carry(
                &trace,
                &mut entry.message_attributes,
                &mut entry.message_system_attributes,
            );
            gather(&mut left_out, left);
        }
        span.record_left_out(&left_out);
        Some(span)
    }

    /// Writes the trace into one message; returns the keys there was no room for.
    fn carry(
        trace: &TraceContext,
        attributes: &mut Option<HashMap<String, MessageAttributeValue>>,
        system: &mut Option<
            HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>,
        >,
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
        } else if let Some(batch) = output.downcast_ref::<SendMessageBatchOutput>()
            && let Some(first) = batch.failed.first()
        {
            let total = batch.failed.len() + batch.successful.len();
            span.record_failure(
                &first.code,
                &format!("{} of {total} messages were not sent", batch.failed.len()),
            );
        }
    }
}

#[cfg(feature = "aws-sdk-sns")]
mod sns {
    use std::collections::HashMap;

    use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
    use aws_sdk_sns::operation::publish_batch::{PublishBatchInput, PublishBatchOutput};
    use aws_sdk_sns::types::MessageAttributeValue;
    use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

    use super::{OutgoingSpan, TraceContext, carry_attributes, gather};

    pub(super) fn start(input: &mut Input) -> Option<OutgoingSpan> {
        if let Some(publish) = input.downcast_mut::<PublishInput>() {
            // A publish to a phone number has no topic, and its number is not recorded.
            let target = publish
                .topic_arn
                .as_deref()
                .or(publish.target_arn.as_deref());
            let span = OutgoingSpan::sns_publish(target.unwrap_or_default());
            let left_out = carry(&span.trace_context(), &mut publish.message_attributes);
            span.record_left_out(&left_out);
            return Some(span);
        }
        let batch = input.downcast_mut::<PublishBatchInput>()?;
        let entries = batch
            .publish_batch_request_entries
            .as_deref_mut()
            .unwrap_or_default();
        let span = OutgoingSpan::sns_publish_batch(
            batch.topic_arn.as_deref().unwrap_or_default(),
            entries.len(),
        );
        let trace = span.trace_context();
        let mut left_out = vec![];
        for entry in entries {
            gather(&mut left_out, carry(&trace, &mut entry.message_attributes));
        }
        span.record_left_out(&left_out);
        Some(span)
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
}

#[cfg(feature = "aws-sdk-eventbridge")]
mod eventbridge {
    use aws_sdk_eventbridge::operation::put_events::{PutEventsInput, PutEventsOutput};
    use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

    use super::OutgoingSpan;
    use crate::trigger::messaging::common;

    pub(super) fn start(input: &mut Input) -> Option<OutgoingSpan> {
        let put = input.downcast_mut::<PutEventsInput>()?;
        let entries = put.entries.as_deref_mut().unwrap_or_default();
        let bus = common(entries.iter().map(|e| e.event_bus_name.as_deref()));
        let span = OutgoingSpan::eventbridge_put_events(bus, entries.len());
        let trace = span.trace_context();
        if !trace.is_valid() {
            return Some(span);
        }
        let header = trace.xray_header();
        for entry in entries {
            if header.is_some() {
                entry.trace_header.clone_from(&header);
            }
            if let Some(detail) = entry
                .detail
                .as_deref()
                .and_then(|d| trace.inject_json_str(d))
            {
                entry.detail = Some(detail);
            }
        }
        Some(span)
    }

    pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
        let Some(put) = output.downcast_ref::<PutEventsOutput>() else {
            return;
        };
        let entries = put.entries.as_deref().unwrap_or_default();
        if let [only] = entries
            && let Some(id) = &only.event_id
        {
            span.record_message_id(id);
        }
        if put.failed_entry_count > 0 {
            let code = entries
                .iter()
                .find_map(|e| e.error_code.as_deref())
                .unwrap_or("_OTHER");
            span.record_failure(
                code,
                &format!(
                    "{} of {} events were not put",
                    put.failed_entry_count,
                    entries.len()
                ),
            );
        }
    }
}

#[cfg(feature = "aws-sdk-lambda")]
mod lambda {
    use aws_sdk_lambda::operation::invoke::{InvokeInput, InvokeOutput};
    use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

    use super::OutgoingSpan;

    pub(super) fn start(input: &mut Input, region: Option<&str>) -> Option<OutgoingSpan> {
        let invoke = input.downcast_mut::<InvokeInput>()?;
        let span = OutgoingSpan::lambda_invoke(
            invoke.function_name.as_deref().unwrap_or_default(),
            region,
        );
        match span
            .trace_context()
            .client_context(invoke.client_context.as_deref())
        {
            Ok(Some(client_context)) => invoke.client_context = Some(client_context),
            Ok(None) => {}
            // The caller's client context goes as it was, without the trace; the span says so.
            Err(_) => span.record_left_out(&["client_context".to_owned()]),
        }
        Some(span)
    }

    pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
        let Some(invoked) = output.downcast_ref::<InvokeOutput>() else {
            return;
        };
        if let Some(error) = &invoked.function_error {
            span.record_failure(error, "the invoked function returned an error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lineage_of_the_header_already_set_is_kept() {
        assert_eq!(
            merge_xray(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0",
                "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
            ),
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1;Lineage=a87bd80c:0"
        );
    }

    #[test]
    fn only_the_lineage_of_the_header_already_set_is_kept_and_only_once() {
        let ours = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1";
        assert_eq!(
            merge_xray(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Self=1-x;Dd=s:2;Lineage=1:fe460cdd:0",
                &format!("{ours};Lineage=1:fe460cdd:0")
            ),
            format!("{ours};Lineage=1:fe460cdd:0")
        );
        assert_eq!(
            merge_xray(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Dd=s:2;O:rum",
                ours
            ),
            ours
        );
    }
}
