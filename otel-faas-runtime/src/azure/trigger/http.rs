//! `trigger = "http"` on Azure Functions: an HTTP trigger's request, from the host's
//! invocation JSON (`Data.req`) or forwarded as it came (`enableForwardingHttpRequest`).
//!
//! The invocation span is the HTTP server span of the semantic conventions: kind SERVER,
//! named `{method} {http.route}`. The route is `/api/` and `function.json`'s `route`, else
//! `/api/{function}` — Azure's default (a custom `routePrefix` of `host.json` is not read).
//! The parent comes from the request's `traceparent`/`tracestate`/`baggage` headers — the
//! caller's, which the host passes on in `Data.req.Headers` (or as they came, forwarded); a
//! malformed header starts a new trace. A body the host wrote as base64 (an
//! `application/octet-stream` or `multipart/*` request) is decoded. Attributes: `http.request.method` (`_OTHER` plus
//! `http.request.method_original` for a non-standard method), `url.path`, `url.scheme`,
//! `url.query` with secret-looking values scrubbed, `http.route`, `user_agent.original`,
//! `client.address` (first `X-Forwarded-For` entry, without its port), `server.address`, `server.port`, and,
//! after the handler, `http.response.status_code`; only a 5xx makes the span an error. No
//! header is recorded wholesale and no body is.

use std::marker::PhantomData;

use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE, SERVER_ADDRESS,
    SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::azure::payload::{
    FromInvocation, PayloadError, RawInvocation, from_value, lenient_object,
};
use crate::azure::{AzureEvent, FunctionBindings};
use crate::propagation::HeaderCarrier;
use crate::redact::{bounded, redact_query};
use crate::telemetry::Telemetry;
use opentelemetry::trace::SpanRef;

use crate::trigger::http::record_status;
use crate::trigger::{FaasTrigger, InvocationContext, InvocationSpan, Response, Spec, Trigger};

/// An HTTP trigger's request, as a handler takes it.
pub type HttpRequest = http::Request<Bytes>;

/// The route template of a request, kept in its extensions.
#[derive(Clone, Debug)]
struct Route(String);

/// `Data.req` of an HTTP trigger's invocation.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostHttpRequest {
    url: String,
    method: String,
    #[serde(default, deserialize_with = "lenient_object")]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Option<Value>,
}

/// Headers kept from the host's JSON; more are dropped.
const MAX_HEADERS: usize = 256;

impl FromInvocation for HttpRequest {
    const TRIGGER: FaasTrigger = FaasTrigger::Http;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let (mut request, metadata) = match raw {
            RawInvocation::Forwarded(request) => (*request, Map::new()),
            RawInvocation::Host(mut host) => {
                let data = host.take_trigger_data(bindings)?;
                let req: HostHttpRequest = from_value(data, "the HTTP trigger's Data")?;
                (from_host(req)?, host.metadata)
            }
        };
        if let Some(route) = bindings.route() {
            request
                .extensions_mut()
                .insert(Route(format!("/api/{}", route.trim_start_matches('/'))));
        }
        Ok((request, metadata))
    }
}

fn from_host(req: HostHttpRequest) -> Result<HttpRequest, PayloadError> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        PayloadError(format!(
            "the HTTP trigger's request has an invalid {what}: {e}"
        ))
    };
    let uri: http::Uri = req.url.parse().map_err(|e| invalid("Url", &e))?;
    let method = http::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|e| invalid("Method", &e))?;
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Bytes::new())
        .map_err(|e| invalid("request", &e))?;
    let headers = request.headers_mut();
    for (name, values) in req.headers.iter().take(MAX_HEADERS) {
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let values: Vec<&str> = match values {
            Value::String(one) => vec![one],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        for value in values {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    let binary = is_octet_or_multipart(request.headers());
    *request.body_mut() = match req.body {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if binary => {
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
                Ok(bytes) => Bytes::from(bytes),
                Err(_) => Bytes::from(text),
            }
        }
        Some(Value::String(text)) => Bytes::from(text),
        Some(json) => Bytes::from(json.to_string()),
    };
    Ok(request)
}

/// Whether the host wrote the body as base64: it reads an `application/octet-stream` or
/// `multipart/*` body as bytes, and a `byte[]` is written as base64 (`GetRequestAsJObject` in
/// Azure/azure-functions-host `src/WebJobs.Script/Extensions/HttpRequestExtensions.cs`,
/// `Utility.IsMediaTypeOctetOrMultipart`); any other body is its text.
fn is_octet_or_multipart(headers: &http::HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/octet-stream")
        || media_type.to_ascii_lowercase().contains("multipart")
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `http` trigger accepts on Azure Functions: `AzureEvent<HttpRequest>`.
#[diagnostic::on_unimplemented(
    message = "the `http` trigger on Azure Functions takes `AzureEvent<HttpRequest>`, not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::HttpRequest>` here",
    note = "on AWS Lambda, the `http` trigger takes `lambda_http::Request`: remove `provider = \"azure\"`"
)]
pub trait AzureHttpInput: sealed::Sealed {
    /// The event.
    fn event(&self) -> &AzureEvent<HttpRequest>;
}

