//! The AWS SDK for Rust, traced: one interceptor on any client gives every operation a CLIENT
//! span named `{Service}.{Operation}`, and gives sends and invokes a PRODUCER or CLIENT span
//! that passes the trace on in the request itself.
//!
//! ```ignore
//! use otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor;
//!
//! let config = aws_config::load_from_env().await;
//! let dynamodb = aws_sdk_dynamodb::Client::from_conf(
//!     aws_sdk_dynamodb::config::Builder::from(&config).interceptor(TraceInterceptor::new()).build(),
//! );
//! dynamodb.get_item().table_name("orders").key("id", key).send().await?; // CLIENT DynamoDB.GetItem
//! ```
//!
//! # Every operation of every service
//!
//! The span follows the AWS SDK semantic conventions (`span.aws.client` in
//! `model/aws/sdk-spans.yaml` of open-telemetry/semantic-conventions), with the service and
//! operation names the SDK itself gives the operation (its `Metadata` in the config bag; the
//! service's spaces left out, as the JavaScript instrumentation does: `SecretsManager`):
//!
//! | attribute | value | requirement level |
//! |---|---|---|
//! | `rpc.system` | `aws-api` | required (the registry deprecates `rpc.system` for `rpc.system.name`, which has no AWS value; the AWS span still requires `rpc.system`) |
//! | `rpc.service`, `rpc.method` | `DynamoDB`, `GetItem` | recommended |
//! | `cloud.region` | the client's region | recommended |
//! | `aws.request_id` | the `x-amzn-requestid`, `x-amzn-request-id` or `x-amz-request-id` response header | recommended |
//! | `aws.extended_request_id` | the `x-amz-id-2` response header (S3) | conditionally required: if available |
//! | `server.address`, `server.port` | the endpoint the request went to | (the HTTP client span's, recommended) |
//! | `http.response.status_code` | the last response's status | (the HTTP client span's) |
//! | `http.request.resend_count` | how many times the SDK sent the request again (retries), when it did | (the HTTP client span's; one span covers the operation, so the count and the status are those of its last attempt) |
//!
//! A failed operation has status Error, an `exception` event, and as `error.type` the AWS
//! error code the SDK reads (`ResourceNotFoundException`, `NoSuchKey`,
//! `AWS.SimpleQueueService.NonExistentQueue`): from the SDK's typed error where a service
//! module knows it, else from the response as the SDK's protocol parsers read it (the
//! `x-amzn-query-error` and `x-amzn-errortype` headers, a JSON body's `code` or `__type`, an
//! XML body's `Code`); an operation with no answer records `timeout`, `connection` or
//! `response`, and an answer with no code its HTTP status. Request and response bodies are
//! never recorded; the SDK's `SensitiveOutput` operations (such as `GetSecretValue`) are read
//! only for the fields named below.
//!
//! # What each service's feature adds
//!
//! | feature | operations | span | attributes | the trace travels in |
//! |---|---|---|---|---|
//! | `aws-sdk-sqs` | `SendMessage`, `SendMessageBatch` | PRODUCER `send {queue}` | messaging, `aws.sqs.queue.url`, `messaging.message.id` | the `AWSTraceHeader` system attribute, and message attributes as room allows |
//! | `aws-sdk-sqs` | `ReceiveMessage` | CLIENT `receive {queue}` | messaging (`receive`), `messaging.batch.message_count`; a link to each message's `AWSTraceHeader` when the call asked for it | |
//! | `aws-sdk-sqs` | `DeleteMessage`, `DeleteMessageBatch` | CLIENT `delete {queue}` | messaging (`settle`); failed entries as Error | |
//! | `aws-sdk-sns` | `Publish`, `PublishBatch` | PRODUCER `publish {topic}` | messaging, `aws.sns.topic.arn` | message attributes, as room allows |
//! | `aws-sdk-eventbridge` | `PutEvents` | PRODUCER `publish {bus}` | messaging | each entry's `TraceHeader`, and `traceContext` in a JSON `detail` |
//! | `aws-sdk-lambda` | `Invoke` | CLIENT `invoke {function}` | `faas.invoked_*` | the client context's `custom` map (synchronous invokes); the request's `X-Amzn-Trace-Id`, which Lambda passes on as the invocation's trace header (asynchronous too; read with `OTEL_PROPAGATORS=xray-lambda`) |
//! | `aws-sdk-dynamodb` | items, queries, scans, batches, tables | CLIENT `DynamoDB.{Operation}` | `db.system.name`, `aws.dynamodb.*` ([`dynamodb`](self#dynamodb)) | |
//! | `aws-sdk-s3` | object, multipart and bucket operations | CLIENT `S3.{Operation}` | `aws.s3.bucket`, `aws.s3.key`, `aws.s3.copy_source`, `aws.s3.upload_id`, `aws.s3.part_number` | |
//! | `aws-sdk-secretsmanager` | operations on one secret | CLIENT `SecretsManager.{Operation}` | `aws.secretsmanager.secret.arn`: the ARN the call names or the answer gives, never the secret's value | |
//!
//! Every other service — Systems Manager Parameter Store, KMS, Step Functions… — gets the
//! span of every operation with no feature of its own; nothing of its requests and answers
//! is read beyond the HTTP response's status and headers, so no parameter's value ever is.
//!
//! Messaging spans keep the messaging conventions' names (`{operation} {destination}`, from
//! the SQS refinements of `model/messaging/aws.yaml`) and carry the AWS SDK attributes too.
//! SNS, SQS and EventBridge failures of single entries in a batch (a `200` answer) are
//! recorded as status Error with the first entry's code.
//!
//! ## DynamoDB
//!
//! Per operation, the attributes its span definition in `model/aws/sdk-spans.yaml` lists,
//! all `recommended`: `aws.dynamodb.table_names`, `consistent_read`, `projection`, `limit`,
//! `attributes_to_get`, `index_name`, `select`, `scan_forward`, `segment`, `total_segments`,
//! `count`, `scanned_count`, `exclusive_start_table`, `table_count`, `consumed_capacity`
//! (each `ConsumedCapacity` as JSON), `provisioned_read_capacity` and
//! `provisioned_write_capacity`; and `db.system.name = aws.dynamodb`, which each of those
//! definitions says MUST be set. Left out on purpose: `item_collection_metrics` (it holds
//! the items' key values: data, not telemetry) and the JSON of index definitions
//! (`global_secondary_indexes`, `local_secondary_indexes`, `attribute_definitions`,
//! `global_secondary_index_updates`), which table administration rarely needs in a function.
//!
//! Message attributes: SQS and SNS allow ten per message. The caller's own attributes are
//! never dropped; the trace's are added while there is room, `traceparent` first (on SQS the
//! `AWSTraceHeader` system attribute, which does not count, carries the trace whatever
//! happens), and what did not fit is recorded on the span as
//! [`LEFT_OUT`](super::LEFT_OUT).

