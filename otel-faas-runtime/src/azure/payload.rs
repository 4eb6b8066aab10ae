//! The Functions host's custom-handler protocol: the invocation request (`Data`, `Metadata`),
//! the response (`Outputs`, `Logs`, `ReturnValue`), and reading a trigger's typed payload
//! out of a request that is untrusted input.
//!
//! ```json
//! POST /{functionName}
//! { "Data": { "<trigger binding>": …, "<input binding>": … },
//!   "Metadata": { "<trigger metadata>": …, "sys": { "MethodName": …, "UtcNow": …, "RandGuid": … } } }
//! ```
//!
//! # The host's encoding
//!
//! The host builds `Data` and `Metadata` in `ScriptInvocationContextExtensions.cs`
//! (`ToHttpScriptInvocationContext`, `GetHttpScriptInvocationContextValue`, in
//! Azure/azure-functions-host `src/WebJobs.Script/Workers/MessageExtensions/`): a value that
//! serializes as a JSON object stays an object (`JObject.FromObject`), a `DateTime` or
//! `DateTimeOffset` is written as a date string, a `byte[]` as base64, and *anything else* is
//! written as JSON text (`JsonConvert.SerializeObject`):
//!
//! | .NET value | arrives as |
//! |---|---|
//! | `4` (a dequeue or delivery count, a sequence number) | `"4"` |
//! | `"800ae4b3-…"` (an id) | `"\"800ae4b3-…\""` |
//! | a message body `{"orderId":1}` (a string) | `"\"{\\\"orderId\\\":1}\""` |
//! | `string[]`, `long[]`, `IDictionary[]` (`"cardinality": "many"`) | a string holding a JSON array |
//! | `IDictionary<string, object>` (`ApplicationProperties`), `sys`, `TimerInfo` | an object |
//!
//! The host's own tests pin it (`ScriptInvocationContextExtensionsTests`,
//! `DefaultHttpWorkerServiceTests` with `dequeueCount = 4` and the queue item `"HelloWorld"`).
//! The readers below accept that encoding and, where the host's shape depends on the
//! extension's version or the binding's `dataType`, the native JSON form too: a number where
//! a count is expected, a string without JSON quotes, an array, an object.

use bytes::Bytes;
use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::function_json::FunctionBindings;
use crate::trigger::FaasTrigger;

/// An invocation the custom handler received, before its trigger reads it.
#[derive(Debug)]
pub enum RawInvocation {
    /// The host's invocation JSON.
    Host(HostRequest),
    /// An HTTP request the host forwarded as it came (`enableForwardingHttpRequest`).
    Forwarded(Box<http::Request<Bytes>>),
}

/// The host's invocation JSON.
#[derive(Debug, Default, Deserialize)]
pub struct HostRequest {
    /// Trigger and input binding data, by binding name.
    #[serde(rename = "Data", default, deserialize_with = "null_as_empty")]
    pub(crate) data: Map<String, Value>,
    /// Trigger metadata, and `sys`.
    #[serde(rename = "Metadata", default, deserialize_with = "null_as_empty")]
    pub(crate) metadata: Map<String, Value>,
}

/// Why an invocation could not be read into the trigger's payload: a message for the host's
/// log and the invocation span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadError(pub(crate) String);

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

/// What a custom handler answers the host: output binding values, log lines, and the
/// `$return` binding's value.
///
/// ```
/// use otel_faas_runtime::azure::InvokeResponse;
///
/// let response = InvokeResponse::default()
///     .output("outqueue", serde_json::json!(["shipped 42"]))
///     .log("order 42 shipped");
/// assert_eq!(response.logs, ["order 42 shipped"]);
/// ```
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct InvokeResponse {
    /// Values of the output bindings of `function.json`, by binding name.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines for the invocation's log (Application Insights, in Azure).
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The value of a `$return` output binding.
    #[serde(rename = "ReturnValue")]
    pub return_value: Option<Value>,
}

impl InvokeResponse {
    /// Sets output binding `name`.
    pub fn output(mut self, name: &str, value: Value) -> Self {
        self.outputs.insert(name.to_owned(), value);
        self
    }

    /// Adds a log line.
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Sets the `$return` value.
    pub fn return_value(mut self, value: Value) -> Self {
        self.return_value = Some(value);
        self
    }
}

/// A trigger's payload, read from an invocation. Sealed: the payload types of the Azure
/// triggers implement it.
pub trait FromInvocation: Sized + Send + 'static {
    /// `faas.trigger` of the invocations it comes from.
    #[doc(hidden)]
    const TRIGGER: FaasTrigger;

    /// Reads the payload; returns it with the invocation's `Metadata`.
    #[doc(hidden)]
    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError>;
}

