//! What the data-source triggers (S3, DynamoDB streams) share: the `faas.document.*`
//! attributes, on the invocation span for the batch and on a record's own span.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    FAAS_DOCUMENT_COLLECTION, FAAS_DOCUMENT_NAME, FAAS_DOCUMENT_OPERATION, FAAS_DOCUMENT_TIME,
    FAAS_TRIGGER,
};

use super::messaging::common;
use super::{FaasTrigger, InvocationSpan, TriggerSpan};
use crate::redact::{bounded, truncate};

/// `faas.document.operation`: the operation that happened to the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// A document was created.
    Insert,
    /// A document was changed.
    Edit,
    /// A document was removed.
    Delete,
}

impl Operation {
    /// The attribute value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Edit => "edit",
            Operation::Delete => "delete",
        }
    }
}

/// What one record says about its document.
#[derive(Clone, Debug, Default)]
pub(crate) struct Document<'a> {
    /// The bucket or table.
    pub(crate) collection: Option<&'a str>,
    pub(crate) operation: Option<Operation>,
    /// The object key; `None` for a table, whose item keys may be personal data.
    pub(crate) name: Option<Cow<'a, str>>,
    pub(crate) time: Option<DateTime<Utc>>,
}

impl Document<'_> {
    fn attributes(&self, limit: usize, out: &mut Vec<KeyValue>) {
        if let Some(collection) = self.collection {
            out.push(KeyValue::new(
                FAAS_DOCUMENT_COLLECTION,
                bounded(collection, limit),
            ));
        }
        if let Some(operation) = self.operation {
            out.push(KeyValue::new(FAAS_DOCUMENT_OPERATION, operation.as_str()));
        }
        if let Some(name) = &self.name {
            out.push(KeyValue::new(FAAS_DOCUMENT_NAME, bounded(name, limit)));
        }
        if let Some(time) = self.time {
            out.push(KeyValue::new(
                FAAS_DOCUMENT_TIME,
                time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ));
        }
    }

    /// A record's own span: INTERNAL `{operation} {collection}` (`insert Orders`), or
    /// `process {collection}` for an operation outside the three the conventions name.
    pub(crate) fn record_span(&self, limit: usize) -> TriggerSpan {
        let verb = self.operation.map_or("process", Operation::as_str);
        let name = match self.collection {
            Some(collection) => format!("{verb} {}", truncate(collection, limit)).into(),
            None => verb.into(),
        };
        let mut attributes = Vec::with_capacity(5);
        attributes.push(KeyValue::new(
            FAAS_TRIGGER,
            FaasTrigger::Datasource.as_str(),
        ));
        self.attributes(limit, &mut attributes);
        TriggerSpan {
            name,
            kind: SpanKind::Internal,
            attributes,
            links: Vec::new(),
            batch_size: 0,
        }
    }
}

/// Completes the invocation span of a batch of records: the collection and operation when
/// every record agrees on them, the document's name and time when there is one record.
///
/// Where the conventions cannot be met: `faas.document.collection` and `.operation` are
/// required on a datasource invocation span, which describes one document operation, but
/// one Lambda invocation can bring records of several buckets or tables, or several
/// operations. Those attributes are then left out rather than made up, and
/// [`MIXED`] names the ones the records disagree on; each record's own span carries its
/// values.
pub(crate) fn batch_invocation(
    documents: &[Document<'_>],
    limit: usize,
    span: &mut InvocationSpan,
) {
    let summary = match documents {
        [one] => one.clone(),
        many => Document {
            collection: common(many.iter().map(|d| d.collection)),
            operation: common(many.iter().map(|d| d.operation.as_ref())).copied(),
            name: None,
            time: None,
        },
    };
    let mut mixed = Vec::new();
    if summary.collection.is_none() && documents.iter().any(|d| d.collection.is_some()) {
        mixed.push(StringValue::from(FAAS_DOCUMENT_COLLECTION));
    }
    if summary.operation.is_none() && documents.iter().any(|d| d.operation.is_some()) {
        mixed.push(StringValue::from(FAAS_DOCUMENT_OPERATION));
    }
    if !mixed.is_empty() {
        span.attributes.push(KeyValue::new(
            MIXED,
            opentelemetry::Value::Array(mixed.into()),
        ));
    }
    summary.attributes(limit, &mut span.attributes);
    span.batch_size = documents.len();
}

/// The `faas.document.*` attributes a batch's records disagree on, left out of its
/// invocation span.
pub(crate) const MIXED: &str = "otel_faas.document.mixed";
