//! What every platform loop (Lambda's, the Azure custom handler's) shares: starting the
//! process's telemetry once, and the signal that tells the process to stop.

use opentelemetry_sdk::Resource;

use crate::config::Config;
use crate::telemetry::Telemetry;

/// Starts telemetry for the process, once: builds and installs the pipeline `config` asks
/// for (with `resource`, else the detected one) and the `tracing` subscriber, and logs
/// configuration problems. A pipeline installed before is returned as it is; `None` when
/// `OTEL_SDK_DISABLED=true`.
pub(crate) fn start(
    config: Config,
    resource: impl FnOnce(&Config) -> Option<Resource>,
) -> Option<Telemetry> {
    if let Some(telemetry) = Telemetry::global() {
        return Some(telemetry.clone());
    }
    let telemetry = (!config.sdk_disabled).then(|| {
        let builder = Telemetry::builder();
        let builder = match resource(&config) {
            Some(resource) => builder.with_resource(resource),
            None => builder,
        };
        builder.config(config).build()
    });
    if let Some(telemetry) = &telemetry {
        telemetry.install_global();
    }
    crate::logging::install(telemetry.as_ref());
    for warning in telemetry.iter().flat_map(|t| t.warnings()) {
        tracing::warn!(target: "otel_faas", "{warning}");
    }
    for error in telemetry.iter().flat_map(|t| t.errors()) {
        tracing::error!(target: "otel_faas", "{error}");
    }
    telemetry
}

/// Resolves on SIGTERM (what Lambda and the Functions host send before they stop the
/// process) or SIGINT.
pub(crate) async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// A task the process runs beside its invocations, boxed: spawned as one future type,
/// whatever it is.
pub(crate) type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Spawns `task` on `runtime` as a [`Task`]. tokio compiles its task machinery (harness,
/// cell, waker table) once per spawned future type and scheduler kind; every rarely spawned
/// task of the runtime shares one copy this way instead of carrying ≈ 8 KB of its own.
pub(crate) fn spawn_boxed(
    runtime: &tokio::runtime::Handle,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    drop(runtime.spawn(Box::pin(task) as Task));
}