impl RawInvocation {
    /// The host's JSON, or an error naming the trigger that expected it.
    pub(crate) fn into_host(self, trigger: &str) -> Result<HostRequest, PayloadError> {
        match self {
            RawInvocation::Host(host) => Ok(host),
            RawInvocation::Forwarded(request) => Err(PayloadError(format!(
                "the `{trigger}` trigger takes the Functions host's invocation JSON, but a forwarded HTTP \
                 request ({} {}) reached it",
                request.method(),
                request.uri().path()
            ))),
        }
    }
}

impl HostRequest {
    /// Parses the body of an invocation request.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let deserializer = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let at = error.path().to_string();
            let not_json = error.inner().is_syntax() || error.inner().is_eof();
            match at.as_str() {
                _ if not_json => PayloadError(format!(
                    "the invocation request is not the Functions host's JSON ({{\"Data\": …, \"Metadata\": …}}): {}",
                    error.inner()
                )),
                "." => PayloadError(format!(
                    "the invocation request is not the Functions host's JSON ({{\"Data\": …, \"Metadata\": …}}): {}",
                    error.inner()
                )),
                _ => PayloadError(format!("invalid invocation request at {at}: {}", error.inner())),
            }
        })
    }

    /// Takes the trigger's entry out of `Data`: the trigger binding's, when `function.json`
    /// named it, else the only entry.
    pub(crate) fn take_trigger_data(
        &mut self,
        bindings: &FunctionBindings,
    ) -> Result<Value, PayloadError> {
        let names = |data: &Map<String, Value>| {
            let names: Vec<&str> = data.keys().map(String::as_str).collect();
            match names.as_slice() {
                [] => "none".to_owned(),
                names => names.join(", "),
            }
        };
        if let Some(binding) = bindings.trigger_name() {
            return match self.data.remove(binding) {
                Some(value) => Ok(value),
                None => Err(PayloadError(format!(
                    "Data has no `{binding}` entry (the trigger binding of function.json); its entries: {}",
                    names(&self.data)
                ))),
            };
        }
        if self.data.len() == 1 {
            let key = self.data.keys().next().cloned().unwrap_or_default();
            return Ok(self.data.remove(&key).unwrap_or_default());
        }
        Err(PayloadError(format!(
            "cannot tell the trigger's entry in Data without the function's function.json; its entries: {}",
            names(&self.data)
        )))
    }

    /// The metadata as `T`.
    pub(crate) fn metadata_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        serde_path_to_error::deserialize(MapDeserializer(&self.metadata))
            .map_err(|error| at_path(error, "Metadata"))
    }
}

/// `value` as `T`, with the path of a field that does not fit in the message.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value, at: &str) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|error| at_path(error, at))
}

fn at_path(error: serde_path_to_error::Error<serde_json::Error>, at: &str) -> PayloadError {
    let path = error.path().to_string();
    let path = match path.as_str() {
        "." => at.to_owned(),
        path => format!("{at}.{path}"),
    };
    PayloadError(format!("invalid {path}: {}", error.inner()))
}

/// Deserializes from a borrowed JSON object, without copying it into a `Value` first.
struct MapDeserializer<'a>(&'a Map<String, Value>);

impl<'de> Deserializer<'de> for MapDeserializer<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::IntoDeserializer as _;
        let entries = self
            .0
            .iter()
            .map(|(key, value)| (key.as_str().into_deserializer(), value));
        serde::de::value::MapDeserializer::new(entries).deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// An object, or a string holding one (as the host writes some); `null` or an empty string
/// is an empty object.
pub(crate) fn lenient_object<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Map<String, Value>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(text)) => serde_json::from_str(&text).map_err(|e| {
            serde::de::Error::custom(format!("a string that is not a JSON object: {e}"))
        }),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected an object, found {other}"
        ))),
    }
}

/// [`lenient_object`] for each item of an array, the array itself possibly written as JSON
/// text (the host's `*PropertiesArray`).
pub(crate) fn lenient_objects<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Map<String, Value>>, D::Error> {
    host_array(d)?
        .into_iter()
        .map(|item| match item {
            Value::Null => Ok(Map::new()),
            Value::Object(map) => Ok(map),
            Value::String(text) if text.trim().is_empty() => Ok(Map::new()),
            Value::String(text) => serde_json::from_str(&text).map_err(|e| {
                serde::de::Error::custom(format!("an item that is not a JSON object: {e}"))
            }),
            other => Err(serde::de::Error::custom(format!(
                "expected an object, found {}",
                kind(&other)
            ))),
        })
        .collect()
}

