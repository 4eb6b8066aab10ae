//! What a function app's `host.json` says about how the host runs its custom handler: how
//! long an invocation may run (`functionTimeout`), the handler's working directory and
//! whether HTTP requests are forwarded as they came.
//!
//! Derived from Azure/azure-functions-host:
//!
//! - `functionTimeout` (`src/WebJobs.Script/Config/ScriptJobHostOptionsSetup.cs`): a .NET
//!   `TimeSpan` (`"00:05:00"`, `"1.00:00:00"`); unset, 5 minutes on the Consumption plan
//!   (`WEBSITE_SKU=Dynamic`, or Linux Consumption: `CONTAINER_NAME` set outside App Service
//!   and Legion) and 30 minutes on every other plan, Flex Consumption included; `-1` is no
//!   limit where the plan allows one. When it passes, the host restarts the worker process
//!   with `Process.Kill()` (`WebScriptHostExceptionHandler.OnTimeoutExceptionAsync` →
//!   `HttpFunctionInvocationDispatcher.RestartWorkerWithInvocationIdAsync` →
//!   `WorkerProcess.Dispose`): SIGKILL on Linux, so the handler must record and export the
//!   timeout before then.
//! - `customHandler.description.workingDirectory` and `customHandler.enableForwardingHttpRequest`
//!   (`src/WebJobs.Script/Workers/Http/Configuration/HttpWorkerOptionsSetup.cs`): the working
//!   directory is relative to the app root, which it defaults to.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Longest `host.json` read.
const MAX_FILE: u64 = 256 * 1024;

