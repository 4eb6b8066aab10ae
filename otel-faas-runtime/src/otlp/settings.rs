//! The OTLP exporter's settings for one signal, read from the variables the OpenTelemetry
//! specification names (`specification/protocol/exporter.md`, "Configuration Options"):
//! each `OTEL_EXPORTER_OTLP_<OPTION>` is overridden by its signal's
//! `OTEL_EXPORTER_OTLP_<SIGNAL>_<OPTION>`.
//!
//! A value this build cannot honour — a protocol or compression whose cargo feature is off,
//! an `https` endpoint without the `tls` feature, an unknown value — is an error that names
//! the variable and the feature, never a silent fallback: the signal is then not exported,
//! and the error is logged at start-up.

use std::path::PathBuf;
use std::time::Duration;

/// Which telemetry an OTLP exporter sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans, to `/v1/traces`.
    Traces,
    /// Metric data points, to `/v1/metrics`.
    Metrics,
    /// Log records, to `/v1/logs`.
    Logs,
}

impl Signal {
    /// The infix of the signal's own variables: `TRACES` in `OTEL_EXPORTER_OTLP_TRACES_*`.
    pub(crate) fn infix(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Signal::Traces => "v1/traces",
            Signal::Metrics => "v1/metrics",
            Signal::Logs => "v1/logs",
        }
    }

    /// The path of the signal's OTLP/gRPC method: `/{package}.{service}/Export`, from the
    /// service definitions in opentelemetry-proto (`opentelemetry/proto/collector/trace/v1/trace_service.proto`
    /// `…/metrics/v1/metrics_service.proto` and `…/logs/v1/logs_service.proto`).
    pub(crate) fn grpc_method(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }
}

/// The OTLP transport protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (the default): binary protobuf over HTTP.
    HttpProtobuf,
    /// `http/json`: the OTLP/JSON encoding over HTTP (the `http-json` feature).
    HttpJson,
    /// `grpc`: unary OTLP/gRPC calls over HTTP/2 (the `grpc` feature).
    Grpc,
}

/// How export bodies are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// `none` (the default).
    None,
    /// `gzip` (the `gzip` feature).
    Gzip,
}

/// The default of `OTEL_EXPORTER_OTLP_TIMEOUT`: 10 s, as the specification says.
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how one signal is exported over OTLP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The full URL posted to: the signal's own `…_ENDPOINT` as given (`/` when it has no
    /// path), else `OTEL_EXPORTER_OTLP_ENDPOINT` with `v1/traces`, `v1/metrics` or `v1/logs`
    /// appended; default `http://localhost:4318/v1/…`. With `grpc`, the endpoint's scheme,
    /// host and port followed by the signal's gRPC method
    /// (`/opentelemetry.proto.collector.trace.v1.TraceService/Export`, …); default
    /// `http://localhost:4317`.
    pub endpoint: String,
    /// `…_PROTOCOL`; default `http/protobuf`.
    pub protocol: Protocol,
    /// `…_HEADERS`: `key=value,…` (values percent-decoded), sent with every export.
    pub headers: Vec<(String, String)>,
    /// `…_COMPRESSION`; default none.
    pub compression: Compression,
    /// `…_TIMEOUT` (milliseconds): the longest one request may take; default 10 s. The flush
    /// budget bounds every export further.
    pub timeout: Duration,
    /// `…_CERTIFICATE`: a PEM file of certificate authorities trusted beside the built-in
    /// roots, for `https` endpoints.
    pub certificate: Option<PathBuf>,
    /// `…_CLIENT_CERTIFICATE`: the PEM certificate chain presented for mTLS.
    pub client_certificate: Option<PathBuf>,
    /// `…_CLIENT_KEY`: the PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// SigV4 signing of every export (the `aws-sigv4` feature), when `OTEL_FAAS_SIGV4` asks
    /// for it or, by default, when the endpoint is an `*.amazonaws.com` host.
    pub sigv4: Option<SigV4>,
}

