//! `trigger = "s3"`: Amazon S3 event notifications.
//!
//! ```text
//! {function}                 SERVER    faas.trigger=datasource, faas.invocation_id, faas.coldstart,
//!                                      cloud.*, faas.document.collection (the bucket, when every
//!                                      record agrees), faas.document.operation (idem),
//!                                      faas.document.name and faas.document.time (one record)
//! └─ {operation} {bucket}   INTERNAL  (per_record mode, or `process_record`) one per record:
//!                                      faas.document.{collection,operation,name,time}
//! ```
//!
//! `faas.document.name` is the object key URL-decoded (S3 sends `my+photo%C3%A9.jpg` for
//! `my photoé.jpg`); `faas.document.time` the record's `eventTime`. The operation, from the
//! event name:
//!
//! | event name | `faas.document.operation` |
//! |---|---|
//! | `ObjectCreated:*` | `insert` |
//! | `ObjectRemoved:*`, `LifecycleExpiration:*`, `ObjectRestore:Delete` | `delete` |
//! | `ObjectRestore:Post`, `ObjectRestore:Completed`, `ObjectTagging:*`, `ObjectAcl:Put`, `LifecycleTransition`, `IntelligentTiering` | `edit` |
//! | `Replication:*`, `ReducedRedundancyLostObject`, `s3:TestEvent`, anything else | not set |
//!
//! (`edit` for a restore: the object's content becomes readable again, a change to the
//! document rather than a new one.) S3 has no partial batch response: in `per_record` mode a
//! failed record fails the invocation ([`super::RecordsFailed`], naming the
//! failed keys), after every record was tried — the records are independent objects.

use std::borrow::Cow;
use std::marker::PhantomData;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::LambdaEvent;

use super::RecordsFailed;
use super::document::{Document, Operation, batch_invocation};
use super::records::sealed;
use super::{FaasTrigger, InvocationSpan, Spec, Trigger, TriggerSpan};
use crate::telemetry::Telemetry;

/// Seals the input traits: only the event types this crate knows implement them.
mod seal {
    pub trait Sealed {}
}

/// The operation an S3 event name stands for.
pub(crate) fn operation(event_name: &str) -> Option<Operation> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    let (family, detail) = name.split_once(':').unwrap_or((name, ""));
    match (family, detail) {
        ("ObjectCreated", _) => Some(Operation::Insert),
        ("ObjectRemoved" | "LifecycleExpiration", _) | ("ObjectRestore", "Delete") => {
            Some(Operation::Delete)
        }
        ("ObjectRestore" | "ObjectTagging" | "ObjectAcl" | "LifecycleTransition", _)
        | ("IntelligentTiering", _) => Some(Operation::Edit),
        _ => None,
    }
}

/// An object key as S3 writes it in a notification (form-encoded: `+` for a space, `%XX`
/// for other bytes), decoded. A malformed escape is kept as it is; bytes that are not UTF-8
/// become U+FFFD.
pub(crate) fn decode_key(key: &str) -> Cow<'_, str> {
    if !key.contains(['+', '%']) {
        return Cow::Borrowed(key);
    }
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn document(record: &S3EventRecord) -> Document<'_> {
    Document {
        collection: record.s3.bucket.name.as_deref().filter(|b| !b.is_empty()),
        operation: record.event_name.as_deref().and_then(operation),
        name: record.s3.object.key.as_deref().map(decode_key),
        // `eventTime` is required in S3's record, so every value is one S3 sent.
        time: Some(record.event_time),
    }
}

/// An event the `s3` trigger accepts: `LambdaEvent<S3Event>`.
#[diagnostic::on_unimplemented(
    message = "the `s3` trigger takes `LambdaEvent<S3Event>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::s3::S3Event>` here",
    note = "to handle one record at a time, add `per_record` and take one `S3EventRecord`"
)]
pub trait S3EventInput: seal::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The records.
    fn records(&self) -> &[S3EventRecord];
}

impl seal::Sealed for LambdaEvent<S3Event> {}

impl S3EventInput for LambdaEvent<S3Event> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn records(&self) -> &[S3EventRecord] {
        &self.payload.records
    }
}

/// One record as a `per_record` handler of the `s3` trigger takes it: `S3EventRecord`.
#[diagnostic::on_unimplemented(
    message = "`per_record` handlers of the `s3` trigger take one `S3EventRecord`, not `{Self}`",
    label = "expected `aws_lambda_events::s3::S3EventRecord` here",
    note = "without `per_record`, the `s3` trigger takes the whole event: `LambdaEvent<S3Event>`"
)]
pub trait S3RecordInput: sealed::Record {}

impl S3RecordInput for S3EventRecord {}
impl S3RecordInput for &S3EventRecord {}

impl sealed::Record for S3EventRecord {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Datasource;

    fn span(&self, _spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        document(self).record_span(telemetry.value_limit())
    }

    fn item_id(&self) -> Option<&str> {
        self.s3.object.key.as_deref()
    }

    fn keeps_order(&self) -> bool {
        false
    }
}

impl sealed::Batched for S3EventRecord {
    type Batch = S3Event;
    type Response = ();
    type BatchTrigger = S3<LambdaEvent<S3Event>>;

    fn into_records(batch: S3Event) -> Vec<Self> {
        batch.records
    }

    fn respond(failed: Vec<String>, total: usize) -> Result<(), RecordsFailed> {
        match failed.is_empty() {
            true => Ok(()),
            false => Err(RecordsFailed { failed, total }),
        }
    }
}

/// The `s3` trigger for a whole event.
#[doc(hidden)]
pub struct S3<I>(PhantomData<I>);

impl<I: S3EventInput> Trigger for S3<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Datasource;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let documents: Vec<Document<'_>> = input.records().iter().map(document).collect();
        batch_invocation(&documents, telemetry.value_limit(), span);
    }
}

/// Whether an event looks like an S3 notification.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::first_record_source(event) == Some("aws:s3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(decode_key("plain/key.txt"), "plain/key.txt");
        assert_eq!(decode_key("my+photo%C3%A9.jpg"), "my photoé.jpg");
        assert_eq!(decode_key("100%25+done"), "100% done");
        assert_eq!(decode_key("bad%zzescape%"), "bad%zzescape%");
        assert_eq!(decode_key("%FF"), "\u{FFFD}");
    }

    #[test]
    fn event_names_map_to_operations() {
        let cases = [
            ("ObjectCreated:Put", Some(Operation::Insert)),
            (
                "ObjectCreated:CompleteMultipartUpload",
                Some(Operation::Insert),
            ),
            ("s3:ObjectCreated:Copy", Some(Operation::Insert)),
            ("ObjectRemoved:DeleteMarkerCreated", Some(Operation::Delete)),
            ("LifecycleExpiration:Delete", Some(Operation::Delete)),
            ("ObjectRestore:Delete", Some(Operation::Delete)),
            ("ObjectRestore:Completed", Some(Operation::Edit)),
            ("ObjectTagging:Put", Some(Operation::Edit)),
            ("ObjectAcl:Put", Some(Operation::Edit)),
            ("LifecycleTransition", Some(Operation::Edit)),
            ("Replication:OperationFailedReplication", None),
            ("s3:TestEvent", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(operation(name), expected, "{name}");
        }
    }
}
