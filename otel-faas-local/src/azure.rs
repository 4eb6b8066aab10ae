//! The Functions host, played on 127.0.0.1: [`FunctionsHost`] sends a custom handler the
//! requests the host would, and [`LocalHost`] runs an app against it for
//! `cargo run --example azure_…`, printing each invocation's answer and trace.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use serde_json::Value;
use tokio::net::TcpStream;

use otel_faas_runtime::__private::local::{AZURE_INVOCATION_ID, app_identity, install_logging};
use otel_faas_runtime::Error;
use otel_faas_runtime::azure::{FunctionApp, RunningApp};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::render::{SpanView, render_trees};
use otel_faas_runtime::telemetry::Telemetry;

use crate::collector::Collector;

/// The host version the double announces.
const HOST_VERSION: &str = "4.1040.300.0";

/// What a custom handler answered.
#[derive(Clone, Debug)]
pub struct HostAnswer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HostAnswer {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a custom handler the requests the Functions host sends it.
#[derive(Debug)]
pub struct FunctionsHost {
    addr: SocketAddr,
    next: AtomicU64,
}

impl FunctionsHost {
    /// A host of the custom handler listening on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        FunctionsHost {
            addr,
            next: AtomicU64::new(1),
        }
    }

    /// A fresh invocation id, in the host's GUID format.
    pub fn next_invocation_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("8f6a2c1e-4b7d-4e2a-9c3f-{n:012x}")
    }

    /// Invokes `function` with the host's invocation JSON (`{"Data": …, "Metadata": …}`).
    pub async fn invoke(
        &self,
        function: &str,
        invocation_id: &str,
        payload: &Value,
    ) -> std::io::Result<HostAnswer> {
        let body = serde_json::to_vec(payload).map_err(std::io::Error::other)?;
        self.post_raw(&format!("/{function}"), invocation_id, Bytes::from(body))
            .await
    }

    /// Posts `body` to `path` as an invocation request, whatever it holds.
    pub async fn post_raw(
        &self,
        path: &str,
        invocation_id: &str,
        body: Bytes,
    ) -> std::io::Result<HostAnswer> {
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path.parse().map_err(std::io::Error::other)?;
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        // The host's own activity, which is not the function's caller (and not sampled).
        let host_activity = RandomIdGenerator::default();
        let traceparent = format!(
            "00-{}-{}-00",
            host_activity.new_trace_id(),
            host_activity.new_span_id()
        );
        if let Ok(value) = HeaderValue::from_str(&traceparent) {
            headers.insert("traceparent", value);
        }
        self.send(request, invocation_id).await
    }

    /// Forwards an HTTP trigger's request as it came (`enableForwardingHttpRequest`); its
    /// path is `/api/{function}…`.
    pub async fn forward(
        &self,
        invocation_id: &str,
        request: Request<Bytes>,
    ) -> std::io::Result<HostAnswer> {
        self.send(request, invocation_id).await
    }

    async fn send(
        &self,
        mut request: Request<Bytes>,
        invocation_id: &str,
    ) -> std::io::Result<HostAnswer> {
        let headers = request.headers_mut();
        if let Ok(id) = HeaderValue::from_str(invocation_id) {
            headers.insert(AZURE_INVOCATION_ID, id);
        }
        headers.insert(
            "x-azure-functions-hostversion",
            HeaderValue::from_static(HOST_VERSION),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("Azure-Functions-Host/4.1040.300.0"),
        );
        if let Ok(host) = HeaderValue::from_str(&self.addr.to_string()) {
            headers.insert(http::header::HOST, host);
        }
        let stream = TcpStream::connect(self.addr).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(std::io::Error::other)?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok(HostAnswer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// One request [`LocalHost`] sends.
#[derive(Debug)]
enum Planned {
    Invoke { function: String, payload: Value },
    Raw { function: String, body: Bytes },
    Forward { request: Request<Bytes> },
}

/// Runs a function app locally against a [`FunctionsHost`] and an OTLP collector on
/// 127.0.0.1, and prints each invocation's answer and trace tree. Started by the Functions
/// host (`FUNCTIONS_CUSTOMHANDLER_PORT` set), it serves the app instead, as deployed.
///
/// ```no_run
/// use otel_faas_local::azure::LocalHost;
/// use otel_faas_runtime::azure::{AzureEvent, FunctionApp, TimerInfo};
/// use otel_faas_runtime::{traced_function, Error};
///
/// #[traced_function(trigger = "timer")]
/// async fn cleanup(event: AzureEvent<TimerInfo>) -> Result<(), Error> {
///     Ok(())
/// }
///
/// fn main() -> Result<(), Error> {
///     LocalHost::new(FunctionApp::new().function("cleanup", cleanup))
///         .invoke("on time", "cleanup", serde_json::json!({ "Data": { "timer": { "IsPastDue": false } }, "Metadata": {} }))
///         .run()
/// }
/// ```
#[derive(Debug)]
pub struct LocalHost {
    app: FunctionApp,
    root: Option<std::path::PathBuf>,
    planned: Vec<(String, Planned)>,
}

/// How long to wait for an invocation's spans after its answer.
const SPANS_GRACE: Duration = Duration::from_secs(3);

impl LocalHost {
    /// A host for `app`.
    pub fn new(app: FunctionApp) -> Self {
        LocalHost {
            app,
            root: None,
            planned: Vec::new(),
        }
    }

    /// Reads the functions' `function.json` files in `root` when playing the host (an
    /// example's own folder); served by the real host, the app root it runs the handler in.
    pub fn app_root(mut self, root: impl Into<std::path::PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Invokes `function` with the host's invocation JSON `payload`; `label` describes it.
    pub fn invoke(mut self, label: &str, function: &str, payload: Value) -> Self {
        let function = function.to_owned();
        self.planned
            .push((label.to_owned(), Planned::Invoke { function, payload }));
        self
    }

    /// Posts `body` to `function` as it is (a malformed request, say).
    pub fn invoke_raw(mut self, label: &str, function: &str, body: &'static [u8]) -> Self {
        let function = function.to_owned();
        let body = Bytes::from_static(body);
        self.planned
            .push((label.to_owned(), Planned::Raw { function, body }));
        self
    }

    /// Forwards an HTTP request as the host does with `enableForwardingHttpRequest`.
    pub fn forward(mut self, label: &str, request: Request<Bytes>) -> Self {
        self.planned
            .push((label.to_owned(), Planned::Forward { request }));
        self
    }

    /// Serves the app when the Functions host started this process; otherwise plays the
    /// host and prints what happened.
    pub fn run(self) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if std::env::var_os("FUNCTIONS_CUSTOMHANDLER_PORT").is_some() {
            return runtime.block_on(self.app.run());
        }
        runtime.block_on(self.emulate())
    }

    async fn emulate(self) -> Result<(), Error> {
        let user_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        let collector = match user_endpoint {
            None => Some(Collector::start().await?),
            Some(_) => None,
        };
        let config = Config::from_env();
        let resource = app_identity(&self.app).resource(&config);
        let builder = Telemetry::builder().with_resource(resource).config(config);
        // In process, the embedded collector's address cannot go through the environment.
        let telemetry = match &collector {
            Some(collector) => {
                use opentelemetry_otlp::{Protocol, WithExportConfig as _};
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(format!("{}/v1/traces", collector.endpoint()))
                    .build()?;
                builder.with_exporter(exporter).build()
            }
            None => builder.build(),
        };
        install_logging(Some(&telemetry));
        let mut app = self.app.telemetry(telemetry);
        if let Some(root) = self.root {
            app = app.root(root);
        }
        let running: RunningApp = app.start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        println!("otel-faas local Functions host");
        println!("  custom handler        http://{}", running.addr());
        match (&collector, std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(collector), _) => println!(
                "  OTLP collector        {} (embedded)",
                collector.endpoint()
            ),
            (None, Ok(endpoint)) => println!("  OTLP export to        {endpoint}"),
            (None, Err(_)) => {}
        }
        let host = FunctionsHost::new(running.addr());
        let total = self.planned.len();
        for (n, (label, planned)) in self.planned.into_iter().enumerate() {
            let id = host.next_invocation_id();
            println!("\n▶ invocation {}/{total} · {label}", n + 1);
            let (what, answer) = {
                let started = Instant::now();
                let (what, answer) = match planned {
                    Planned::Invoke { function, payload } => (
                        format!("POST /{function}"),
                        host.invoke(&function, &id, &payload).await,
                    ),
                    Planned::Raw { function, body } => (
                        format!("POST /{function}"),
                        host.post_raw(&format!("/{function}"), &id, body).await,
                    ),
                    Planned::Forward { request } => (
                        format!("{} {} (forwarded)", request.method(), request.uri().path()),
                        host.forward(&id, request).await,
                    ),
                };
                (
                    format!(
                        "{what} · {:.1} ms",
                        started.elapsed().as_secs_f64() * 1000.0
                    ),
                    answer,
                )
            };
            println!("  {what} · invocation id {id}");
            match answer {
                Ok(answer) => {
                    let body: String = answer.text().chars().take(300).collect();
                    println!("◀ {}: {body}", answer.status);
                }
                Err(error) => println!("◀ request failed: {error}"),
            }
            if let Some(collector) = &collector {
                print_trace(collector, &id).await;
            }
        }
        running.shutdown().await;
        println!("\ncustom handler stopped");
        Ok(())
    }
}

/// Prints the traces invocation `id` took part in.
async fn print_trace(collector: &Collector, id: &str) {
    let Some(spans) = collector.invocation_traces(id, SPANS_GRACE).await else {
        println!("  (no span received for this invocation)");
        return;
    };
    let views: Vec<SpanView> = spans.into_iter().map(|s| s.view).collect();
    for line in render_trees(&views).lines() {
        println!("  {line}");
    }
}
