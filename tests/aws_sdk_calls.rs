//! Every AWS SDK call a CLIENT span: what `TraceInterceptor` records for DynamoDB, S3, SQS
//! receives and deletes, Secrets Manager and any other operation, under the handler's
//! invocation span, with the AWS SDK semantic conventions.
//!
//! The SDK clients are real; the network is the SDK's own replaying HTTP client
//! (`aws_smithy_http_client::test_util::StaticReplayClient`), answering with each service's
//! wire protocol: DynamoDB and Secrets Manager AWS JSON 1.0/1.1 bodies, S3 REST-XML errors
//! and headers, SQS's JSON protocol with its `x-amzn-query-error` header (the SQS crate in
//! Cargo.lock speaks `awsJson1_0`, `X-Amz-Target: AmazonSQS.*`).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;
use otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::json;

type Script = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

tokio::task_local! {
    static SCRIPT: Mutex<Option<Script>>;
}

/// A handler that runs the calls the test gives it.
#[traced_function(trigger = "other")]
async fn handler(_event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
    let script = SCRIPT.with(|s| s.lock().unwrap().take()).expect("a script");
    script.await
}

/// Runs `calls` inside one invocation of `handler`; returns whether the handler succeeded.
async fn invoke(
    kit: &TestKit,
    calls: impl Future<Output = Result<(), Error>> + Send + 'static,
) -> bool {
    SCRIPT
        .scope(
            Mutex::new(Some(Box::pin(calls))),
            kit.invoke(handler, json!({})),
        )
        .await
        .is_ok()
}

/// The SDK's replaying HTTP client, answering `responses` in turn.
fn replay(responses: Vec<http::Response<SdkBody>>) -> StaticReplayClient {
    StaticReplayClient::new(
        responses
            .into_iter()
            .map(|response| {
                let request = http::Request::builder()
                    .uri("https://replayed.invalid/")
                    .body(SdkBody::empty())
                    .unwrap();
                ReplayEvent::new(request, response)
            })
            .collect(),
    )
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<SdkBody> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(SdkBody::from(body.to_owned())).unwrap()
}

/// An AWS JSON answer with a request id.
fn json_answer(status: u16, body: serde_json::Value) -> http::Response<SdkBody> {
    answer(status, &[("x-amzn-RequestId", "req-1")], &body.to_string())
}

