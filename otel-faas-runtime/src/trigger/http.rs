//! `trigger = "http"`: API Gateway REST (v1) and HTTP (v2) APIs, Lambda Function URLs and
//! Application Load Balancers, through `lambda_http`.
//!
//! The invocation span is the HTTP server span of the semantic conventions: kind SERVER,
//! named `{method} {http.route}`, or `{method}` when no route template is known (Function
//! URLs, ALB, the `$default` route). The route is API Gateway's resource template
//! (`/pets/{petId}`), never the raw path, so span names stay low-cardinality. The parent
//! comes from the `traceparent`/`tracestate`/`baggage` headers through the configured
//! propagators (and `X-Amzn-Trace-Id` when an X-Ray propagator is on); a malformed header
//! starts a new trace.
//!
//! Attributes: `http.request.method` (`_OTHER` plus `http.request.method_original` for a
//! non-standard method), `url.path`, `url.scheme` (from `X-Forwarded-Proto`), `url.query`
//! with secret-looking values scrubbed, `http.route`, `user_agent.original`,
//! `client.address` (the source IP API Gateway saw, else the first `X-Forwarded-For` entry),
//! `server.address` and `server.port`, `network.protocol.version`. After the handler,
//! the runtime records `http.response.status_code`; only a 5xx makes the span an error, as
//! the conventions for server spans say. No header is recorded wholesale, so
//! `Authorization` and cookies never leave the function; neither do bodies.

use std::marker::PhantomData;

use http::HeaderName;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanRef, Status};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};

use super::{FaasTrigger, InvocationSpan, Response, Spec, Trigger};
use crate::propagation::HeaderCarrier;
use crate::redact::{bounded, redact_query};
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod sealed {
    pub trait Sealed {}
}

/// An event the `http` trigger accepts: a `lambda_http::Request`.
#[diagnostic::on_unimplemented(
    message = "the `http` trigger takes a `lambda_http::Request`, not `{Self}`",
    label = "`trigger = \"http\"` expects `lambda_http::Request` here",
    note = "API Gateway (REST and HTTP APIs), Function URLs and ALB requests all arrive as `lambda_http::Request`; \
            for another payload use `trigger = \"other\"`"
)]
pub trait HttpInput: sealed::Sealed {
    /// The request.
    fn request(&self) -> &lambda_http::Request;
}

impl sealed::Sealed for lambda_http::Request {}

impl HttpInput for lambda_http::Request {
    fn request(&self) -> &lambda_http::Request {
        self
    }
}

/// The `http` trigger.
pub(crate) struct Http<I>(PhantomData<I>);

/// Whether an event looks like an HTTP request: API Gateway (REST, HTTP API), a function
/// URL or ALB, which all carry `requestContext` or `httpMethod`.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    event.get("requestContext").is_some() || event.get("httpMethod").is_some()
}

impl<I: HttpInput> Trigger for Http<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Http;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        input.request().lambda_context_ref()
    }

    fn record_response(span: &SpanRef<'_>, response: Response) {
        let Response::Http(status) = response;
        record_status(span, status);
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let request = input.request();
        let lambda_trace = request
            .lambda_context_ref()
            .and_then(|c| c.xray_trace_id.as_deref());
        span.parent = Some(
            telemetry
                .propagation()
                .extract(&HeaderCarrier(request.headers()), lambda_trace),
        );
        let (route, method) = request_attributes(request, telemetry, &mut span.attributes);
        span.name = Some(match route {
            Some(route) => format!("{method} {route}").into(),
            None => method.into(),
        });
    }
}

/// Methods the HTTP conventions know; any other is recorded as `_OTHER`.
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

// Header names as values: looking one up by `&str` parses the name first, on every request.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// Pushes the request attributes; returns the route template and the method for the span name.
fn request_attributes(
    request: &lambda_http::Request,
    telemetry: &Telemetry,
    out: &mut Vec<KeyValue>,
) -> (Option<String>, &'static str) {
    let limit = telemetry.value_limit();
    let method = request.method().as_str();
    let known = KNOWN_METHODS.iter().find(|m| **m == method).copied();
    match known {
        Some(m) => out.push(KeyValue::new(HTTP_REQUEST_METHOD, m)),
        None => {
            out.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER"));
            out.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                bounded(method, limit),
            ));
        }
    }
    let headers = request.headers();
    let header = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };

    out.push(KeyValue::new(
        URL_PATH,
        bounded(request.uri().path(), limit),
    ));
    let context = request.request_context_ref();
    let scheme = scheme(
        context,
        header(&X_FORWARDED_PROTO),
        header(&X_FORWARDED_PORT),
    )
    .or_else(|| {
        context
            .is_none()
            .then(|| request.uri().scheme_str())
            .flatten()
    });
    if let Some(scheme) = scheme {
        out.push(KeyValue::new(URL_SCHEME, bounded(scheme, 16)));
    }
    if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
        out.push(KeyValue::new(
            URL_QUERY,
            bounded(&redact_query(query, telemetry.redact_keys()), limit),
        ));
    }

    let route = context.and_then(route_template).map(|r| bounded(r, limit));
    if let Some(route) = &route {
        out.push(KeyValue::new(HTTP_ROUTE, route.clone()));
    }
    if let Some(agent) = header(&http::header::USER_AGENT).or_else(|| context.and_then(user_agent))
    {
        out.push(KeyValue::new(USER_AGENT_ORIGINAL, bounded(agent, limit)));
    }
    let forwarded_for = || {
        header(&X_FORWARDED_FOR)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    if let Some(client) = context
        .and_then(source_ip)
        .or_else(forwarded_for)
        .filter(|c| !c.is_empty())
    {
        out.push(KeyValue::new(
            CLIENT_ADDRESS,
            bounded(without_prefix_length(client), 64),
        ));
    }
    let host = header(&http::header::HOST).or(request.uri().host());
    if let Some(host) = host {
        let (name, port) = split_host_port(host);
        out.push(KeyValue::new(SERVER_ADDRESS, bounded(name, limit)));
        if let Some(port) = server_port(port, header(&X_FORWARDED_PORT), scheme) {
            out.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
    if let Some(version) = context
        .and_then(protocol)
        .and_then(|p| p.strip_prefix("HTTP/"))
    {
        out.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, bounded(version, 8)));
    }
    (route, known.unwrap_or("HTTP"))
}

