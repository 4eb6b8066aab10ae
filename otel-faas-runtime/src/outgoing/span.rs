//! The span of one outgoing call: PRODUCER for a message sent, CLIENT for a request.

use std::borrow::Cow;
use std::fmt::{Debug, Display};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    AWS_REQUEST_ID, AWS_SNS_TOPIC_ARN, AWS_SQS_QUEUE_URL, ERROR_TYPE, FAAS_INVOKED_NAME,
    FAAS_INVOKED_PROVIDER, FAAS_INVOKED_REGION, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};

use super::TraceContext;
use crate::outcome::Failure;
use crate::redact::{REDACTED, bounded, redact_query, truncate};
use crate::telemetry::Telemetry;

/// Records the carrier keys an outgoing message had no room for (see
/// [`TraceContext::message_attributes`]).
pub const LEFT_OUT: &str = "otel_faas.propagation.left_out";

/// The span of one call the handler makes: a message sent (PRODUCER) or a request (CLIENT),
/// a child of the current span, with the semantic-convention attributes of its kind.
///
/// Pass [`OutgoingSpan::trace_context`] on with the call, so that what it reaches continues
/// from this span; record what the answer says; the span ends when this value is dropped
/// (or at [`OutgoingSpan::end`]).
///
/// ```no_run
/// # async fn send(_: &str, _: std::collections::HashMap<String, String>) -> Result<String, std::io::Error> { Ok(String::new()) }
/// # async fn f() -> Result<(), std::io::Error> {
/// use otel_faas_runtime::outgoing::OutgoingSpan;
///
/// let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
/// let span = OutgoingSpan::sqs_send(queue);
/// let mut attributes = std::collections::HashMap::new();
/// span.trace_context().inject_map(&mut attributes);
/// match send(queue, attributes).await {
///     Ok(message_id) => span.record_message_id(&message_id),
///     Err(error) => span.record_error(&error),
/// }
/// # Ok(()) }
/// ```
///
/// The AWS SDK and `reqwest` integrations ([`super`]) make these spans for you.
#[derive(Debug)]
pub struct OutgoingSpan {
    cx: Context,
    telemetry: Option<Telemetry>,
}

/// What a span is to be before it starts: its name, kind and first attributes (those a
/// sampler may read).
#[derive(Debug)]
pub(crate) struct SpanShape {
    pub(crate) name: String,
    pub(crate) kind: SpanKind,
    pub(crate) attributes: Vec<KeyValue>,
}

/// What a messaging span is about.
struct Messaging<'a> {
    system: &'static str,
    /// `messaging.operation.name`, also the first word of the span name.
    operation: &'static str,
    /// `messaging.operation.type`.
    operation_type: &'static str,
    kind: SpanKind,
    destination: Option<&'a str>,
    /// How many messages, when known before the call; recorded when not 1.
    count: Option<usize>,
}

impl SpanShape {
    /// A CLIENT span named `name`, attributes to come.
    #[cfg(feature = "aws-sdk")]
    pub(crate) fn client(name: String) -> SpanShape {
        SpanShape {
            name,
            kind: SpanKind::Client,
            attributes: Vec::with_capacity(12),
        }
    }

    /// SQS `SendMessage` (`count` 1) or `SendMessageBatch`: PRODUCER `send {queue}`.
    pub(crate) fn sqs_send(queue_url: &str, count: usize, limit: usize) -> SpanShape {
        SpanShape::sqs(
            queue_url,
            "send",
            "send",
            SpanKind::Producer,
            Some(count),
            limit,
        )
    }

