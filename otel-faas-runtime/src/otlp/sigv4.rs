//! SigV4 for AWS's OTLP endpoints: every export is signed with the function's own
//! credentials by the field's signer (`aws-sigv4`), after compression, once per export
//! (a signature stays valid for minutes; retries inside the flush budget reuse it).
//!
//! CloudWatch's OTLP endpoints (`https://xray.<region>.amazonaws.com/v1/traces`,
//! `https://logs.<region>.amazonaws.com/v1/logs`) authenticate callers with Signature
//! Version 4 (AWS documentation, "CloudWatch OTLP endpoints").

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use super::settings::SigV4;

/// The headers that sign one request: `authorization`, `x-amz-date` and, with a session
/// token, `x-amz-security-token`.
pub(crate) fn signing_headers(
    sigv4: &SigV4,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let identity = aws_credential_types::Credentials::new(
        &sigv4.access_key_id,
        &sigv4.secret_access_key,
        sigv4.session_token.clone(),
        None,
        "environment",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&sigv4.region)
        .name(&sigv4.service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| format!("SigV4 signing could not be set up: {error}"))?
        .into();
    // Every header sent is signed, `host` among them (the transport sets it).
    let signed: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let request = SignableRequest::new(
        "POST",
        uri.to_string(),
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|error| format!("the request could not be signed: {error}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|error| format!("the request could not be signed: {error}"))?
        .into_parts();
    let (headers, _query) = instructions.into_parts();
    headers
        .into_iter()
        .map(|header| {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|error| format!("SigV4 header: {error}"))?;
            let value = HeaderValue::from_str(header.value())
                .map_err(|error| format!("SigV4 header: {error}"))?;
            Ok((name, value))
        })
        .collect()
}
