//! One message as the queue keeps it: what was sent, the digests SQS answers with, and the
//! record the Lambda event source mapping delivers.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use serde_json::{Map, Value, json};

/// The system attribute that carries the producer's X-Ray trace header.
pub(super) const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// The `SenderId` of every message: an IAM user id of the shape SQS reports.
const SENDER_ID: &str = "AIDAIENQZJOLO23YVJ4VO";

/// One message attribute (or system attribute) as sent: a data type (`String`, `Number`,
/// `Binary`, optionally with a custom suffix such as `String.json`) and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number` or `Binary`, with an optional `.suffix`.
    pub data_type: String,
    /// The value of a `String` or `Number` attribute.
    pub string_value: Option<String>,
    /// The value of a `Binary` attribute (decoded).
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        MessageAttribute {
            data_type: "String".to_owned(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    /// Whether the data type is `Binary` (or `Binary.…`).
    fn is_binary(&self) -> bool {
        self.data_type == "Binary" || self.data_type.starts_with("Binary.")
    }

    /// The value's bytes, as the digest and the size limit count them.
    fn value_bytes(&self) -> &[u8] {
        match (&self.binary_value, &self.string_value) {
            (Some(bytes), _) if self.is_binary() => bytes,
            (_, Some(text)) => text.as_bytes(),
            _ => &[],
        }
    }

    /// The attribute as the Lambda event shows it (`messageAttributes` entries).
    fn lambda_json(&self) -> Value {
        let mut value = Map::new();
        if self.is_binary() {
            let bytes = self.binary_value.as_deref().unwrap_or_default();
            value.insert("binaryValue".to_owned(), STANDARD.encode(bytes).into());
        } else {
            value.insert(
                "stringValue".to_owned(),
                self.string_value.clone().unwrap_or_default().into(),
            );
        }
        value.insert("stringListValues".to_owned(), json!([]));
        value.insert("binaryListValues".to_owned(), json!([]));
        value.insert("dataType".to_owned(), self.data_type.clone().into());
        Value::Object(value)
    }
}

/// A message in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The id SQS gave it (a UUID).
    pub message_id: String,
    /// The body, as sent.
    pub body: String,
    /// The message attributes, by name.
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// The message system attributes (only `AWSTraceHeader` exists), by name.
    pub system_attributes: BTreeMap<String, MessageAttribute>,
    /// When it was sent.
    pub sent_at: SystemTime,
    /// How many times it was delivered.
    pub receive_count: u32,
    /// When it was first delivered.
    pub first_received_at: Option<SystemTime>,
}

impl QueuedMessage {
    /// The producer's X-Ray trace header, when it was sent with one.
    pub fn trace_header(&self) -> Option<&str> {
        self.system_attributes
            .get(AWS_TRACE_HEADER)
            .and_then(|a| a.string_value.as_deref())
    }

    /// `MD5OfMessageBody`: the MD5 of the body, in hex.
    pub fn md5_of_body(&self) -> String {
        hex(&Md5::digest(self.body.as_bytes()))
    }

    /// `MD5OfMessageAttributes`; `None` without attributes.
    pub fn md5_of_message_attributes(&self) -> Option<String> {
        md5_of_attributes(&self.message_attributes)
    }

    /// `MD5OfMessageSystemAttributes`; `None` without system attributes.
    pub fn md5_of_system_attributes(&self) -> Option<String> {
        md5_of_attributes(&self.system_attributes)
    }

    /// The record the Lambda event source mapping delivers for this message, with the given
    /// receipt handle, from the queue `arn` in `region`.
    pub fn lambda_record(&self, receipt_handle: &str, arn: &str, region: &str) -> Value {
        let mut attributes = Map::new();
        attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            self.receive_count.to_string().into(),
        );
        if let Some(header) = self.trace_header() {
            attributes.insert(AWS_TRACE_HEADER.to_owned(), header.into());
        }
        attributes.insert("SentTimestamp".to_owned(), millis(self.sent_at).into());
        attributes.insert("SenderId".to_owned(), SENDER_ID.into());
        attributes.insert(
            "ApproximateFirstReceiveTimestamp".to_owned(),
            millis(self.first_received_at.unwrap_or(self.sent_at)).into(),
        );
        let message_attributes: Map<String, Value> = self
            .message_attributes
            .iter()
            .map(|(name, attribute)| (name.clone(), attribute.lambda_json()))
            .collect();
        let mut record = Map::new();
        record.insert("messageId".to_owned(), self.message_id.clone().into());
        record.insert("receiptHandle".to_owned(), receipt_handle.into());
        record.insert("body".to_owned(), self.body.clone().into());
        record.insert("attributes".to_owned(), Value::Object(attributes));
        record.insert(
            "messageAttributes".to_owned(),
            Value::Object(message_attributes),
        );
        record.insert("md5OfBody".to_owned(), self.md5_of_body().into());
        if let Some(md5) = self.md5_of_message_attributes() {
            record.insert("md5OfMessageAttributes".to_owned(), md5.into());
        }
        record.insert("eventSource".to_owned(), "aws:sqs".into());
        record.insert("eventSourceARN".to_owned(), arn.into());
        record.insert("awsRegion".to_owned(), region.into());
        Value::Object(record)
    }
}

/// The digest SQS computes over message attributes: for each attribute in name order, its
/// name, data type, transport type (1 string, 2 binary) and value, lengths as 4-byte big
/// endian; the MD5 of it all, in hex.
pub(super) fn md5_of_attributes(attributes: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn field(md5: &mut Md5, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        md5.update(len.to_be_bytes());
        md5.update(bytes);
    }
    let mut md5 = Md5::new();
    for (name, attribute) in attributes {
        field(&mut md5, name.as_bytes());
        field(&mut md5, attribute.data_type.as_bytes());
        // The transport type is a lone byte, without a length.
        md5.update([if attribute.is_binary() { 2 } else { 1 }]);
        field(&mut md5, attribute.value_bytes());
    }
    Some(hex(&md5.finalize()))
}

/// The size SQS counts against its message size limit: the body, and each attribute's name,
/// data type and value.
pub(super) fn message_size(body: &str, attributes: &BTreeMap<String, MessageAttribute>) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, a)| name.len() + a.data_type.len() + a.value_bytes().len())
            .sum::<usize>()
}

/// Milliseconds since the epoch, as SQS writes timestamps.
fn millis(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
