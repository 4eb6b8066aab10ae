//! TLS for `https` endpoints: rustls with the `ring` provider, the Mozilla root
//! certificates compiled in (`webpki-roots`), the extra authorities of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, and the client certificate and key of
//! `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_CLIENT_KEY` for mTLS (all PEM files, and
//! their per-signal forms).
//!
//! Why compiled-in roots: they cost no file reading or parsing at cold start, and work in
//! any image (a `FROM scratch` container has no system bundle); see the README for the
//! measured size. Why `ring`: `aws-lc-rs`, rustls' default, builds a C library with CMake,
//! which slows a cold build and needs a C toolchain and CMake on every machine that builds.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::settings::OtlpSettings;

/// The rustls configuration `settings` ask for; fails when a file cannot be read or used.
pub(crate) fn client_config(settings: &OtlpSettings) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &settings.certificate {
        let certificates = certificates(path)?;
        let (added, _ignored) = roots.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(format!(
                "the certificate file {} holds no usable CA certificate",
                path.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS could not be set up: {error}"))?
        .with_root_certificates(roots);
    // ALPN (`http/1.1`) is set by `hyper-rustls`, which refuses a configuration that has one.
    let config = match (&settings.client_certificate, &settings.client_key) {
        (Some(chain), Some(key)) => {
            let chain = certificates(chain)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| {
                format!(
                    "the client key {} could not be read: {error}",
                    key.display()
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| format!("the client certificate and key do not fit: {error}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Every certificate of a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let unreadable = |error: &dyn std::fmt::Display| {
        format!(
            "the certificate file {} could not be read: {error}",
            path.display()
        )
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| unreadable(&error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(&error))?;
    match certificates.is_empty() {
        true => Err(format!(
            "the certificate file {} holds no PEM certificate",
            path.display()
        )),
        false => Ok(certificates),
    }
}
