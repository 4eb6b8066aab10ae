//! Spans: the round trip from the real exporter, refusals, waits, and the views.

use super::*;

#[tokio::test]
async fn spans_from_the_real_exporter_round_trip() {
    let collector = start().await;
    let sent = sample_trace();
    export(&collector, sent.clone()).await;

    assert!(collector.wait_for_count(3, Duration::from_secs(5)).await);
    assert_eq!(collector.requests(), 1);
    let received = collector.spans();
    assert_eq!(received.len(), 3);
    for data in &sent {
        let span = find(&received, &data.name);
        assert_eq!(
            span.view,
            SpanView::from(data),
            "views differ for {}",
            data.name
        );
        assert_eq!(span.scope, "otel-faas-test");
        assert_eq!(span.resource_attribute("service.name"), Some("orders"));
        assert_eq!(span.resource_attribute("cloud.provider"), Some("aws"));
        assert_eq!(
            span.resource_attribute("faas.max_memory"),
            Some("134217728")
        );
    }

    let server = find(&received, "orders-consumer");
    assert_eq!(server.view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server.view.span_id, "0000000000000011");
    assert_eq!(server.view.parent_span_id, "");
    assert_eq!(server.view.kind, "SERVER");
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(server.view.duration, Duration::new(1, 864_197_532));
    assert_eq!(
        server.attribute("faas.trigger"),
        Some(&AttributeValue::String("pubsub".into()))
    );
    assert_eq!(
        server.attribute("faas.coldstart"),
        Some(&AttributeValue::Bool(true))
    );
    assert_eq!(
        server.attribute("http.response.status_code"),
        Some(&AttributeValue::Int(200))
    );
    assert_eq!(
        server.attribute("sample.ratio"),
        Some(&AttributeValue::Double(0.25))
    );
    assert_eq!(
        server.attribute("sample.whole"),
        Some(&AttributeValue::Double(3.0))
    );
    assert_eq!(
        server.attribute("queue.sizes"),
        Some(&AttributeValue::Array(vec![
            AttributeValue::Int(1),
            AttributeValue::Int(-2),
            AttributeValue::Int(3)
        ]))
    );
    assert_eq!(
        server.attribute("queue.names"),
        Some(&AttributeValue::Array(vec![
            AttributeValue::String("a".into()),
            AttributeValue::String("b c".into())
        ]))
    );
    assert_eq!(server.view.attribute("sample.whole"), Some("3"));
    assert_eq!(server.view.attribute("queue.names"), Some(r#"["a","b c"]"#));
    assert_eq!(server.view.attribute("queue.sizes"), Some("[1,-2,3]"));
    assert_eq!(server.view.attribute("queue.flags"), Some("[true,false]"));
    assert_eq!(server.view.attribute("queue.weights"), Some("[0.5,2]"));
    assert_eq!(server.attribute("missing"), None);

    let consumer = find(&received, "process orders");
    assert_eq!(consumer.view.kind, "CONSUMER");
    assert_eq!(consumer.view.parent_span_id, "0000000000000011");
    assert_eq!(consumer.view.error.as_deref(), Some("downstream timed out"));
    assert!(!consumer.view.ok);
    assert_eq!(
        consumer.view.links,
        vec![(
            "0af7651916cd43dd8448eb211c80319c".to_owned(),
            "b7ad6b7169203331".to_owned(),
            vec![("messaging.message.id".to_owned(), "m-1".to_owned())]
        )]
    );
    assert_eq!(
        consumer.view.events,
        vec![(
            "exception".to_owned(),
            vec![
                ("exception.type".to_owned(), "Timeout".to_owned()),
                ("exception.escaped".to_owned(), "false".to_owned())
            ]
        )]
    );

    let internal = find(&received, "validate");
    assert_eq!(internal.view.parent_span_id, "0000000000000022");
    assert!(internal.view.ok);
    assert_eq!(internal.view.error, None);

    let views: Vec<SpanView> = received.into_iter().map(|span| span.view).collect();
    let tree = otel_faas_runtime::render::render_trees(&views);
    assert!(tree.contains("└─ orders-consumer  SERVER"), "{tree}");
    assert!(
        tree.contains("link → 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331"),
        "{tree}"
    );
}

#[tokio::test]
async fn keep_alive_connection_carries_several_exports() {
    let collector = start().await;
    let exporter = exporter(&collector);
    for id in 1..=3 {
        let span = span_data(id, 0, "tick", ApiSpanKind::Internal);
        exporter.export(vec![span]).await.expect("export accepted");
    }
    assert_eq!(collector.requests(), 3);
    assert_eq!(collector.spans().len(), 3);
    let ids: Vec<String> = collector
        .spans()
        .into_iter()
        .map(|span| span.view.span_id)
        .collect();
    assert_eq!(
        ids,
        ["0000000000000001", "0000000000000002", "0000000000000003"]
    );
}

#[tokio::test]
async fn garbage_gets_400_and_the_collector_keeps_serving() {
    let collector = start().await;
    let (status, body) = raw_request(
        &collector,
        "POST",
        TRACES_PATH,
        &[PROTOBUF_HEADER],
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("not a protobuf ExportTraceServiceRequest"),
        "{body}"
    );
    assert_eq!(collector.requests(), 0);

    export(
        &collector,
        vec![span_data(1, 0, "after", ApiSpanKind::Server)],
    )
    .await;
    assert_eq!(collector.requests(), 1);
    assert_eq!(collector.spans()[0].view.name, "after");
}

#[tokio::test]
async fn an_empty_export_is_answered_with_an_empty_response() {
    let collector = start().await;
    let (status, body) =
        raw_request(&collector, "POST", TRACES_PATH, &[PROTOBUF_HEADER], b"").await;
    assert_eq!(status, 200);
    assert!(body.is_empty(), "{body:?}");
    assert_eq!(collector.requests(), 1);
    assert!(collector.spans().is_empty());
}

#[tokio::test]
async fn a_rejecting_collector_answers_a_span_export_with_partial_success() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    let collector = Collector::start_rejecting_spans(3, "3 spans had no name")
        .await
        .expect("collector");
    let (status, body) =
        raw_request(&collector, "POST", TRACES_PATH, &[PROTOBUF_HEADER], b"").await;
    assert_eq!(status, 200, "a partial success is a 200 (OTLP/HTTP)");
    let answer = ExportTraceServiceResponse::decode(body.as_bytes()).expect("protobuf");
    let partial = answer.partial_success.expect("partial_success is set");
    assert_eq!(partial.rejected_spans, 3);
    assert_eq!(partial.error_message, "3 spans had no name");
    // Metric exports are answered in full.
    let (status, body) =
        raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], b"").await;
    assert_eq!((status, body.as_str()), (200, ""));
}

