//! Amazon DynamoDB on 127.0.0.1: tables an AWS SDK client reads and writes items in.
//!
//! The double speaks DynamoDB's wire protocol as the SDK for Rust sends it (the
//! `aws-sdk-dynamodb` crate's generated `operation/get_item.rs` and `put_item.rs`, and its
//! `json_errors.rs` for the error shape): AWS JSON 1.0, `POST /` with
//! `X-Amz-Target: DynamoDB_20120810.{Operation}` and `application/x-amz-json-1.0` bodies,
//! answered with `x-amzn-RequestId`. It serves `GetItem` (the item under the request's
//! `Key`, or `{}` when there is none), `PutItem` and `DeleteItem` on tables keyed by one
//! partition key, and answers as the DynamoDB API reference's "Common Errors" and the
//! operations' pages say: `ResourceNotFoundException` for a table that does not exist,
//! `ValidationException` for a key that does not match the schema,
//! `SerializationException` for a body that is not JSON, `UnknownOperationException`
//! otherwise — each a `400` with `{"__type": "com.amazonaws.dynamodb.v20120810#…",
//! "message"}`. Signatures, conditions, expressions and capacity are not modelled.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use otel_faas_local::dynamodb::DynamoDbTables;
//!
//! let dynamodb = DynamoDbTables::start().await?;
//! dynamodb.create_table("reservations", "order");
//! // … an SDK client with `.endpoint_url(dynamodb.endpoint())` reads and writes items …
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::emulator::fresh_request_id;
use crate::server::{self, HttpResponse};

/// The content type of AWS JSON 1.0.
const JSON_1_0: &str = "application/x-amz-json-1.0";

/// What the operation names start with in `X-Amz-Target`.
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// The namespace DynamoDB's error types are written in.
const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";

/// Largest request body read (an item is at most 400 KB).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// DynamoDB tables on 127.0.0.1; see the [module](self).
///
/// Clones share the tables. The server stops on [`DynamoDbTables::shutdown`] or when the
/// last clone is dropped.
#[derive(Clone)]
pub struct DynamoDbTables {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

impl fmt::Debug for DynamoDbTables {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DynamoDbTables")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl DynamoDbTables {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start() -> std::io::Result<DynamoDbTables> {
        let (listener, addr) = server::bind_loopback().await?;
        let shared = Arc::new(Shared {
            addr,
            tables: Mutex::new(BTreeMap::new()),
            shutdown: watch::Sender::new(false),
        });
        let handler = Arc::clone(&shared);
        server::serve(
            listener,
            shared.shutdown.subscribe(),
            "DynamoDB double",
            move |request| handle_request(Arc::clone(&handler), request),
        );
        Ok(DynamoDbTables {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// The endpoint for an SDK client's `endpoint_url` (or `AWS_ENDPOINT_URL_DYNAMODB`):
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Creates the table `name`, whose items are keyed by the attribute `partition_key`, if
    /// it does not exist.
    pub fn create_table(&self, name: &str, partition_key: &str) {
        self.shared
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| Table {
                partition_key: partition_key.to_owned(),
                items: BTreeMap::new(),
            });
    }

    /// The items of table `name`, in the wire form (`{"attribute": {"S": "…"}}`).
    pub fn items(&self, name: &str) -> Vec<Value> {
        self.shared
            .lock()
            .get(name)
            .map(|t| t.items.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the server.
    pub fn shutdown(&self) {
        self.shared.stop();
    }
}

struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

struct Table {
    partition_key: String,
    /// Items by their partition key value's JSON.
    items: BTreeMap<String, Value>,
}

struct Shared {
    addr: SocketAddr,
    tables: Mutex<BTreeMap<String, Table>>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Table>> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }
}

/// A DynamoDB error: its type (without the namespace) and message.
struct DynamoDbError {
    error_type: &'static str,
    message: String,
}

impl DynamoDbError {
    fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        DynamoDbError {
            error_type,
            message: message.into(),
        }
    }

    fn no_table() -> Self {
        DynamoDbError::new("ResourceNotFoundException", "Requested resource not found")
    }

    fn bad_key() -> Self {
        DynamoDbError::new(
            "ValidationException",
            "The provided key element does not match the schema",
        )
    }
}

async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let request_id = fresh_request_id();
    let answer = match serve(&shared, request).await {
        Ok(body) => json_response(StatusCode::OK, &body, &request_id),
        Err(error) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({
                "__type": format!("{ERROR_NAMESPACE}{}", error.error_type),
                "message": error.message,
            }),
            &request_id,
        ),
    };
    Ok(answer)
}

async fn serve(shared: &Shared, request: Request<Incoming>) -> Result<Value, DynamoDbError> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let unknown = || DynamoDbError::new("UnknownOperationException", "");
    let json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with(JSON_1_0));
    if request.method() != Method::POST || !json {
        return Err(unknown());
    }
    let body = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|_| DynamoDbError::new("SerializationException", "the body could not be read"))?;
    let body: Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
        DynamoDbError::new("SerializationException", "the body is not a JSON object")
    })?;
    let operation = target.strip_prefix(TARGET_PREFIX).ok_or_else(unknown)?;
    let mut tables = shared.lock();
    let table = body
        .get("TableName")
        .and_then(Value::as_str)
        .and_then(|name| tables.get_mut(name))
        .ok_or_else(DynamoDbError::no_table)?;
    match operation {
        "GetItem" => {
            let key = key_of(table, body.get("Key"))?;
            Ok(match table.items.get(&key) {
                Some(item) => json!({ "Item": item }),
                None => json!({}),
            })
        }
        "PutItem" => {
            let item = body.get("Item").filter(|i| i.is_object()).ok_or_else(|| {
                DynamoDbError::new("ValidationException", "the request has no Item")
            })?;
            let key = key_of(table, Some(item))?;
            table.items.insert(key, item.clone());
            Ok(json!({}))
        }
        "DeleteItem" => {
            let key = key_of(table, body.get("Key"))?;
            table.items.remove(&key);
            Ok(json!({}))
        }
        _ => Err(unknown()),
    }
}

/// The partition key value of an item or a key, as the JSON that stores it.
fn key_of(table: &Table, item: Option<&Value>) -> Result<String, DynamoDbError> {
    let value = item
        .and_then(|i| i.get(&table.partition_key))
        .filter(|v| v.is_object())
        .ok_or_else(DynamoDbError::bad_key)?;
    Ok(value.to_string())
}

fn json_response(status: StatusCode, body: &Value, request_id: &str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}
