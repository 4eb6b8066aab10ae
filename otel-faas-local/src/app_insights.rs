//! An **Application Insights ingestion endpoint** (Breeze) on 127.0.0.1, over TLS, recording
//! every telemetry item a function tracks, for the `azure-monitor` exporter's tests.
//!
//! Point a function at it with `APPLICATIONINSIGHTS_CONNECTION_STRING=`
//! [`Ingestion::connection_string`] and `SSL_CERT_FILE=` the test CA's PEM file: exporters
//! always post to `https` (the JS parser's `sanitizeUrl`, which the Rust exporter applies).
//!
//! # What is implemented
//!
//! Derived from Microsoft's exporter for Python, whose client is generated from the
//! ingestion service's API description (Azure/azure-sdk-for-python,
//! `sdk/monitor/azure-monitor-opentelemetry-exporter/azure/monitor/opentelemetry/exporter/`:
//! `_generated/_azure_monitor_client.py`, `_generated/operations/_azure_monitor_client_operations.py`,
//! `_generated/models/_models_py3.py`, `_export/_base.py`), and from the requests
//! `opentelemetry-application-insights` makes (`src/uploader.rs`, `src/lib.rs`):
//!
//! - `POST /v2.1/track` (Python's base URL `{Host}/v2.1`) and `POST /v2/track` (the Rust
//!   crate's): the body is a JSON array of `TelemetryItem`s (`name`, `time`, `sampleRate`,
//!   `iKey`, `tags`, `data: { baseType, baseData }`), `Content-Encoding: gzip` or not.
//! - Each item needs `name`, `time` and `data`, and the `iKey` of this resource; an item
//!   that lacks one is rejected alone. The answer is a `TrackResponse`
//!   (`itemsReceived`, `itemsAccepted`, `errors: [{ index, statusCode, message }]`): `200`
//!   when every item was accepted, `206` when some were, `400` when none was. Accepted items
//!   are recorded as [`Envelope`]s.
//! - Scripted refusals ([`IngestionOptions::refuse_first`]): the first requests are answered
//!   with the given status (`503`, `429`, …) and `Retry-After`, and their items are not
//!   recorded (`_RETRYABLE_STATUS_CODES` in `_constants.py`: the client sends them again).
//!
//! # What is not implemented
//!
//! Live Metrics (`QuickPulseService.svc`), Microsoft Entra ID authentication, redirects
//! (`307`/`308`), the daily-cap answers (`402`/`439`), and newline-delimited bodies.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::collector::{Refusal, TlsIdentity};
use crate::server::{self, Connections, HttpResponse};

/// Largest request body accepted, after decompression (larger ones are answered `413`).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How an [`Ingestion`] endpoint behaves.
#[derive(Clone, Debug)]
pub struct IngestionOptions {
    /// The certificate it presents (clients are not asked for one).
    pub tls: TlsIdentity,
    /// The resource's instrumentation key: items with another `iKey` are rejected.
    pub instrumentation_key: String,
    /// The first requests are answered, in order, with these statuses, and their items are
    /// not recorded; later requests are served.
    pub refuse_first: Vec<Refusal>,
}

/// One telemetry item received and accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// `name`, such as `Microsoft.ApplicationInsights.Request`.
    pub name: String,
    /// `time`, as sent (ISO 8601).
    pub time: String,
    /// `iKey`.
    pub instrumentation_key: String,
    /// `tags`: `ai.operation.id`, `ai.operation.parentId`, `ai.cloud.role`, …
    pub tags: BTreeMap<String, String>,
    /// `data.baseType`, such as `RequestData` or `RemoteDependencyData`.
    pub base_type: String,
    /// `data.baseData`: the item itself (`id`, `name`, `success`, `responseCode`,
    /// `properties`, …).
    pub base_data: Value,
}

impl Envelope {
    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// A string field of `baseData` (`id`, `name`, `responseCode`, …).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.base_data.get(key).and_then(Value::as_str)
    }

    /// `baseData.success`.
    pub fn success(&self) -> Option<bool> {
        self.base_data.get("success").and_then(Value::as_bool)
    }

    /// A custom property (`baseData.properties`): the span's and resource's attributes.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.base_data
            .get("properties")
            .and_then(|properties| properties.get(key))
            .and_then(Value::as_str)
    }
}

/// An Application Insights ingestion endpoint on 127.0.0.1; it stops when the last clone
/// is dropped.
#[derive(Clone, Debug)]
pub struct Ingestion {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    key: String,
    refusals: Mutex<Vec<Refusal>>,
    refused: AtomicU64,
    requests: AtomicU64,
    envelopes: Mutex<Vec<Envelope>>,
    arrivals: watch::Sender<u64>,
}

