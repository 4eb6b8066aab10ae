//! Running traced handlers on Azure Functions, as a custom handler.
//!
//! ```no_run
//! use otel_faas_runtime::azure::{AzureEvent, FunctionApp, ServiceBusMessage};
//! use otel_faas_runtime::{traced_function, Error};
//!
//! #[traced_function(trigger = "service_bus")]
//! async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<(), Error> {
//!     tracing::info!(id = ?event.payload.message_id, "processing");
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     FunctionApp::new().function("ProcessOrder", process_order).run().await
//! }
//! ```
//!
//! The Functions host starts the executable `host.json` names and sends each invocation to
//! it over HTTP on `FUNCTIONS_CUSTOMHANDLER_PORT`: `POST /{function}` with the trigger's data
//! in its JSON, or, with `enableForwardingHttpRequest`, an HTTP trigger's request as it came.
//! [`FunctionApp::run`] serves those requests: it reads the trigger's typed payload (a
//! request it cannot read fails that invocation with a readable message and an error
//! span), calls the function registered under that name, exports the invocation's spans
//! before answering, and on SIGTERM stops taking requests, lets those in flight finish and
//! flushes telemetry.
//!
//! | `trigger =` | handler argument | spans |
//! |---|---|---|
//! | `"http"` | `AzureEvent<HttpRequest>` | SERVER `{method} /api/{route}`, parent from `traceparent` |
//! | `"queue"` | `AzureEvent<QueueMessage>` | SERVER *function* → CONSUMER `process {queue}` |
//! | `"service_bus"` | `AzureEvent<ServiceBusMessage>` | SERVER → CONSUMER `process {queue or topic}`, parent from `Diagnostic-Id` / `traceparent` |
//! | `"service_bus"` | `AzureEvent<ServiceBusBatch>` (`"cardinality": "many"`) | SERVER → CONSUMER `process {queue or topic}`, a link per message with a context |
//! | `"event_hubs"` | `AzureEvent<EventHubsBatch>` | SERVER → CONSUMER `process {event hub}`, a link per event with a context |
//! | `"timer"` | `AzureEvent<TimerInfo>` | SERVER *function*, `faas.trigger=timer`, a new trace |
//!
//! # Where the trace context comes from
//!
//! The host puts none of its own in the request it sends the handler (`DefaultHttpWorkerService`
//! adds only the invocation id, its version and its user agent), so the handler's spans are
//! never children of the host's own: both continue the caller's context where there is one,
//! and `faas.invocation_id` always ties them. The context a span continues is the one the
//! *caller* sent: an HTTP caller's `traceparent` header (in
//! `Data.req.Headers`, or on the forwarded request), a Service Bus message's `traceparent` or
//! `Diagnostic-Id` application property, an event's in its properties (a link per event).
//! Storage queue messages and timers carry none: each invocation is a new trace.
//!
//! # Timeouts
//!
//! When an invocation outlives `host.json`'s `functionTimeout` (5 minutes by default on the
//! Consumption plan, 30 on the others), the host kills the whole handler process with
//! SIGKILL and starts a new one. The server reads `functionTimeout` from the app root's
//! `host.json` and gives each invocation that deadline: a margin before it
//! (`OTEL_FAAS_DEADLINE_MARGIN`), the invocation's spans end with `error.type=timeout`, it is
//! counted in `faas.timeouts`, and its spans are exported before the kill.
//!
//! Every invocation span carries `faas.trigger`, `faas.invocation_id` (the host's
//! `X-Azure-Functions-InvocationId`), `faas.name` (`<app>/<function>`), `faas.coldstart` and,
//! when the subscription and resource group are known, `cloud.resource_id`; the resource
//! carries `cloud.provider=azure`, `cloud.platform=azure.functions`, `cloud.region`,
//! `faas.instance` and `service.instance.id` (see [`AppIdentity`]).

mod context;
mod function_json;
mod handler;
pub(crate) mod host_json;
pub(crate) mod payload;
mod resource;
pub(crate) mod server;
#[doc(hidden)]
pub mod trigger;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use context::{AzureEvent, Context};
pub use function_json::FunctionBindings;
pub use handler::{AzureHandler, EventHandler, IntoReply, Reply};
pub use payload::{FromInvocation, InvokeResponse, PayloadError};
pub use resource::AppIdentity;

pub use trigger::event_hubs::{EventHubsBatch, EventHubsEvent};
pub use trigger::http::HttpRequest;
pub use trigger::queue::QueueMessage;
pub use trigger::service_bus::{ServiceBusBatch, ServiceBusMessage};
pub use trigger::timer::{ScheduleStatus, TimerInfo};

use crate::Error;
use crate::config::Config;
use crate::telemetry::Telemetry;
use context::FunctionIdentity;
use handler::{Function, Registered};
pub(crate) use server::INVOCATION_ID;