#[cfg(feature = "aws-sdk-dynamodb")]
mod dynamodb;
#[cfg(feature = "aws-sdk-eventbridge")]
mod eventbridge;
#[cfg(feature = "aws-sdk-lambda")]
mod lambda;
mod response;
#[cfg(feature = "aws-sdk-s3")]
mod s3;
#[cfg(feature = "aws-sdk-secretsmanager")]
mod secretsmanager;
#[cfg(feature = "aws-sdk-sns")]
mod sns;
#[cfg(feature = "aws-sdk-sqs")]
mod sqs;

use std::borrow::Cow;
use std::sync::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, Error as OperationError, FinalizerInterceptorContextRef,
    Input, Output,
};
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use opentelemetry::{Key, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    CLOUD_REGION, HTTP_REQUEST_RESEND_COUNT, RPC_METHOD, SERVER_ADDRESS,
};
#[allow(deprecated)] // `span.aws.client` still requires `rpc.system` and lists `rpc.service`.
use opentelemetry_semantic_conventions::attribute::{RPC_SERVICE, RPC_SYSTEM};

use super::OutgoingSpan;
#[cfg(any(feature = "aws-sdk-sqs", feature = "aws-sdk-sns"))]
use super::TraceContext;
use super::span::{SpanShape, server_of};
use crate::propagation::lineage_of;
use crate::propagation::wire::XRAY_HEADER;
use crate::redact::bounded;

/// Traces every operation of an AWS SDK client; add it with the client config builder's
/// `.interceptor(TraceInterceptor::new())`. See the [module](self).
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
    /// The attributes the span started with, which the answer is not to repeat.
    started_with: Vec<Key>,
    /// Whether `server.address` is still to be read from the request.
    server_unknown: Mutex<bool>,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// The operation being called, as the SDK names it.
#[derive(Debug)]
struct Call<'a> {
    /// The service as the SDK names it (`DynamoDB`, `Secrets Manager`).
    service: &'a str,
    /// The operation (`GetItem`).
    operation: &'a str,
    /// The client's region.
    region: Option<&'a str>,
}