/// How exports to an AWS OTLP endpoint are signed (Signature Version 4).
#[derive(Clone, PartialEq, Eq)]
pub struct SigV4 {
    /// The signing name: `OTEL_FAAS_SIGV4_<SIGNAL>_SERVICE`, else `OTEL_FAAS_SIGV4_SERVICE`,
    /// else the first label of a `<service>.<region>.amazonaws.com` host, else `logs` for
    /// log records and `xray` for the other signals.
    pub service: String,
    /// The region: the second label of such a host, else `AWS_REGION`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` (never printed).
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, which Lambda sets for the function's role (never printed).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigV4")
            .field("service", &self.service)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl OtlpSettings {
    /// Reads the settings of `signal` through `var` (which answers a trimmed, non-empty
    /// value or nothing). Returns the settings, or what this build cannot honour; values
    /// that are merely malformed become `warnings` and their defaults.
    pub(crate) fn read(
        signal: Signal,
        var: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<OtlpSettings, String> {
        // The signal's own variable first, then the general one; the name tells which.
        let option = |name: &str| -> Option<(String, String)> {
            let own = format!("OTEL_EXPORTER_OTLP_{}_{name}", signal.infix());
            if let Some(value) = var(&own) {
                return Some((own, value));
            }
            let general = format!("OTEL_EXPORTER_OTLP_{name}");
            var(&general).map(|value| (general, value))
        };

        let protocol = match option("PROTOCOL") {
            None => Protocol::HttpProtobuf,
            Some((name, value)) => match value.as_str() {
                "http/protobuf" => Protocol::HttpProtobuf,
                "http/json" if cfg!(feature = "http-json") => Protocol::HttpJson,
                "http/json" => {
                    return Err(format!(
                        "{name}=\"http/json\" is not compiled in: enable the `http-json` feature \
                         of otel-faas-runtime, or use http/protobuf"
                    ));
                }
                "grpc" if cfg!(feature = "grpc") => Protocol::Grpc,
                "grpc" => {
                    return Err(format!(
                        "{name}=\"grpc\" is not compiled in: enable the `grpc` feature of \
                         otel-faas-runtime, or use http/protobuf (the default; a collector's \
                         OTLP/HTTP receiver listens on port 4318)"
                    ));
                }
                other => {
                    return Err(format!(
                        "{name}={other:?} is not an OTLP protocol (http/protobuf, http/json, grpc)"
                    ));
                }
            },
        };

        let own_endpoint = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.infix());
        let (endpoint_var, endpoint) = match protocol {
            Protocol::Grpc => grpc_endpoint(signal, &own_endpoint, var, warnings),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                match (var(&own_endpoint), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
                    (Some(endpoint), _) => (own_endpoint, with_root_path(endpoint)),
                    (None, Some(base)) => (
                        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                        format!("{}/{}", base.trim_end_matches('/'), signal.path()),
                    ),
                    (None, None) => (
                        String::new(),
                        format!("http://localhost:4318/{}", signal.path()),
                    ),
                }
            }
        };
        match endpoint.parse::<http::Uri>() {
            Ok(uri) => match uri.scheme_str() {
                Some("http") => {}
                Some("https") if cfg!(feature = "tls") => {}
                Some("https") => {
                    return Err(format!(
                        "{endpoint_var}={endpoint:?} is an https endpoint, and this build has no TLS: \
                         enable the `tls` feature of otel-faas-runtime (on by default)"
                    ));
                }
                _ => {
                    return Err(format!(
                        "{endpoint_var}={endpoint:?} is not an http:// or https:// URL"
                    ));
                }
            },
            Err(error) => {
                return Err(format!("{endpoint_var}={endpoint:?} is not a URL: {error}"));
            }
        }

        let compression = match option("COMPRESSION") {
            None => Compression::None,
            Some((name, value)) => match value.to_ascii_lowercase().as_str() {
                "none" => Compression::None,
                "gzip" if cfg!(feature = "gzip") => Compression::Gzip,
                "gzip" => {
                    return Err(format!(
                        "{name}=\"gzip\" is not compiled in: enable the `gzip` feature of \
                         otel-faas-runtime (on by default), or unset it"
                    ));
                }
                other => {
                    return Err(format!(
                        "{name}={other:?} is not an OTLP compression (gzip, none)"
                    ));
                }
            },
        };

        let mut headers = option("HEADERS")
            .map(|(name, raw)| parse_headers(&name, &raw, warnings))
            .unwrap_or_default();

        let timeout = match option("TIMEOUT") {
            None => DEFAULT_OTLP_TIMEOUT,
            Some((name, value)) => match value.parse::<u64>() {
                Ok(millis) if millis > 0 => Duration::from_millis(millis),
                _ => {
                    warnings.push(format!(
                        "{name}={value:?} is not a positive number of milliseconds; using {}",
                        DEFAULT_OTLP_TIMEOUT.as_millis()
                    ));
                    DEFAULT_OTLP_TIMEOUT
                }
            },
        };

        let file = |name: &str| option(name).map(|(_, path)| PathBuf::from(path));
        let certificate = file("CERTIFICATE");
        let client_certificate = file("CLIENT_CERTIFICATE");
        let client_key = file("CLIENT_KEY");
        if client_certificate.is_some() != client_key.is_some() {
            return Err(format!(
                "mTLS needs both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and \
                 OTEL_EXPORTER_OTLP_CLIENT_KEY (or their OTEL_EXPORTER_OTLP_{}_* forms); only one \
                 is set",
                signal.infix()
            ));
        }
        let tls_files = certificate.is_some() || client_certificate.is_some();
        if tls_files && !endpoint.starts_with("https://") {
            warnings.push(format!(
                "OTEL_EXPORTER_OTLP_*CERTIFICATE / CLIENT_KEY are set but the {} endpoint {endpoint} \
                 is not https: they are not used",
                signal.infix().to_ascii_lowercase()
            ));
        }

        let sigv4 = read_sigv4(signal, &endpoint, var)?;
        if signal == Signal::Logs
            && let Some(sigv4) = &sigv4
            && sigv4.service == "logs"
        {
            crate::otlp::logs::add_log_group_headers(&mut headers, var);
        }
        // AWS's OTLP endpoints speak OTLP/HTTP only (CloudWatch documentation, "OTLP
        // endpoints"); a signed gRPC call would be refused on every invocation.
        if protocol == Protocol::Grpc && sigv4.is_some() {
            return Err(format!(
                "SigV4-signed exports (OTEL_FAAS_SIGV4, or an *.amazonaws.com endpoint) go over \
                 OTLP/HTTP only: AWS's OTLP endpoints take no gRPC; set \
                 OTEL_EXPORTER_OTLP_{}_PROTOCOL=http/protobuf",
                signal.infix()
            ));
        }
        // CloudWatch takes each signal at a host of its own: traces at `xray.<region>`, logs
        // at `logs.<region>`, metrics at `monitoring.<region>` (CloudWatch User Guide, "OTLP
        // Endpoints" and "Send metrics using OpenTelemetry"). Metrics that followed the
        // general endpoint to the traces or logs host would be refused on every invocation.
        if signal == Signal::Metrics
            && sigv4.is_some()
            && endpoint.contains(".amazonaws.com")
            && !host_of(&endpoint).starts_with("monitoring.")
            && endpoint_var != "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
        {
            return Err(format!(
                "{endpoint_var} points at an AWS endpoint that takes no OTLP metrics: CloudWatch \
                 takes them at https://monitoring.<region>.amazonaws.com/v1/metrics; set \
                 OTEL_EXPORTER_OTLP_METRICS_ENDPOINT to it (or to a collector), or \
                 OTEL_METRICS_EXPORTER=none"
            ));
        }

        // X-Ray's endpoint takes no logs: the general endpoint set for the spans is not the
        // logs' (CloudWatch Logs has its own, `https://logs.<region>.amazonaws.com/v1/logs`).
        if signal == Signal::Logs
            && sigv4.is_some()
            && endpoint.contains("://xray.")
            && endpoint_var != "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
        {
            return Err(format!(
                "{endpoint_var} points at X-Ray, which takes no logs: set \
                 OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=https://logs.<region>.amazonaws.com/v1/logs"
            ));
        }

        Ok(OtlpSettings {
            sigv4,
            endpoint,
            protocol,
            headers,
            compression,
            timeout,
            certificate,
            client_certificate,
            client_key,
        })
    }
}

