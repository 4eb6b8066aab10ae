//! The Extensions API: registration, events, the hold on the next invocation, errors and
//! shutdown.

use super::*;

fn extension_path(endpoint: &str) -> String {
    format!("{EXTENSION_BASE_PATH}/{endpoint}")
}

/// Sends one request on a fresh connection from a task, so a long-poll can stay open.
fn spawn_request(
    api: &RuntimeApi,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> JoinHandle<Reply> {
    let api = api.clone();
    tokio::spawn(async move {
        let mut client = RuntimeClient::connect(&api).await;
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        client.request(method, &path, &headers, &body).await
    })
}

fn spawn_runtime_next(api: &RuntimeApi) -> JoinHandle<Reply> {
    spawn_request(api, "GET", next_path(), Vec::new(), Vec::new())
}

fn spawn_extension_next(api: &RuntimeApi, identifier: &str) -> JoinHandle<Reply> {
    spawn_request(
        api,
        "GET",
        extension_path("event/next"),
        vec![("Lambda-Extension-Identifier", identifier.to_owned())],
        Vec::new(),
    )
}

async fn reply_of(request: JoinHandle<Reply>) -> Reply {
    tokio::time::timeout(PROMPTLY, request)
        .await
        .expect("a reply in time")
        .expect("request task")
}

/// The request is still waiting for its answer a while later.
async fn assert_still_waiting(request: &JoinHandle<Reply>, what: &str) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!request.is_finished(), "{what} was answered too early");
}

