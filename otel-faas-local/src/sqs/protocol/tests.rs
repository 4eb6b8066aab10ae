use super::*;

fn request(value: Value) -> SendRequest {
    serde_json::from_value(value).expect("a send request")
}

#[test]
fn a_message_needs_a_body() {
    let error = request(json!({ "QueueUrl": "q" })).check().unwrap_err();
    assert_eq!(error.code, "MissingParameter");
}

#[test]
fn eleven_attributes_are_refused() {
    let attributes: serde_json::Map<String, Value> = (0..11)
        .map(|n| {
            (
                format!("a{n}"),
                json!({ "DataType": "String", "StringValue": "v" }),
            )
        })
        .collect();
    let error = request(json!({ "MessageBody": "b", "MessageAttributes": attributes }))
        .check()
        .unwrap_err();
    assert_eq!(error.code, "InvalidParameterValue");
    assert!(error.message.contains("[11]"), "{}", error.message);
}

#[test]
fn attributes_need_a_known_type_and_a_value() {
    for attribute in [
        json!({ "DataType": "Text", "StringValue": "v" }),
        json!({ "DataType": "String" }),
        json!({ "StringValue": "v" }),
        json!({ "DataType": "Binary", "BinaryValue": "not base64!" }),
    ] {
        let error = request(json!({ "MessageBody": "b", "MessageAttributes": { "a": attribute } }))
            .check()
            .unwrap_err();
        assert_eq!(error.code, "InvalidParameterValue", "{attribute}");
    }
}

#[test]
fn only_the_trace_header_is_a_system_attribute() {
    let header =
        json!({ "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793" });
    let checked = request(
        json!({ "MessageBody": "b", "MessageSystemAttributes": { "AWSTraceHeader": header } }),
    )
    .check()
    .expect("accepted");
    assert_eq!(checked.system_attributes.len(), 1);
    let error =
        request(json!({ "MessageBody": "b", "MessageSystemAttributes": { "Other": header } }))
            .check()
            .unwrap_err();
    assert_eq!(error.code, "InvalidParameterValue");
}

#[test]
fn batches_hold_one_to_ten_entries_with_distinct_ids() {
    let entry = |id: &str| request(json!({ "Id": id, "MessageBody": "b" }));
    assert_eq!(check_batch(&[]), Err(SqsError::empty_batch()));
    let eleven: Vec<_> = (0..11).map(|n| entry(&n.to_string())).collect();
    assert_eq!(check_batch(&eleven), Err(SqsError::too_many_entries(11)));
    assert_eq!(
        check_batch(&[entry("a"), entry("a")]),
        Err(SqsError::ids_not_distinct())
    );
    assert_eq!(check_batch(&[entry("a"), entry("b")]), Ok(()));
}
