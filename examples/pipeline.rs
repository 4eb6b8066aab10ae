//! One trace across two functions and a queue: an HTTP API that takes an order and sends it
//! to the `orders` SQS queue, and a consumer that reserves the stock for it in the
//! `reservations` DynamoDB table.
//!
//! `cargo run --example pipeline` runs both on the local runner ([`LocalPipeline`]), each as
//! its own process with the real Lambda runtime loop, with the queue played by an SQS double
//! that speaks the SDK's protocol and delivers the message as Lambda does (with the
//! `AWSTraceHeader` system attribute and the message attributes), and the table by a DynamoDB
//! double that speaks the SDK's JSON 1.0 protocol. It prints one connected trace:
//!
//! ```text
//! POST /orders                 SERVER    the API's invocation (API Gateway HTTP API event)
//! └─ send orders               PRODUCER  the SDK's SendMessage, traced by TraceInterceptor
//!    └─ ⇢ linked from process orders · trace …
//!       └─ orders-worker       SERVER    the consumer's invocation, a trace of its own
//!          └─ process orders   CONSUMER  linked to `send orders` through AWSTraceHeader
//!             └─ process orders CONSUMER one per message, with the handler's own spans
//!                ├─ DynamoDB.GetItem CLIENT  is the order reserved already? (TraceInterceptor)
//!                └─ DynamoDB.PutItem CLIENT  the reservation
//! ```
//!
//! The SDK clients are built by hand so the workspace needs no TLS stack: a plain-HTTP client
//! (`aws-smithy-http-client`), fixed local credentials, and the endpoints the pipeline passes
//! in `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_DYNAMODB`. Deployed, they would come from
//! `aws_config::load_from_env()` with the same `.interceptor(TraceInterceptor::new())`.

use std::sync::LazyLock;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::MessageAttributeValue;
use otel_faas_local::LocalPipeline;
use otel_faas_runtime::aws_lambda_events::event::sqs::SqsMessageObj;
use otel_faas_runtime::lambda_http::{Body, Request, Response};
use otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor;
use otel_faas_runtime::{Error, traced_function};
use serde::{Deserialize, Serialize};

/// An order as the API takes it and the queue carries it.
#[derive(Debug, Deserialize, Serialize)]
pub struct Order {
    /// The order number.
    pub order: u32,
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// The SQS client, with the interceptor that traces sends and passes the trace on.
static SQS: LazyLock<aws_sdk_sqs::Client> = LazyLock::new(|| {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".to_owned());
    let mut config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(TraceInterceptor::new());
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_SQS") {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_sqs::Client::from_conf(config.build())
});

/// The DynamoDB client, with the same interceptor: every call is a CLIENT span.
static DYNAMODB: LazyLock<aws_sdk_dynamodb::Client> = LazyLock::new(|| {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".to_owned());
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(TraceInterceptor::new());
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
});

/// `POST /orders`: queues the order for the worker, with the caller's tenant as a message
/// attribute; answers `202` with the message id.
#[traced_function(trigger = "http")]
pub async fn api(request: Request) -> Result<Response<Body>, Error> {
    let order: Order = match serde_json::from_slice(request.body()) {
        Ok(order) => order,
        Err(error) => {
            return Ok(Response::builder()
                .status(400)
                .body(format!("{{\"error\":\"{error}\"}}").into())?);
        }
    };
    let tenant = request
        .headers()
        .get("x-tenant")
        .and_then(|t| t.to_str().ok())
        .unwrap_or("default");
    let sent = SQS
        .send_message()
        .queue_url(std::env::var("ORDERS_QUEUE_URL")?)
        .message_body(serde_json::to_string(&order)?)
        .message_attributes(
            "tenant",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(tenant)
                .build()?,
        )
        .send()
        .await?;
    let id = sent.message_id().unwrap_or_default();
    Ok(Response::builder()
        .status(202)
        .header("content-type", "application/json")
        .body(format!("{{\"order\":{},\"message\":\"{id}\"}}", order.order).into())?)
}

/// Reserves the stock for one order in the `reservations` table, once (a redelivered
/// message finds its reservation); the span of each message is `process orders`.
#[traced_function(trigger = "sqs", per_message)]
pub async fn worker(message: SqsMessageObj<Order>) -> Result<(), Error> {
    let tenant = message
        .message_attributes
        .get("tenant")
        .and_then(|t| t.string_value.as_deref())
        .unwrap_or("default")
        .to_owned();
    let order = &message.body;
    let table = std::env::var("RESERVATIONS_TABLE")?;
    let key = AttributeValue::N(order.order.to_string());
    let reserved = DYNAMODB
        .get_item()
        .table_name(&table)
        .key("order", key.clone())
        .consistent_read(true)
        .send()
        .await?;
    if reserved.item().is_some() {
        tracing::info!(order = order.order, "already reserved");
        return Ok(());
    }
    DYNAMODB
        .put_item()
        .table_name(&table)
        .item("order", key)
        .item("sku", AttributeValue::S(order.sku.clone()))
        .item("quantity", AttributeValue::N(order.quantity.to_string()))
        .item("tenant", AttributeValue::S(tenant))
        .send()
        .await?;
    tracing::info!(order = order.order, sku = %order.sku, quantity = order.quantity, "stock reserved");
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalPipeline::new()
        .region("eu-west-1")
        .function("orders-api", api)
        .function("orders-worker", worker)
        .queue("orders", "ORDERS_QUEUE_URL")
        .table("reservations", "order", "RESERVATIONS_TABLE")
        .event_source("orders", "orders-worker")
        .event_json(
            "orders-api",
            "API Gateway HTTP API: POST /orders",
            include_str!("events/apigw_http_post_order.json"),
        )
        .run()
}