/// The host of `endpoint`, lower-cased; empty when it has none.
fn host_of(endpoint: &str) -> String {
    endpoint
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// The signing `OTEL_FAAS_SIGV4` (`auto`, the default, `on` or `off`) asks for `endpoint`.
/// The signing name is the signal's own `OTEL_FAAS_SIGV4_<SIGNAL>_SERVICE`, else
/// `OTEL_FAAS_SIGV4_SERVICE`, else the host's first label, else `logs` for log records
/// (CloudWatch Logs) and `xray` for the others.
fn read_sigv4(
    signal: Signal,
    endpoint: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SigV4>, String> {
    let host = host_of(endpoint);
    let aws_host = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    let wanted = match var("OTEL_FAAS_SIGV4")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("auto") => aws_host,
        Some("on" | "true") => true,
        Some("off" | "false") => false,
        Some(other) => {
            return Err(format!("OTEL_FAAS_SIGV4={other:?} is not auto, on or off"));
        }
    };
    if !wanted {
        return Ok(None);
    }
    if !cfg!(feature = "aws-sigv4") {
        return Err(format!(
            "exports to {endpoint} must be SigV4-signed (OTEL_FAAS_SIGV4, or an *.amazonaws.com \
             endpoint): enable the `aws-sigv4` feature of otel-faas-runtime"
        ));
    }
    let labels: Vec<&str> = host.split('.').collect();
    let (host_service, host_region) = match (aws_host, labels.as_slice()) {
        (true, [service, region, ..]) if labels.len() >= 4 => (Some(*service), Some(*region)),
        _ => (None, None),
    };
    let default_service = match signal {
        Signal::Logs => "logs",
        Signal::Traces | Signal::Metrics => "xray",
    };
    let service = var(&format!("OTEL_FAAS_SIGV4_{}_SERVICE", signal.infix()))
        .or_else(|| var("OTEL_FAAS_SIGV4_SERVICE"))
        .or(host_service.map(str::to_owned))
        .unwrap_or_else(|| default_service.to_owned());
    let region = host_region
        .map(str::to_owned)
        .or_else(|| var("AWS_REGION"))
        .ok_or_else(|| "SigV4 signing needs a region: AWS_REGION is not set".to_owned())?;
    let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(
            "SigV4 signing needs the function's credentials: AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY are not set"
                .to_owned(),
        );
    };
    Ok(Some(SigV4 {
        service,
        region,
        access_key_id,
        secret_access_key,
        session_token: var("AWS_SESSION_TOKEN"),
    }))
}