async fn register_extension(api: &RuntimeApi, name: &str, events: &[&str]) -> String {
    let mut client = RuntimeClient::connect(api).await;
    let body = json!({ "events": events }).to_string();
    let reply = client
        .request(
            "POST",
            &extension_path("register"),
            &[("Lambda-Extension-Name", name)],
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply
        .header("Lambda-Extension-Identifier")
        .expect("an extension identifier")
        .to_owned()
}

/// Every extension has called `/event/next` since its last event.
async fn wait_until_extensions_ready(api: &RuntimeApi) {
    tokio::time::timeout(PROMPTLY, async {
        while !api.shared.extensions().ready_for_hand_out() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("extensions ready in time");
}

fn request_id_of(event: &Reply) -> String {
    event
        .header("Lambda-Runtime-Aws-Request-Id")
        .expect("a request ID")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_register_during_init_only() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut client = RuntimeClient::connect(&api).await;
    let registered = client
        .request(
            "POST",
            &extension_path("register"),
            &[("Lambda-Extension-Name", "telemetry")],
            br#"{"events":["INVOKE"]}"#,
        )
        .await;
    assert_eq!(registered.status, 200);
    assert_eq!(
        registered.json(),
        json!({
            "functionName": "orders",
            "functionVersion": "$LATEST",
            "handler": "bootstrap",
        })
    );
    let identifier = registered
        .header("Lambda-Extension-Identifier")
        .expect("an identifier")
        .to_owned();
    assert_eq!(
        identifier.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{identifier}"
    );

    let same_name = client
        .request(
            "POST",
            &extension_path("register"),
            &[("Lambda-Extension-Name", "telemetry")],
            b"{}",
        )
        .await;
    assert_eq!(same_name.status, 403);
    assert_eq!(same_name.error_type(), "Extension.InvalidExtensionState");

    let with_account = client
        .request(
            "POST",
            &extension_path("register"),
            &[
                ("Lambda-Extension-Name", "audit"),
                ("Lambda-Extension-Accept-Feature", "accountId"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(with_account.status, 200);
    assert_eq!(with_account.json()["accountId"], "123456789012");
    let audit = with_account
        .header("Lambda-Extension-Identifier")
        .expect("an identifier")
        .to_owned();
    assert_eq!(
        api.registered_extensions(),
        [
            RegisteredExtension {
                identifier: identifier.clone(),
                name: "telemetry".to_owned(),
                invoke: true,
                shutdown: false,
            },
            RegisteredExtension {
                identifier: audit.clone(),
                name: "audit".to_owned(),
                invoke: false,
                shutdown: false,
            },
        ]
    );

    // The first hand-out ends init.
    let telemetry_next = spawn_extension_next(&api, &identifier);
    let audit_next = spawn_extension_next(&api, &audit);
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("first"));
    let mut runtime = RuntimeClient::connect(&api).await;
    runtime.get(&next_path()).await;
    let late = client
        .request(
            "POST",
            &extension_path("register"),
            &[("Lambda-Extension-Name", "late")],
            br#"{"events":["INVOKE"]}"#,
        )
        .await;
    assert_eq!(late.status, 403);
    assert_eq!(late.error_type(), "Extension.RegistrationClosed");
    assert_eq!(api.registered_extensions().len(), 2);
    runtime.post(&response_path("first"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
    assert_eq!(reply_of(telemetry_next).await.json()["requestId"], "first");
    assert!(
        !audit_next.is_finished(),
        "audit did not subscribe to INVOKE"
    );
    audit_next.abort();

    // Without any extension, registration closes all the same.
    let plain = start(FunctionConfig::new("orders")).await;
    let invoking = spawn_invoke(&plain, Invocation::new("{}").with_request_id("plain"));
    let mut runtime = RuntimeClient::connect(&plain).await;
    runtime.get(&next_path()).await;
    runtime.post(&response_path("plain"), b"{}").await;
    let outcome = outcome_of(invoking).await;
    assert!(outcome.is_success());
    assert_eq!(outcome.extensions_done_at, None);
    assert_eq!(
        plain
            .wait_for_extensions("plain", Duration::from_millis(20))
            .await,
        None
    );
    let mut client = RuntimeClient::connect(&plain).await;
    let after_init = client
        .request(
            "POST",
            &extension_path("register"),
            &[("Lambda-Extension-Name", "telemetry")],
            br#"{"events":["INVOKE"]}"#,
        )
        .await;
    assert_eq!(after_init.status, 403);
    assert_eq!(after_init.error_type(), "Extension.RegistrationClosed");
    assert!(plain.registered_extensions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_extension_holds_back_the_next_invocation_but_not_the_response() {
    let api = start(FunctionConfig::new("orders")).await;
    let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;

    // Init: the runtime gets nothing until the extension has called next once.
    let first = spawn_invoke(&api, Invocation::new("1").with_request_id("first"));
    let runtime_next = spawn_runtime_next(&api);
    assert_still_waiting(&runtime_next, "the runtime's first next").await;
    let extension_next = spawn_extension_next(&api, &telemetry);
    let event = reply_of(runtime_next).await;
    assert_eq!(request_id_of(&event), "first");
    let invoke = reply_of(extension_next).await;
    assert_eq!(invoke.json()["requestId"], "first");

    // The response reaches the caller while the extension still works.
    let mut runtime = RuntimeClient::connect(&api).await;
    assert_eq!(
        runtime.post(&response_path("first"), b"1").await.status,
        202
    );
    let first = outcome_of(first).await;
    assert_eq!(first.response_json(), Some(json!(1)));
    assert_eq!(first.extensions_done_at, None, "the extension is not done");
    let responded_at = first.completed_at.expect("a response time");

    // The next invocation waits for the extension.
    let second = spawn_invoke(&api, Invocation::new("2").with_request_id("second"));
    let runtime_next = spawn_runtime_next(&api);
    assert_still_waiting(&runtime_next, "the runtime's second next").await;
    assert_eq!(
        api.wait_for_extensions("first", Duration::from_millis(20))
            .await,
        None
    );
    let flushed_at = Instant::now();
    let extension_next = spawn_extension_next(&api, &telemetry);
    let event = reply_of(runtime_next).await;
    assert_eq!(request_id_of(&event), "second");
    let done_at = api
        .wait_for_extensions("first", PROMPTLY)
        .await
        .expect("the extension finished the first invocation");
    assert!(
        done_at > responded_at,
        "extensions finish after the response"
    );
    assert!(done_at >= flushed_at);

    assert_eq!(reply_of(extension_next).await.json()["requestId"], "second");
    runtime.post(&response_path("second"), b"2").await;
    assert!(outcome_of(second).await.is_success());
    let last_next = spawn_extension_next(&api, &telemetry);
    assert!(
        api.wait_for_extensions("second", PROMPTLY).await.is_some(),
        "the extension finished the second invocation"
    );
    last_next.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_done_before_the_response_are_in_the_outcome() {
    let api = start(FunctionConfig::new("orders")).await;
    let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;
    let extension_next = spawn_extension_next(&api, &telemetry);
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("quick"));
    let mut runtime = RuntimeClient::connect(&api).await;
    runtime.get(&next_path()).await;
    assert_eq!(reply_of(extension_next).await.json()["requestId"], "quick");
    let extension_next = spawn_extension_next(&api, &telemetry);
    let done_at = api
        .wait_for_extensions("quick", PROMPTLY)
        .await
        .expect("done");
    runtime.post(&response_path("quick"), b"{}").await;
    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.extensions_done_at, Some(done_at));
    assert!(done_at <= outcome.completed_at.expect("a response time"));
    extension_next.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_events_describe_the_invocation() {
    let api = start(FunctionConfig::new("orders")).await;
    let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;
    let extension_next = spawn_extension_next(&api, &telemetry);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:live";
    let invoking = spawn_invoke(
        &api,
        Invocation::new("{}")
            .with_request_id("traced")
            .with_xray_trace_id(trace)
            .with_invoked_function_arn(arn)
            .with_timeout(Duration::from_secs(5)),
    );
    let mut runtime = RuntimeClient::connect(&api).await;
    let event = runtime.get(&next_path()).await;
    let invoke = reply_of(extension_next).await;
    assert_eq!(invoke.status, 200);
    assert_eq!(invoke.header("Content-Type"), Some("application/json"));
    assert!(invoke.header("Lambda-Extension-Event-Identifier").is_some());
    let deadline: u64 = event
        .header("Lambda-Runtime-Deadline-Ms")
        .expect("a deadline")
        .parse()
        .expect("epoch milliseconds");
    assert_eq!(
        invoke.json(),
        json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline,
            "requestId": "traced",
            "invokedFunctionArn": arn,
            "tracing": { "type": "X-Amzn-Trace-Id", "value": trace },
        })
    );
    runtime.post(&response_path("traced"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());

    // Untraced, unqualified: no tracing, the function's own ARN.
    let extension_next = spawn_extension_next(&api, &telemetry);
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("plain"));
    runtime.get(&next_path()).await;
    let invoke = reply_of(extension_next).await.json();
    assert_eq!(invoke.get("tracing"), None);
    assert_eq!(
        invoke["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:orders"
    );
    let deadline = i128::from(invoke["deadlineMs"].as_u64().expect("epoch milliseconds"));
    assert!((deadline - (now_epoch_millis() + 3_000)).abs() <= 2_000);
    runtime.post(&response_path("plain"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_goes_only_to_extensions_subscribed_to_it() {
    let api = start(FunctionConfig::new("orders")).await;
    let invoke_only = register_extension(&api, "invoke-only", &["INVOKE"]).await;
    let both = register_extension(&api, "both", &["INVOKE", "SHUTDOWN"]).await;
    let neither = register_extension(&api, "neither", &[]).await;
    let invoke_only_next = spawn_extension_next(&api, &invoke_only);
    let both_next = spawn_extension_next(&api, &both);
    let neither_next = spawn_extension_next(&api, &neither);
    wait_until_extensions_ready(&api).await;

    let shutting_down = {
        let api = api.clone();
        tokio::spawn(async move { api.shutdown_extensions(Duration::from_secs(2)).await })
    };
    let shutdown = reply_of(both_next).await;
    assert_eq!(shutdown.status, 200);
    assert!(
        shutdown
            .header("Lambda-Extension-Event-Identifier")
            .is_some()
    );
    let event = shutdown.json();
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert_eq!(event["shutdownReason"], "spindown");
    let deadline = i128::from(event["deadlineMs"].as_u64().expect("epoch milliseconds"));
    assert!((deadline - (now_epoch_millis() + 2_000)).abs() <= 2_000);
    assert_still_waiting(&invoke_only_next, "the INVOKE-only extension's next").await;
    assert!(
        !neither_next.is_finished(),
        "neither subscribed to SHUTDOWN"
    );
    assert!(!shutting_down.is_finished(), "`both` has not acknowledged");

    let after_shutdown = spawn_extension_next(&api, &both);
    let acknowledged = tokio::time::timeout(PROMPTLY, shutting_down)
        .await
        .expect("shutdown_extensions returned")
        .expect("task");
    assert!(acknowledged);
    for pending in [invoke_only_next, neither_next, after_shutdown] {
        assert!(!pending.is_finished());
        pending.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_shutdown_runs_out_its_deadline() {
    let api = start(FunctionConfig::new("orders")).await;
    let both = register_extension(&api, "both", &["INVOKE", "SHUTDOWN"]).await;
    let next = spawn_extension_next(&api, &both);
    wait_until_extensions_ready(&api).await;
    assert!(!api.shutdown_extensions(Duration::from_millis(100)).await);
    assert_eq!(reply_of(next).await.json()["eventType"], "SHUTDOWN");

    let nobody = start(FunctionConfig::new("orders")).await;
    assert!(nobody.shutdown_extensions(Duration::from_millis(100)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_extension_identifiers_are_forbidden() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut client = RuntimeClient::connect(&api).await;
    let unknown = "0b5d3a4e-1f2a-4c3b-8d4e-5f6a7b8c9d0e";
    for endpoint in ["event/next", "init/error", "exit/error"] {
        let method = if endpoint == "event/next" {
            "GET"
        } else {
            "POST"
        };
        let path = extension_path(endpoint);
        let error_type = ("Lambda-Extension-Function-Error-Type", "Extension.Failed");
        let missing = client.request(method, &path, &[error_type], b"").await;
        assert_eq!(missing.status, 403, "{endpoint}");
        assert_eq!(missing.error_type(), "Extension.MissingExtensionIdentifier");
        let malformed = client
            .request(
                method,
                &path,
                &[("Lambda-Extension-Identifier", "not-a-uuid"), error_type],
                b"",
            )
            .await;
        assert_eq!(malformed.status, 403, "{endpoint}");
        assert_eq!(
            malformed.error_type(),
            "Extension.InvalidExtensionIdentifier"
        );
        let stranger = client
            .request(
                method,
                &path,
                &[("Lambda-Extension-Identifier", unknown), error_type],
                b"",
            )
            .await;
        assert_eq!(stranger.status, 403, "{endpoint}");
        assert_eq!(
            stranger.json(),
            json!({
                "errorMessage": format!("Unknown extension {unknown}"),
                "errorType": "Extension.UnknownExtensionIdentifier",
            })
        );
    }
    // Wrong methods and unknown paths under the Extensions API are not found.
    for (method, path) in [
        ("GET", extension_path("register")),
        ("POST", extension_path("event/next")),
        ("GET", extension_path("nowhere")),
    ] {
        let answer = client.request(method, &path, &[], b"").await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.error_type(), "NotFound");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_registrations_are_refused() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut client = RuntimeClient::connect(&api).await;
    let register = extension_path("register");
    let nameless = client
        .request("POST", &register, &[], br#"{"events":["INVOKE"]}"#)
        .await;
    assert_eq!(nameless.status, 400);
    assert_eq!(nameless.error_type(), "Extension.InvalidExtensionName");
    for (body, error_type) in [
        (&b"not json"[..], "InvalidRequestFormat"),
        (b"", "InvalidRequestFormat"),
        (br#"{"events":"INVOKE"}"#, "InvalidRequestFormat"),
        (br#"{"events":["INVOKE",7]}"#, "InvalidRequestFormat"),
        (
            br#"{"events":["INVOKE","LOGS"]}"#,
            "Extension.InvalidEventType",
        ),
    ] {
        let refused = client
            .request("POST", &register, &[("Lambda-Extension-Name", "bad")], body)
            .await;
        assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(refused.error_type(), error_type);
        assert!(refused.json()["errorMessage"].is_string());
    }
    assert!(api.registered_extensions().is_empty());

    for index in 0..10 {
        register_extension(&api, &format!("extension-{index}"), &["INVOKE"]).await;
    }
    let eleventh = client
        .request(
            "POST",
            &register,
            &[("Lambda-Extension-Name", "extension-10")],
            b"{}",
        )
        .await;
    assert_eq!(eleventh.status, 403);
    assert_eq!(eleventh.error_type(), "Extension.TooManyExtensions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extension_errors_are_recorded_and_release_the_extension() {
    let api = start(FunctionConfig::new("orders")).await;
    let broken = register_extension(&api, "broken", &["INVOKE"]).await;
    let crashing = register_extension(&api, "crashing", &["INVOKE"]).await;
    let mut client = RuntimeClient::connect(&api).await;

    let headerless = client
        .request(
            "POST",
            &extension_path("init/error"),
            &[("Lambda-Extension-Identifier", broken.as_str())],
            b"{}",
        )
        .await;
    assert_eq!(headerless.status, 403);
    assert_eq!(headerless.error_type(), "Extension.MissingHeader");
    let report = br#"{"errorMessage":"no endpoint","errorType":"ConfigError","stackTrace":[]}"#;
    let init_error = client
        .request(
            "POST",
            &extension_path("init/error"),
            &[
                ("Lambda-Extension-Identifier", broken.as_str()),
                (
                    "Lambda-Extension-Function-Error-Type",
                    "Extension.ConfigInvalid",
                ),
            ],
            report,
        )
        .await;
    assert_eq!(init_error.status, 202);
    assert_eq!(init_error.json(), json!({ "status": "OK" }));
    let gone = client
        .request(
            "GET",
            &extension_path("event/next"),
            &[("Lambda-Extension-Identifier", broken.as_str())],
            b"",
        )
        .await;
    assert_eq!(gone.status, 403);
    assert_eq!(gone.error_type(), "Extension.InvalidExtensionState");

    // The broken extension holds nothing back; the crashing one gets the event and exits.
    let crashing_next = spawn_extension_next(&api, &crashing);
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("crash"));
    let mut runtime = RuntimeClient::connect(&api).await;
    runtime.get(&next_path()).await;
    assert_eq!(reply_of(crashing_next).await.json()["requestId"], "crash");
    let exit_error = client
        .request(
            "POST",
            &extension_path("exit/error"),
            &[
                ("Lambda-Extension-Identifier", crashing.as_str()),
                ("Lambda-Extension-Function-Error-Type", "Extension.Crash"),
            ],
            b"",
        )
        .await;
    assert_eq!(exit_error.status, 202);
    assert!(api.wait_for_extensions("crash", PROMPTLY).await.is_some());
    runtime.post(&response_path("crash"), b"{}").await;
    assert!(outcome_of(invoking).await.extensions_done_at.is_some());

    assert_eq!(
        api.extension_errors(),
        [
            ExtensionError {
                extension_name: "broken".to_owned(),
                kind: ExtensionErrorKind::Init,
                error_type: "Extension.ConfigInvalid".to_owned(),
                raw_body: Bytes::from_static(report),
            },
            ExtensionError {
                extension_name: "crashing".to_owned(),
                kind: ExtensionErrorKind::Exit,
                error_type: "Extension.Crash".to_owned(),
                raw_body: Bytes::new(),
            },
        ]
    );
    // With every extension gone, invocations flow freely.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("after"));
    runtime.get(&next_path()).await;
    runtime.post(&response_path("after"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_invocation_releases_its_extensions() {
    let api = start(FunctionConfig::new("orders")).await;
    let stuck = register_extension(&api, "stuck", &["INVOKE"]).await;
    let init_next = spawn_extension_next(&api, &stuck);
    let invoking = spawn_invoke(
        &api,
        Invocation::new("{}")
            .with_request_id("slow")
            .with_timeout(Duration::from_millis(150)),
    );
    let mut runtime = RuntimeClient::connect(&api).await;
    runtime.get(&next_path()).await;
    assert_eq!(reply_of(init_next).await.json()["requestId"], "slow");

    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.result, InvocationResult::TimedOut);
    let done_at = outcome.extensions_done_at.expect("released by the timeout");
    assert!(done_at >= outcome.handed_out_at.expect("handed out"));

    // The next invocation goes out although the extension never called next again.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("fresh"));
    let event = runtime.get(&next_path()).await;
    assert_eq!(request_id_of(&event), "fresh");
    let next = spawn_extension_next(&api, &stuck);
    assert_eq!(reply_of(next).await.json()["requestId"], "fresh");
    runtime.post(&response_path("fresh"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
}