#[tokio::test]
async fn unsupported_requests_are_turned_down_with_a_reason() {
    let collector = start().await;
    for (path, body) in [
        (
            TRACES_PATH,
            ExportTraceServiceRequest::default().encode_to_vec(),
        ),
        (
            METRICS_PATH,
            ExportMetricsServiceRequest::default().encode_to_vec(),
        ),
    ] {
        let cases: [Case; 7] = [
            (
                "POST",
                path,
                &[PROTOBUF_HEADER, ("Content-Encoding", "br")],
                415,
                "\"br\" is not supported",
            ),
            (
                "POST",
                path,
                &[PROTOBUF_HEADER, ("Content-Encoding", "gzip")],
                400,
                "the body is not gzip",
            ),
            (
                "POST",
                path,
                &[("Content-Type", "application/json")],
                400,
                "is not a OTLP/JSON",
            ),
            ("POST", path, &[], 415, "send application/x-protobuf"),
            ("GET", path, &[], 405, "use POST"),
            (
                "POST",
                "/v1development/profiles",
                &[PROTOBUF_HEADER],
                404,
                "not found",
            ),
            ("POST", "/v1/metric", &[PROTOBUF_HEADER], 404, "not found"),
        ];
        for (method, path, headers, want_status, want_text) in cases {
            let (status, text) = raw_request(&collector, method, path, headers, &body).await;
            assert_eq!(status, want_status, "{method} {path} {headers:?}: {text}");
            assert!(
                text.contains(want_text),
                "{method} {path} {headers:?}: {text}"
            );
        }
        assert_eq!(collector.requests(), 0);
        assert_eq!(collector.metric_requests(), 0);
    }
    let (_, text) = raw_request(&collector, "GET", METRICS_PATH, &[], b"").await;
    assert!(text.contains("use POST on /v1/metrics"), "{text}");
    let (_, text) = raw_request(&collector, "POST", "/v1/profiles", &[PROTOBUF_HEADER], b"").await;
    assert!(
        text.contains("POST /v1/traces, POST /v1/metrics and POST /v1/logs"),
        "{text}"
    );

    let with_parameters = [("Content-Type", "Application/X-Protobuf; charset=binary")];
    let body = ExportTraceServiceRequest::default().encode_to_vec();
    let (status, _) = raw_request(&collector, "POST", TRACES_PATH, &with_parameters, &body).await;
    assert_eq!(status, 200);
    let body = ExportMetricsServiceRequest::default().encode_to_vec();
    let (status, _) = raw_request(&collector, "POST", METRICS_PATH, &with_parameters, &body).await;
    assert_eq!(status, 200);
    assert_eq!((collector.requests(), collector.metric_requests()), (1, 1));
}

