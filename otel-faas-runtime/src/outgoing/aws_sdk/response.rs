//! What an AWS answer's HTTP response says, whatever the service: its status, its request
//! ids, and the error code of a failure, read as the SDK's protocol parsers read it.

use aws_smithy_runtime_api::http::Response;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    AWS_EXTENDED_REQUEST_ID, AWS_REQUEST_ID, HTTP_RESPONSE_STATUS_CODE,
};

use crate::outgoing::OutgoingSpan;

/// The headers an AWS request id comes in, as `aws.request_id`'s definition lists them.
const REQUEST_ID: [&str; 3] = ["x-amzn-requestid", "x-amzn-request-id", "x-amz-request-id"];

/// Records the response's status code, `aws.request_id` and `aws.extended_request_id`.
pub(super) fn record(span: &OutgoingSpan, response: &Response) {
    span.set_attribute(KeyValue::new(
        HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    ));
    let headers = response.headers();
    if let Some(id) = REQUEST_ID.iter().find_map(|name| headers.get(*name)) {
        span.set(AWS_REQUEST_ID, id);
    }
    if let Some(id) = headers.get("x-amz-id-2") {
        span.set(AWS_EXTENDED_REQUEST_ID, id);
    }
}

/// The AWS error code of a failed answer, read as the SDK's own parsers do (the generated
/// `aws_query_compatible_errors.rs` and `json_errors.rs` of each service crate, and
/// `aws-smithy-xml`'s error parsing):
/// - `x-amzn-query-error: Code;Type` (the JSON protocol of a service that was once Query,
///   such as SQS);
/// - `x-amzn-errortype`, then a JSON body's `code` or `__type` (the JSON protocols), less a
///   `namespace#` prefix and a `:url` suffix;
/// - the first `<Code>` of an XML body (REST-XML, Query).
pub(super) fn error_code(response: &Response) -> Option<String> {
    let headers = response.headers();
    if let Some((code, _)) = headers
        .get("x-amzn-query-error")
        .and_then(|v| v.split_once(';'))
        .filter(|(code, _)| !code.is_empty())
    {
        return Some(code.to_owned());
    }
    if let Some(code) = headers.get("x-amzn-errortype") {
        return Some(sanitize(code).to_owned()).filter(|c| !c.is_empty());
    }
    let body = response.body().bytes()?.trim_ascii_start();
    let code = match body.first()? {
        b'{' => json_code(body)?,
        b'<' => xml_code(body)?,
        _ => return None,
    };
    let code = sanitize(&code);
    (!code.is_empty()).then(|| code.to_owned())
}

/// The code of an AWS JSON error body: `code`, else `__type`.
fn json_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        code: Option<String>,
        #[serde(rename = "__type")]
        typ: Option<String>,
    }
    let body: ErrorBody = serde_json::from_slice(body).ok()?;
    body.code.or(body.typ)
}

/// The text of the first `<Code>` element of an XML error body.
fn xml_code(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(body[start..start + len].trim().to_owned())
}

/// An error code less its `namespace#` prefix and `:url` suffix.
fn sanitize(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim()
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn response(headers: &[(&str, &str)], body: &str) -> Response {
        let mut builder = http::Response::builder().status(400);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        Response::try_from(builder.body(SdkBody::from(body.to_owned())).unwrap()).unwrap()
    }

    #[test]
    fn error_codes_are_read_from_every_protocol_as_the_sdk_reads_them() {
        let dynamodb = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no"}"#;
        assert_eq!(
            error_code(&response(&[], dynamodb)).as_deref(),
            Some("ResourceNotFoundException")
        );
        assert_eq!(
            error_code(&response(&[], r#"{"code":"BarError","__type":"FooError"}"#)).as_deref(),
            Some("BarError")
        );
        assert_eq!(
            error_code(&response(
                &[(
                    "x-amzn-errortype",
                    "ThrottlingException:http://internal.amazon.com/"
                )],
                "{}"
            ))
            .as_deref(),
            Some("ThrottlingException")
        );
        assert_eq!(
            error_code(&response(
                &[(
                    "x-amzn-query-error",
                    "AWS.SimpleQueueService.NonExistentQueue;Sender"
                )],
                r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist"}"#
            ))
            .as_deref(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
        let s3 = "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        assert_eq!(error_code(&response(&[], s3)).as_deref(), Some("NoSuchKey"));
        let query = "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code></Error></ErrorResponse>";
        assert_eq!(
            error_code(&response(&[], query)).as_deref(),
            Some("NotFound")
        );
        assert_eq!(error_code(&response(&[], "")), None);
        assert_eq!(error_code(&response(&[], "{not json")), None);
    }
}