impl sealed::Sealed for AzureEvent<HttpRequest> {}

impl AzureHttpInput for AzureEvent<HttpRequest> {
    fn event(&self) -> &AzureEvent<HttpRequest> {
        self
    }
}

/// The `http` trigger on Azure Functions.
pub(crate) struct AzureHttp<I>(PhantomData<I>);

/// Methods the HTTP conventions know; any other is recorded as `_OTHER`.
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

impl<I: AzureHttpInput> Trigger for AzureHttp<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Http;

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(&input.event().context))
    }

    fn record_response(span: &SpanRef<'_>, response: Response) {
        let Response::Http(status) = response;
        record_status(span, status);
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let event = input.event();
        let request = &event.payload;
        let limit = telemetry.value_limit();
        span.parent = Some(
            telemetry
                .propagation()
                .extract(&HeaderCarrier(request.headers()), None),
        );
        let out = &mut span.attributes;
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
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        out.push(KeyValue::new(
            URL_PATH,
            bounded(request.uri().path(), limit),
        ));
        let scheme = header("x-forwarded-proto")
            .or(request.uri().scheme_str())
            .unwrap_or("http");
        out.push(KeyValue::new(URL_SCHEME, bounded(scheme, 16)));
        if let Some(query) = request.uri().query().filter(|q| !q.is_empty()) {
            out.push(KeyValue::new(
                URL_QUERY,
                bounded(&redact_query(query, telemetry.redact_keys()), limit),
            ));
        }
        let route = match request.extensions().get::<Route>() {
            Some(Route(route)) => bounded(route, limit),
            None => bounded(&format!("/api/{}", event.context.function_name()), limit),
        };
        out.push(KeyValue::new(HTTP_ROUTE, route.clone()));
        if let Some(agent) = header("user-agent") {
            out.push(KeyValue::new(USER_AGENT_ORIGINAL, bounded(agent, limit)));
        }
        if let Some(client) = header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            // The front end appends the client's port (`203.0.113.7:51234`).
            let client = match client.parse::<std::net::SocketAddr>() {
                Ok(addr) => addr.ip().to_string(),
                Err(_) => client.to_owned(),
            };
            out.push(KeyValue::new(CLIENT_ADDRESS, bounded(&client, 64)));
        }
        let authority = header("host")
            .and_then(|h| h.parse::<http::uri::Authority>().ok())
            .or_else(|| request.uri().authority().cloned());
        if let Some(authority) = authority {
            out.push(KeyValue::new(
                SERVER_ADDRESS,
                bounded(authority.host(), limit),
            ));
            let port = crate::trigger::http::server_port(
                authority.port_u16(),
                header("x-forwarded-port"),
                Some(scheme),
            );
            if let Some(port) = port {
                out.push(KeyValue::new(SERVER_PORT, i64::from(port)));
            }
        }
        span.name = Some(format!("{} {route}", known.unwrap_or("HTTP")).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_request_becomes_an_http_request() {
        let req: HostHttpRequest = serde_json::from_value(serde_json::json!({
            "Url": "https://orders.azurewebsites.net/api/orders?id=7",
            "Method": "post",
            "Query": "{\"id\":\"7\"}",
            "Headers": { "Content-Type": ["application/json"], "bad header": ["x"], "X-Two": ["a", "b"] },
            "Params": {},
            "Body": "{\"id\":7}"
        }))
        .unwrap();
        let request = from_host(req).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().query(), Some("id=7"));
        assert_eq!(request.headers().get_all("x-two").iter().count(), 2);
        assert_eq!(request.headers().len(), 3);
        assert_eq!(request.body().as_ref(), br#"{"id":7}"#);
    }

    #[test]
    fn an_octet_stream_or_multipart_body_is_decoded_from_base64() {
        // The host reads these bodies as bytes and writes a `byte[]` as base64.
        let req = |content_type: &str, body: &str| -> HostHttpRequest {
            serde_json::from_value(serde_json::json!({
                "Url": "http://localhost:7071/api/upload",
                "Method": "POST",
                "Headers": { "Content-Type": [content_type] },
                "Body": body
            }))
            .unwrap()
        };
        let png = from_host(req("application/octet-stream", "iVBORw0KGgo=")).unwrap();
        assert_eq!(png.body().as_ref(), b"\x89PNG\r\n\x1a\n");
        let form = from_host(req("multipart/form-data; boundary=x", "LS14DQo=")).unwrap();
        assert_eq!(form.body().as_ref(), b"--x\r\n");
        let text = from_host(req("text/plain", "aGk=")).unwrap();
        assert_eq!(text.body().as_ref(), b"aGk=", "a text body is its text");
    }

    #[test]
    fn an_invalid_url_is_a_payload_error() {
        let req: HostHttpRequest =
            serde_json::from_value(serde_json::json!({ "Url": "http://[bad", "Method": "GET" }))
                .unwrap();
        let error = from_host(req).unwrap_err();
        assert!(error.0.contains("invalid Url"), "{error}");
    }
}