/// How long the final flush on shutdown may take.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// The functions of a function app, served as a custom handler.
///
/// ```no_run
/// # use otel_faas_runtime::azure::{AzureEvent, FunctionApp, HttpRequest, TimerInfo};
/// # use otel_faas_runtime::{traced_function, Error};
/// # #[traced_function(trigger = "http")]
/// # async fn hello(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> { Ok(http::Response::new("hi".into())) }
/// # #[traced_function(trigger = "timer")]
/// # async fn cleanup(event: AzureEvent<TimerInfo>) -> Result<(), Error> { Ok(()) }
/// # async fn run() -> Result<(), Error> {
/// FunctionApp::new()
///     .function("hello", hello)
///     .function("cleanup", cleanup)
///     .run()
///     .await
/// # }
/// ```
pub struct FunctionApp {
    functions: HashMap<String, Box<dyn Function>>,
    root: Option<PathBuf>,
    identity: AppIdentity,
    telemetry: Option<Option<Telemetry>>,
}

impl std::fmt::Debug for FunctionApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionApp")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Default for FunctionApp {
    fn default() -> Self {
        FunctionApp::new()
    }
}

impl FunctionApp {
    /// An app with no function yet, in the function app its environment describes.
    pub fn new() -> Self {
        FunctionApp {
            functions: HashMap::new(),
            root: None,
            identity: AppIdentity::from_env(),
            telemetry: None,
        }
    }

    /// The function app served (what its resource describes), for the test kit.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn app_identity(&self) -> &AppIdentity {
        &self.identity
    }

    /// Describes the function app explicitly instead of from the environment.
    pub fn identity(mut self, identity: AppIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Reads the functions' `function.json` files and `host.json` in `root` instead of the
    /// app root the host names (`FUNCTIONS_APP_ROOT_PATH`, else `AzureWebJobsScriptRoot`,
    /// else the current directory).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Serves `handler` as the function `name` (its folder, where its `function.json` is),
    /// with the bindings its `function.json` declares (read when the app starts).
    pub fn function<H, M>(self, name: &str, handler: H) -> Self
    where
        H: AzureHandler<M>,
        M: 'static,
    {
        self.register(name, None, handler)
    }

    /// Serves `handler` as the function `name`, with the given bindings rather than its
    /// `function.json`'s.
    pub fn function_with<H, M>(self, name: &str, bindings: FunctionBindings, handler: H) -> Self
    where
        H: AzureHandler<M>,
        M: 'static,
    {
        self.register(name, Some(bindings), handler)
    }

    fn register<H, M>(mut self, name: &str, bindings: Option<FunctionBindings>, handler: H) -> Self
    where
        H: AzureHandler<M>,
        M: 'static,
    {
        let registered = Registered {
            handler,
            identity: Arc::new(FunctionIdentity::new(name, &self.identity)),
            bindings,
            marker: PhantomData::<fn() -> M>,
        };
        self.functions
            .insert(name.to_ascii_lowercase(), Box::new(registered));
        self
    }

    /// Traces with `telemetry` instead of the pipeline [`init`] builds from the environment.
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(Some(telemetry));
        self
    }

    /// Serves the functions on `FUNCTIONS_CUSTOMHANDLER_PORT` (port 8080 when it is not set)
    /// until SIGTERM or SIGINT, then lets in-flight invocations finish and flushes
    /// telemetry.
    pub async fn run(self) -> Result<(), Error> {
        let addr = server::listen_addr()?;
        let running = self.start(addr).await?;
        tracing::info!(target: "otel_faas", "custom handler listening on http://{}", running.addr());
        let signal = crate::platform::shutdown_signal().await;
        tracing::info!(target: "otel_faas", "{signal} received: finishing invocations and flushing telemetry");
        running.shutdown().await;
        Ok(())
    }

    /// The functions, their `function.json` bindings read, as the server routes to them, with
    /// `host.json`'s `functionTimeout` for each invocation's deadline.
    pub(crate) fn routes(self, telemetry: Option<Telemetry>) -> server::Routes {
        let root = self.root.unwrap_or_else(FunctionBindings::app_root);
        let function_timeout =
            host_json::HostJson::load_from(&root).function_timeout(|key| std::env::var(key).ok());
        let functions = self
            .functions
            .into_iter()
            .map(|(name, mut function)| {
                function.load_bindings(&root);
                (name, Arc::from(function))
            })
            .collect();
        server::Routes {
            functions,
            telemetry,
            function_timeout,
            watchdog: Arc::default(),
        }
    }

    /// Starts serving on `addr` (port 0 picks a free one) in the background.
    pub async fn start(mut self, addr: SocketAddr) -> std::io::Result<RunningApp> {
        let telemetry = match self.telemetry.take() {
            Some(telemetry) => telemetry,
            None => init(&self.identity),
        };
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let routes = Arc::new(self.routes(telemetry.clone()));
        let task = tokio::spawn(server::serve(listener, routes, stopped));
        Ok(RunningApp {
            addr,
            stop,
            task,
            telemetry,
        })
    }
}

/// A [`FunctionApp`] serving in the background.
#[derive(Debug)]
pub struct RunningApp {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    telemetry: Option<Telemetry>,
}

impl RunningApp {
    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, waits for those in flight (10 s at most), and flushes
    /// telemetry.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(telemetry) = &self.telemetry {
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH, telemetry.flush()).await;
        }
    }
}

/// Starts telemetry from the environment for a function app, once per process, as
/// [`crate::lambda::init`] does on Lambda but with the Azure resource; `None` when
/// `OTEL_SDK_DISABLED=true`.
pub fn init(identity: &AppIdentity) -> Option<Telemetry> {
    crate::platform::start(Config::from_env(), |config| Some(identity.resource(config)))
}