impl Ingestion {
    /// Binds 127.0.0.1 on an ephemeral port and serves TLS on the current tokio runtime.
    pub async fn start(options: IngestionOptions) -> std::io::Result<Ingestion> {
        let (listener, addr) = server::bind_loopback().await?;
        let connections = Connections {
            tls: Some(acceptor(&options.tls)?),
            drop_reused: false,
            accepted: Arc::default(),
            http2: false,
        };
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            addr,
            key: options.instrumentation_key,
            refusals: Mutex::new(options.refuse_first),
            refused: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            envelopes: Mutex::new(Vec::new()),
            arrivals: watch::channel(0).0,
        });
        let handler = Arc::clone(&shared);
        server::serve_with(
            listener,
            stopped,
            "Application Insights ingestion",
            connections,
            move |request| {
                let shared = Arc::clone(&handler);
                async move { Ok::<_, Infallible>(shared.handle(request).await) }
            },
        );
        Ok(Ingestion {
            shared,
            _stop_on_drop: Arc::new(StopOnDrop(stop)),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.shared.addr)
    }

    /// The connection string of this resource:
    /// `InstrumentationKey=…;IngestionEndpoint=https://127.0.0.1:PORT/`.
    pub fn connection_string(&self) -> String {
        format!(
            "InstrumentationKey={};IngestionEndpoint={}/",
            self.shared.key,
            self.endpoint()
        )
    }

    /// Every item accepted so far, in arrival order.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.shared
            .envelopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Track requests served (not refused) so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests refused by the script of [`IngestionOptions::refuse_first`] so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Waits until an accepted item satisfies `predicate` or `timeout` passes; returns
    /// whether one did.
    pub async fn wait_for(&self, timeout: Duration, predicate: impl Fn(&Envelope) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut arrivals = self.shared.arrivals.subscribe();
        loop {
            if self.envelopes().iter().any(&predicate) {
                return true;
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }
}

impl Shared {
    async fn handle(&self, request: Request<Incoming>) -> HttpResponse {
        let path = request.uri().path();
        if path != "/v2/track" && path != "/v2.1/track" {
            return answer(
                StatusCode::NOT_FOUND,
                json!({ "error": "not a track path" }),
            );
        }
        if request.method() != Method::POST {
            return answer(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "POST only" }),
            );
        }
        let gzip = request
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return answer(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({ "error": "too large" }),
                );
            }
        };
        let refusal = {
            let mut refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
            (!refusals.is_empty()).then(|| refusals.remove(0))
        };
        if let Some(refusal) = refusal {
            self.refused.fetch_add(1, Ordering::SeqCst);
            let mut response = answer(
                refusal.status,
                json!({ "itemsReceived": 0, "itemsAccepted": 0, "errors": [] }),
            );
            if let Some(seconds) = refusal.retry_after {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, seconds.into());
            }
            return response;
        }
        let body = match gzip {
            false => body.to_vec(),
            true => {
                let mut decoded = Vec::new();
                let read = flate2::read::GzDecoder::new(&body[..])
                    .take(MAX_BODY_BYTES as u64 + 1)
                    .read_to_end(&mut decoded);
                if read.is_err() {
                    return answer(StatusCode::BAD_REQUEST, json!({ "error": "bad gzip" }));
                }
                decoded
            }
        };
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({ "error": "the body is not a JSON array of telemetry items" }),
            );
        };
        self.requests.fetch_add(1, Ordering::SeqCst);
        let received = items.len();
        let mut errors = Vec::new();
        let mut accepted = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match self.envelope(item) {
                Ok(envelope) => accepted.push(envelope),
                Err(message) => {
                    errors.push(json!({ "index": index, "statusCode": 400, "message": message }))
                }
            }
        }
        let status = match (accepted.len(), received) {
            (n, m) if n == m => StatusCode::OK,
            (0, _) => StatusCode::BAD_REQUEST,
            _ => StatusCode::PARTIAL_CONTENT,
        };
        let n = accepted.len();
        self.envelopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(accepted);
        self.arrivals.send_modify(|count| *count += 1);
        answer(
            status,
            json!({ "itemsReceived": received, "itemsAccepted": n, "errors": errors }),
        )
    }

    /// An item as recorded, or why it is rejected.
    fn envelope(&self, item: Value) -> Result<Envelope, String> {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        let name = text("name").ok_or("the item has no name")?;
        let time = text("time").ok_or("the item has no time")?;
        let key = text("iKey").unwrap_or_default();
        if key != self.key {
            return Err("the item's iKey is not this resource's".to_owned());
        }
        let data = item.get("data").ok_or("the item has no data")?;
        let base_type = data
            .get("baseType")
            .and_then(Value::as_str)
            .ok_or("the item's data has no baseType")?
            .to_owned();
        let tags = item
            .get("tags")
            .and_then(Value::as_object)
            .map(|tags| {
                tags.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Envelope {
            name,
            time,
            instrumentation_key: key,
            tags,
            base_type,
            base_data: data.get("baseData").cloned().unwrap_or(Value::Null),
        })
    }
}

fn answer(status: StatusCode, body: Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The TLS acceptor for `identity` (its client CA, if any, is not used).
fn acceptor(identity: &TlsIdentity) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    let invalid = |what: &str, error: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {error}"))
    };
    let chain = CertificateDer::pem_slice_iter(identity.certificate_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("server certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| invalid("server key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid("server certificate and key", &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