    /// An SQS operation on the queue at `queue_url`, with `aws.sqs.queue.url` and the
    /// queue's host as `server.address`.
    pub(crate) fn sqs(
        queue_url: &str,
        operation: &'static str,
        operation_type: &'static str,
        kind: SpanKind,
        count: Option<usize>,
        limit: usize,
    ) -> SpanShape {
        let queue = queue_url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|q| !q.is_empty());
        let mut extra = vec![KeyValue::new(AWS_SQS_QUEUE_URL, bounded(queue_url, limit))];
        if let Some(host) = host_of(queue_url) {
            extra.push(KeyValue::new(SERVER_ADDRESS, bounded(host, limit)));
        }
        SpanShape::messaging(
            Messaging {
                system: "aws_sqs",
                operation,
                operation_type,
                kind,
                destination: queue,
                count,
            },
            extra,
            limit,
        )
    }

    /// SNS `Publish` (`count` 1) or `PublishBatch` to `topic_arn`: PRODUCER `publish {topic}`.
    pub(crate) fn sns_publish(topic_arn: &str, count: usize, limit: usize) -> SpanShape {
        let topic = topic_arn.rsplit(':').next().filter(|t| !t.is_empty());
        let extra = vec![KeyValue::new(AWS_SNS_TOPIC_ARN, bounded(topic_arn, limit))];
        SpanShape::messaging(
            Messaging {
                system: "aws.sns",
                operation: "publish",
                operation_type: "send",
                kind: SpanKind::Producer,
                destination: topic,
                count: Some(count),
            },
            extra,
            limit,
        )
    }

    /// EventBridge `PutEvents` of `count` events to `bus`: PRODUCER `publish {bus}`.
    pub(crate) fn eventbridge_put_events(
        bus: Option<&str>,
        count: usize,
        limit: usize,
    ) -> SpanShape {
        let bus = bus
            .map(|bus| bus.rsplit('/').next().unwrap_or(bus))
            .filter(|bus| !bus.is_empty())
            .unwrap_or("default");
        SpanShape::messaging(
            Messaging {
                system: "aws.eventbridge",
                operation: "publish",
                operation_type: "send",
                kind: SpanKind::Producer,
                destination: Some(bus),
                count: Some(count),
            },
            vec![],
            limit,
        )
    }

    /// Lambda `Invoke` of `function`: CLIENT `invoke {name}` with `faas.invoked_*`.
    pub(crate) fn lambda_invoke(function: &str, region: Option<&str>, limit: usize) -> SpanShape {
        let (name, arn_region) = lambda_function(function);
        let mut attributes = vec![
            KeyValue::new(FAAS_INVOKED_NAME, bounded(name, limit)),
            KeyValue::new(FAAS_INVOKED_PROVIDER, "aws"),
        ];
        if let Some(region) = arn_region.or(region) {
            attributes.push(KeyValue::new(FAAS_INVOKED_REGION, bounded(region, limit)));
        }
        SpanShape {
            name: format!("invoke {}", truncate(name, limit)),
            kind: SpanKind::Client,
            attributes,
        }
    }

    /// A messaging span: `{operation} {destination}` with the messaging attributes.
    fn messaging(what: Messaging<'_>, extra: Vec<KeyValue>, limit: usize) -> SpanShape {
        let mut attributes = Vec::with_capacity(12 + extra.len());
        attributes.push(KeyValue::new(MESSAGING_SYSTEM, what.system));
        attributes.push(KeyValue::new(MESSAGING_OPERATION_TYPE, what.operation_type));
        attributes.push(KeyValue::new(MESSAGING_OPERATION_NAME, what.operation));
        if let Some(destination) = what.destination {
            attributes.push(KeyValue::new(
                MESSAGING_DESTINATION_NAME,
                bounded(destination, limit),
            ));
        }
        if let Some(count) = what.count.filter(|count| *count != 1) {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            attributes.push(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, count));
        }
        attributes.extend(extra);
        let name = match what.destination {
            Some(destination) => format!("{} {}", what.operation, truncate(destination, limit)),
            None => what.operation.to_owned(),
        };
        SpanShape {
            name,
            kind: what.kind,
            attributes,
        }
    }
}

impl OutgoingSpan {
    /// SQS `SendMessage` to the queue at `queue_url`: PRODUCER `send {queue}`.
    pub fn sqs_send(queue_url: &str) -> OutgoingSpan {
        OutgoingSpan::sqs_send_batch(queue_url, 1)
    }

    /// SQS `SendMessageBatch` of `count` messages.
    pub fn sqs_send_batch(queue_url: &str, count: usize) -> OutgoingSpan {
        OutgoingSpan::shaped(|limit| SpanShape::sqs_send(queue_url, count, limit))
    }

    /// SNS `Publish` to the topic `topic_arn`: PRODUCER `publish {topic}`.
    pub fn sns_publish(topic_arn: &str) -> OutgoingSpan {
        OutgoingSpan::sns_publish_batch(topic_arn, 1)
    }

    /// SNS `PublishBatch` of `count` messages.
    pub fn sns_publish_batch(topic_arn: &str, count: usize) -> OutgoingSpan {
        OutgoingSpan::shaped(|limit| SpanShape::sns_publish(topic_arn, count, limit))
    }

    /// EventBridge `PutEvents` of `count` events to `bus` (a name or an ARN; `None` is the
    /// `default` bus): PRODUCER `publish {bus}`.
    pub fn eventbridge_put_events(bus: Option<&str>, count: usize) -> OutgoingSpan {
        OutgoingSpan::shaped(|limit| SpanShape::eventbridge_put_events(bus, count, limit))
    }

    /// Lambda `Invoke` of `function` (a name, `name:qualifier`, or a full or partial ARN):
    /// CLIENT `invoke {name}` with `faas.invoked_*`. `region` is the client's, used when
    /// `function` is not a full ARN.
    pub fn lambda_invoke(function: &str, region: Option<&str>) -> OutgoingSpan {
        OutgoingSpan::shaped(|limit| SpanShape::lambda_invoke(function, region, limit))
    }