/// The default `functionTimeout` on the Consumption plan.
const CONSUMPTION_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The default `functionTimeout` on every other plan.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What `host.json` says about running the custom handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostJson {
    /// `functionTimeout` as written: `None` when unset, `Some(None)` for `-1` (no limit).
    pub function_timeout: Option<Option<Duration>>,
    /// `customHandler.description.workingDirectory`, as written.
    pub working_directory: Option<String>,
    /// `customHandler.description.defaultExecutablePath`.
    pub executable: Option<String>,
    /// `customHandler.enableForwardingHttpRequest`.
    pub enable_forwarding_http_request: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    function_timeout: Option<Value>,
    custom_handler: Option<CustomHandler>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomHandler {
    description: Option<Description>,
    #[serde(default)]
    enable_forwarding_http_request: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Description {
    working_directory: Option<String>,
    default_executable_path: Option<String>,
}

impl HostJson {
    /// The `host.json` of the app root `root`; all unset when it cannot be read, with a
    /// warning when it is not valid.
    pub fn load_from(root: &Path) -> HostJson {
        let path = root.join("host.json");
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_FILE);
        match small.then(|| std::fs::read(&path)) {
            Some(Ok(text)) => HostJson::parse(&text).unwrap_or_else(|error| {
                tracing::warn!(target: "otel_faas", "{}: {error}", path.display());
                HostJson::default()
            }),
            _ => HostJson::default(),
        }
    }

    /// What a `host.json` text says.
    pub fn parse(text: &[u8]) -> Result<HostJson, String> {
        let file: File = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        let function_timeout = match file.function_timeout {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(parse_timespan(&text).ok_or_else(|| {
                format!("functionTimeout {text:?} is not a TimeSpan (\"hh:mm:ss\")")
            })?),
            Some(_) => return Err("functionTimeout is not a string (\"hh:mm:ss\")".to_owned()),
        };
        let handler = file.custom_handler;
        let description = handler.as_ref().and_then(|h| h.description.as_ref());
        Ok(HostJson {
            function_timeout,
            working_directory: description.and_then(|d| d.working_directory.clone()),
            executable: description.and_then(|d| d.default_executable_path.clone()),
            enable_forwarding_http_request: handler
                .is_some_and(|h| h.enable_forwarding_http_request),
        })
    }

    /// How long the host lets an invocation run on the plan `lookup` describes; `None`
    /// without a limit.
    pub fn function_timeout(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<Duration> {
        match self.function_timeout {
            Some(timeout) => timeout,
            None if is_consumption(&lookup) => Some(CONSUMPTION_TIMEOUT),
            None => Some(DEFAULT_TIMEOUT),
        }
    }

    /// The directory the host starts the handler in: `workingDirectory`, relative to the app
    /// root `root`, else the app root.
    pub fn working_directory(&self, root: &Path) -> PathBuf {
        match self.working_directory.as_deref().filter(|d| !d.is_empty()) {
            Some(dir) => root.join(dir),
            None => root.to_path_buf(),
        }
    }
}

/// The Consumption plan, as `EnvironmentExtensions.IsConsumptionSku` tells it, less Flex
/// Consumption (whose default is the longer one).
fn is_consumption(lookup: &impl Fn(&str) -> Option<String>) -> bool {
    let set = |key: &str| lookup(key).is_some_and(|v| !v.is_empty());
    match lookup("WEBSITE_SKU").as_deref() {
        Some(sku) if sku.eq_ignore_ascii_case("Dynamic") => true,
        Some(sku) if sku.eq_ignore_ascii_case("FlexConsumption") => false,
        _ => set("CONTAINER_NAME") && !set("LEGION_SERVICE_HOST") && !set("WEBSITE_INSTANCE_ID"),
    }
}

/// A .NET `TimeSpan` as `host.json` writes one: `[-][d.]hh:mm[:ss[.fffffff]]`, or whole days
/// (`-1`). `Some(None)` for a negative value (no limit), `None` when it does not parse.
fn parse_timespan(text: &str) -> Option<Option<Duration>> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let seconds = if text.contains(':') {
        let mut parts = text.split(':');
        let first = parts.next()?;
        let (days, hours) = match first.split_once('.') {
            Some((days, hours)) => (days.parse::<u64>().ok()?, hours),
            None => (0, first),
        };
        let hours: u64 = hours.parse().ok()?;
        let minutes: u64 = parts.next()?.parse().ok()?;
        let seconds: f64 = match parts.next() {
            Some(seconds) => seconds.parse().ok().filter(|s: &f64| s.is_finite())?,
            None => 0.0,
        };
        if parts.next().is_some() || hours >= 24 || minutes >= 60 || seconds >= 60.0 {
            return None;
        }
        ((days * 24 + hours) * 60 + minutes) as f64 * 60.0 + seconds
    } else {
        text.parse::<u64>().ok()? as f64 * 86_400.0
    };
    match negative {
        true => Some(None),
        false => Duration::try_from_secs_f64(seconds).ok().map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_timeouts_are_dotnet_timespans() {
        let secs = |s| Some(Some(Duration::from_secs(s)));
        assert_eq!(parse_timespan("00:05:00"), secs(300));
        assert_eq!(parse_timespan("01:00:00"), secs(3600));
        assert_eq!(parse_timespan("1.02:00:00"), secs(93_600));
        assert_eq!(
            parse_timespan("00:00:01.5"),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(parse_timespan("00:10"), secs(600));
        assert_eq!(parse_timespan("-1"), Some(None));
        assert_eq!(parse_timespan("five minutes"), None);
        assert_eq!(parse_timespan("00:75:00"), None);
    }

    #[test]
    fn the_default_timeout_depends_on_the_plan() {
        let none = HostJson::default();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            }
        };
        let five = Some(Duration::from_secs(300));
        let thirty = Some(Duration::from_secs(1800));
        assert_eq!(
            none.function_timeout(env(&[("WEBSITE_SKU", "Dynamic")])),
            five
        );
        assert_eq!(
            none.function_timeout(env(&[("CONTAINER_NAME", "c1")])),
            five
        );
        assert_eq!(
            none.function_timeout(env(&[
                ("WEBSITE_SKU", "FlexConsumption"),
                ("CONTAINER_NAME", "c1")
            ])),
            thirty
        );
        assert_eq!(
            none.function_timeout(env(&[("WEBSITE_SKU", "ElasticPremium")])),
            thirty
        );
        assert_eq!(none.function_timeout(env(&[])), thirty);
        let unlimited = HostJson::parse(br#"{"functionTimeout": "-1"}"#).unwrap();
        assert_eq!(unlimited.function_timeout(env(&[])), None);
    }

    #[test]
    fn the_custom_handler_section_is_read() {
        let host = HostJson::parse(
            br#"{"version": "2.0", "functionTimeout": "00:00:02",
                 "customHandler": {"description": {"defaultExecutablePath": "handler", "workingDirectory": "bin"},
                                   "enableForwardingHttpRequest": true}}"#,
        )
        .unwrap();
        assert_eq!(host.function_timeout, Some(Some(Duration::from_secs(2))));
        assert_eq!(host.executable.as_deref(), Some("handler"));
        assert!(host.enable_forwarding_http_request);
        assert_eq!(
            host.working_directory(Path::new("/app")),
            Path::new("/app/bin")
        );
        assert_eq!(
            HostJson::default().working_directory(Path::new("/app")),
            Path::new("/app")
        );
        assert!(HostJson::parse(br#"{"functionTimeout": 5}"#).is_err());
    }
}