/// API Gateway's route template: the REST API resource, or the HTTP API route key without
/// its method (`GET /pets/{id}` → `/pets/{id}`); `$default` is no template.
fn route_template(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV1(c) => c.resource_path.as_deref(),
        RequestContext::ApiGatewayV2(c) => c
            .route_key
            .as_deref()
            .and_then(|k| k.split_once(' '))
            .map(|(_, r)| r),
        _ => None,
    }
    .filter(|r| r.starts_with('/'))
}

/// The scheme the client used. API Gateway (REST, HTTP and WebSocket APIs) and function URLs
/// serve HTTPS only, and say so in `X-Forwarded-Proto` when they send it. An Application Load
/// Balancer listens on either; without `X-Forwarded-Proto` its `X-Forwarded-Port` may tell (443
/// or 80), and otherwise the scheme is unknown and `url.scheme` is left out rather than
/// guessed. (`lambda_http` writes `https` into the request's URI whenever the header is
/// missing, so the URI cannot tell.)
fn scheme<'a>(
    context: Option<&RequestContext>,
    forwarded_proto: Option<&'a str>,
    forwarded_port: Option<&str>,
) -> Option<&'a str> {
    forwarded_proto.or(match context? {
        RequestContext::Alb(_) => match forwarded_port? {
            "443" => Some("https"),
            "80" => Some("http"),
            _ => None,
        },
        _ => Some("https"),
    })
}

/// `server.port`, conditionally required beside `server.address` (`model/http/spans.yaml`):
/// the Host header's port, else the front end's `X-Forwarded-Port`, else the scheme's
/// default. Lambda's and Azure's HTTP triggers both read it here.
pub(crate) fn server_port(
    host_port: Option<u16>,
    forwarded_port: Option<&str>,
    scheme: Option<&str>,
) -> Option<u16> {
    host_port
        .or_else(|| forwarded_port.and_then(|p| p.parse().ok()))
        .or(match scheme {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        })
}

/// The user agent API Gateway read from the request, when the headers do not carry it (the
/// HTTP API's `requestContext.http.userAgent`, the REST API's `identity.userAgent`).
fn user_agent(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV1(c) => c.identity.user_agent.as_deref(),
        RequestContext::ApiGatewayV2(c) => c.http.user_agent.as_deref(),
        _ => None,
    }
    .filter(|agent| !agent.is_empty())
}

/// An address without a CIDR prefix length: HTTP APIs' `sourceIp` can read `192.168.0.1/32`
/// (as in the payload format 2.0 example of the API Gateway developer guide), while
/// `client.address` is an address.
fn without_prefix_length(address: &str) -> &str {
    match address.split_once('/') {
        Some((ip, length))
            if length.parse::<u8>().is_ok() && ip.parse::<std::net::IpAddr>().is_ok() =>
        {
            ip
        }
        _ => address,
    }
}

fn source_ip(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV1(c) => c.identity.source_ip.as_deref(),
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref(),
        _ => None,
    }
}

fn protocol(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV1(c) => c.protocol.as_deref(),
        RequestContext::ApiGatewayV2(c) => c.http.protocol.as_deref(),
        _ => None,
    }
}

fn split_host_port(host: &str) -> (&str, Option<u16>) {
    if let Some((name, port)) = host.rsplit_once(':') {
        let bracketed_or_plain = !name.contains(':') || name.starts_with('[');
        if let (Ok(port), true, false) = (port.parse::<u16>(), bracketed_or_plain, name.is_empty())
        {
            return (name, Some(port));
        }
    }
    (host, None)
}

/// Records an HTTP response's status on the server span `span`, as the HTTP semantic
/// conventions say: `http.response.status_code`, and for a 5xx (only) status Error with
/// `error.type` the status code. Lambda's and Azure's HTTP invocations both end here.
pub(crate) fn record_status(span: &SpanRef<'_>, status: http::StatusCode) {
    span.set_attribute(KeyValue::new(
        HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        span.set_attribute(KeyValue::new(ERROR_TYPE, status.as_u16().to_string()));
        span.set_status(Status::error(status.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_are_split() {
        assert_eq!(
            split_host_port("api.example.com"),
            ("api.example.com", None)
        );
        assert_eq!(
            split_host_port("api.example.com:8443"),
            ("api.example.com", Some(8443))
        );
        assert_eq!(split_host_port("[::1]:8080"), ("[::1]", Some(8080)));
        assert_eq!(split_host_port("weird:port"), ("weird:port", None));
    }
}
