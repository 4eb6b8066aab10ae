//! What a function's `function.json` says that the trace uses: the trigger binding's name
//! (its key in the invocation's `Data`), the queue, topic or event hub it reads, the HTTP
//! route, and the name of the HTTP output binding.
//!
//! Each function has a folder of its own name in the app root, holding its `function.json`.
//! The host tells the custom handler where that root is in `FUNCTIONS_APP_ROOT_PATH`
//! (`HttpWorkerProcess.CreateWorkerProcess`, Azure/azure-functions-host
//! `src/WebJobs.Script/Workers/Http/HttpWorkerProcess.cs`); the handler's working directory
//! is the app root too, unless `host.json` sets `customHandler.description.workingDirectory`
//! (`HttpWorkerOptionsSetup.cs`), so the current directory is only the last resort. A missing or unreadable file leaves everything unknown: the trigger's
//! entry is then the only entry of `Data`, spans have no destination, and an HTTP response
//! goes to the output binding `res`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parts of a `function.json` the trace uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionBindings {
    trigger_name: Option<String>,
    destination: Option<String>,
    subscription: Option<String>,
    route: Option<String>,
    schedule: Option<String>,
    http_output: Option<String>,
    many: Option<bool>,
    binary: bool,
}

#[derive(Deserialize)]
struct FunctionJson {
    #[serde(default)]
    bindings: Vec<Binding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Binding {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    name: String,
    queue_name: Option<String>,
    topic_name: Option<String>,
    subscription_name: Option<String>,
    event_hub_name: Option<String>,
    route: Option<String>,
    schedule: Option<String>,
    cardinality: Option<String>,
    data_type: Option<String>,
}

/// Longest `function.json` read; a function's bindings are a few hundred bytes.
const MAX_FILE: u64 = 256 * 1024;

impl FunctionBindings {
    /// Nothing known.
    pub const UNKNOWN: FunctionBindings = FunctionBindings {
        trigger_name: None,
        destination: None,
        subscription: None,
        route: None,
        schedule: None,
        http_output: None,
        many: None,
        binary: false,
    };

    /// The function app's root: `FUNCTIONS_APP_ROOT_PATH` (what the host passes its custom
    /// handler), else `AzureWebJobsScriptRoot` (an app setting of the host's own), else the
    /// current directory.
    pub fn app_root() -> PathBuf {
        ["FUNCTIONS_APP_ROOT_PATH", "AzureWebJobsScriptRoot"]
            .iter()
            .filter_map(std::env::var_os)
            .find(|root| !root.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The bindings of `function` in the app root `root`; all unknown when its
    /// `function.json` cannot be read.
    pub fn load_from(root: &Path, function: &str) -> Self {
        if function.contains(['/', '\\']) || function.starts_with('.') {
            return FunctionBindings::default();
        }
        let path = root.join(function).join("function.json");
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_FILE);
        match small.then(|| std::fs::read(&path)) {
            Some(Ok(text)) => FunctionBindings::parse(&text).unwrap_or_else(|error| {
                tracing::warn!(target: "otel_faas", "{}: {error}", path.display());
                FunctionBindings::default()
            }),
            _ => FunctionBindings::default(),
        }
    }

    /// The bindings a `function.json` text declares.
    pub fn parse(text: &[u8]) -> Result<Self, serde_json::Error> {
        let file: FunctionJson = serde_json::from_slice(text)?;
        let mut bindings = FunctionBindings::default();
        for binding in file.bindings {
            let is_in = binding.direction.eq_ignore_ascii_case("in");
            if is_in && binding.kind.ends_with("Trigger") {
                bindings.trigger_name = Some(binding.name);
                bindings.destination = binding
                    .queue_name
                    .or(binding.topic_name)
                    .or(binding.event_hub_name)
                    .filter(|d| !d.starts_with('%'));
                bindings.subscription = binding.subscription_name;
                bindings.route = binding.route;
                bindings.schedule = binding.schedule.filter(|s| !s.starts_with('%'));
                bindings.many = binding.cardinality.map(|c| c.eq_ignore_ascii_case("many"));
                bindings.binary = binding
                    .data_type
                    .is_some_and(|t| t.eq_ignore_ascii_case("binary"));
            } else if binding.direction.eq_ignore_ascii_case("out")
                && binding.kind.eq_ignore_ascii_case("http")
            {
                bindings.http_output = Some(binding.name);
            }
        }
        Ok(bindings)
    }

    /// The trigger binding's name: its key in `Data`.
    pub fn trigger_name(&self) -> Option<&str> {
        self.trigger_name.as_deref()
    }

    /// The queue, topic or event hub the trigger reads (not an `%app setting%` reference).
    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    /// The Service Bus subscription the trigger reads.
    pub fn subscription(&self) -> Option<&str> {
        self.subscription.as_deref()
    }

    /// The HTTP trigger's route template, without the `api/` prefix.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The timer trigger's NCRONTAB schedule (not an `%app setting%` reference).
    pub fn schedule(&self) -> Option<&str> {
        self.schedule.as_deref()
    }

    /// Whether a forwarded request's path after `/api/` fits the route template: literal
    /// segments match case-insensitively, `{param}` (with or without a constraint) matches
    /// one segment, `{*rest}` the rest, and a trailing `{param?}` may be absent.
    pub fn route_matches(&self, path: &str) -> bool {
        let Some(route) = &self.route else {
            return false;
        };
        let mut actual = path.trim_matches('/').split('/').filter(|s| !s.is_empty());
        for template in route.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
            let is_param = template.starts_with('{') && template.ends_with('}');
            if is_param && template.starts_with("{*") {
                return true;
            }
            match actual.next() {
                Some(segment) if is_param || segment.eq_ignore_ascii_case(template) => {}
                None if is_param && template.ends_with("?}") => return true,
                _ => return false,
            }
        }
        actual.next().is_none()
    }