#[tokio::test]
async fn a_delayed_collector_answers_after_its_delay() {
    let delay = Duration::from_millis(300);
    let collector = Collector::start_with_delay(delay)
        .await
        .expect("start collector");
    let started = StdInstant::now();
    let exporting = tokio::spawn({
        let collector = collector.clone();
        async move {
            export(
                &collector,
                vec![span_data(1, 0, "slow", ApiSpanKind::Server)],
            )
            .await
        }
    });
    // Stored on arrival, before the answer.
    assert!(
        collector
            .wait_for(Duration::from_secs(5), |span| span.view.name == "slow")
            .await
    );
    exporting.await.expect("export task");
    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn wait_for_sees_later_arrivals_and_times_out_otherwise() {
    let collector = start().await;
    let started = StdInstant::now();
    assert!(
        !collector
            .wait_for(Duration::from_millis(50), |_| true)
            .await
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(!collector.wait_for_count(1, Duration::from_millis(20)).await);

    let sender = collector.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        export(&sender, vec![span_data(1, 0, "late", ApiSpanKind::Server)]).await;
    });
    assert!(
        collector
            .wait_for(Duration::from_secs(5), |span| span.view.name == "late")
            .await
    );
    assert!(
        !collector
            .wait_for(Duration::from_millis(20), |span| span.view.name == "never")
            .await
    );
}

#[tokio::test]
async fn clear_forgets_spans_but_not_requests() {
    let collector = start().await;
    export(&collector, sample_trace()).await;
    assert_eq!(collector.spans().len(), 3);
    collector.clear();
    assert!(collector.spans().is_empty());
    assert_eq!(collector.requests(), 1);
    assert!(!collector.wait_for_count(1, Duration::from_millis(20)).await);
    export(
        &collector,
        vec![span_data(9, 0, "fresh", ApiSpanKind::Server)],
    )
    .await;
    assert!(collector.wait_for_count(1, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let collector = start().await;
    export(
        &collector,
        vec![span_data(1, 0, "before", ApiSpanKind::Server)],
    )
    .await;
    collector.shutdown();
    let deadline = StdInstant::now() + Duration::from_secs(5);
    loop {
        if TcpStream::connect(collector.addr()).await.is_err() {
            break;
        }
        assert!(
            StdInstant::now() < deadline,
            "still accepting after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(collector.spans().len(), 1, "received spans stay readable");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_serving() {
    let collector = start().await;
    let addr = collector.addr();
    drop(collector);
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(StdInstant::now() < deadline, "still accepting after drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn values_render_as_opentelemetry_renders_them() {
    let values = [
        Value::from("plain"),
        Value::from(""),
        Value::from("quote \" and ünïcode, comma"),
        Value::from(true),
        Value::from(false),
        Value::from(0_i64),
        Value::from(i64::MIN),
        Value::from(i64::MAX),
        Value::from(1.0),
        Value::from(-0.0),
        Value::from(0.1 + 0.2),
        Value::from(1e21),
        Value::from(1e-7),
        Value::from(f64::NAN),
        Value::from(f64::INFINITY),
        Value::Array(Array::String(vec![])),
        Value::Array(Array::String(vec!["x".into(), "y,z".into()])),
        Value::Array(Array::I64(vec![])),
        Value::Array(Array::I64(vec![i64::MIN, 0])),
        Value::Array(Array::F64(vec![1.5, 2.0, f64::NEG_INFINITY])),
        Value::Array(Array::Bool(vec![false])),
    ];
    for value in values {
        let otlp = AnyValue::from(value.clone());
        assert_eq!(render_value(&otlp), value.to_string(), "{value:?}");
    }
}

#[test]
fn values_without_an_api_counterpart_are_other() {
    let kvlist = AnyValue {
        value: Some(any_value::Value::KvlistValue(
            opentelemetry_proto::tonic::common::v1::KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(1)),
                    }),
                    key_strindex: 0,
                }],
            },
        )),
    };
    let bytes = AnyValue {
        value: Some(any_value::Value::BytesValue(vec![0xde, 0xad])),
    };
    assert_eq!(AttributeValue::from(&kvlist), AttributeValue::Other);
    assert_eq!(render_value(&kvlist), "{k=1}");
    assert_eq!(AttributeValue::from(&bytes), AttributeValue::Other);
    assert_eq!(render_value(&bytes), "dead");
    assert_eq!(
        AttributeValue::from(&AnyValue { value: None }),
        AttributeValue::Other
    );
    assert_eq!(render_value(&AnyValue { value: None }), "");
}

