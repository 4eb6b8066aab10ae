//! Amazon SQS on 127.0.0.1: queues an AWS SDK client sends to, and the batches the Lambda
//! event source mapping would deliver from them.
//!
//! The double speaks the JSON protocol the SDKs use (`POST /`, `X-Amz-Target:
//! AmazonSQS.SendMessage` or `AmazonSQS.SendMessageBatch`, `application/x-amz-json-1.0`),
//! checks a message as SQS does (a body, at most ten attributes of a known type, 1 MiB, only
//! the `AWSTraceHeader` system attribute, one to ten batch entries with distinct ids), and
//! answers as SQS does: the message id and the MD5 digests of the body, the attributes and
//! the system attributes; a batch's `Successful` and `Failed` entries; errors as
//! `{"__type", "message"}` with the `x-amzn-query-error` code. Other operations are answered
//! `UnknownOperationException`; signatures are not checked.
//!
//! [`SqsQueues::receive`] takes the waiting messages off a queue as the event source mapping
//! does and returns them as the event Lambda hands the function: records with `messageId`,
//! `receiptHandle`, `body`, `attributes` (with `AWSTraceHeader` when the message was sent
//! with one), `messageAttributes`, the MD5 digests, `eventSource`, `eventSourceARN` and
//! `awsRegion`. A delivered message is gone (as after a successful invocation): there is no
//! visibility timeout and no redelivery.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use otel_faas_local::sqs::SqsQueues;
//!
//! let sqs = SqsQueues::start("eu-west-1", "123456789012").await?;
//! let url = sqs.create_queue("orders"); // http://127.0.0.1:PORT/123456789012/orders
//! // … an SDK client with `.endpoint_url(sqs.endpoint())` sends to `url` …
//! if let Some(event) = sqs.receive("orders", 10) {
//!     // `event` is the JSON of an `SqsEvent` for the consumer function.
//! }
//! # Ok(()) }
//! ```

mod message;
mod protocol;

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use message::{MessageAttribute, QueuedMessage};

use crate::emulator::fresh_request_id;
use crate::server::{self, HttpResponse};
use protocol::{JSON_1_0, SendBatchRequest, SendRequest, SqsError, TARGET_PREFIX, json_response};

/// Largest request body read (ten messages of 1 MiB, and room for the JSON around them).
const MAX_REQUEST_BYTES: usize = 12 * 1024 * 1024;

/// Amazon SQS queues on 127.0.0.1; see the [module](self).
///
/// Clones share the queues. The server stops on [`SqsQueues::shutdown`] or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct SqsQueues {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

impl fmt::Debug for SqsQueues {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SqsQueues")
            .field("addr", &self.shared.addr)
            .field("region", &self.shared.region)
            .field("account_id", &self.shared.account_id)
            .finish_non_exhaustive()
    }
}

impl SqsQueues {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current tokio runtime; queue
    /// ARNs and the delivered events name `region` and `account_id`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(region: &str, account_id: &str) -> std::io::Result<SqsQueues> {
        let (listener, addr) = server::bind_loopback().await?;
        let shared = Arc::new(Shared {
            addr,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            queues: Mutex::new(BTreeMap::new()),
            shutdown: watch::Sender::new(false),
        });
        let handler = Arc::clone(&shared);
        server::serve(
            listener,
            shared.shutdown.subscribe(),
            "SQS double",
            move |request| handle_request(Arc::clone(&handler), request),
        );
        Ok(SqsQueues {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// The endpoint for an SDK client's `endpoint_url` (or `AWS_ENDPOINT_URL_SQS`):
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Creates the queue `name` (standard, not FIFO) if it does not exist; returns its URL.
    pub fn create_queue(&self, name: &str) -> String {
        self.shared.lock().entry(name.to_owned()).or_default();
        self.queue_url(name)
    }

    /// The URL of queue `name`: `http://127.0.0.1:PORT/{account}/{name}`.
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.endpoint(), self.shared.account_id)
    }

    /// The ARN of queue `name`: `arn:aws:sqs:{region}:{account}:{name}`.
    pub fn queue_arn(&self, name: &str) -> String {
        self.shared.arn(name)
    }

    /// Every message sent to queue `name` so far, delivered or not, in the order received.
    pub fn sent(&self, name: &str) -> Vec<QueuedMessage> {
        self.shared
            .lock()
            .get(name)
            .map(|q| q.sent.clone())
            .unwrap_or_default()
    }

    /// How many messages wait in queue `name`.
    pub fn waiting(&self, name: &str) -> usize {
        self.shared.lock().get(name).map_or(0, |q| q.waiting.len())
    }