    /// The trigger's `cardinality`: `Some(true)` for `"many"` (a batch), `Some(false)` for
    /// `"one"`, `None` when `function.json` does not say.
    pub fn cardinality_many(&self) -> Option<bool> {
        self.many
    }

    /// Whether the trigger's `dataType` is `binary` (the host then sends the body as
    /// base64).
    pub fn binary(&self) -> bool {
        self.binary
    }

    /// The HTTP output binding's name (`res`, or `$return`).
    pub fn http_output(&self) -> &str {
        self.http_output.as_deref().unwrap_or("res")
    }

    /// These bindings with a trigger binding named `name` reading `destination`, for apps
    /// that register functions without a `function.json` next to them (tests, examples).
    pub fn with_trigger(mut self, name: &str, destination: Option<&str>) -> Self {
        self.trigger_name = Some(name.to_owned());
        self.destination = destination.map(str::to_owned);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_binding_and_http_output_are_read() {
        let text = br#"{"bindings": [
            {"name": "order", "type": "serviceBusTrigger", "direction": "in", "queueName": "orders", "connection": "SB"},
            {"name": "$return", "type": "http", "direction": "out"}
        ]}"#;
        let bindings = FunctionBindings::parse(text).unwrap();
        assert_eq!(bindings.trigger_name(), Some("order"));
        assert_eq!(bindings.destination(), Some("orders"));
        assert_eq!(bindings.http_output(), "$return");
        let timer = br#"{"bindings": [{"name": "t", "type": "timerTrigger", "direction": "in", "schedule": "0 0 2 * * *"}]}"#;
        assert_eq!(
            FunctionBindings::parse(timer).unwrap().schedule(),
            Some("0 0 2 * * *")
        );
        let setting = br#"{"bindings": [{"name": "m", "type": "queueTrigger", "direction": "in", "queueName": "%QUEUE%"}]}"#;
        assert_eq!(
            FunctionBindings::parse(setting).unwrap().destination(),
            None
        );
    }

    #[test]
    fn routes_match_their_paths() {
        let route = |r: &str| FunctionBindings {
            route: Some(r.to_owned()),
            ..FunctionBindings::UNKNOWN
        };
        assert!(route("greetings/{name}").route_matches("greetings/ada"));
        assert!(route("greetings/{name}").route_matches("/Greetings/ada/"));
        assert!(!route("greetings/{name}").route_matches("greetings"));
        assert!(!route("greetings/{name}").route_matches("greetings/ada/more"));
        assert!(route("products/{id:int?}").route_matches("products"));
        assert!(route("files/{*path}").route_matches("files/a/b/c"));
        assert!(!route("orders").route_matches("order"));
        assert!(!FunctionBindings::UNKNOWN.route_matches("anything"));
    }

    #[test]
    fn a_function_name_cannot_leave_the_app_root() {
        let root = Path::new("/");
        assert_eq!(
            FunctionBindings::load_from(root, "../etc"),
            FunctionBindings::default()
        );
        assert_eq!(
            FunctionBindings::load_from(root, "a/b"),
            FunctionBindings::default()
        );
    }
}
