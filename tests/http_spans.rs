//! `trigger = "http"`: the server span of each front door (API Gateway REST and HTTP APIs,
//! Function URLs, ALB), its parent, its status, and what must never leave the function.

use lambda_http::{Body, Request, Response};
use opentelemetry::trace::{SpanKind, Status};
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, traced_function};
use serde_json::Value;

fn event(name: &str) -> Value {
    let path = format!("{}/examples/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("valid JSON")
}

#[traced_function(trigger = "http")]
async fn pets(request: Request) -> Result<Response<Body>, Error> {
    let status = match request.uri().path() {
        "/boom" => 503,
        "/missing" => 404,
        _ => 200,
    };
    Ok(Response::builder()
        .status(status)
        .body(Body::from("{\"name\":\"Rex\"}"))?)
}

#[tokio::test]
async fn rest_api_request_is_a_server_span_named_after_its_route() {
    let kit = TestKit::new();
    let response = kit
        .invoke(pets, event("apigw_rest_get.json"))
        .await
        .expect("handler succeeds");
    assert_eq!(response.status(), 200);

    let spans = kit.spans();
    assert_eq!(spans.len(), 1, "one span per request: {}", kit.tree());
    let span = spans.named("GET /pets/{petId}");
    assert_eq!(span.span_kind, SpanKind::Server);
    for (key, value) in [
        ("faas.trigger", "http"),
        ("http.request.method", "GET"),
        ("http.route", "/pets/{petId}"),
        // The client called https://…execute-api…/prod/pets/42: the stage is part of the path.
        ("url.path", "/prod/pets/42"),
        ("url.scheme", "https"),
        ("user_agent.original", "curl/8.5.0"),
        ("client.address", "198.51.100.7"),
        (
            "server.address",
            "abc123xyz.execute-api.eu-west-1.amazonaws.com",
        ),
        ("server.port", "443"),
        ("network.protocol.version", "1.1"),
        ("http.response.status_code", "200"),
        ("cloud.account.id", "123456789012"),
    ] {
        assert_eq!(
            span.attr(key).as_deref(),
            Some(value),
            "{key} in {:#?}",
            span.attributes
        );
    }
    assert!(matches!(span.status, Status::Unset));
}

#[tokio::test]
async fn the_parent_comes_from_the_traceparent_header() {
    let kit = TestKit::new();
    kit.invoke(pets, event("apigw_rest_get.json"))
        .await
        .unwrap();
    let span = kit.spans().named("GET /pets/{petId}").clone();
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(span.parent_span_is_remote);
    assert_eq!(
        span.span_context.trace_state().header(),
        "vendor=opaque-state"
    );
}

#[tokio::test]
async fn http_api_route_key_gives_the_route_and_the_query_is_scrubbed() {
    let kit = TestKit::new();
    kit.invoke(pets, event("apigw_http_post.json"))
        .await
        .unwrap();
    let span = kit.spans().named("POST /orders/{id}").clone();
    assert_eq!(span.attr("http.route").as_deref(), Some("/orders/{id}"));
    assert_eq!(
        span.attr("url.query").as_deref(),
        Some("expand=items&access_token=REDACTED")
    );
    assert_eq!(
        span.attr("client.address").as_deref(),
        Some("205.255.255.176")
    );
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
}

#[tokio::test]
async fn function_url_and_alb_have_no_route_so_the_name_is_the_method() {
    let kit = TestKit::new();
    kit.invoke(pets, event("function_url_get.json"))
        .await
        .unwrap();
    kit.invoke(pets, event("alb_post.json")).await.unwrap();
    let spans = kit.spans();
    let url = spans.named("GET");
    assert_eq!(url.attr("http.route"), None);
    assert_eq!(url.attr("url.path").as_deref(), Some("/status"));
    assert_eq!(
        url.attr("server.address").as_deref(),
        Some("a1b2c3d4e5f6g7h8.lambda-url.eu-west-1.on.aws")
    );
    let alb = spans.named("POST");
    assert_eq!(alb.attr("url.path").as_deref(), Some("/webhooks/github"));
    assert_eq!(alb.attr("client.address").as_deref(), Some("140.82.115.12"));
    assert_eq!(
        alb.attr("user_agent.original").as_deref(),
        Some("GitHub-Hookshot/044aadd")
    );
}

#[tokio::test]
async fn only_a_5xx_makes_the_server_span_an_error() {
    let kit = TestKit::new();
    for path in ["/boom", "/missing"] {
        let mut request = event("function_url_get.json");
        request["rawPath"] = path.into();
        request["requestContext"]["http"]["path"] = path.into();
        kit.invoke(pets, request).await.unwrap();
    }
    let spans = kit.spans();
    let [server_error, client_error] = spans.all_named("GET")[..] else {
        panic!("two spans: {}", kit.tree())
    };
    assert_eq!(
        server_error.attr("http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(server_error.attr("error.type").as_deref(), Some("503"));
    assert!(matches!(server_error.status, Status::Error { .. }));
    assert_eq!(
        client_error.attr("http.response.status_code").as_deref(),
        Some("404")
    );
    assert!(
        matches!(client_error.status, Status::Unset),
        "a 4xx is the client's error, not the server's"
    );
    assert_eq!(client_error.attr("error.type"), None);
}

#[tokio::test]
async fn the_response_carries_the_trace_id_for_the_client() {
    let kit = TestKit::new();
    let response = kit
        .invoke(pets, event("apigw_rest_get.json"))
        .await
        .unwrap();
    let span = kit.spans().named("GET /pets/{petId}").clone();
    let header = response
        .headers()
        .get("traceresponse")
        .expect("traceresponse header")
        .to_str()
        .unwrap();
    assert_eq!(
        header,
        format!(
            "00-{}-{}-01",
            span.span_context.trace_id(),
            span.span_context.span_id()
        )
    );
}

#[tokio::test]
async fn authorization_cookies_and_secret_query_values_never_leave_the_function() {
    let kit = TestKit::new();
    kit.invoke(pets, event("apigw_rest_get.json"))
        .await
        .unwrap();
    kit.invoke(pets, event("apigw_http_post.json"))
        .await
        .unwrap();
    let exported = format!("{:?}", kit.spans().0);
    for secret in [
        "secret-token-from-the-client",
        "cookie-secret-from-the-client",
        "query-secret-value",
    ] {
        assert!(!exported.contains(secret), "{secret} was exported");
    }
    assert!(
        exported.contains("REDACTED"),
        "the scrubbed query is still recorded"
    );
}

#[traced_function(trigger = "http")]
async fn created(_request: Request) -> Result<Response<String>, Error> {
    Ok(Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .body(r#"{"id":7}"#.to_owned())?)
}

#[tokio::test]
async fn a_response_of_another_body_type_is_converted_recorded_and_answered() {
    let kit = TestKit::new();
    let response = kit
        .invoke(created, event("apigw_rest_get.json"))
        .await
        .unwrap();
    let span = kit.spans().named("GET /pets/{petId}").clone();
    assert_eq!(response.status(), 201);
    assert_eq!(response.body(), &Body::Text(r#"{"id":7}"#.to_owned()));
    assert!(response.headers().contains_key("traceresponse"));
    assert_eq!(
        span.attr("http.response.status_code").as_deref(),
        Some("201")
    );
}

#[traced_function(trigger = "http")]
async fn failing(_request: Request) -> Result<Response<Body>, Error> {
    Err("inventory service unavailable".into())
}

#[tokio::test]
async fn a_handler_error_is_recorded_as_an_exception() {
    let kit = TestKit::new();
    let error = kit
        .invoke(failing, event("function_url_get.json"))
        .await
        .expect_err("the handler fails");
    assert_eq!(error.error_message, "inventory service unavailable");
    let spans = kit.spans();
    let span = spans.named("GET");
    assert!(
        matches!(&span.status, Status::Error { description } if description == "inventory service unavailable")
    );
    assert_eq!(span.attr("error.type").as_deref(), Some("_OTHER"));
    let exception = span.events_named("exception");
    assert_eq!(exception.len(), 1);
    let message = exception[0]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.message");
    assert_eq!(
        message.map(|kv| kv.value.to_string()).as_deref(),
        Some("inventory service unavailable")
    );
    assert_eq!(
        span.attr("http.response.status_code"),
        None,
        "no response was sent"
    );
}

#[traced_function(trigger = "http")]
async fn panicking(_request: Request) -> Result<Response<Body>, Error> {
    panic!("index out of range: the len is 0");
}

#[tokio::test]
async fn a_panic_is_recorded_with_its_location_and_reported_as_an_error() {
    let kit = TestKit::new();
    let error = kit
        .invoke(panicking, event("function_url_get.json"))
        .await
        .expect_err("the panic is an error");
    assert_eq!(
        error.error_message,
        "Lambda panicked: index out of range: the len is 0"
    );
    let spans = kit.spans();
    let span = spans.named("GET");
    assert_eq!(span.attr("error.type").as_deref(), Some("panic"));
    let exception = &span.events_named("exception")[0];
    let stacktrace = exception
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.stacktrace");
    let stacktrace = stacktrace
        .map(|kv| kv.value.to_string())
        .unwrap_or_default();
    assert!(stacktrace.contains("tests/http_spans.rs"), "{stacktrace}");
}

#[traced_function(trigger = "http")]
async fn nested(_request: Request) -> Result<&'static str, Error> {
    tracing::warn!(retries = 2, "slow downstream");
    let span = tracing::info_span!("load pet from dynamodb", table = "pets");
    let _guard = span.enter();
    tracing::info!("cache miss");
    Ok("ok")
}

#[tokio::test]
async fn the_handlers_own_tracing_spans_nest_under_the_server_span() {
    let kit = TestKit::new();
    kit.invoke(nested, event("apigw_rest_get.json"))
        .await
        .unwrap();
    let spans = kit.spans();
    let server = spans.named("GET /pets/{petId}");
    let child = spans.named("load pet from dynamodb");
    assert_eq!(
        child.parent_span_id,
        server.span_context.span_id(),
        "{}",
        kit.tree()
    );
    assert_eq!(
        child.span_context.trace_id(),
        server.span_context.trace_id()
    );
    assert_eq!(child.attr("table").as_deref(), Some("pets"));
    assert_eq!(
        child
            .events
            .iter()
            .map(|e| e.name.to_string())
            .collect::<Vec<_>>(),
        ["cache miss"]
    );
    // An event logged outside any `tracing` span lands on the server span itself.
    let logged: Vec<_> = server
        .events
        .iter()
        .filter(|e| e.name == "slow downstream")
        .collect();
    assert_eq!(logged.len(), 1, "{:#?}", server.events);
    let level = logged[0]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "otel_faas.level")
        .map(|kv| kv.value.to_string());
    assert_eq!(level.as_deref(), Some("WARN"));
    assert!(
        logged[0]
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "retries" && kv.value.to_string() == "2")
    );
}

#[tokio::test]
async fn query_scrubbing_redacts_whole_secret_names_and_urls_with_passwords_only() {
    // Name fragments used to match anywhere: `key`, `keyword`, `design` and `author` were
    // all redacted, while a password inside a URL in a value was exported as it was.
    let vars = [("OTEL_FAAS_REDACT_QUERY_KEYS", "otp, pin")];
    let config = otel_faas_runtime::config::Config::from_lookup(|key| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    });
    let kit = TestKit::with_config(config);
    let mut request = event("apigw_http_post.json");
    request["rawQueryString"] = Value::from(
        "key=hello&keyword=shoes&design=blue&author=bob\
         &next=https://bob:SECRET@h.test/x&X-Amz-Security-Token=t0k&OTP=123456",
    );
    kit.invoke(pets, request).await.unwrap();
    let span = kit.spans().named("POST /orders/{id}").clone();
    assert_eq!(
        span.attr("url.query").as_deref(),
        Some(
            "key=hello&keyword=shoes&design=blue&author=bob\
             &next=https://REDACTED:REDACTED@h.test/x&X-Amz-Security-Token=REDACTED&OTP=REDACTED"
        )
    );
}

/// `examples/events/apigw_http_aws_docs.json` is the payload format 2.0 example of the API
/// Gateway developer guide ("Create AWS Lambda proxy integrations for HTTP APIs in API
/// Gateway"): no `Host` or `User-Agent` header, and `sourceIp` written as a CIDR.
#[tokio::test]
async fn an_http_api_event_as_aws_documents_it_gives_agent_address_and_port() {
    let kit = TestKit::new();
    kit.invoke(pets, event("apigw_http_aws_docs.json"))
        .await
        .unwrap();
    let spans = kit.spans();
    let span = spans.named("POST");
    assert_eq!(
        span.attr("user_agent.original").as_deref(),
        Some("agent"),
        "from requestContext.http.userAgent"
    );
    assert_eq!(
        span.attr("client.address").as_deref(),
        Some("192.168.0.1"),
        "an address, not a CIDR"
    );
    assert_eq!(span.attr("url.scheme").as_deref(), Some("https"));
    assert_eq!(
        span.attr("server.address").as_deref(),
        Some("id.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!(
        span.attr("server.port").as_deref(),
        Some("443"),
        "HTTP APIs serve HTTPS only"
    );
}

/// `examples/events/alb_without_forwarded_proto.json` is `aws_lambda_events`' ALB fixture
/// (`example-alb-lambda-target-request-headers-only.json`) without its `X-Forwarded-Proto`
/// and `X-Forwarded-Port` headers.
#[tokio::test]
async fn an_alb_request_without_forwarded_proto_has_no_guessed_scheme() {
    let kit = TestKit::new();
    kit.invoke(pets, event("alb_without_forwarded_proto.json"))
        .await
        .unwrap();
    let spans = kit.spans();
    let span = spans.named("GET");
    assert_eq!(
        span.attr("url.scheme"),
        None,
        "an ALB listens on http and https"
    );
    assert_eq!(span.attr("server.port"), None);

    kit.clear();
    let mut on_80 = event("alb_without_forwarded_proto.json");
    on_80["headers"]["x-forwarded-port"] = Value::from("80");
    kit.invoke(pets, on_80).await.unwrap();
    let spans = kit.spans();
    let span = spans.named("GET");
    assert_eq!(span.attr("url.scheme").as_deref(), Some("http"));
    assert_eq!(span.attr("server.port").as_deref(), Some("80"));
}

#[tokio::test]
async fn a_64_kb_path_panicked_in_the_test_kit_and_now_fails_as_lambda_reports_it() {
    let kit = TestKit::new();
    let mut request = event("apigw_http_post.json");
    let path = format!("/{}", "a".repeat(64 * 1024));
    request["rawPath"] = Value::from(path.clone());
    request["requestContext"]["http"]["path"] = Value::from(path);
    let error = kit
        .invoke(pets, request)
        .await
        .expect_err("lambda_http cannot build the request");
    assert_eq!(
        error.error_type,
        "lambda_runtime::deserializer::DeserializeError"
    );
    let spans = kit.spans();
    assert_eq!(spans.names(), ["test-function"], "{}", kit.tree());
    let span = spans.named("test-function");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        span.attr("error.type").as_deref(),
        Some(error.error_type.as_str())
    );
    assert_eq!(span.status, Status::error(error.error_message.clone()));
}