/// What a JSON value is, for a message that must not echo the value itself.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string as the host writes one (JSON text: `"\"abc\""`), or as it is (`"abc"`); a
/// number or a boolean as its text.
fn text_of(value: Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::String(inner)) => Ok(Some(inner)),
            _ => Ok(Some(text)),
        },
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(format!("expected a string, found {}", kind(&other))),
    }
}

/// An integer as the host writes one (JSON text: `"4"`), or a JSON number.
fn integer_of<T: TryFrom<i128>>(value: Value) -> Result<Option<T>, String> {
    let parsed = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        Value::String(_) => match text_of(value.clone())? {
            Some(text) if text.trim().is_empty() => return Ok(None),
            Some(text) => text.trim().parse::<i128>().ok(),
            None => None,
        },
        _ => None,
    };
    parsed
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| format!("expected an integer, found {}", kind(&value)))
}

/// An array, or a string holding one as JSON text (`"cardinality": "many"`); `null` or an
/// empty string is an empty array.
fn array_of(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items),
        Value::String(text) if text.trim().is_empty() => Ok(Vec::new()),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err("expected an array, found a string that is not a JSON array".to_owned()),
        },
        other => Err(format!("expected an array, found {}", kind(&other))),
    }
}

/// A metadata string: the host's JSON text, or a plain string.
pub(crate) fn host_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text_of(Option::<Value>::deserialize(d)?.unwrap_or_default()).map_err(serde::de::Error::custom)
}

/// A metadata count: the host's JSON text (`"4"`) or a number.
pub(crate) fn host_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    integer_of(Option::<Value>::deserialize(d)?.unwrap_or_default())
        .map_err(serde::de::Error::custom)
}

/// A metadata sequence number: the host's JSON text (`"17"`) or a number.
pub(crate) fn host_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    integer_of(Option::<Value>::deserialize(d)?.unwrap_or_default())
        .map_err(serde::de::Error::custom)
}

/// A metadata array: the host's JSON text or an array.
pub(crate) fn host_array<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    array_of(Option::<Value>::deserialize(d)?.unwrap_or_default()).map_err(serde::de::Error::custom)
}

/// A metadata array of strings (`MessageIdArray`, `OffsetArray`, …).
pub(crate) fn host_strings<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Option<String>>, D::Error> {
    host_array(d)?
        .into_iter()
        .map(text_of)
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

/// A metadata array of counts (`DeliveryCountArray`).
pub(crate) fn host_u64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<u64>>, D::Error> {
    host_array(d)?
        .into_iter()
        .map(integer_of)
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

/// A metadata array of sequence numbers (`SequenceNumberArray`).
pub(crate) fn host_i64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<i64>>, D::Error> {
    host_array(d)?
        .into_iter()
        .map(integer_of)
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

/// A message's body as the handler gets it: a JSON value when its text is JSON, else the
/// text. The host double-encodes a message that arrives as a string (its text written as
/// JSON text, `"\"{\\\"orderId\\\":1}\""`); a plain string, an object or an array (the
/// native form) are taken as they are. With `"dataType": "binary"` the host writes the
/// bytes as base64: they are decoded, and kept as base64 text when they are not UTF-8.
pub(crate) fn message_body(value: Value, binary: bool) -> Value {
    match value {
        Value::String(text) => {
            let text = match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(inner)) => inner,
                _ => text,
            };
            body_text(text, binary)
        }
        other => other,
    }
}

/// The bodies of a batch (`"cardinality": "many"`): an array, or the host's JSON text of one,
/// each item a message's text (or its JSON value, natively); `None` when `value` is not a
/// batch.
pub(crate) fn message_bodies(value: &Value, binary: bool) -> Option<Vec<Value>> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            _ => return None,
        },
        _ => return None,
    };
    Some(
        items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => body_text(text, binary),
                other => other,
            })
            .collect(),
    )
}

