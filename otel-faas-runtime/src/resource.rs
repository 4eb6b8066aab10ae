//! The resource every span carries: what ran, where.
//!
//! On AWS Lambda the detector of `opentelemetry-aws` supplies `cloud.provider`,
//! `cloud.platform`, `cloud.region`, `faas.name`, `faas.version`, `faas.instance` (the log
//! stream) and `faas.max_memory` (bytes). `OTEL_RESOURCE_ATTRIBUTES` overrides them, and
//! `service.name` is `OTEL_SERVICE_NAME`, else `service.name` from `OTEL_RESOURCE_ATTRIBUTES`,
//! else the function name — never `unknown_service` on Lambda.

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{ResourceDetector, TelemetryResourceDetector};
use opentelemetry_semantic_conventions::attribute::{FAAS_NAME, SERVICE_NAME};

use crate::config::Config;

/// Detects the Lambda resource from the process environment.
pub(crate) fn detect(config: &Config) -> Resource {
    build(
        config,
        opentelemetry_aws::detector::LambdaResourceDetector.detect(),
    )
}

/// Combines platform attributes with the configured ones.
pub(crate) fn build(config: &Config, platform: Resource) -> Resource {
    let from_env: Vec<KeyValue> = config
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let service_name = config
        .service_name
        .clone()
        .or_else(|| {
            config
                .resource_attributes
                .iter()
                .find(|(k, _)| k == SERVICE_NAME)
                .map(|(_, v)| v.clone())
        })
        .or_else(|| {
            // Azure Functions: the function app's name (one process serves every function).
            platform
                .get(&Key::from_static_str(SERVICE_NAME))
                .or_else(|| platform.get(&Key::from_static_str(FAAS_NAME)))
                .map(|v| v.to_string())
        })
        .unwrap_or_else(|| "unknown_service".to_owned());
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            platform
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes(from_env)
        .with_service_name(service_name)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_name(config: &Config, platform: Resource) -> String {
        build(config, platform)
            .get(&Key::from_static_str(SERVICE_NAME))
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    fn lambda_platform() -> Resource {
        Resource::builder_empty()
            .with_attributes([
                KeyValue::new(FAAS_NAME, "orders"),
                KeyValue::new("cloud.provider", "aws"),
            ])
            .build()
    }

    #[test]
    fn service_name_falls_back_to_the_function_name() {
        assert_eq!(
            service_name(&Config::from_lookup(|_| None), lambda_platform()),
            "orders"
        );
    }

    #[test]
    fn service_name_prefers_otel_service_name_then_resource_attributes() {
        let both = Config::from_lookup(|k| match k {
            "OTEL_SERVICE_NAME" => Some("checkout".into()),
            "OTEL_RESOURCE_ATTRIBUTES" => Some("service.name=billing".into()),
            _ => None,
        });
        assert_eq!(service_name(&both, lambda_platform()), "checkout");
        let attrs = Config::from_lookup(|k| {
            (k == "OTEL_RESOURCE_ATTRIBUTES").then(|| "service.name=billing".into())
        });
        assert_eq!(service_name(&attrs, lambda_platform()), "billing");
    }

    #[test]
    fn resource_attributes_override_detected_ones() {
        let config = Config::from_lookup(|k| {
            (k == "OTEL_RESOURCE_ATTRIBUTES").then(|| "cloud.provider=mine".into())
        });
        let resource = build(&config, lambda_platform());
        assert_eq!(
            resource
                .get(&Key::from_static_str("cloud.provider"))
                .map(|v| v.to_string())
                .as_deref(),
            Some("mine")
        );
        assert!(
            resource
                .get(&Key::from_static_str("telemetry.sdk.name"))
                .is_some()
        );
    }
}