    /// An HTTP request: CLIENT `{method}` with `http.request.method`, `server.address`,
    /// `server.port` and `url.full` (credentials and secret-looking query values redacted).
    pub fn http(method: &http::Method, url: &str) -> OutgoingSpan {
        let Some(telemetry) = super::pipeline() else {
            return OutgoingSpan::none();
        };
        let limit = telemetry.value_limit();
        let mut attributes = Vec::with_capacity(5);
        let name = match known_method(method) {
            Some(known) => {
                attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, known));
                known
            }
            None => {
                attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER"));
                attributes.push(KeyValue::new(
                    HTTP_REQUEST_METHOD_ORIGINAL,
                    bounded(method.as_str(), limit),
                ));
                "HTTP"
            }
        };
        if let Ok(uri) = url.parse::<http::Uri>() {
            attributes.extend(server_of(&uri, limit));
        }
        let url = redact_url(url, telemetry.redact_keys());
        attributes.push(KeyValue::new(URL_FULL, bounded(&url, limit)));
        OutgoingSpan::start(
            &telemetry,
            SpanShape {
                name: name.to_owned(),
                kind: SpanKind::Client,
                attributes,
            },
        )
    }

    /// A span of the shape `shape` makes with the pipeline's value limit; none outside a
    /// pipeline.
    fn shaped(shape: impl FnOnce(usize) -> SpanShape) -> OutgoingSpan {
        match super::pipeline() {
            Some(telemetry) => OutgoingSpan::start(&telemetry, shape(telemetry.value_limit())),
            None => OutgoingSpan::none(),
        }
    }

    /// Starts the span `shape` describes, a child of the current context.
    pub(crate) fn start(telemetry: &Telemetry, shape: SpanShape) -> OutgoingSpan {
        let tracer = telemetry.tracer();
        let parent = Context::current();
        let span = tracer
            .span_builder(shape.name)
            .with_kind(shape.kind)
            .with_attributes(shape.attributes)
            .start_with_context(tracer, &parent);
        OutgoingSpan {
            cx: parent.with_span(span),
            telemetry: Some(telemetry.clone()),
        }
    }

    /// Outside a pipeline: no span, and the current (empty) context to pass on.
    fn none() -> OutgoingSpan {
        OutgoingSpan {
            cx: Context::current(),
            telemetry: None,
        }
    }

    /// The context to pass on with the call: this span's.
    pub fn trace_context(&self) -> TraceContext {
        TraceContext::of(self.cx.clone(), self.telemetry.clone())
    }

    /// Records the id the destination gave the message (`messaging.message.id`).
    pub fn record_message_id(&self, id: &str) {
        self.set(MESSAGING_MESSAGE_ID, id);
    }

    /// Records the AWS request id of the call (`aws.request_id`).
    pub fn record_request_id(&self, id: &str) {
        self.set(AWS_REQUEST_ID, id);
    }

    /// Records the carrier keys the message had no room for (see [`LEFT_OUT`]).
    pub fn record_left_out(&self, keys: &[String]) {
        if keys.is_empty() || self.telemetry.is_none() {
            return;
        }
        let keys: Vec<opentelemetry::StringValue> = keys.iter().map(|k| k.clone().into()).collect();
        self.cx.span().set_attribute(KeyValue::new(
            LEFT_OUT,
            opentelemetry::Value::Array(keys.into()),
        ));
    }

    /// Records an HTTP response's status code; 4xx and 5xx mark the span failed, with the
    /// code as `error.type`.
    pub fn record_status(&self, status: u16) {
        if self.telemetry.is_none() {
            return;
        }
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
        if status >= 400 {
            span.set_attribute(KeyValue::new(ERROR_TYPE, status.to_string()));
            span.set_status(Status::error(""));
        }
    }

    /// Records that the call failed with `error`: status Error, `error.type` and an
    /// `exception` event.
    pub fn record_error<E: Display + Debug + ?Sized>(&self, error: &E) {
        let Some(telemetry) = &self.telemetry else {
            return;
        };
        Failure::from_error(error, std::any::type_name::<E>()).record(
            &self.cx.span(),
            true,
            telemetry.value_limit(),
        );
    }

    /// Records that the call failed, with `error_type` as `error.type` and `message` as the
    /// status description (for errors known only by a code, such as an AWS error code).
    pub fn record_failure(&self, error_type: &str, message: &str) {
        let Some(telemetry) = &self.telemetry else {
            return;
        };
        let failure = Failure {
            error_type: Cow::Owned(bounded(error_type, telemetry.value_limit())),
            message: message.to_owned(),
            stacktrace: None,
        };
        failure.record(&self.cx.span(), true, telemetry.value_limit());
    }

    /// Ends the span now.
    pub fn end(self) {}

    /// The value length limit of the pipeline, when there is a span.
    #[cfg(feature = "aws-sdk")]
    pub(crate) fn value_limit(&self) -> Option<usize> {
        self.telemetry.as_ref().map(Telemetry::value_limit)
    }

    /// Sets an attribute whose value is already bounded.
    #[cfg(feature = "aws-sdk")]
    pub(crate) fn set_attribute(&self, attribute: KeyValue) {
        if self.telemetry.is_some() {
            self.cx.span().set_attribute(attribute);
        }
    }

    /// Sets a string attribute from untrusted input, cut to the value limit.
    pub(crate) fn set(&self, key: &'static str, value: &str) {
        if let Some(telemetry) = &self.telemetry {
            let value = bounded(value, telemetry.value_limit());
            self.cx.span().set_attribute(KeyValue::new(key, value));
        }
    }

    /// Links the span to `context`, with `attributes` on the link.
    #[cfg(feature = "aws-sdk-sqs")]
    pub(crate) fn add_link(
        &self,
        context: opentelemetry::trace::SpanContext,
        attributes: Vec<KeyValue>,
    ) {
        if self.telemetry.is_some() && context.is_valid() {
            self.cx.span().add_link(context, attributes);
        }
    }
}