    /// Takes up to `max` waiting messages off queue `name` and returns them as the SQS event
    /// Lambda delivers (the JSON of an `SqsEvent`); `None` when none wait.
    pub fn receive(&self, name: &str, max: usize) -> Option<Value> {
        let now = SystemTime::now();
        let mut queues = self.shared.lock();
        let queue = queues.get_mut(name)?;
        let count = queue.waiting.len().min(max);
        if count == 0 {
            return None;
        }
        let arn = self.shared.arn(name);
        let records: Vec<Value> = queue
            .waiting
            .drain(..count)
            .map(|mut message| {
                message.receive_count += 1;
                message.first_received_at.get_or_insert(now);
                let receipt_handle = receipt_handle(&message.message_id);
                message.lambda_record(&receipt_handle, &arn, &self.shared.region)
            })
            .collect();
        Some(json!({ "Records": records }))
    }

    /// Stops serving: the listener closes and open connections are dropped. The queues stay
    /// readable.
    pub fn shutdown(&self) {
        self.shared.stop();
    }
}

/// A receipt handle of the shape SQS gives (opaque base64 text).
fn receipt_handle(message_id: &str) -> String {
    use base64::Engine as _;
    let raw = format!("{message_id}:{}", fresh_request_id());
    format!(
        "AQEB{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Stops the server when the last [`SqsQueues`] clone goes.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// One queue: the messages waiting, and every message ever sent.
#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<QueuedMessage>,
    sent: Vec<QueuedMessage>,
}

/// State shared by the [`SqsQueues`] handles and the server tasks.
struct Shared {
    addr: SocketAddr,
    region: String,
    account_id: String,
    queues: Mutex<BTreeMap<String, Queue>>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account_id)
    }

    /// The queue a URL names: its last path segment, after this account's id.
    fn queue_of(&self, url: Option<&str>) -> Result<String, SqsError> {
        let url = url.ok_or_else(|| SqsError::missing("QueueUrl"))?;
        let mut segments = url.trim_end_matches('/').rsplit('/');
        let (name, account) = (segments.next(), segments.next());
        match (name, account) {
            (Some(name), Some(account))
                if account == self.account_id && self.lock().contains_key(name) =>
            {
                Ok(name.to_owned())
            }
            _ => Err(SqsError::no_such_queue()),
        }
    }

    /// Queues a checked message; returns it as queued.
    fn enqueue(&self, queue: &str, checked: protocol::Checked) -> QueuedMessage {
        let message = QueuedMessage {
            message_id: fresh_request_id(),
            body: checked.body,
            message_attributes: checked.message_attributes,
            system_attributes: checked.system_attributes,
            sent_at: SystemTime::now(),
            receive_count: 0,
            first_received_at: None,
        };
        let mut queues = self.lock();
        let queue = queues.entry(queue.to_owned()).or_default();
        queue.waiting.push_back(message.clone());
        queue.sent.push(message.clone());
        message
    }
}

async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let request_id = fresh_request_id();
    let answer = match serve(&shared, request).await {
        Ok(body) => json_response(StatusCode::OK, &body, &request_id),
        Err(error) => error.response(&request_id),
    };
    Ok(answer)
}

async fn serve(shared: &Shared, request: Request<Incoming>) -> Result<Value, SqsError> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with(JSON_1_0));
    if request.method() != Method::POST || !json {
        return Err(SqsError::unknown_operation(&target));
    }
    let body = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(SqsError::serialization)?;
    match target.strip_prefix(TARGET_PREFIX) {
        Some("SendMessage") => send_message(shared, parse(&body)?),
        Some("SendMessageBatch") => send_message_batch(shared, parse(&body)?),
        _ => Err(SqsError::unknown_operation(&target)),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, SqsError> {
    serde_json::from_slice(body).map_err(SqsError::serialization)
}

fn send_message(shared: &Shared, request: SendRequest) -> Result<Value, SqsError> {
    let queue = shared.queue_of(request.queue_url.as_deref())?;
    let message = shared.enqueue(&queue, request.check()?);
    let mut answer = json!({
        "MessageId": message.message_id,
        "MD5OfMessageBody": message.md5_of_body(),
    });
    add_attribute_digests(&mut answer, &message);
    Ok(answer)
}

fn send_message_batch(shared: &Shared, request: SendBatchRequest) -> Result<Value, SqsError> {
    let queue = shared.queue_of(request.queue_url.as_deref())?;
    protocol::check_batch(&request.entries)?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for entry in request.entries {
        let id = entry.id.clone().unwrap_or_default();
        match entry.check() {
            Ok(checked) => {
                let message = shared.enqueue(&queue, checked);
                let mut answer = json!({
                    "Id": id,
                    "MessageId": message.message_id,
                    "MD5OfMessageBody": message.md5_of_body(),
                });
                add_attribute_digests(&mut answer, &message);
                successful.push(answer);
            }
            Err(error) => failed.push(json!({
                "Id": id,
                "SenderFault": error.sender_fault,
                "Code": error.code,
                "Message": error.message,
            })),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

fn add_attribute_digests(answer: &mut Value, message: &QueuedMessage) {
    if let Some(md5) = message.md5_of_message_attributes() {
        answer["MD5OfMessageAttributes"] = md5.into();
    }
    if let Some(md5) = message.md5_of_system_attributes() {
        answer["MD5OfMessageSystemAttributes"] = md5.into();
    }
}

#[cfg(test)]
mod tests;
