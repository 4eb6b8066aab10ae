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

/// What a messaging span is about.
struct Messaging<'a> {
    system: &'static str,
    operation: &'static str,
    destination: Option<&'a str>,
    count: usize,
}

impl OutgoingSpan {
    /// SQS `SendMessage` to the queue at `queue_url`: PRODUCER `send {queue}`.
    pub fn sqs_send(queue_url: &str) -> OutgoingSpan {
        OutgoingSpan::sqs_send_batch(queue_url, 1)
    }

    /// SQS `SendMessageBatch` of `count` messages.
    pub fn sqs_send_batch(queue_url: &str, count: usize) -> OutgoingSpan {
        let Some(telemetry) = super::pipeline() else {
            return OutgoingSpan::none();
        };
        let limit = telemetry.value_limit();
        let queue = queue_url.trim_end_matches('/').rsplit('/').next();
        let mut extra = vec![KeyValue::new(AWS_SQS_QUEUE_URL, bounded(queue_url, limit))];
        if let Some(host) = host_of(queue_url) {
            extra.push(KeyValue::new(SERVER_ADDRESS, bounded(host, limit)));
        }
        OutgoingSpan::messaging(
            &telemetry,
            Messaging {
                system: "aws_sqs",
                operation: "send",
                destination: queue.filter(|q| !q.is_empty()),
                count,
            },
            extra,
        )
    }

    /// SNS `Publish` to the topic `topic_arn`: PRODUCER `publish {topic}`.
    pub fn sns_publish(topic_arn: &str) -> OutgoingSpan {
        OutgoingSpan::sns_publish_batch(topic_arn, 1)
    }

    /// SNS `PublishBatch` of `count` messages.
    pub fn sns_publish_batch(topic_arn: &str, count: usize) -> OutgoingSpan {
        let Some(telemetry) = super::pipeline() else {
            return OutgoingSpan::none();
        };
        let topic = topic_arn.rsplit(':').next().filter(|t| !t.is_empty());
        let extra = vec![KeyValue::new(
            AWS_SNS_TOPIC_ARN,
            bounded(topic_arn, telemetry.value_limit()),
        )];
        OutgoingSpan::messaging(
            &telemetry,
            Messaging {
                system: "aws.sns",
                operation: "publish",
                destination: topic,
                count,
            },
            extra,
        )
    }

    /// EventBridge `PutEvents` of `count` events to `bus` (a name or an ARN; `None` is the
    /// `default` bus): PRODUCER `publish {bus}`.
    pub fn eventbridge_put_events(bus: Option<&str>, count: usize) -> OutgoingSpan {
        let Some(telemetry) = super::pipeline() else {
            return OutgoingSpan::none();
        };
        let bus = bus
            .map(|bus| bus.rsplit('/').next().unwrap_or(bus))
            .filter(|bus| !bus.is_empty())
            .unwrap_or("default");
        OutgoingSpan::messaging(
            &telemetry,
            Messaging {
                system: "aws.eventbridge",
                operation: "publish",
                destination: Some(bus),
                count,
            },
            vec![],
        )
    }

    /// Lambda `Invoke` of `function` (a name, `name:qualifier`, or a full or partial ARN):
    /// CLIENT `invoke {name}` with `faas.invoked_*`. `region` is the client's, used when
    /// `function` is not a full ARN.
    pub fn lambda_invoke(function: &str, region: Option<&str>) -> OutgoingSpan {
        let Some(telemetry) = super::pipeline() else {
            return OutgoingSpan::none();
        };
        let limit = telemetry.value_limit();
        let (name, arn_region) = lambda_function(function);
        let mut attributes = vec![
            KeyValue::new(FAAS_INVOKED_NAME, bounded(name, limit)),
            KeyValue::new(FAAS_INVOKED_PROVIDER, "aws"),
        ];
        if let Some(region) = arn_region.or(region) {
            attributes.push(KeyValue::new(FAAS_INVOKED_REGION, bounded(region, limit)));
        }
        let name = format!("invoke {}", truncate(name, limit));
        OutgoingSpan::start(&telemetry, name, SpanKind::Client, attributes)
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
            if let Some(host) = uri.host() {
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
        }
        let url = redact_url(url, telemetry.redact_keys());
        attributes.push(KeyValue::new(URL_FULL, bounded(&url, limit)));
        OutgoingSpan::start(&telemetry, name.to_owned(), SpanKind::Client, attributes)
    }

    fn messaging(telemetry: &Telemetry, what: Messaging<'_>, extra: Vec<KeyValue>) -> OutgoingSpan {
        let limit = telemetry.value_limit();
        let mut attributes = Vec::with_capacity(6 + extra.len());
        attributes.push(KeyValue::new(MESSAGING_SYSTEM, what.system));
        attributes.push(KeyValue::new(MESSAGING_OPERATION_TYPE, "send"));
        attributes.push(KeyValue::new(MESSAGING_OPERATION_NAME, what.operation));
        if let Some(destination) = what.destination {
            attributes.push(KeyValue::new(
                MESSAGING_DESTINATION_NAME,
                bounded(destination, limit),
            ));
        }
        if what.count != 1 {
            let count = i64::try_from(what.count).unwrap_or(i64::MAX);
            attributes.push(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, count));
        }
        attributes.extend(extra);
        let name = match what.destination {
            Some(destination) => format!("{} {}", what.operation, truncate(destination, limit)),
            None => what.operation.to_owned(),
        };
        OutgoingSpan::start(telemetry, name, SpanKind::Producer, attributes)
    }

    fn start(
        telemetry: &Telemetry,
        name: String,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> OutgoingSpan {
        let tracer = telemetry.tracer();
        let parent = Context::current();
        let span = tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
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

    fn set(&self, key: &'static str, value: &str) {
        if let Some(telemetry) = &self.telemetry {
            let value = bounded(value, telemetry.value_limit());
            self.cx.span().set_attribute(KeyValue::new(key, value));
        }
    }
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