macro_rules! client {
    ($sdk:ident, $http:expr) => {{
        // Retries a millisecond apart, so the throttled call's retry takes no time.
        let retry = $sdk::config::retry::RetryConfig::standard()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(1));
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("eu-west-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .retry_config(retry)
            .http_client($http)
            .interceptor(TraceInterceptor::new())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// The string items of an array attribute.
fn strings(span: &SpanData, key: &str) -> Vec<String> {
    match span.attribute(key) {
        Some(Value::Array(Array::String(items))) => items.iter().map(|s| s.to_string()).collect(),
        other => panic!("{key} is {other:?}"),
    }
}

/// Asserts what every AWS SDK span carries.
fn assert_sdk_span(kit: &TestKit, name: &str, service: &str, operation: &str) -> SpanData {
    let spans = kit.spans();
    let span = spans.named(name).clone();
    assert_eq!(span.span_kind, SpanKind::Client, "{name}");
    assert_eq!(
        spans
            .parent_of(&span)
            .map(|p| p.name.to_string())
            .as_deref(),
        Some("test-function"),
        "{name} is a child of the invocation"
    );
    assert_eq!(span.attr("rpc.system").as_deref(), Some("aws-api"));
    assert_eq!(span.attr("rpc.service").as_deref(), Some(service));
    assert_eq!(span.attr("rpc.method").as_deref(), Some(operation));
    assert_eq!(span.attr("cloud.region").as_deref(), Some("eu-west-1"));
    span
}

// ---------------------------------------------------------------------------------------
// DynamoDB

#[tokio::test]
async fn dynamodb_get_put_and_query_are_client_spans_with_the_dynamodb_attributes() {
    let kit = TestKit::new();
    let http = replay(vec![
        json_answer(
            200,
            json!({ "Item": { "sku": { "S": "A-1" }, "stock": { "N": "5" } },
                    "ConsumedCapacity": { "TableName": "stock", "CapacityUnits": 0.5 } }),
        ),
        json_answer(
            200,
            json!({ "ConsumedCapacity": { "TableName": "stock", "CapacityUnits": 1.0,
                    "Table": { "CapacityUnits": 1.0 } } }),
        ),
        json_answer(
            200,
            json!({ "Count": 1, "ScannedCount": 3, "Items": [{ "sku": { "S": "A-1" } }] }),
        ),
    ]);
    let dynamodb = client!(aws_sdk_dynamodb, http.clone());
    let ok = invoke(&kit, async move {
        use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, Select};
        dynamodb
            .get_item()
            .table_name("stock")
            .key("sku", AttributeValue::S("A-1".into()))
            .consistent_read(true)
            .projection_expression("sku, stock")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        dynamodb
            .put_item()
            .table_name("stock")
            .item("sku", AttributeValue::S("A-1".into()))
            .item("stock", AttributeValue::N("4".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await?;
        dynamodb
            .query()
            .table_name("stock")
            .index_name("by-warehouse")
            .key_condition_expression("warehouse = :w")
            .expression_attribute_values(":w", AttributeValue::S("berlin".into()))
            .limit(10)
            .scan_index_forward(false)
            .select(Select::AllProjectedAttributes)
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(ok);

    // The wire: DynamoDB's AWS JSON 1.0, one target per operation.
    let targets: Vec<_> = http
        .actual_requests()
        .map(|r| {
            r.headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        targets,
        [
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.PutItem",
            "DynamoDB_20120810.Query"
        ]
    );

    let get = assert_sdk_span(&kit, "DynamoDB.GetItem", "DynamoDB", "GetItem");
    assert_eq!(get.attr("db.system.name").as_deref(), Some("aws.dynamodb"));
    assert_eq!(strings(&get, "aws.dynamodb.table_names"), ["stock"]);
    assert_eq!(
        get.attr("aws.dynamodb.consistent_read").as_deref(),
        Some("true")
    );
    assert_eq!(
        get.attr("aws.dynamodb.projection").as_deref(),
        Some("sku, stock")
    );
    let consumed = strings(&get, "aws.dynamodb.consumed_capacity");
    let consumed: serde_json::Value = serde_json::from_str(&consumed[0]).unwrap();
    assert_eq!(
        consumed,
        json!({ "TableName": "stock", "CapacityUnits": 0.5 })
    );
    assert_eq!(
        get.attr("server.address").as_deref(),
        Some("dynamodb.eu-west-1.amazonaws.com")
    );
    assert_eq!(get.attr("server.port").as_deref(), Some("443"));
    assert_eq!(
        get.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(get.attr("aws.request_id").as_deref(), Some("req-1"));
    assert_eq!(get.status, Status::Unset);
    assert_eq!(get.attr("http.request.resend_count"), None, "no retry");

    let put = assert_sdk_span(&kit, "DynamoDB.PutItem", "DynamoDB", "PutItem");
    assert_eq!(strings(&put, "aws.dynamodb.table_names"), ["stock"]);
    let consumed: serde_json::Value =
        serde_json::from_str(&strings(&put, "aws.dynamodb.consumed_capacity")[0]).unwrap();
    assert_eq!(consumed["Table"]["CapacityUnits"], 1.0);
    assert_eq!(put.attr("aws.dynamodb.consistent_read"), None);

    let query = assert_sdk_span(&kit, "DynamoDB.Query", "DynamoDB", "Query");
    assert_eq!(
        query.attr("aws.dynamodb.index_name").as_deref(),
        Some("by-warehouse")
    );
    assert_eq!(query.attr("aws.dynamodb.limit").as_deref(), Some("10"));
    assert_eq!(
        query.attr("aws.dynamodb.scan_forward").as_deref(),
        Some("false")
    );
    assert_eq!(
        query.attr("aws.dynamodb.select").as_deref(),
        Some("ALL_PROJECTED_ATTRIBUTES")
    );
    // The key condition's values are data: never recorded.
    assert!(
        !query
            .attributes
            .iter()
            .any(|kv| kv.value.to_string().contains("berlin"))
    );
}

#[tokio::test]
async fn a_dynamodb_error_is_recorded_with_the_aws_error_code() {
    let kit = TestKit::new();
    let http = replay(vec![json_answer(
        400,
        json!({ "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                "message": "Requested resource not found" }),
    )]);
    let dynamodb = client!(aws_sdk_dynamodb, http);
    let ok = invoke(&kit, async move {
        dynamodb
            .get_item()
            .table_name("missing")
            .key(
                "sku",
                aws_sdk_dynamodb::types::AttributeValue::S("A-1".into()),
            )
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    let span = assert_sdk_span(&kit, "DynamoDB.GetItem", "DynamoDB", "GetItem");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        span.attr("error.type").as_deref(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        span.attr("http.response.status_code").as_deref(),
        Some("400")
    );
    assert_eq!(span.attr("aws.request_id").as_deref(), Some("req-1"));
    assert_eq!(span.events_named("exception").len(), 1);
}

#[tokio::test]
async fn a_throttled_call_the_sdk_retries_is_one_span_with_its_resend_count() {
    let kit = TestKit::new();
    let throttled = json!({ "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                            "message": "Rate of requests exceeds the allowed throughput." });
    let http = replay(vec![
        json_answer(400, throttled.clone()),
        json_answer(400, throttled),
        json_answer(200, json!({ "Item": { "sku": { "S": "A-1" } } })),
    ]);
    let dynamodb = client!(aws_sdk_dynamodb, http.clone());
    let ok = invoke(&kit, async move {
        dynamodb
            .get_item()
            .table_name("stock")
            .key(
                "sku",
                aws_sdk_dynamodb::types::AttributeValue::S("A-1".into()),
            )
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(ok);
    assert_eq!(
        http.actual_requests().count(),
        3,
        "the SDK sent it three times"
    );
    assert_eq!(kit.spans().all_named("DynamoDB.GetItem").len(), 1);
    let span = assert_sdk_span(&kit, "DynamoDB.GetItem", "DynamoDB", "GetItem");
    assert_eq!(span.attr("http.request.resend_count").as_deref(), Some("2"));
    assert_eq!(
        span.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(span.status, Status::Unset, "the last attempt succeeded");
    assert_eq!(span.attr("error.type"), None);
}

// ---------------------------------------------------------------------------------------
// S3

fn s3_answer(status: u16, body: &str) -> http::Response<SdkBody> {
    answer(
        status,
        &[
            ("x-amz-request-id", "C9ER4AJX75574TDJ"),
            (
                "x-amz-id-2",
                "wzHcyEWfmOGDIE5QOhTAqFDoDWP3y8IUvpNINCwL9N4TEHbUw0/gZJ+VZTmCNCWR7fezEN3eCiQ=",
            ),
            ("etag", "\"5d41402abc4b2a76b9719d911017c592\""),
            (
                "content-type",
                if body.starts_with('<') {
                    "application/xml"
                } else {
                    "text/plain"
                },
            ),
        ],
        body,
    )
}

#[tokio::test]
async fn s3_put_get_and_upload_part_carry_bucket_key_upload_and_the_extended_request_id() {
    let kit = TestKit::new();
    let http = replay(vec![
        s3_answer(200, ""),
        s3_answer(200, "hello"),
        s3_answer(200, ""),
    ]);
    let s3 = client!(aws_sdk_s3, http.clone());
    let ok = invoke(&kit, async move {
        s3.put_object()
            .bucket("invoices")
            .key("2026/11/7.pdf")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"hello"))
            .send()
            .await?;
        let object = s3
            .get_object()
            .bucket("invoices")
            .key("2026/11/7.pdf")
            .send()
            .await?;
        assert_eq!(&object.body.collect().await?.into_bytes()[..], b"hello");
        s3.upload_part()
            .bucket("invoices")
            .key("archive.zip")
            .upload_id("dfRtDYWFbkRONycy.Yxwh66Yjlx.cph0gtNBtJ")
            .part_number(3)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"part"))
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(ok);
    let methods: Vec<_> = http
        .actual_requests()
        .map(|r| r.method().to_owned())
        .collect();
    assert_eq!(methods, ["PUT", "GET", "PUT"], "S3's REST protocol");

    for (name, operation) in [("S3.PutObject", "PutObject"), ("S3.GetObject", "GetObject")] {
        let span = assert_sdk_span(&kit, name, "S3", operation);
        assert_eq!(span.attr("aws.s3.bucket").as_deref(), Some("invoices"));
        assert_eq!(span.attr("aws.s3.key").as_deref(), Some("2026/11/7.pdf"));
        assert_eq!(
            span.attr("aws.request_id").as_deref(),
            Some("C9ER4AJX75574TDJ")
        );
        assert_eq!(
            span.attr("aws.extended_request_id").as_deref(),
            Some("wzHcyEWfmOGDIE5QOhTAqFDoDWP3y8IUvpNINCwL9N4TEHbUw0/gZJ+VZTmCNCWR7fezEN3eCiQ=")
        );
        assert_eq!(
            span.attr("server.address").as_deref(),
            Some("invoices.s3.eu-west-1.amazonaws.com")
        );
    }
    let part = assert_sdk_span(&kit, "S3.UploadPart", "S3", "UploadPart");
    assert_eq!(
        part.attr("aws.s3.upload_id").as_deref(),
        Some("dfRtDYWFbkRONycy.Yxwh66Yjlx.cph0gtNBtJ")
    );
    assert_eq!(part.attr("aws.s3.part_number").as_deref(), Some("3"));
}

#[tokio::test]
async fn an_s3_error_is_recorded_with_the_code_of_its_xml_body() {
    let kit = TestKit::new();
    let http = replay(vec![s3_answer(
        404,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>2026/11/8.pdf</Key><RequestId>C9ER4AJX75574TDJ</RequestId><HostId>wzHc</HostId></Error>",
    )]);
    let s3 = client!(aws_sdk_s3, http);
    let ok = invoke(&kit, async move {
        s3.get_object()
            .bucket("invoices")
            .key("2026/11/8.pdf")
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    let span = assert_sdk_span(&kit, "S3.GetObject", "S3", "GetObject");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(span.attr("error.type").as_deref(), Some("NoSuchKey"));
    assert_eq!(
        span.attr("http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(
        span.attr("aws.request_id").as_deref(),
        Some("C9ER4AJX75574TDJ")
    );
}

#[tokio::test]
async fn a_head_object_miss_has_no_body_and_is_recorded_with_the_sdks_not_found() {
    let kit = TestKit::new();
    // S3 answers a HEAD with no body: the code is the one the SDK gives the error.
    let http = replay(vec![s3_answer(404, "")]);
    let s3 = client!(aws_sdk_s3, http);
    let ok = invoke(&kit, async move {
        s3.head_object()
            .bucket("invoices")
            .key("2026/11/8.pdf")
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    let span = assert_sdk_span(&kit, "S3.HeadObject", "S3", "HeadObject");
    assert_eq!(span.attr("error.type").as_deref(), Some("NotFound"));
    assert_eq!(
        span.attr("http.response.status_code").as_deref(),
        Some("404")
    );
}

// ---------------------------------------------------------------------------------------
// Over real HTTP: the local DynamoDB double

#[tokio::test]
async fn over_loopback_the_span_names_the_endpoint_and_the_doubles_error() {
    let dynamodb = otel_faas_local::dynamodb::DynamoDbTables::start()
        .await
        .expect("the DynamoDB double");
    dynamodb.create_table("stock", "sku");
    let kit = TestKit::new();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .endpoint_url(dynamodb.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(TraceInterceptor::new())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let ok = invoke(&kit, async move {
        use aws_sdk_dynamodb::types::AttributeValue;
        client
            .put_item()
            .table_name("stock")
            .item("sku", AttributeValue::S("A-1".into()))
            .send()
            .await?;
        client
            .get_item()
            .table_name("no-such-table")
            .key("sku", AttributeValue::S("A-1".into()))
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    assert_eq!(dynamodb.items("stock").len(), 1);
    let put = assert_sdk_span(&kit, "DynamoDB.PutItem", "DynamoDB", "PutItem");
    let port = dynamodb.endpoint().rsplit(':').next().unwrap().to_owned();
    assert_eq!(put.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(put.attr("server.port"), Some(port));
    assert!(put.attr("aws.request_id").is_some_and(|id| id.len() == 36));
    let get = assert_sdk_span(&kit, "DynamoDB.GetItem", "DynamoDB", "GetItem");
    assert!(matches!(get.status, Status::Error { .. }));
    assert_eq!(
        get.attr("error.type").as_deref(),
        Some("ResourceNotFoundException")
    );
}

// ---------------------------------------------------------------------------------------
// SQS receive and delete

const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
const PRODUCER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[tokio::test]
async fn sqs_receive_links_to_each_producer_and_a_delete_batch_records_its_failed_entries() {
    let kit = TestKit::new();
    let http = replay(vec![
        json_answer(
            200,
            json!({ "Messages": [
                { "MessageId": "m-1", "ReceiptHandle": "r-1", "MD5OfBody": "x", "Body": "{}",
                  "Attributes": { "AWSTraceHeader": PRODUCER } },
                { "MessageId": "m-2", "ReceiptHandle": "r-2", "MD5OfBody": "x", "Body": "{}" },
            ] }),
        ),
        json_answer(
            200,
            json!({ "Successful": [{ "Id": "1" }],
                    "Failed": [{ "Id": "2", "Code": "ReceiptHandleIsInvalid", "SenderFault": true,
                                 "Message": "The receipt handle is not valid." }] }),
        ),
    ]);
    let sqs = client!(aws_sdk_sqs, http.clone());
    let ok = invoke(&kit, async move {
        use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
        let received = sqs
            .receive_message()
            .queue_url(QUEUE_URL)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
            .send()
            .await?;
        let mut delete = sqs.delete_message_batch().queue_url(QUEUE_URL);
        for (n, message) in received.messages().iter().enumerate() {
            delete = delete.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id((n + 1).to_string())
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .build()?,
            );
        }
        delete.send().await?;
        Ok(())
    })
    .await;
    assert!(ok);
    let targets: Vec<_> = http
        .actual_requests()
        .map(|r| {
            r.headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        targets,
        ["AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch"]
    );

    let receive = assert_sdk_span(&kit, "receive orders", "SQS", "ReceiveMessage");
    assert_eq!(receive.attr("messaging.system").as_deref(), Some("aws_sqs"));
    assert_eq!(
        receive.attr("messaging.operation.type").as_deref(),
        Some("receive")
    );
    assert_eq!(
        receive.attr("messaging.destination.name").as_deref(),
        Some("orders")
    );
    assert_eq!(
        receive.attr("aws.sqs.queue.url").as_deref(),
        Some(QUEUE_URL)
    );
    assert_eq!(
        receive.attr("messaging.batch.message_count").as_deref(),
        Some("2")
    );
    assert_eq!(
        receive.links.len(),
        1,
        "only the first message carries a trace"
    );
    let link = &receive.links[0];
    assert_eq!(
        link.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(link.span_context.span_id().to_string(), "53995c3f42cd8ad8");
    assert_eq!(
        link.attributes
            .iter()
            .find(|kv| kv.key.as_str() == "messaging.message.id")
            .map(|kv| kv.value.to_string())
            .as_deref(),
        Some("m-1")
    );

    let delete = assert_sdk_span(&kit, "delete orders", "SQS", "DeleteMessageBatch");
    assert_eq!(
        delete.attr("messaging.operation.type").as_deref(),
        Some("settle")
    );
    assert_eq!(
        delete.attr("messaging.batch.message_count").as_deref(),
        Some("2")
    );
    assert_eq!(
        delete.attr("error.type").as_deref(),
        Some("ReceiptHandleIsInvalid")
    );
    assert_eq!(
        common::error_of(&delete).as_deref(),
        Some("1 of 2 messages were not deleted")
    );
}

#[tokio::test]
async fn an_sqs_error_is_recorded_with_the_query_compatible_code_the_sdk_reads() {
    let kit = TestKit::new();
    let http = replay(vec![answer(
        400,
        &[
            ("x-amzn-RequestId", "req-1"),
            (
                "x-amzn-query-error",
                "AWS.SimpleQueueService.NonExistentQueue;Sender",
            ),
        ],
        r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
    )]);
    let sqs = client!(aws_sdk_sqs, http);
    let ok = invoke(&kit, async move {
        sqs.receive_message().queue_url(QUEUE_URL).send().await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    let span = kit.spans().named("receive orders").clone();
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        span.attr("error.type").as_deref(),
        Some("AWS.SimpleQueueService.NonExistentQueue")
    );
}

#[tokio::test]
async fn an_operation_no_module_knows_is_still_a_client_span_named_by_the_sdk() {
    let kit = TestKit::new();
    let http = replay(vec![json_answer(200, json!({ "QueueUrl": QUEUE_URL }))]);
    let sqs = client!(aws_sdk_sqs, http);
    let ok = invoke(&kit, async move {
        sqs.get_queue_url().queue_name("orders").send().await?;
        Ok(())
    })
    .await;
    assert!(ok);
    let span = assert_sdk_span(&kit, "SQS.GetQueueUrl", "SQS", "GetQueueUrl");
    assert_eq!(
        span.attr("server.address").as_deref(),
        Some("sqs.eu-west-1.amazonaws.com")
    );
    assert_eq!(span.attr("aws.request_id").as_deref(), Some("req-1"));
    assert_eq!(span.attr("messaging.system"), None);
}

// ---------------------------------------------------------------------------------------
// Secrets Manager

const SECRET: &str = "pa55w0rd-hunter2-do-not-export";
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";

/// Whether `text` appears anywhere in what the spans export.
fn exported_anywhere(spans: &[SpanData], text: &str) -> bool {
    spans.iter().any(|span| {
        span.name.contains(text)
            || span
                .attributes
                .iter()
                .any(|kv| kv.value.to_string().contains(text))
            || span.events.iter().any(|e| {
                e.name.contains(text)
                    || e.attributes
                        .iter()
                        .any(|kv| kv.value.to_string().contains(text))
            })
            || span.links.iter().any(|l| {
                l.attributes
                    .iter()
                    .any(|kv| kv.value.to_string().contains(text))
            })
            || common::error_of(span).is_some_and(|d| d.contains(text))
    })
}

#[tokio::test]
async fn get_secret_value_records_the_secrets_arn_and_never_its_value() {
    let kit = TestKit::new();
    let secret = |status| {
        json_answer(
            status,
            json!({ "ARN": SECRET_ARN, "Name": "prod/db", "SecretString": SECRET,
                    "VersionId": "v1", "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9 }),
        )
    };
    let http = replay(vec![secret(200), secret(200)]);
    let secrets = client!(aws_sdk_secretsmanager, http.clone());
    let ok = invoke(&kit, async move {
        let by_name = secrets
            .get_secret_value()
            .secret_id("prod/db")
            .send()
            .await?;
        assert_eq!(
            by_name.secret_string(),
            Some(SECRET),
            "the handler gets its secret"
        );
        secrets
            .get_secret_value()
            .secret_id(SECRET_ARN)
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(ok);
    assert_eq!(
        http.actual_requests()
            .map(|r| r
                .headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned())
            .collect::<Vec<_>>(),
        [
            "secretsmanager.GetSecretValue",
            "secretsmanager.GetSecretValue"
        ]
    );
    let spans = kit.spans();
    let calls = spans.all_named("SecretsManager.GetSecretValue");
    assert_eq!(calls.len(), 2);
    for call in calls {
        assert_eq!(call.attr("rpc.service").as_deref(), Some("SecretsManager"));
        let arns: Vec<_> = call
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "aws.secretsmanager.secret.arn")
            .map(|kv| kv.value.to_string())
            .collect();
        assert_eq!(arns, [SECRET_ARN], "once, from the answer or from the call");
    }
    let all: Vec<SpanData> = spans
        .names()
        .iter()
        .flat_map(|n| spans.all_named(n))
        .cloned()
        .collect();
    assert!(
        !exported_anywhere(&all, SECRET),
        "the secret's value is never exported"
    );
}

#[tokio::test]
async fn a_secrets_manager_error_is_recorded_and_names_no_value() {
    let kit = TestKit::new();
    let http = replay(vec![json_answer(
        400,
        json!({ "__type": "ResourceNotFoundException",
                "Message": "Secrets Manager can't find the specified secret." }),
    )]);
    let secrets = client!(aws_sdk_secretsmanager, http);
    let ok = invoke(&kit, async move {
        secrets
            .put_secret_value()
            .secret_id("prod/db")
            .secret_string(SECRET)
            .send()
            .await?;
        Ok(())
    })
    .await;
    assert!(!ok);
    let spans = kit.spans();
    let span = spans.named("SecretsManager.PutSecretValue");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        span.attr("error.type").as_deref(),
        Some("ResourceNotFoundException")
    );
    assert!(!exported_anywhere(std::slice::from_ref(span), SECRET));
}