/// The endpoint of a `grpc` exporter and the variable it came from: the signal's own
/// `…_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4317`; in each
/// case its scheme, host and port, followed by the signal's gRPC method.
///
/// The exporter specification (`specification/protocol/exporter.md`, "Endpoint
/// (OTLP/gRPC)") gives gRPC no per-signal paths: the endpoint is a target whose `http` or
/// `https` scheme says whether the connection is secure, with `http://localhost:4317` as
/// default ("OTLP/gRPC Default Port" in opentelemetry-proto's `docs/specification.md`); the
/// URL building of "Endpoint URLs for OTLP/HTTP" is for OTLP/HTTP only. A gRPC method has one
/// path, so a path in the endpoint cannot be used: it is dropped with a warning (it is
/// most often an OTLP/HTTP `…/v1/traces` URL left from another protocol).
fn grpc_endpoint(
    signal: Signal,
    own_endpoint: &str,
    var: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> (String, String) {
    let (name, given) = match (var(own_endpoint), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        (Some(endpoint), _) => (own_endpoint.to_owned(), endpoint),
        (None, Some(endpoint)) => ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint),
        (None, None) => (String::new(), "http://localhost:4317".to_owned()),
    };
    let (origin, path) = match given.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
            (format!("{scheme}://{authority}"), path)
        }
        // Not a URL: checked, and refused, with the scheme below.
        None => (given.clone(), ""),
    };
    if !matches!(path, "" | "/") {
        warnings.push(format!(
            "{name}={given:?}: OTLP/gRPC uses the scheme, host and port only; the path {path:?} \
             is not used"
        ));
    }
    (name, format!("{origin}{}", signal.grpc_method()))
}

/// A signal's own endpoint is used as given, except that a URL with no path gets `/`.
fn with_root_path(endpoint: String) -> String {
    let after_scheme = endpoint.split_once("://").map_or("", |(_, rest)| rest);
    match after_scheme.contains('/') {
        true => endpoint,
        false => format!("{endpoint}/"),
    }
}

