//! The carriers a trace context is read from: HTTP headers, string maps (a Lambda client
//! context), SQS and SNS message attributes, Azure application properties, Kafka record
//! headers, and none at all. JSON payloads have their own reader ([`super::json`]).
//! Every value is bounded and checked by the extractor that wraps them
//! ([`super::Propagation::extract`]).

use std::collections::HashMap;

use aws_lambda_events::event::kafka::KafkaRecord;
use aws_lambda_events::event::sns::MessageAttribute;
use aws_lambda_events::event::sqs::SqsMessageAttribute;
use opentelemetry::propagation::Extractor;

use super::wire::{TRACEPARENT, TRACESTATE};

/// A carrier with nothing in it: extraction from it finds only the Lambda trace header.
pub(crate) const NO_CARRIER: NoCarrier = NoCarrier;

/// See [`NO_CARRIER`].
pub(crate) struct NoCarrier;

impl Extractor for NoCarrier {
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// Reads HTTP request headers; a header that is not visible ASCII is absent.
pub(crate) struct HeaderCarrier<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Reads a string map, such as the `custom` part of a Lambda client context.
pub(crate) struct MapCarrier<'a>(pub(crate) &'a HashMap<String, String>);

impl Extractor for MapCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Reads an SQS message's string-valued message attributes.
pub(crate) struct SqsAttributes<'a>(pub(crate) &'a HashMap<String, SqsMessageAttribute>);

impl Extractor for SqsAttributes<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|a| a.string_value.as_deref())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Reads an SNS notification's `String` message attributes.
pub(crate) struct SnsAttributes<'a>(pub(crate) &'a HashMap<String, MessageAttribute>);

impl Extractor for SnsAttributes<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .filter(|a| a.data_type == "String")
            .map(|a| a.value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The record headers a link is read from.
pub(crate) const CONTEXT_HEADERS: [&str; 2] = [TRACEPARENT, TRACESTATE];

/// Header values longer than this are not read: the W3C limits are 55 bytes for a version 00
/// `traceparent` and 512 for `tracestate`.
pub(crate) const MAX_HEADER: usize = 512;

/// The trace-context headers of a record, as text: the last value of each (Kafka allows a
/// key more than once; a consumer reads the last). A value that is too long or not UTF-8 is
/// absent.
#[derive(Debug, Default)]
pub(crate) struct ContextHeaders {
    values: [Option<String>; CONTEXT_HEADERS.len()],
}

impl ContextHeaders {
    /// The context headers of `record`.
    pub(crate) fn of(record: &KafkaRecord) -> Self {
        let mut headers = ContextHeaders::default();
        for header in &record.headers {
            for (key, value) in header {
                let Some(at) = CONTEXT_HEADERS.iter().position(|k| k == key) else {
                    continue;
                };
                // Java's signed bytes, back to the bytes they are.
                let bytes: Vec<u8> = match value.len() <= MAX_HEADER {
                    true => value.iter().map(|b| *b as u8).collect(),
                    false => continue,
                };
                headers.values[at] = String::from_utf8(bytes).ok();
            }
        }
        headers
    }
}

impl Extractor for ContextHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        let at = CONTEXT_HEADERS.iter().position(|k| *k == key)?;
        self.values[at].as_deref()
    }

    fn keys(&self) -> Vec<&str> {
        CONTEXT_HEADERS
            .iter()
            .zip(&self.values)
            .filter_map(|(key, value)| value.as_ref().map(|_| *key))
            .collect()
    }
}

#[cfg(feature = "azure")]
pub(crate) use azure::PropertiesCarrier;

#[cfg(feature = "azure")]
mod azure {
    use opentelemetry::propagation::Extractor;
    use serde_json::{Map, Value};

    use super::super::wire::{DIAGNOSTIC_ID, TRACEPARENT};
    use crate::azure::payload::string_property;

    /// Reads a message's (or an event's) application properties as a trace-context carrier:
    /// `traceparent`, else `Diagnostic-Id`, and `tracestate`. Values that are not strings are
    /// not there.
    pub(crate) struct PropertiesCarrier<'a>(pub(crate) &'a Map<String, Value>);

    impl Extractor for PropertiesCarrier<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                TRACEPARENT => string_property(self.0, TRACEPARENT)
                    .or_else(|| string_property(self.0, DIAGNOSTIC_ID)),
                _ => string_property(self.0, key),
            }
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(String::as_str).collect()
        }
    }
}
