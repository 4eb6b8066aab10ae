//! `APPLICATIONINSIGHTS_CONNECTION_STRING`, read and checked at start-up.
//!
//! The grammar is the one Microsoft's exporters parse
//! (Azure/azure-sdk-for-python,
//! `sdk/monitor/azure-monitor-opentelemetry-exporter/azure/monitor/opentelemetry/exporter/_connection_string_parser.py`;
//! Azure/azure-sdk-for-js, `sdk/monitor/monitor-opentelemetry-exporter/src/utils/connectionStringParser.ts`,
//! which `opentelemetry-application-insights`' `connection_string.rs` follows):
//!
//! - `Key=Value` entries separated by `;`, keys case-insensitive;
//! - `InstrumentationKey` is required and is a UUID (the Python parser's
//!   `_validate_instrumentation_key`);
//! - `Authorization`, when present, must be `ikey`: Microsoft Entra ID tokens are not
//!   supported here;
//! - the ingestion endpoint is `IngestionEndpoint`, else `https://{Location.}dc.{EndpointSuffix}`
//!   when `EndpointSuffix` is given, else the global `https://dc.services.visualstudio.com`;
//!   it is always `https` (the JS parser's `sanitizeUrl`, which the exporter crate applies);
//! - other keys (`LiveEndpoint`, `ApplicationId`, …) are ignored.
//!
//! Where this reader is more lenient than Python's: empty entries (a trailing `;`) and blanks
//! around keys and values are ignored, and the key's hex digits may be upper case.
//!
//! The instrumentation key is not a credential in Microsoft's sense, but it lets anyone
//! write into the resource: it is never printed in full — not by `Debug`, not in errors.

use std::path::PathBuf;

/// The variable the connection string is read from (the name every Azure Monitor SDK and
/// the Functions host use).
pub const CONNECTION_STRING_VAR: &str = "APPLICATIONINSIGHTS_CONNECTION_STRING";

/// The ingestion endpoint when the connection string names none.
const DEFAULT_INGESTION_ENDPOINT: &str = "https://dc.services.visualstudio.com";

/// Where and as which Application Insights resource spans are sent.
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicationInsightsSettings {
    /// The `InstrumentationKey` (never printed in full: see
    /// [`ApplicationInsightsSettings::redacted_key`]).
    pub instrumentation_key: String,
    /// The endpoint telemetry is posted to (`{endpoint}/v2/track`), always `https`.
    pub ingestion_endpoint: String,
    /// `SSL_CERT_FILE`: a PEM file of certificate authorities trusted beside the built-in
    /// roots, for a proxy that inspects TLS (or a test's ingestion double).
    pub certificate: Option<PathBuf>,
}

impl std::fmt::Debug for ApplicationInsightsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationInsightsSettings")
            .field("instrumentation_key", &self.redacted_key())
            .field("ingestion_endpoint", &self.ingestion_endpoint)
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl ApplicationInsightsSettings {
    /// Reads `APPLICATIONINSIGHTS_CONNECTION_STRING` (and `SSL_CERT_FILE`) through `var`;
    /// an error names the variable and what is wrong, never the key.
    pub(crate) fn read(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let raw = var(CONNECTION_STRING_VAR)
            .ok_or_else(|| format!("{CONNECTION_STRING_VAR} is not set"))?;
        let mut settings =
            Self::parse(&raw).map_err(|why| format!("{CONNECTION_STRING_VAR}: {why}"))?;
        settings.certificate = var("SSL_CERT_FILE").map(PathBuf::from);
        Ok(settings)
    }

    /// Parses a connection string; the error says what is wrong, never the key.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let mut key = None;
        let mut ingestion = None;
        let mut suffix = None;
        let mut location = None;
        for (n, entry) in raw.split(';').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some((name, value)) = entry.split_once('=') else {
                // The entry may hold the key: say where it is, not what it says.
                return Err(format!(
                    "entry {} is not Key=Value (expected InstrumentationKey=…;IngestionEndpoint=…)",
                    n + 1
                ));
            };
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "instrumentationkey" => key = Some(value),
                "ingestionendpoint" => ingestion = Some(value),
                "endpointsuffix" => suffix = Some(value),
                "location" => location = Some(value),
                "authorization" if !value.eq_ignore_ascii_case("ikey") => {
                    return Err(format!(
                        "Authorization={value:?} is not supported (only ikey: Microsoft Entra \
                         ID tokens are not); use the resource's connection string"
                    ));
                }
                _ => {}
            }
        }
        let key = key
            .filter(|key| !key.is_empty())
            .ok_or("it has no InstrumentationKey")?;
        if !is_uuid(&key) {
            return Err("its InstrumentationKey is not a UUID".to_owned());
        }
        let endpoint = match (ingestion, suffix) {
            (Some(endpoint), _) => endpoint,
            (None, Some(suffix)) if !suffix.is_empty() => {
                let prefix = location.map(|l| format!("{l}.")).unwrap_or_default();
                format!("https://{prefix}dc.{suffix}")
            }
            _ => DEFAULT_INGESTION_ENDPOINT.to_owned(),
        };
        let endpoint = https(&endpoint)?;
        Ok(ApplicationInsightsSettings {
            instrumentation_key: key,
            ingestion_endpoint: endpoint,
            certificate: None,
        })
    }

    /// The connection string in the one form the exporter crate parses (it refuses, say,
    /// a trailing `;`).
    #[cfg_attr(not(feature = "azure-monitor"), allow(dead_code))]
    pub(crate) fn canonical(&self) -> String {
        format!(
            "InstrumentationKey={};IngestionEndpoint={}",
            self.instrumentation_key, self.ingestion_endpoint
        )
    }

    /// The instrumentation key as it may be printed: its first eight characters.
    pub fn redacted_key(&self) -> String {
        let head: String = self.instrumentation_key.chars().take(8).collect();
        format!("{head}-…")
    }
}

