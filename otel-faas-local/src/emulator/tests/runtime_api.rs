//! The Runtime API: hand-out, answers, deadlines, refusals.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_then_response_round_trip_carries_every_header() {
    let api = start(FunctionConfig::new("orders")).await;
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    // The shape lambda_runtime parses: its `client` needs every field.
    let client_context = r#"{"client":{"installation_id":"i","app_title":"t","app_version_name":"1","app_version_code":"1","app_package_name":"p"},"custom":{"k":"v"},"environment":{}}"#;
    let cognito = r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#;
    let invocation = Invocation::json(&json!({ "orderId": 7 }))
        .with_xray_trace_id(trace)
        .with_client_context(client_context)
        .with_cognito_identity(cognito);
    let request_id = invocation.request_id.clone();
    let invoking = spawn_invoke(&api, invocation);

    let mut runtime = RuntimeClient::connect(&api).await;
    let event = runtime.get(&next_path()).await;
    assert_eq!(event.status, 200);
    assert_eq!(event.json(), json!({ "orderId": 7 }));
    assert_eq!(
        event.header("Lambda-Runtime-Aws-Request-Id"),
        Some(request_id.as_str())
    );
    assert_eq!(
        event.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:orders")
    );
    assert_eq!(event.header("Lambda-Runtime-Trace-Id"), Some(trace));
    assert_eq!(
        event.header("Lambda-Runtime-Client-Context"),
        Some(client_context)
    );
    assert_eq!(
        event.header("Lambda-Runtime-Cognito-Identity"),
        Some(cognito)
    );
    assert_eq!(event.header("Content-Type"), Some("application/json"));
    let deadline: i128 = event
        .header("Lambda-Runtime-Deadline-Ms")
        .expect("a deadline")
        .parse()
        .expect("epoch milliseconds");
    let expected = now_epoch_millis() + 3_000;
    assert!(
        (deadline - expected).abs() <= 2_000,
        "deadline {deadline} is not about now + 3 s ({expected})"
    );

    // Same keep-alive connection, as lambda_runtime does.
    let answer = runtime
        .post(&response_path(&request_id), br#"{"shipped":true}"#)
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.json(), json!({ "status": "OK" }));

    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.request_id, request_id);
    assert!(outcome.is_success());
    assert_eq!(outcome.response_json(), Some(json!({ "shipped": true })));
    assert!(outcome.handed_out_at.is_some());
    assert!(outcome.latency().is_some());
    assert_eq!(api.next_calls(), 1);
    assert!(api.first_next_at().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_headers_are_left_out_when_unset() {
    let api = start(FunctionConfig::new("orders")).await;
    let invoking = spawn_invoke(
        &api,
        Invocation::new("{}").with_invoked_function_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
        ),
    );
    let mut runtime = RuntimeClient::connect(&api).await;
    let event = runtime.get(&next_path()).await;
    assert_eq!(event.header("Lambda-Runtime-Trace-Id"), None);
    assert_eq!(event.header("Lambda-Runtime-Client-Context"), None);
    assert_eq!(event.header("Lambda-Runtime-Cognito-Identity"), None);
    assert_eq!(
        event.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:orders:live")
    );
    let request_id = event
        .header("Lambda-Runtime-Aws-Request-Id")
        .expect("a request ID")
        .to_owned();
    runtime.post(&response_path(&request_id), b"null").await;
    assert!(outcome_of(invoking).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_type_comes_from_the_body_first_then_the_header() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;

    // lambda_runtime's shape: header "unhandled", the real type in the body.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-body"));
    runtime.get(&next_path()).await;
    let body = br#"{"errorType":"OrderNotFound","errorMessage":"no order 7","stackTrace":[]}"#;
    let answer = runtime
        .request(
            "POST",
            &error_path("req-body"),
            &[("Lambda-Runtime-Function-Error-Type", "unhandled")],
            body,
        )
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.json(), json!({ "status": "OK" }));
    let outcome = outcome_of(invoking).await;
    assert!(!outcome.is_success());
    assert_eq!(
        outcome.result,
        InvocationResult::Error(FunctionError {
            error_type: "OrderNotFound".to_owned(),
            error_message: "no order 7".to_owned(),
            raw_body: Bytes::from_static(body),
        })
    );

    // A body that is not JSON: the header names the error, the body is the message.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-header"));
    runtime.get(&next_path()).await;
    let answer = runtime
        .request(
            "POST",
            &error_path("req-header"),
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.ExitError")],
            b"process exited",
        )
        .await;
    assert_eq!(answer.status, 202);
    let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
        panic!("expected an error outcome");
    };
    assert_eq!(error.error_type, "Runtime.ExitError");
    assert_eq!(error.error_message, "process exited");

    // Neither: the platform's default.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-none"));
    runtime.get(&next_path()).await;
    runtime.post(&error_path("req-none"), b"").await;
    let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
        panic!("expected an error outcome");
    };
    assert_eq!(error.error_type, "Unhandled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_queued_request_ids_are_invalid() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    for path in [
        response_path("no-such-id"),
        error_path("no-such-id"),
        format!("{BASE_PATH}/invocation//response"),
    ] {
        let answer = runtime.post(&path, b"{}").await;
        assert_eq!(answer.status, 400, "{path}");
        assert_eq!(
            answer.json(),
            json!({ "errorMessage": "Invalid request ID", "errorType": "InvalidRequestID" })
        );
    }

    // Queued but not yet handed out: not the function's to answer.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("queued"));
    wait_until_queued(&api, 1).await;
    let answer = runtime.post(&response_path("queued"), b"{}").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_type(), "InvalidRequestID");
    invoking.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_answer_is_an_invalid_state_transition() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("once"));
    runtime.get(&next_path()).await;
    assert_eq!(runtime.post(&response_path("once"), b"1").await.status, 202);

    let again = runtime.post(&response_path("once"), b"2").await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error_type(), "InvalidStateTransition");
    let error_after_response = runtime.post(&error_path("once"), b"{}").await;
    assert_eq!(error_after_response.status, 400);
    assert_eq!(error_after_response.error_type(), "InvalidStateTransition");

    let outcome = outcome_of(invoking).await;
    assert_eq!(
        outcome.result,
        InvocationResult::Response(Bytes::from_static(b"1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_by_the_deadline_times_out() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    let invoking = spawn_invoke(
        &api,
        Invocation::new("{}")
            .with_request_id("slow")
            .with_timeout(Duration::from_millis(200)),
    );
    let event = runtime.get(&next_path()).await;
    let deadline: i128 = event
        .header("Lambda-Runtime-Deadline-Ms")
        .expect("a deadline")
        .parse()
        .expect("epoch milliseconds");
    assert!((deadline - (now_epoch_millis() + 200)).abs() <= 2_000);

    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.result, InvocationResult::TimedOut);
    assert!(outcome.handed_out_at.is_some());
    assert_eq!(outcome.completed_at, None);
    assert_eq!(outcome.latency(), None);

    let late = runtime.post(&response_path("slow"), b"{}").await;
    assert_eq!(late.status, 410);
    assert_eq!(
        late.json(),
        json!({ "errorMessage": "Invoke timeout", "errorType": "InvokeTimeout" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_invocations_are_handed_out_in_order() {
    let api = start(FunctionConfig::new("orders")).await;
    let first = spawn_invoke(&api, Invocation::new("1").with_request_id("first"));
    wait_until_queued(&api, 1).await;
    let second = spawn_invoke(&api, Invocation::new("2").with_request_id("second"));
    wait_until_queued(&api, 2).await;

    let mut runtime = RuntimeClient::connect(&api).await;
    for (request_id, payload) in [("first", b"1"), ("second", b"2")] {
        let event = runtime.get(&next_path()).await;
        assert_eq!(
            event.header("Lambda-Runtime-Aws-Request-Id"),
            Some(request_id)
        );
        assert_eq!(event.body, payload);
        runtime.post(&response_path(request_id), payload).await;
    }
    assert_eq!(outcome_of(first).await.response_json(), Some(json!(1)));
    assert_eq!(outcome_of(second).await.response_json(), Some(json!(2)));
    assert_eq!(api.next_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_long_polls_each_get_one_invocation() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut polls = Vec::new();
    for _ in 0..3 {
        let mut runtime = RuntimeClient::connect(&api).await;
        polls.push(tokio::spawn(async move {
            let event = runtime.get(&next_path()).await;
            let request_id = event
                .header("Lambda-Runtime-Aws-Request-Id")
                .expect("a request ID")
                .to_owned();
            let answer = runtime.post(&response_path(&request_id), &event.body).await;
            assert_eq!(answer.status, 202);
            request_id
        }));
    }
    tokio::time::timeout(PROMPTLY, api.wait_for_next_calls(3))
        .await
        .expect("three long-polls");

    let invocations: Vec<_> = (0..3)
        .map(|index| spawn_invoke(&api, Invocation::json(&json!(index))))
        .collect();
    for (index, invoking) in invocations.into_iter().enumerate() {
        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.response_json(), Some(json!(index)));
    }
    let mut served = Vec::new();
    for poll in polls {
        served.push(
            tokio::time::timeout(PROMPTLY, poll)
                .await
                .expect("poll")
                .expect("task"),
        );
    }
    served.sort();
    served.dedup();
    assert_eq!(served.len(), 3, "each long-poll got a different invocation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_long_poll_does_not_swallow_an_invocation() {
    let api = start(FunctionConfig::new("orders")).await;
    {
        let mut abandoned = RuntimeClient::connect(&api).await;
        let raw = format!("GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n", next_path());
        let stream = abandoned.connection.get_mut();
        stream.write_all(raw.as_bytes()).await.expect("write");
        tokio::time::timeout(PROMPTLY, api.wait_for_next_calls(1))
            .await
            .expect("the long-poll arrived");
        // Dropping the client closes the connection mid-poll, as a killed process would.
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("survivor"));
    let mut runtime = RuntimeClient::connect(&api).await;
    let event = runtime.get(&next_path()).await;
    assert_eq!(
        event.header("Lambda-Runtime-Aws-Request-Id"),
        Some("survivor")
    );
    runtime.post(&response_path("survivor"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_response_is_refused_and_fails_the_invocation() {
    // Large bodies through a debug build take a moment: keep the deadline out of the way.
    let mut function = FunctionConfig::new("orders");
    function.timeout = Duration::from_secs(30);
    let api = start(function).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("big"));
    runtime.get(&next_path()).await;

    let body = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
    let answer = runtime.post(&response_path("big"), &body).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.error_type(), "RequestEntityTooLarge");

    let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
        panic!("expected an error outcome");
    };
    assert_eq!(error.error_type, "RequestEntityTooLarge");
    assert!(
        error.error_message.contains("6291456"),
        "{}",
        error.error_message
    );

    // The connection is still usable, and exactly 6 MiB is fine.
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("max"));
    runtime.get(&next_path()).await;
    let body = vec![b'x'; MAX_PAYLOAD_BYTES];
    assert_eq!(runtime.post(&response_path("max"), &body).await.status, 202);
    let outcome = outcome_of(invoking).await;
    assert_eq!(
        outcome.result,
        InvocationResult::Response(Bytes::from(body))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_response_is_read_whole() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("chunked"));
    runtime.get(&next_path()).await;
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
         6\r\n{{\"ok\":\r\n5\r\ntrue}}\r\n0\r\n\r\n",
        response_path("chunked")
    );
    let answer = runtime.send_raw(raw.as_bytes()).await;
    assert_eq!(answer.status, 202);
    assert_eq!(
        outcome_of(invoking).await.response_json(),
        Some(json!({ "ok": true }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_are_refused() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut runtime = RuntimeClient::connect(&api).await;
    for path in [
        "/",
        "/2018-06-01/runtime",
        "/2018-06-01/runtime/invocation/next/",
        "/2018-06-01/runtime/restore/next",
        "/2020-01-01/extension/register",
        "/2018-06-01/runtime/invocation/a/b/response",
    ] {
        let answer = runtime.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.error_type(), "NotFound");
    }
    let post_next = runtime.post(&next_path(), b"").await;
    assert_eq!(post_next.status, 405);
    assert_eq!(post_next.header("Allow"), Some("GET"));
    let get_response = runtime.get(&response_path("id")).await;
    assert_eq!(get_response.status, 405);
    assert_eq!(get_response.header("Allow"), Some("POST"));
    assert_eq!(api.next_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_gets_a_client_error_and_the_server_keeps_serving() {
    let api = start(FunctionConfig::new("orders")).await;
    let mut garbage = RuntimeClient::connect(&api).await;
    let answer = garbage.send_raw(b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(answer.status, 400);

    let mut truncated = RuntimeClient::connect(&api).await;
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nshort",
        response_path("x")
    );
    let stream = truncated.connection.get_mut();
    stream.write_all(raw.as_bytes()).await.expect("write");
    stream.shutdown().await.expect("half-close");
    let cut_short = tokio::time::timeout(PROMPTLY, truncated.read_reply())
        .await
        .expect("a reply in time");
    assert_eq!(cut_short.status, 400);
    assert_eq!(cut_short.error_type(), "TruncatedHTTPRequest");

    let mut runtime = RuntimeClient::connect(&api).await;
    assert_eq!(runtime.get("/nowhere").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_is_recorded_and_fails_waiting_invocations() {
    let api = start(FunctionConfig::new("orders")).await;
    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("cold"));
    wait_until_queued(&api, 1).await;

    let mut runtime = RuntimeClient::connect(&api).await;
    let body = br#"{"errorType":"ConfigError","errorMessage":"missing TABLE_NAME"}"#;
    let answer = runtime
        .request(
            "POST",
            &format!("{BASE_PATH}/init/error"),
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")],
            body,
        )
        .await;
    assert_eq!(answer.status, 202);
    let init_error = api.init_error().expect("an init error");
    assert_eq!(init_error.error_type, "ConfigError");
    assert_eq!(init_error.error_message, "missing TABLE_NAME");

    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.result, InvocationResult::Error(init_error));
    assert_eq!(outcome.handed_out_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_invocations_are_refused_without_queueing() {
    let api = start(FunctionConfig::new("orders")).await;
    for invocation in [
        Invocation::new("{}").with_request_id(""),
        Invocation::new("{}").with_request_id("a/b"),
        Invocation::new("{}").with_xray_trace_id("Root=1\r\nX-Injected: 1"),
    ] {
        let outcome = tokio::time::timeout(PROMPTLY, api.invoke(invocation))
            .await
            .expect("refused at once");
        let InvocationResult::Error(error) = outcome.result else {
            panic!("expected a refusal");
        };
        assert_eq!(error.error_type, INVALID_INVOCATION);
    }
    assert_eq!(queued_invocations(&api), 0);

    let waiting = spawn_invoke(&api, Invocation::new("{}").with_request_id("dup"));
    wait_until_queued(&api, 1).await;
    let duplicate = api
        .invoke(Invocation::new("{}").with_request_id("dup"))
        .await;
    assert!(
        matches!(duplicate.result, InvocationResult::Error(ref error)
        if error.error_type == INVALID_INVOCATION)
    );
    waiting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_invocation_is_not_handed_out() {
    let api = start(FunctionConfig::new("orders")).await;
    let withdrawn = tokio::time::timeout(
        Duration::from_millis(50),
        api.invoke(Invocation::new("{}").with_request_id("withdrawn")),
    )
    .await;
    assert!(withdrawn.is_err(), "nobody polled, so invoke kept waiting");

    let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("wanted"));
    let mut runtime = RuntimeClient::connect(&api).await;
    let event = runtime.get(&next_path()).await;
    assert_eq!(
        event.header("Lambda-Runtime-Aws-Request-Id"),
        Some("wanted")
    );
    runtime.post(&response_path("wanted"), b"{}").await;
    assert!(outcome_of(invoking).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_serving_and_releases_waiting_invocations() {
    let api = start(FunctionConfig::new("orders")).await;
    let invoking = spawn_invoke(&api, Invocation::new("{}"));
    wait_until_queued(&api, 1).await;
    api.shutdown();
    let outcome = outcome_of(invoking).await;
    assert_eq!(outcome.result, InvocationResult::TimedOut);

    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = match TcpStream::connect(api.addr()).await {
        Err(_) => true,
        Ok(mut stream) => {
            let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", next_path());
            let _ = stream.write_all(request.as_bytes()).await;
            let mut buffer = [0_u8; 1];
            matches!(
                tokio::time::timeout(PROMPTLY, stream.read(&mut buffer)).await,
                Ok(Ok(0) | Err(_))
            )
        }
    };
    assert!(refused, "the emulator still answers after shutdown");
}

#[tokio::test]
async fn function_env_describes_the_function() {
    let mut function = FunctionConfig::new("orders");
    function.memory_mb = 512;
    function.region = "eu-west-1".to_owned();
    let api = start(function).await;
    let env: HashMap<String, String> = api.function_env().into_iter().collect();
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], api.endpoint());
    assert_eq!(api.endpoint(), format!("127.0.0.1:{}", api.addr().port()));
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "orders");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/orders");
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["AWS_REGION"], "eu-west-1");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
    let stream = &env["AWS_LAMBDA_LOG_STREAM_NAME"];
    let (date, rest) = stream.split_at(11);
    assert!(date.len() == 11 && date.ends_with('/'), "{stream}");
    let hex = rest
        .strip_prefix("[$LATEST]")
        .expect("the version in brackets");
    assert!(
        hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{stream}"
    );
}

#[test]
fn function_arn_and_defaults() {
    let function = FunctionConfig::new("orders");
    assert_eq!(
        function.function_arn(),
        "arn:aws:lambda:us-east-1:123456789012:function:orders"
    );
    assert_eq!(function.memory_mb, 128);
    assert_eq!(function.timeout, Duration::from_secs(3));
}

#[test]
fn request_ids_look_like_uuid_v4_and_differ() {
    let first = Invocation::new("").request_id;
    let second = Invocation::new("").request_id;
    assert_ne!(first, second);
    let groups: Vec<&str> = first.split('-').collect();
    assert_eq!(
        groups.iter().map(|group| group.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(groups[2].starts_with('4'), "{first}");
    assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "{first}");
    assert!(validate_request_id(&first).is_ok());
}

#[test]
fn civil_dates() {
    assert_eq!(civil_date(0), (1970, 1, 1));
    assert_eq!(civil_date(11_016), (2000, 2, 29));
    assert_eq!(civil_date(11_017), (2000, 3, 1));
    assert_eq!(civil_date(19_737), (2024, 1, 15));
    assert_eq!(civil_date(-1), (1969, 12, 31));
}

#[test]
fn routes() {
    let route = |method: Method, path: &str| Route::of(&method, path);
    assert_eq!(
        route(Method::GET, "/2018-06-01/runtime/invocation/next"),
        Route::Next
    );
    assert_eq!(
        route(Method::POST, "/2018-06-01/runtime/invocation/abc/response"),
        Route::InvocationResponse("abc".to_owned())
    );
    assert_eq!(
        route(Method::POST, "/2018-06-01/runtime/invocation/abc/error"),
        Route::InvocationError("abc".to_owned())
    );
    assert_eq!(
        route(Method::POST, "/2018-06-01/runtime/init/error"),
        Route::InitError
    );
    assert_eq!(
        route(Method::DELETE, "/2018-06-01/runtime/init/error"),
        Route::MethodNotAllowed("POST")
    );
    assert_eq!(
        route(Method::GET, "/2018-06-01/runtimeinvocation/next"),
        Route::NotFound
    );
}

#[test]
fn error_reports_tolerate_any_body() {
    let typed = FunctionError::from_report(None, Bytes::from_static(br#"{"errorType":7}"#));
    assert_eq!(typed.error_type, "Unhandled");
    assert_eq!(typed.error_message, "");
    let empty_type = FunctionError::from_report(
        Some("Header"),
        Bytes::from_static(br#"{"errorType":"","errorMessage":"m"}"#),
    );
    assert_eq!(empty_type.error_type, "Header");
    assert_eq!(empty_type.error_message, "m");
    let binary = FunctionError::from_report(None, Bytes::from_static(&[0xff, 0xfe]));
    assert_eq!(binary.error_type, "Unhandled");
    assert_eq!(binary.raw_body, Bytes::from_static(&[0xff, 0xfe]));
}