impl Call<'_> {
    /// `rpc.service`: the SDK's service name without its spaces.
    fn rpc_service(&self) -> Cow<'_, str> {
        if self.service.contains(' ') {
            Cow::Owned(self.service.replace(' ', ""))
        } else {
            Cow::Borrowed(self.service)
        }
    }

    /// The span of any operation: CLIENT `{Service}.{Operation}`.
    fn shape(&self, limit: usize) -> SpanShape {
        let name = format!("{}.{}", self.rpc_service(), self.operation);
        SpanShape::client(bounded(&name, limit))
    }

    /// The attributes every operation's span carries from its start.
    #[allow(deprecated)]
    fn attributes(&self, limit: usize) -> [Option<KeyValue>; 4] {
        [
            Some(KeyValue::new(RPC_SYSTEM, "aws-api")),
            Some(KeyValue::new(
                RPC_SERVICE,
                bounded(&self.rpc_service(), limit),
            )),
            Some(KeyValue::new(RPC_METHOD, bounded(self.operation, limit))),
            self.region
                .map(|region| KeyValue::new(CLOUD_REGION, bounded(region, limit))),
        ]
    }
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
        let Some(telemetry) = super::pipeline() else {
            return Ok(());
        };
        let Some(metadata) = cfg.load::<Metadata>().cloned() else {
            return Ok(());
        };
        let region = cfg
            .load::<aws_types::region::Region>()
            .map(|r| r.as_ref().to_owned());
        let call = Call {
            service: metadata.service(),
            operation: metadata.name(),
            region: region.as_deref(),
        };
        let limit = telemetry.value_limit();
        let mut shape = call.shape(limit);
        describe(&call, context.input(), &mut shape, limit);
        shape
            .attributes
            .extend(call.attributes(limit).into_iter().flatten());
        let started_with: Vec<Key> = shape.attributes.iter().map(|a| a.key.clone()).collect();
        let server_unknown = !started_with.iter().any(|k| k.as_str() == SERVER_ADDRESS);
        let span = OutgoingSpan::start(&telemetry, shape);
        let trace_header = propagate(&call, context.input_mut(), &span);
        cfg.interceptor_state().store_put(Pending {
            span: Mutex::new(Some(span)),
            trace_header,
            started_with,
            server_unknown: Mutex::new(server_unknown),
        });
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>() else {
            return Ok(());
        };
        let Ok(mut unknown) = pending.server_unknown.lock() else {
            return Ok(());
        };
        if !*unknown {
            return Ok(());
        }
        if let (Ok(span), Ok(uri)) = (
            pending.span.lock(),
            context.request().uri().parse::<http::Uri>(),
        ) && let Some(span) = span.as_ref()
            && let Some(limit) = span.value_limit()
        {
            for attribute in server_of(&uri, limit) {
                span.set_attribute(attribute);
            }
            *unknown = false;
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
        let Some(pending) = cfg.load::<Pending>() else {
            return Ok(());
        };
        let Some(span) = pending.span.lock().ok().and_then(|mut s| s.take()) else {
            return Ok(());
        };
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let call = Call {
            service: metadata.service(),
            operation: metadata.name(),
            region: None,
        };
        if let Some(response) = context.response() {
            response::record(&span, response);
        }
        let attempts = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        if attempts > 1 {
            span.set_attribute(KeyValue::new(
                HTTP_REQUEST_RESEND_COUNT,
                i64::from(attempts - 1),
            ));
        }
        match context.output_or_error() {
            Some(Ok(output)) => finish(&call, &span, output, &pending.started_with),
            Some(Err(error)) => record_error(&call, &span, error, context.response()),
            None => {}
        }
        Ok(())
    }
}

/// Gives the span of an operation its service's name, kind and attributes, where the
/// service's module knows the operation.
fn describe(call: &Call<'_>, input: &Input, shape: &mut SpanShape, limit: usize) {
    let _ = (input, &shape, limit);
    match call.service {
        #[cfg(feature = "aws-sdk-sqs")]
        "SQS" => sqs::describe(input, shape, limit),
        #[cfg(feature = "aws-sdk-sns")]
        "SNS" => sns::describe(input, shape, limit),
        #[cfg(feature = "aws-sdk-eventbridge")]
        "EventBridge" => eventbridge::describe(input, shape, limit),
        #[cfg(feature = "aws-sdk-lambda")]
        "Lambda" => lambda::describe(input, call.region, shape, limit),
        #[cfg(feature = "aws-sdk-dynamodb")]
        "DynamoDB" => dynamodb::describe(input, shape, limit),
        #[cfg(feature = "aws-sdk-s3")]
        "S3" => s3::describe(input, shape, limit),
        #[cfg(feature = "aws-sdk-secretsmanager")]
        "Secrets Manager" => secretsmanager::describe(input, shape, limit),
        _ => {}
    }
}