/// `server.address` and `server.port` of a request's URI (the port the scheme's default
/// when the URI names none).
pub(crate) fn server_of(uri: &http::Uri, limit: usize) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(2);
    if let Some(host) = uri.host() {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        attributes.push(KeyValue::new(SERVER_ADDRESS, bounded(host, limit)));
    }
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    if let Some(port) = port {
        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    attributes
}

impl Drop for OutgoingSpan {
    fn drop(&mut self) {
        if self.telemetry.is_some() {
            self.cx.span().end();
        }
    }
}

/// The host of a URL, if it has one.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// The function name and, for a full ARN, its region, from what `Invoke` accepts:
/// `name`, `name:qualifier`, `account:function:name[:qualifier]` or
/// `arn:aws:lambda:region:account:function:name[:qualifier]`.
fn lambda_function(function: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = function.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, _, "function", name, ..] => (name, Some(region)),
        [_, "function", name, ..] => (name, None),
        [name, ..] => (name, None),
        [] => (function, None),
    }
}

/// The method as `http.request.method` writes it, if it is one the conventions know.
fn known_method(method: &http::Method) -> Option<&'static str> {
    Some(match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::PATCH => "PATCH",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => return None,
    })
}

/// `url` as `url.full` may record it: user and password replaced by `REDACTED`, and the
/// values of secret-looking query parameters too.
pub(crate) fn redact_url<'u>(url: &'u str, extra: &[String]) -> Cow<'u, str> {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (rest, None),
    };
    let userinfo = base.split_once("://").and_then(|(scheme, after)| {
        let authority_end = after.find('/').unwrap_or(after.len());
        let at = after[..authority_end].rfind('@')?;
        Some((scheme, &after[at + 1..]))
    });
    let query = query.map(|query| redact_query(query, extra));
    if userinfo.is_none() && matches!(query, None | Some(Cow::Borrowed(_))) {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    match userinfo {
        Some((scheme, after)) => {
            out.push_str(scheme);
            out.push_str("://");
            out.push_str(REDACTED);
            out.push(':');
            out.push_str(REDACTED);
            out.push('@');
            out.push_str(after);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&query);
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_and_secrets() {
        assert_eq!(
            redact_url(
                "https://user:pw@api.example.com/x?page=2&api_key=abc#top",
                &[]
            ),
            "https://REDACTED:REDACTED@api.example.com/x?page=2&api_key=REDACTED#top"
        );
        assert_eq!(
            redact_url("http://api.example.com/a@b?page=1", &[]),
            "http://api.example.com/a@b?page=1"
        );
        assert!(matches!(
            redact_url("https://api.example.com/x?page=2", &[]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn hosts_come_out_of_urls() {
        assert_eq!(
            host_of("https://sqs.eu-west-1.amazonaws.com/1/q"),
            Some("sqs.eu-west-1.amazonaws.com")
        );
        assert_eq!(host_of("http://u:p@127.0.0.1:4566/q"), Some("127.0.0.1"));
        assert_eq!(host_of("http://[::1]:80/q"), Some("::1"));
        assert_eq!(host_of("orders"), None);
    }

    #[test]
    fn function_names_come_out_of_every_form_invoke_accepts() {
        assert_eq!(lambda_function("orders"), ("orders", None));
        assert_eq!(lambda_function("orders:live"), ("orders", None));
        assert_eq!(
            lambda_function("123456789012:function:orders"),
            ("orders", None)
        );
        assert_eq!(
            lambda_function("arn:aws:lambda:eu-west-1:123456789012:function:orders:live"),
            ("orders", Some("eu-west-1"))
        );
    }
}
