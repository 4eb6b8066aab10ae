//! The SQS JSON protocol (AWS JSON 1.0) as the AWS SDKs speak it: `POST /` with the
//! operation in `X-Amz-Target`, the answers SQS gives, and its error shape.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{Value, json};

use super::message::{AWS_TRACE_HEADER, MessageAttribute, message_size};
use crate::server::HttpResponse;

/// The media type of requests and answers.
pub(super) const JSON_1_0: &str = "application/x-amz-json-1.0";

/// The prefix of `X-Amz-Target` values.
pub(super) const TARGET_PREFIX: &str = "AmazonSQS.";

/// Most entries in one batch.
pub(super) const MAX_BATCH_ENTRIES: usize = 10;

/// Most message attributes on one message.
pub(super) const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Largest message (body and attributes), in bytes.
pub(super) const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// A `SendMessage` request, or one entry of a `SendMessageBatch`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SendRequest {
    /// The batch entry's id (batches only).
    pub(super) id: Option<String>,
    /// The queue (single sends only; a batch names it once).
    pub(super) queue_url: Option<String>,
    /// The body.
    pub(super) message_body: Option<String>,
    /// The message attributes.
    #[serde(default)]
    pub(super) message_attributes: BTreeMap<String, WireAttribute>,
    /// The message system attributes.
    #[serde(default)]
    pub(super) message_system_attributes: BTreeMap<String, WireAttribute>,
}

/// A `SendMessageBatch` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SendBatchRequest {
    /// The queue.
    pub(super) queue_url: Option<String>,
    /// The messages.
    #[serde(default)]
    pub(super) entries: Vec<SendRequest>,
}

/// A message attribute value as the request carries it (`BinaryValue` in base64).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireAttribute {
    data_type: Option<String>,
    string_value: Option<String>,
    binary_value: Option<String>,
}

/// A message checked and ready to queue.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) body: String,
    pub(super) message_attributes: BTreeMap<String, MessageAttribute>,
    pub(super) system_attributes: BTreeMap<String, MessageAttribute>,
}

/// An error SQS answers with: its JSON `__type`, the code the query-compatible SDKs read from
/// `x-amzn-query-error`, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SqsError {
    /// The shape name, e.g. `com.amazonaws.sqs#QueueDoesNotExist`.
    pub(super) error_type: &'static str,
    /// The query-protocol code, e.g. `AWS.SimpleQueueService.NonExistentQueue`.
    pub(super) code: &'static str,
    /// What went wrong.
    pub(super) message: String,
    /// Whether the caller is at fault (`Sender`) rather than the service.
    pub(super) sender_fault: bool,
}

impl SqsError {
    fn sender(error_type: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        SqsError {
            error_type,
            code,
            message: message.into(),
            sender_fault: true,
        }
    }

    /// `QueueDoesNotExist`.
    pub(super) fn no_such_queue() -> Self {
        Self::sender(
            "com.amazonaws.sqs#QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    /// An operation this double does not serve (or SQS does not have).
    pub(super) fn unknown_operation(target: &str) -> Self {
        Self::sender(
            "com.amazon.coral.service#UnknownOperationException",
            "UnknownOperationException",
            format!("The operation {target:?} is not served by this SQS double."),
        )
    }

    /// A body that is not the request's JSON.
    pub(super) fn serialization(detail: impl std::fmt::Display) -> Self {
        Self::sender(
            "com.amazon.coral.service#SerializationException",
            "SerializationException",
            format!("The request body could not be read: {detail}"),
        )
    }

    /// A required parameter is missing.
    pub(super) fn missing(parameter: &str) -> Self {
        Self::sender(
            "com.amazonaws.sqs#MissingParameter",
            "MissingParameter",
            format!("The request must contain the parameter {parameter}."),
        )
    }

    /// A parameter has a value SQS refuses.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::sender(
            "com.amazonaws.sqs#InvalidParameterValue",
            "InvalidParameterValue",
            message,
        )
    }