/// `key=value,key2=value2` in the W3C Baggage format, values percent-decoded (the
/// specification's "Specifying headers via environment variables"); a pair that is not
/// `key=value`, or is not a valid HTTP header, is skipped with a warning.
fn parse_headers(name: &str, raw: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for pair in raw.split(',').filter(|pair| !pair.trim().is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            warnings.push(format!("{name}: an entry is not key=value; ignored"));
            continue;
        };
        let key = crate::config::percent_decode(key.trim());
        let value = crate::config::percent_decode(value.trim());
        let valid = http::HeaderName::from_bytes(key.as_bytes()).is_ok()
            && http::HeaderValue::from_str(&value).is_ok();
        match valid {
            // The value may be a secret: the warning names the key only.
            false => warnings.push(format!(
                "{name}: {key:?} is not a valid HTTP header name and value; ignored"
            )),
            true => headers.push((key, value)),
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(signal: Signal, vars: &[(&str, &str)]) -> (Result<OtlpSettings, String>, Vec<String>) {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        let mut warnings = Vec::new();
        let settings = OtlpSettings::read(
            signal,
            &|key| map.get(key).map(|v| v.to_string()),
            &mut warnings,
        );
        (settings, warnings)
    }

    fn ok(signal: Signal, vars: &[(&str, &str)]) -> OtlpSettings {
        read(signal, vars).0.expect("settings")
    }

    #[test]
    fn endpoints_follow_the_specifications_examples() {
        // Defaults.
        assert_eq!(
            ok(Signal::Traces, &[]).endpoint,
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            ok(Signal::Metrics, &[]).endpoint,
            "http://localhost:4318/v1/metrics"
        );
        // Example 1: the base URL gets the signal's path.
        let base = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")];
        assert_eq!(
            ok(Signal::Traces, &base).endpoint,
            "http://collector:4318/v1/traces"
        );
        // Example 2: a signal's own URL is used as is, `/` when it has no path.
        let own = [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://collector:4318",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://example.com/v1/metrics",
            ),
        ];
        assert_eq!(ok(Signal::Traces, &own).endpoint, "http://collector:4318/");
        assert_eq!(
            ok(Signal::Metrics, &own).endpoint,
            "http://example.com/v1/metrics"
        );
        // Example 3: a base path is kept.
        let nested = [(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318/mycollector/",
        )];
        assert_eq!(
            ok(Signal::Traces, &nested).endpoint,
            "http://collector:4318/mycollector/v1/traces"
        );
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn every_option_is_overridden_by_the_signals_own() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-team=pay%20ments,api-key=s3cret",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "api-key=other"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
        ];
        let traces = ok(Signal::Traces, &vars);
        let metrics = ok(Signal::Metrics, &vars);
        assert_eq!(traces.compression, Compression::Gzip);
        assert_eq!(metrics.compression, Compression::None);
        assert_eq!(
            traces.headers,
            [
                ("x-team".to_owned(), "pay ments".to_owned()),
                ("api-key".to_owned(), "s3cret".to_owned())
            ]
        );
        assert_eq!(
            metrics.headers,
            [("api-key".to_owned(), "other".to_owned())]
        );
        assert_eq!(traces.timeout, Duration::from_millis(700));
        assert_eq!(metrics.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn a_protocol_the_build_lacks_is_an_error_naming_the_variable() {
        let (grpc, _) = read(
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
        );
        match cfg!(feature = "grpc") {
            true => assert_eq!(grpc.expect("grpc").protocol, Protocol::Grpc),
            false => {
                let error = grpc.expect_err("grpc is not built");
                assert!(
                    error.starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"grpc\""),
                    "{error}"
                );
                assert!(error.contains("`grpc` feature"), "{error}");
            }
        }
        let (unknown, _) = read(
            Signal::Metrics,
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")],
        );
        let error = unknown.expect_err("unknown protocol");
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""),
            "{error}"
        );
        let (json, _) = read(
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
        );
        match cfg!(feature = "http-json") {
            true => assert_eq!(json.expect("json").protocol, Protocol::HttpJson),
            false => assert!(json.expect_err("no json").contains("`http-json` feature")),
        }
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_endpoints_are_a_target_with_the_signals_method_and_no_v1_path() {
        let grpc = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        // The default: port 4317, not 4318.
        assert_eq!(
            ok(Signal::Traces, &[grpc]).endpoint,
            "http://localhost:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(
            ok(Signal::Metrics, &[grpc]).endpoint,
            "http://localhost:4317/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        );
        // No `v1/traces` appended to the general endpoint.
        let general = [
            grpc,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
        ];
        assert_eq!(
            ok(Signal::Traces, &general).endpoint,
            "https://collector:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        // A signal's own endpoint first; a path is dropped with a warning.
        let own = [
            grpc,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://metrics:4317/v1/metrics",
            ),
        ];
        let (metrics, warnings) = read(Signal::Metrics, &own);
        assert_eq!(
            metrics.expect("metrics").endpoint,
            "http://metrics:4317/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("\"/v1/metrics\" is not used"),
            "{warnings:?}"
        );
        let (traces, warnings) = read(Signal::Traces, &own);
        assert!(traces.is_ok() && warnings.is_empty(), "{warnings:?}");
        // Only http and https targets.
        let (bad, _) = read(
            Signal::Traces,
            &[grpc, ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
        );
        let error = bad.expect_err("no scheme");
        assert!(error.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT="), "{error}");
    }

    #[cfg(all(feature = "grpc", feature = "aws-sigv4"))]
    #[test]
    fn grpc_to_a_signed_aws_endpoint_is_an_error() {
        let (settings, _) = read(
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "https://xray.us-west-2.amazonaws.com",
                ),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ],
        );
        assert!(
            settings
                .expect_err("grpc to AWS")
                .contains("OTLP/HTTP only")
        );
    }

    #[test]
    fn a_compression_the_build_lacks_or_does_not_know_is_an_error() {
        let (settings, _) = read(
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
        );
        let error = settings.expect_err("zstd");
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\""),
            "{error}"
        );
        let (gzip, _) = read(
            Signal::Metrics,
            &[("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip")],
        );
        match cfg!(feature = "gzip") {
            true => assert_eq!(gzip.expect("gzip").compression, Compression::Gzip),
            false => assert!(gzip.expect_err("no gzip").contains("`gzip` feature")),
        }
    }

    #[test]
    fn an_https_endpoint_needs_tls() {
        let (settings, _) = read(
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")],
        );
        match cfg!(feature = "tls") {
            true => assert_eq!(
                settings.expect("tls").endpoint,
                "https://api.honeycomb.io/v1/traces"
            ),
            false => assert!(settings.expect_err("no tls").contains("`tls` feature")),
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_client_certificate_without_its_key_is_an_error() {
        let (settings, _) = read(
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    "/etc/otel/client.pem",
                ),
            ],
        );
        assert!(settings.expect_err("half mTLS").contains("CLIENT_KEY"));
    }

    #[test]
    fn an_amazonaws_endpoint_is_signed_for_its_service_and_region() {
        let credentials = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_REGION", "eu-west-1"),
        ];
        let mut vars = credentials.to_vec();
        vars.push((
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://xray.us-west-2.amazonaws.com/v1/traces",
        ));
        let (traces, _) = read(Signal::Traces, &vars);
        match cfg!(feature = "aws-sigv4") {
            true => {
                let sigv4 = traces
                    .expect("signed")
                    .sigv4
                    .expect("SigV4 implied by the host");
                assert_eq!(
                    (sigv4.service.as_str(), sigv4.region.as_str()),
                    ("xray", "us-west-2")
                );
                assert_eq!(sigv4.session_token.as_deref(), Some("token"));
                assert!(
                    !format!("{sigv4:?}").contains("EXAMPLEKEY"),
                    "the secret is never printed"
                );
            }
            false => assert!(
                traces
                    .expect_err("no sigv4")
                    .contains("`aws-sigv4` feature")
            ),
        }
        // A collector elsewhere is not signed unless asked.
        let (metrics, _) = read(Signal::Metrics, &vars);
        assert_eq!(metrics.expect("metrics").sigv4, None);
        // Metrics that would follow the traces to X-Ray's host are refused.
        let mut general = credentials.to_vec();
        general.push((
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://xray.us-west-2.amazonaws.com",
        ));
        let (metrics, _) = read(Signal::Metrics, &general);
        match cfg!(feature = "aws-sigv4") {
            true => assert!(
                metrics
                    .expect_err("no metrics at the traces host")
                    .contains("https://monitoring.<region>.amazonaws.com/v1/metrics")
            ),
            false => assert!(
                metrics
                    .expect_err("no sigv4")
                    .contains("`aws-sigv4` feature")
            ),
        }
        // CloudWatch's OTLP metrics endpoint is signed for `monitoring`.
        let mut monitoring = credentials.to_vec();
        monitoring.push((
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "https://monitoring.us-west-2.amazonaws.com/v1/metrics",
        ));
        let (metrics, _) = read(Signal::Metrics, &monitoring);
        if cfg!(feature = "aws-sigv4") {
            let sigv4 = metrics
                .expect("metrics")
                .sigv4
                .expect("implied by the host");
            assert_eq!(
                (sigv4.service.as_str(), sigv4.region.as_str()),
                ("monitoring", "us-west-2")
            );
        }
        let mut forced = credentials.to_vec();
        forced.push(("OTEL_FAAS_SIGV4", "on"));
        let (forced, _) = read(Signal::Metrics, &forced);
        if cfg!(feature = "aws-sigv4") {
            let sigv4 = forced.expect("forced").sigv4.expect("on");
            assert_eq!(
                (sigv4.service.as_str(), sigv4.region.as_str()),
                ("xray", "eu-west-1")
            );
        }
    }

    #[test]
    fn logs_go_to_v1_logs_and_cloudwatch_logs_is_signed_for_logs_with_the_functions_stream() {
        assert_eq!(
            ok(
                Signal::Logs,
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]
            )
            .endpoint,
            "http://c:4318/v1/logs"
        );
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/30/[$LATEST]abc"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "https://logs.us-west-2.amazonaws.com/v1/logs",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://xray.us-west-2.amazonaws.com/v1/traces",
            ),
        ];
        let (logs, _) = read(Signal::Logs, &vars);
        if !cfg!(all(feature = "aws-sigv4", feature = "tls")) {
            assert!(logs.is_err());
            return;
        }
        let logs = logs.expect("logs");
        let sigv4 = logs.sigv4.expect("implied by the host");
        assert_eq!(
            (sigv4.service.as_str(), sigv4.region.as_str()),
            ("logs", "us-west-2")
        );
        assert_eq!(
            logs.headers,
            [
                (
                    "x-aws-log-group".to_owned(),
                    "/aws/lambda/orders".to_owned()
                ),
                (
                    "x-aws-log-stream".to_owned(),
                    "2026/11/30/[$LATEST]abc".to_owned()
                )
            ]
        );
        // The traces are signed for X-Ray, and carry no log group.
        let traces = ok(Signal::Traces, &vars);
        assert_eq!(traces.sigv4.expect("signed").service, "xray");
        assert!(traces.headers.is_empty());
        // Signed elsewhere (OTEL_FAAS_SIGV4=on), logs default to the service `logs` too.
        let mut forced = vars[..5].to_vec();
        forced.push(("OTEL_FAAS_SIGV4", "on"));
        let logs = ok(Signal::Logs, &forced);
        assert_eq!(logs.sigv4.expect("on").service, "logs");
        assert_eq!(logs.headers.len(), 2);
        // X-Ray's endpoint given for every signal is not the logs'.
        let mut general = vars[..5].to_vec();
        general.push((
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://xray.us-west-2.amazonaws.com",
        ));
        let (logs, _) = read(Signal::Logs, &general);
        assert!(
            logs.expect_err("no logs at X-Ray")
                .contains("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
        );
    }

    #[test]
    fn malformed_values_warn_and_keep_their_defaults() {
        let (settings, warnings) = read(
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "novalue,bad key=1,ok=1"),
            ],
        );
        let settings = settings.expect("settings");
        assert_eq!(settings.timeout, DEFAULT_OTLP_TIMEOUT);
        assert_eq!(settings.headers, [("ok".to_owned(), "1".to_owned())]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }
}
