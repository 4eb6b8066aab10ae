//! What the consumer spans of every messaging trigger (SQS, SNS, Kinesis, EventBridge) share:
//! their name and their `messaging.*` attributes.

use std::borrow::Cow;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    FAAS_TRIGGER, MESSAGING_DESTINATION_NAME, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
};

use super::FaasTrigger;
use crate::redact::{bounded, truncate};

/// Links kept on a batch span, as the SDK's default span limit.
pub(crate) const MAX_LINKS: usize = 128;

/// The attributes every consumer span carries: `faas.trigger=pubsub`, `messaging.system`, the
/// `process` operation and, when known, the destination.
pub(crate) fn consumer_attributes(
    system: &'static str,
    destination: Option<&str>,
    limit: usize,
) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(8);
    attributes.push(KeyValue::new(FAAS_TRIGGER, FaasTrigger::PubSub.as_str()));
    attributes.push(KeyValue::new(MESSAGING_SYSTEM, system));
    attributes.push(KeyValue::new(MESSAGING_OPERATION_TYPE, "process"));
    attributes.push(KeyValue::new(MESSAGING_OPERATION_NAME, "process"));
    if let Some(destination) = destination {
        attributes.push(KeyValue::new(
            MESSAGING_DESTINATION_NAME,
            bounded(destination, limit),
        ));
    }
    attributes
}

/// A consumer span's name, `{operation} {destination}` as the current messaging conventions
/// write it: `process orders`, or `process` when the destination is not known (or mixed).
pub(crate) fn span_name(destination: Option<&str>, limit: usize) -> Cow<'static, str> {
    match destination {
        Some(destination) => format!("process {}", truncate(destination, limit)).into(),
        None => "process".into(),
    }
}

/// The one value every item of a batch has, or `None` when the batch is empty or mixed.
pub(crate) fn common<'a, T: ?Sized + PartialEq>(
    mut values: impl Iterator<Item = Option<&'a T>>,
) -> Option<&'a T> {
    let first = values.next()??;
    values.all(|v| v == Some(first)).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_common_value_needs_every_item_to_agree() {
        assert_eq!(common([Some("a"), Some("a")].into_iter()), Some("a"));
        assert_eq!(common([Some("a"), Some("b")].into_iter()), None);
        assert_eq!(common([Some("a"), None].into_iter()), None);
        assert_eq!(common(std::iter::empty::<Option<&str>>()), None);
    }
}
