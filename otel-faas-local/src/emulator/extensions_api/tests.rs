use super::*;
use http::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    headers
}

#[test]
fn register_bodies() {
    let both = parse_register_body(br#"{"events":["INVOKE","SHUTDOWN"]}"#);
    assert_eq!(
        both,
        Ok(Subscriptions {
            invoke: true,
            shutdown: true
        })
    );
    for none in [
        &b"{}"[..],
        b"null",
        br#"{"events":null}"#,
        br#"{"events":[]}"#,
    ] {
        assert_eq!(parse_register_body(none), Ok(Subscriptions::default()));
    }
    for malformed in [
        &b""[..],
        b"not json",
        b"[]",
        br#"{"events":"INVOKE"}"#,
        br#"{"events":[1]}"#,
        br#"{"events":[],"configurationKeys":["k"]}"#,
    ] {
        let rejection = parse_register_body(malformed).expect_err("malformed");
        assert_eq!(rejection.error_type, "InvalidRequestFormat");
        assert_eq!(rejection.status, StatusCode::BAD_REQUEST);
    }
    let unknown = parse_register_body(br#"{"events":["INVOKE","invoke"]}"#)
        .expect_err("event names are case-sensitive");
    assert_eq!(unknown.error_type, "Extension.InvalidEventType");
}

#[test]
fn identifiers_and_names() {
    assert_eq!(
        extension_identifier(&headers(&[(
            "lambda-extension-identifier",
            "A1B2C3D4-5678-90AB-CDEF-000000000000"
        )])),
        Ok("a1b2c3d4-5678-90ab-cdef-000000000000".to_owned())
    );
    let missing = extension_identifier(&HeaderMap::new()).expect_err("missing");
    assert_eq!(missing.error_type, "Extension.MissingExtensionIdentifier");
    let invalid = extension_identifier(&headers(&[("lambda-extension-identifier", "abc")]))
        .expect_err("invalid");
    assert_eq!(invalid.error_type, "Extension.InvalidExtensionIdentifier");
    assert_eq!(invalid.status, StatusCode::FORBIDDEN);

    assert_eq!(
        extension_name(&headers(&[("lambda-extension-name", "telemetry")])),
        Ok("telemetry".to_owned())
    );
    let empty =
        extension_name(&headers(&[("lambda-extension-name", " ")])).expect_err("an empty name");
    assert_eq!(empty.error_type, "Extension.InvalidExtensionName");
    assert!(accepts_account_id(&headers(&[(
        "lambda-extension-accept-feature",
        "foo, accountId"
    )])));
    assert!(!accepts_account_id(&HeaderMap::new()));
}

#[test]
fn invoke_events_carry_tracing_only_when_traced() {
    let traced: Value = serde_json::from_slice(&invoke_event_body(
        "r",
        7,
        "arn",
        Some("Root=1-5759e988-bd862e3fe1be46a994272793"),
    ))
    .expect("JSON");
    assert_eq!(
        traced["tracing"],
        json!({
            "type": "X-Amzn-Trace-Id",
            "value": "Root=1-5759e988-bd862e3fe1be46a994272793",
        })
    );
    let untraced: Value =
        serde_json::from_slice(&invoke_event_body("r", 7, "arn", Some(""))).expect("JSON");
    assert_eq!(
        untraced,
        json!({
            "eventType": "INVOKE",
            "deadlineMs": 7,
            "requestId": "r",
            "invokedFunctionArn": "arn",
        })
    );
}

#[test]
fn an_invocation_is_done_when_every_subscriber_acknowledged_it() {
    let now = Instant::now();
    let mut extensions = Extensions::default();
    let invoke = Subscriptions {
        invoke: true,
        shutdown: false,
    };
    let first = extensions
        .register(
            "first".to_owned(),
            invoke,
            "00000000-0000-4000-8000-000000000001".to_owned(),
        )
        .expect("registered");
    let second = extensions
        .register(
            "second".to_owned(),
            Subscriptions::default(),
            "00000000-0000-4000-8000-000000000002".to_owned(),
        )
        .expect("registered");
    assert!(!extensions.ready_for_hand_out(), "nobody polled yet");
    extensions.acknowledge(&first, now).expect("known");
    extensions.acknowledge(&second, now).expect("known");
    assert!(extensions.ready_for_hand_out());

    extensions.start_invocation("r1", Bytes::from_static(b"{}"), now);
    assert!(extensions.registration_closed());
    assert!(!extensions.ready_for_hand_out());
    assert_eq!(extensions.done_at("r1"), None);
    assert!(extensions.take_event(&second).expect("known").is_none());
    assert!(extensions.take_event(&first).expect("known").is_some());
    let later = now + std::time::Duration::from_millis(5);
    extensions.acknowledge(&first, later).expect("known");
    assert_eq!(extensions.done_at("r1"), Some(later));
    assert!(extensions.ready_for_hand_out());
}