#[test]
fn span_view_reads_raw_otlp_fields() {
    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
        parent_span_id: vec![0; 8],
        name: "raw".into(),
        kind: 42,
        start_time_unix_nano: 2_000,
        end_time_unix_nano: 1_000,
        status: Some(Status {
            code: OtlpStatusCode::Error as i32,
            message: String::new(),
        }),
        events: vec![span::Event {
            name: "e".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let view = span_view(&span);
    assert_eq!(view.trace_id, "ab".repeat(16));
    assert_eq!(view.span_id, "0102030405060708");
    assert_eq!(view.parent_span_id, "", "an all-zero parent is no parent");
    assert_eq!(view.kind, "UNSPECIFIED");
    assert_eq!(
        view.start,
        SystemTime::UNIX_EPOCH + Duration::from_micros(2)
    );
    assert_eq!(
        view.duration,
        Duration::ZERO,
        "an end before the start is no duration"
    );
    assert_eq!(view.error.as_deref(), Some(""));
    assert!(!view.ok);
    assert_eq!(view.events, vec![("e".to_owned(), vec![])]);

    let no_status = span_view(&Span::default());
    assert_eq!(no_status.error, None);
    assert!(!no_status.ok);
    assert_eq!(no_status.parent_span_id, "");
}

/// The OTLP/JSON trace example of the specification (open-telemetry/opentelemetry-proto,
/// `examples/trace.json`), as published: upper-case hex ids, a 64-bit time as a string, an
/// integer span kind.
const SPEC_TRACE_JSON: &str = include_str!("trace.json");

#[tokio::test]
async fn the_specifications_otlp_json_example_is_decoded_and_answered_in_json() {
    let collector = start().await;
    let (status, body) = raw_request(
        &collector,
        "POST",
        TRACES_PATH,
        &[("Content-Type", "application/json")],
        SPEC_TRACE_JSON.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
    assert!(answer.is_object(), "{answer}");
    let spans = collector.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.view.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.view.span_id, "eee19b7ec3c1b174");
    assert_eq!(span.view.parent_span_id, "eee19b7ec3c1b173");
    assert_eq!(span.view.kind, "SERVER");
    assert_eq!(span.view.duration, Duration::from_secs(1));
    assert_eq!(span.scope, "my.library");
    assert_eq!(span.resource_attribute("service.name"), Some("my.service"));
    assert_eq!(
        span.attribute("my.span.attr"),
        Some(&AttributeValue::String("some value".into()))
    );
}

#[tokio::test]
async fn a_gzip_export_is_decompressed() {
    use std::io::Write as _;
    let collector = start().await;
    let request: ExportTraceServiceRequest =
        serde_json::from_str(SPEC_TRACE_JSON).expect("the example decodes");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&request.encode_to_vec()).unwrap();
    let body = gzip.finish().unwrap();
    let (status, text) = raw_request(
        &collector,
        "POST",
        TRACES_PATH,
        &[PROTOBUF_HEADER, ("Content-Encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let spans = collector.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].view.name, "I'm a server span");
    assert_eq!(spans[0].view.trace_id, "5b8efff798038103d269b633813fc60c");
}

#[tokio::test]
async fn a_sigv4_collector_refuses_a_tampered_body() {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let check = SigV4Check {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
        service: "xray".into(),
        region: "us-west-2".into(),
    };
    let collector = Collector::start_with_options(CollectorOptions {
        sigv4: Some(check.clone()),
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let body = ExportTraceServiceRequest::default().encode_to_vec();
    let host = collector.addr().to_string();
    let identity = aws_credential_types::Credentials::new(
        &check.access_key_id,
        &check.secret_access_key,
        None,
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("xray")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let request = SignableRequest::new(
        "POST",
        format!("http://{host}{TRACES_PATH}"),
        [("host", host.as_str()), ("content-type", PROTOBUF)].into_iter(),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let (signature, _) = instructions.into_parts();
    let mut headers: Vec<(&str, &str)> = signature.iter().map(|h| (h.name(), h.value())).collect();
    headers.push(PROTOBUF_HEADER);
    let (status, text) = raw_request(&collector, "POST", TRACES_PATH, &headers, &body).await;
    assert_eq!(status, 200, "the signed body is accepted: {text}");
    let mut tampered = body.clone();
    tampered.extend_from_slice(&[0x0a, 0x00]);
    let (status, text) = raw_request(&collector, "POST", TRACES_PATH, &headers, &tampered).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("signature does not match"), "{text}");
}
