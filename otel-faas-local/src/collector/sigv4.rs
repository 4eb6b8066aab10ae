//! The collector's SigV4 check: the `Authorization` of an export is recomputed with the
//! credentials, service and region the collector knows, from the request's own
//! `x-amz-date`, signed headers and body, and must match (AWS Signature Version 4, as
//! `aws-sigv4` computes it for AWS's SDKs).

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderMap;
use http::request::Parts;

use super::SigV4Check;

/// `Ok` when the request carries the signature `check` expects; else why not.
pub(super) fn verify(check: &SigV4Check, parts: &Parts, body: &[u8]) -> Result<(), String> {
    let text = |headers: &HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = text(&parts.headers, "authorization").ok_or("no Authorization header")?;
    let date = text(&parts.headers, "x-amz-date").ok_or("no x-amz-date header")?;
    let time = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| format!("x-amz-date {date:?} is not a SigV4 date"))?
        .and_utc();
    let time = SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(time.timestamp()).unwrap_or_default());
    if check.session_token.is_some()
        && text(&parts.headers, "x-amz-security-token") != check.session_token
    {
        return Err("the session token is missing or wrong".to_owned());
    }
    let signed_names: Vec<String> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .ok_or("no SignedHeaders in Authorization")?
        .split(';')
        .map(str::to_owned)
        .collect();
    let headers: Vec<(String, String)> = signed_names
        .iter()
        .filter(|name| !matches!(name.as_str(), "x-amz-date" | "x-amz-security-token"))
        .filter_map(|name| Some((name.clone(), text(&parts.headers, name)?)))
        .collect();
    let identity = aws_credential_types::Credentials::new(
        &check.access_key_id,
        &check.secret_access_key,
        check.session_token.clone(),
        None,
        "collector",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&check.region)
        .name(&check.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| error.to_string())?
        .into();
    // The URI as the client signed it: scheme and authority from its Host header.
    let host = text(&parts.headers, "host").unwrap_or_default();
    let uri = format!("http://{host}{}", parts.uri.path());
    let request = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|error| error.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|error| error.to_string())?
        .into_parts();
    let (expected, _) = instructions.into_parts();
    let expected = expected
        .iter()
        .find(|header| header.name() == "authorization")
        .map(|header| header.value().to_owned())
        .ok_or("no signature computed")?;
    match expected == authorization {
        true => Ok(()),
        false => {
            Err("the signature does not match (body, service, region or credentials)".to_owned())
        }
    }
}