/// `endpoint` as an `https` URL without a trailing `/`, as the exporter posts to it.
fn https(endpoint: &str) -> Result<String, String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let endpoint = match endpoint.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => endpoint.to_owned(),
    };
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| format!("IngestionEndpoint {endpoint:?} is not a URL"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(host)) if !host.is_empty() => Ok(endpoint),
        _ => Err(format!(
            "IngestionEndpoint {endpoint:?} is not an https:// URL"
        )),
    }
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0f3c1a2b-4d5e-4f60-8a1b-2c3d4e5f6a7b";

    fn parse(raw: &str) -> Result<ApplicationInsightsSettings, String> {
        ApplicationInsightsSettings::parse(raw)
    }

    #[test]
    fn the_portals_connection_string_gives_its_regional_endpoint() {
        let raw = format!(
            "InstrumentationKey={KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;ApplicationId=5b7c"
        );
        let settings = parse(&raw).expect("valid");
        assert_eq!(settings.instrumentation_key, KEY);
        assert_eq!(
            settings.ingestion_endpoint,
            "https://westeurope-5.in.applicationinsights.azure.com"
        );
    }

    #[test]
    fn endpoints_default_as_microsofts_parsers_build_them() {
        let only_key = parse(&format!("instrumentationkey={KEY};")).expect("valid");
        assert_eq!(only_key.ingestion_endpoint, DEFAULT_INGESTION_ENDPOINT);
        let suffix = parse(&format!(
            "InstrumentationKey={KEY};EndpointSuffix=ai.contoso.com;Location=westus2"
        ))
        .expect("valid");
        assert_eq!(
            suffix.ingestion_endpoint,
            "https://westus2.dc.ai.contoso.com"
        );
        let plain = parse(&format!(
            "Authorization=ikey;InstrumentationKey={KEY};IngestionEndpoint= http://ingest.example/ "
        ))
        .expect("valid");
        assert_eq!(plain.ingestion_endpoint, "https://ingest.example");
    }

    #[test]
    fn a_malformed_connection_string_says_why_and_never_shows_the_key() {
        for (raw, why) in [
            (String::new(), "no InstrumentationKey"),
            (
                "IngestionEndpoint=https://x".to_owned(),
                "no InstrumentationKey",
            ),
            (
                format!("InstrumentationKey={KEY};garbage"),
                "entry 2 is not Key=Value",
            ),
            (KEY.to_owned(), "entry 1 is not Key=Value"),
            (
                "InstrumentationKey=0f3c1a2b-secret".to_owned(),
                "not a UUID",
            ),
            (
                format!("InstrumentationKey={KEY};Authorization=AAD"),
                "Entra",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=ftp://x/"),
                "not an https:// URL",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=https://"),
                "not",
            ),
        ] {
            let error = parse(&raw).expect_err(&raw);
            assert!(error.contains(why), "{error:?} should say {why:?}");
            assert!(!error.contains("0f3c1a2b"), "{error:?} shows the key");
        }
        let read = ApplicationInsightsSettings::read(&|name| {
            (name == CONNECTION_STRING_VAR).then(|| format!("InstrumentationKey={KEY};x"))
        });
        assert!(
            read.expect_err("malformed")
                .starts_with("APPLICATIONINSIGHTS_CONNECTION_STRING: "),
            "the error names the variable"
        );
    }

    #[test]
    fn debug_shows_only_the_keys_first_eight_characters() {
        let settings = parse(&format!("InstrumentationKey={KEY}")).expect("valid");
        let printed = format!("{settings:?}");
        assert!(printed.contains("0f3c1a2b-…"), "{printed}");
        assert!(!printed.contains(&KEY[9..]), "{printed}");
    }
}