/// Writes the span's context into the input of a send or an invoke; with it, the X-Ray
/// header its HTTP request is to carry, if any.
fn propagate(call: &Call<'_>, input: &mut Input, span: &OutgoingSpan) -> Option<String> {
    let _ = (&input, span);
    match call.service {
        #[cfg(feature = "aws-sdk-sqs")]
        "SQS" => sqs::propagate(input, span),
        #[cfg(feature = "aws-sdk-sns")]
        "SNS" => sns::propagate(input, span),
        #[cfg(feature = "aws-sdk-eventbridge")]
        "EventBridge" => eventbridge::propagate(input, span),
        #[cfg(feature = "aws-sdk-lambda")]
        "Lambda" => lambda::propagate(input, span),
        _ => None,
    }
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
fn finish(call: &Call<'_>, span: &OutgoingSpan, output: &Output, started_with: &[Key]) {
    let _ = (span, output, started_with);
    match call.service {
        #[cfg(feature = "aws-sdk-sqs")]
        "SQS" => sqs::finish(span, output),
        #[cfg(feature = "aws-sdk-sns")]
        "SNS" => sns::finish(span, output),
        #[cfg(feature = "aws-sdk-eventbridge")]
        "EventBridge" => eventbridge::finish(span, output),
        #[cfg(feature = "aws-sdk-lambda")]
        "Lambda" => lambda::finish(span, output),
        #[cfg(feature = "aws-sdk-dynamodb")]
        "DynamoDB" => dynamodb::finish(span, output),
        #[cfg(feature = "aws-sdk-secretsmanager")]
        "Secrets Manager" => secretsmanager::finish(span, output, started_with),
        _ => {}
    }
}

/// Records a failed operation: the service's error code when it answered, else what kind of
/// failure it was.
fn record_error(
    call: &Call<'_>,
    span: &OutgoingSpan,
    error: &OrchestratorError<OperationError>,
    response: Option<&aws_smithy_runtime_api::http::Response>,
) {
    let code = error
        .as_operation_error()
        .and_then(|error| typed_code(call, error))
        .or_else(|| response.and_then(response::error_code));
    let kind = if error.is_timeout_error() {
        Cow::Borrowed("timeout")
    } else if error.is_connector_error() {
        Cow::Borrowed("connection")
    } else if let Some(response) = response.filter(|r| !r.status().is_success()) {
        Cow::Owned(response.status().as_u16().to_string())
    } else if error.is_response_error() {
        Cow::Borrowed("response")
    } else {
        Cow::Borrowed("_OTHER")
    };
    span.record_failure(code.as_deref().unwrap_or(&kind), &error.to_string());
}

/// The AWS error code of an operation error, read from the SDK's typed error where the
/// service's module knows the operation.
fn typed_code(call: &Call<'_>, error: &OperationError) -> Option<String> {
    let _ = error;
    match call.service {
        #[cfg(feature = "aws-sdk-sqs")]
        "SQS" => sqs::error_code(error),
        #[cfg(feature = "aws-sdk-sns")]
        "SNS" => sns::error_code(error),
        #[cfg(feature = "aws-sdk-eventbridge")]
        "EventBridge" => eventbridge::error_code(error),
        #[cfg(feature = "aws-sdk-lambda")]
        "Lambda" => lambda::error_code(error),
        #[cfg(feature = "aws-sdk-s3")]
        "S3" => s3::error_code(error),
        _ => None,
    }
}

/// The SDK's own error code of `error`, if it is one of the operation error types listed.
#[cfg(any(
    feature = "aws-sdk-sqs",
    feature = "aws-sdk-sns",
    feature = "aws-sdk-eventbridge",
    feature = "aws-sdk-lambda",
    feature = "aws-sdk-s3"
))]
macro_rules! sdk_code {
    ($error:expr; $($ty:ty),+ $(,)?) => {{
        use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
        let error: &aws_smithy_runtime_api::client::interceptors::context::Error = $error;
        None
            $(.or_else(|| error.downcast_ref::<$ty>()?.code().map(str::to_owned)))+
    }};
}
#[cfg(any(
    feature = "aws-sdk-sqs",
    feature = "aws-sdk-sns",
    feature = "aws-sdk-eventbridge",
    feature = "aws-sdk-lambda",
    feature = "aws-sdk-s3"
))]
use sdk_code;

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