    /// A batch without entries.
    pub(super) fn empty_batch() -> Self {
        Self::sender(
            "com.amazonaws.sqs#EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        )
    }

    /// A batch of more than ten entries.
    pub(super) fn too_many_entries(count: usize) -> Self {
        Self::sender(
            "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {count}."
            ),
        )
    }

    /// A batch whose entry ids repeat.
    pub(super) fn ids_not_distinct() -> Self {
        Self::sender(
            "com.amazonaws.sqs#BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        )
    }

    /// The answer: `400` with `{"__type", "message"}` and the query error header.
    pub(super) fn response(&self, request_id: &str) -> HttpResponse {
        let fault = if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        };
        let mut response = json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "__type": self.error_type, "message": self.message }),
            request_id,
        );
        if let Ok(value) = HeaderValue::from_str(&format!("{};{fault}", self.code)) {
            response.headers_mut().insert("x-amzn-query-error", value);
        }
        response
    }
}

impl SendRequest {
    /// Checks one message as SQS does: a body, at most ten attributes each with a data type
    /// and a value of that type, `AWSTraceHeader` as the only system attribute, and 1 MiB at
    /// most.
    pub(super) fn check(self) -> Result<Checked, SqsError> {
        let body = self
            .message_body
            .filter(|b| !b.is_empty())
            .ok_or_else(|| SqsError::missing("MessageBody"))?;
        if self.message_attributes.len() > MAX_MESSAGE_ATTRIBUTES {
            return Err(SqsError::invalid(format!(
                "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
                self.message_attributes.len()
            )));
        }
        let message_attributes = convert(self.message_attributes)?;
        let system_attributes = convert(self.message_system_attributes)?;
        if let Some(name) = system_attributes.keys().find(|n| *n != AWS_TRACE_HEADER) {
            return Err(SqsError::invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if message_size(&body, &message_attributes) > MAX_MESSAGE_BYTES {
            return Err(SqsError::invalid(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
            )));
        }
        Ok(Checked {
            body,
            message_attributes,
            system_attributes,
        })
    }
}

/// Checks the batch as a whole: one to ten entries with distinct ids.
pub(super) fn check_batch(entries: &[SendRequest]) -> Result<(), SqsError> {
    if entries.is_empty() {
        return Err(SqsError::empty_batch());
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::too_many_entries(entries.len()));
    }
    let mut ids = HashSet::new();
    for entry in entries {
        let id = entry.id.as_deref().ok_or_else(|| SqsError::missing("Id"))?;
        if !ids.insert(id) {
            return Err(SqsError::ids_not_distinct());
        }
    }
    Ok(())
}

fn convert(
    wire: BTreeMap<String, WireAttribute>,
) -> Result<BTreeMap<String, MessageAttribute>, SqsError> {
    wire.into_iter()
        .map(|(name, value)| {
            let data_type = value.data_type.filter(|t| !t.is_empty()).ok_or_else(|| {
                SqsError::invalid(format!("The message attribute '{name}' must contain a non-empty attribute type."))
            })?;
            let base = data_type.split('.').next().unwrap_or_default();
            let attribute = match (base, value.string_value, value.binary_value) {
                ("String" | "Number", Some(text), _) => MessageAttribute {
                    data_type,
                    string_value: Some(text),
                    binary_value: None,
                },
                ("Binary", _, Some(encoded)) => MessageAttribute {
                    binary_value: Some(STANDARD.decode(encoded).map_err(|_| {
                        SqsError::invalid(format!("The message attribute '{name}' has an invalid binary value."))
                    })?),
                    data_type,
                    string_value: None,
                },
                ("String" | "Number" | "Binary", _, _) => {
                    return Err(SqsError::invalid(format!(
                        "The message attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
                    )));
                }
                _ => {
                    return Err(SqsError::invalid(format!(
                        "The type of message attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
                    )));
                }
            };
            Ok((name, attribute))
        })
        .collect()
}

/// A `200` answer with a JSON body and the request id.
pub(super) fn json_response(status: StatusCode, body: &Value, request_id: &str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests;