/// A message's text (base64 of its bytes when `binary`) as a JSON value or a string.
fn body_text(text: String, binary: bool) -> Value {
    use base64::Engine as _;
    let text = match binary {
        true => match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(decoded) => decoded,
                Err(_) => return Value::String(text),
            },
            Err(_) => text,
        },
        false => text,
    };
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// A string value of a property map, when it is one.
pub(crate) fn string_property<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_must_be_the_hosts_json() {
        let error = HostRequest::parse(b"not json").unwrap_err();
        assert!(error.0.contains("not the Functions host's JSON"), "{error}");
        let error = HostRequest::parse(br#"{"Data": 5}"#).unwrap_err();
        assert!(error.0.contains("Data"), "{error}");
        let empty = HostRequest::parse(br#"{"Data": null}"#).unwrap();
        assert!(empty.data.is_empty() && empty.metadata.is_empty());
    }

    #[test]
    fn the_trigger_entry_is_the_only_one_or_the_bound_one() {
        let mut host = HostRequest::parse(br#"{"Data": {"msg": "hi"}}"#).unwrap();
        let bindings = FunctionBindings::default();
        assert_eq!(host.take_trigger_data(&bindings).unwrap(), "hi");
        let mut two = HostRequest::parse(br#"{"Data": {"a": 1, "b": 2}}"#).unwrap();
        let error = two.take_trigger_data(&bindings).unwrap_err();
        assert!(error.0.contains("a, b"), "{error}");
    }

    #[test]
    fn objects_may_come_as_json_text() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "lenient_object")]
            q: Map<String, Value>,
        }
        let t: T = serde_json::from_str(r#"{"q": "{\"a\": 1}"}"#).unwrap();
        assert_eq!(t.q["a"], 1);
        let t: T = serde_json::from_str(r#"{"q": ""}"#).unwrap();
        assert!(t.q.is_empty());
        assert!(serde_json::from_str::<T>(r#"{"q": "[1]"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"q": 7}"#).is_err());
    }

    #[test]
    fn scalars_strings_and_arrays_are_read_in_the_hosts_json_text_and_natively() {
        #[derive(Deserialize)]
        struct M {
            #[serde(default, deserialize_with = "host_u64")]
            count: Option<u64>,
            #[serde(default, deserialize_with = "host_string")]
            id: Option<String>,
            #[serde(default, deserialize_with = "host_strings")]
            ids: Vec<Option<String>>,
            #[serde(default, deserialize_with = "host_i64s")]
            seqs: Vec<Option<i64>>,
        }
        let host: M = serde_json::from_str(
            r#"{"count": "4", "id": "\"abc\"", "ids": "[\"a\",null]", "seqs": "[1,-2]"}"#,
        )
        .unwrap();
        assert_eq!(host.count, Some(4));
        assert_eq!(host.id.as_deref(), Some("abc"));
        assert_eq!(host.ids, [Some("a".to_owned()), None]);
        assert_eq!(host.seqs, [Some(1), Some(-2)]);
        let native: M =
            serde_json::from_str(r#"{"count": 4, "id": "abc", "ids": ["a"], "seqs": [1]}"#)
                .unwrap();
        assert_eq!((native.count, native.id.as_deref()), (Some(4), Some("abc")));
        assert_eq!(native.ids, [Some("a".to_owned())]);
        let error = serde_json::from_str::<M>(r#"{"count": "four"}"#)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("expected an integer, found a string"),
            "{error}"
        );
        assert!(
            !error.to_string().contains("four"),
            "the value is not echoed: {error}"
        );
    }

    #[test]
    fn a_body_is_unwrapped_from_the_hosts_double_encoding_once() {
        let host = Value::String(r#""{\"orderId\":1}""#.to_owned());
        assert_eq!(
            message_body(host, false),
            serde_json::json!({ "orderId": 1 })
        );
        assert_eq!(
            message_body(Value::String("\"cat.png\"".into()), false),
            "cat.png"
        );
        // Native forms: a plain string, JSON text, an object.
        assert_eq!(
            message_body(Value::String("cat.png".into()), false),
            "cat.png"
        );
        assert_eq!(
            message_body(Value::String(r#"{"orderId":1}"#.into()), false),
            serde_json::json!({ "orderId": 1 })
        );
        assert_eq!(
            message_body(serde_json::json!({ "a": 1 }), false),
            serde_json::json!({ "a": 1 })
        );
        // `"dataType": "binary"`: base64 of the bytes.
        assert_eq!(
            message_body(Value::String("eyJhIjoxfQ==".into()), true),
            serde_json::json!({ "a": 1 })
        );
        let bodies = message_bodies(&Value::String(r#"["{\"a\":1}","x"]"#.into()), false).unwrap();
        assert_eq!(
            bodies,
            [serde_json::json!({ "a": 1 }), Value::String("x".into())]
        );
        assert_eq!(
            message_bodies(&Value::String(r#""[1]""#.into()), false),
            None,
            "one body"
        );
    }
}
