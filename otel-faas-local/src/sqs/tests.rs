//! The double over plain HTTP, as the wire carries the SDK's requests; the SDK itself talks
//! to it in the root package's `tests/pipeline.rs`.

use aws_lambda_events::event::sqs::SqsEvent;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// An answer: status, headers (lower-case names) and JSON body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Posts `body` with `X-Amz-Target: target` as the SDK does.
async fn call(sqs: &SqsQueues, target: &str, body: &Value) -> Answer {
    post(
        sqs,
        &[("X-Amz-Target", target), ("Content-Type", JSON_1_0)],
        &body.to_string(),
    )
    .await
}

async fn post(sqs: &SqsQueues, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut stream = TcpStream::connect(sqs.shared.addr).await.expect("connect");
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        sqs.shared.addr,
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: serde_json::from_str(body).expect("a JSON body"),
    }
}

async fn start() -> (SqsQueues, String) {
    let sqs = SqsQueues::start("eu-west-1", "123456789012")
        .await
        .expect("start");
    let url = sqs.create_queue("orders");
    (sqs, url)
}

#[tokio::test]
async fn send_message_answers_as_sqs_and_delivers_what_lambda_gets() {
    let (sqs, url) = start().await;
    let answer = call(
        &sqs,
        "AmazonSQS.SendMessage",
        &json!({
            "QueueUrl": url,
            "MessageBody": "Test message.",
            "MessageAttributes": {
                "tenant": { "DataType": "String", "StringValue": "acme" },
                "blob": { "DataType": "Binary", "BinaryValue": "AQID" },
            },
            "MessageSystemAttributes": {
                "AWSTraceHeader": { "DataType": "String", "StringValue": TRACE_HEADER },
            },
        }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some(JSON_1_0));
    assert!(answer.header("x-amzn-requestid").is_some());
    let sent = &sqs.sent("orders")[0];
    assert_eq!(answer.body["MessageId"], sent.message_id.as_str());
    assert_eq!(
        answer.body["MD5OfMessageBody"],
        "e4e68fb7bd0e697a0ae8f1bb342846b3"
    );
    assert_eq!(
        answer.body["MD5OfMessageAttributes"],
        sent.md5_of_message_attributes()
            .expect("attributes")
            .as_str()
    );
    assert!(answer.body["MD5OfMessageSystemAttributes"].is_string());
    assert_eq!(sqs.waiting("orders"), 1);

    let event = sqs.receive("orders", 10).expect("a batch");
    assert_eq!(sqs.waiting("orders"), 0);
    assert_eq!(sqs.receive("orders", 10), None);
    let record = &event["Records"][0];
    assert_eq!(record["messageId"], sent.message_id.as_str());
    assert!(
        record["receiptHandle"]
            .as_str()
            .is_some_and(|h| h.starts_with("AQEB"))
    );
    assert_eq!(record["body"], "Test message.");
    assert_eq!(record["attributes"]["AWSTraceHeader"], TRACE_HEADER);
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(record["attributes"]["SenderId"], "AIDAIENQZJOLO23YVJ4VO");
    for timestamp in ["SentTimestamp", "ApproximateFirstReceiveTimestamp"] {
        let millis: u64 = record["attributes"][timestamp]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect(timestamp);
        assert!(millis > 1_700_000_000_000, "{timestamp}: {millis}");
    }
    assert_eq!(
        record["messageAttributes"]["tenant"],
        json!({ "stringValue": "acme", "stringListValues": [], "binaryListValues": [], "dataType": "String" })
    );
    assert_eq!(
        record["messageAttributes"]["blob"],
        json!({ "binaryValue": "AQID", "stringListValues": [], "binaryListValues": [], "dataType": "Binary" })
    );
    assert_eq!(record["md5OfBody"], "e4e68fb7bd0e697a0ae8f1bb342846b3");
    assert_eq!(
        record["md5OfMessageAttributes"],
        answer.body["MD5OfMessageAttributes"]
    );
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(
        record["eventSourceARN"],
        "arn:aws:sqs:eu-west-1:123456789012:orders"
    );
    assert_eq!(record["awsRegion"], "eu-west-1");

    // What the `sqs` trigger deserializes.
    let typed: SqsEvent = serde_json::from_value(event).expect("an SqsEvent");
    let message = &typed.records[0];
    assert_eq!(
        message.attributes.get("AWSTraceHeader").map(String::as_str),
        Some(TRACE_HEADER)
    );
    assert_eq!(
        message.message_attributes["tenant"].string_value.as_deref(),
        Some("acme")
    );
    assert_eq!(
        message.message_attributes["blob"]
            .binary_value
            .as_ref()
            .map(|b| b.0.clone()),
        Some(vec![1, 2, 3])
    );
}

#[tokio::test]
async fn the_delivered_shape_matches_the_sample_event() {
    let (sqs, url) = start().await;
    call(
        &sqs,
        "AmazonSQS.SendMessage",
        &json!({ "QueueUrl": url, "MessageBody": "b", "MessageSystemAttributes": {
            "AWSTraceHeader": { "DataType": "String", "StringValue": TRACE_HEADER } } }),
    )
    .await;
    let event = sqs.receive("orders", 10).expect("a batch");
    let sample: Value =
        serde_json::from_str(include_str!("../../../examples/events/sqs_batch.json"))
            .expect("the sample");
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    let (ours, theirs) = (&event["Records"][0], &sample["Records"][0]);
    assert_eq!(keys(ours), keys(theirs));
    assert_eq!(keys(&ours["attributes"]), keys(&theirs["attributes"]));
}

#[tokio::test]
async fn a_batch_answers_successful_and_failed_entries() {
    let (sqs, url) = start().await;
    let answer = call(
        &sqs,
        "AmazonSQS.SendMessageBatch",
        &json!({ "QueueUrl": url, "Entries": [
            { "Id": "a", "MessageBody": "first" },
            { "Id": "b" },
            { "Id": "c", "MessageBody": "third" },
        ] }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let successful = answer.body["Successful"].as_array().expect("Successful");
    let ids: Vec<&str> = successful.iter().filter_map(|s| s["Id"].as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert!(successful.iter().all(|s| s["MessageId"].is_string()));
    assert_eq!(
        answer.body["Failed"],
        json!([{ "Id": "b", "SenderFault": true, "Code": "MissingParameter",
                 "Message": "The request must contain the parameter MessageBody." }])
    );
    let event = sqs.receive("orders", 1).expect("one");
    assert_eq!(event["Records"][0]["body"], "first");
    assert_eq!(event["Records"].as_array().map(Vec::len), Some(1));
    assert_eq!(sqs.waiting("orders"), 1);
}

#[tokio::test]
async fn errors_have_the_sqs_shape() {
    let (sqs, url) = start().await;
    let missing = call(
        &sqs,
        "AmazonSQS.SendMessage",
        &json!({ "QueueUrl": url.replace("orders", "nope"), "MessageBody": "b" }),
    )
    .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert_eq!(
        missing.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );

    let unknown = call(&sqs, "AmazonSQS.PurgeQueue", &json!({ "QueueUrl": url })).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.body["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );

    let garbled = post(
        &sqs,
        &[
            ("X-Amz-Target", "AmazonSQS.SendMessage"),
            ("Content-Type", JSON_1_0),
        ],
        "{not json",
    )
    .await;
    assert_eq!(
        garbled.body["__type"],
        "com.amazon.coral.service#SerializationException"
    );

    let empty = call(
        &sqs,
        "AmazonSQS.SendMessageBatch",
        &json!({ "QueueUrl": url, "Entries": [] }),
    )
    .await;
    assert_eq!(empty.body["__type"], "com.amazonaws.sqs#EmptyBatchRequest");
    assert!(sqs.sent("orders").is_empty());
}
