//! The invocation JSON the Functions host posts to a custom handler, encoded as the host
//! encodes it.
//!
//! Followed: Azure/azure-functions-host
//! `src/WebJobs.Script/Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`
//! (`ToHttpScriptInvocationContext`, `GetHttpScriptInvocationContextValue`) and
//! `src/WebJobs.Script/Extensions/HttpRequestExtensions.cs` (`GetRequestAsJObject`), with
//! the expectations of their tests (`ScriptInvocationContextExtensionsTests`,
//! `DefaultHttpWorkerServiceTests`, `HttpWorkerTestUtilities`):
//!
//! - every binding-data entry but the trigger's own (a key ending in `trigger`) and an HTTP
//!   request goes to `Metadata`; every input binding to `Data`, by binding name;
//! - a value that serializes as a JSON object stays an object (`JObject.FromObject`); a
//!   `DateTime`/`DateTimeOffset` is written as a date string; a `byte[]` as base64; anything
//!   else as JSON text (`JsonConvert.SerializeObject`): `4` → `"4"`, `"HelloWorld"` →
//!   `"\"HelloWorld\""`, `["a"]` → `"[\"a\"]"`;
//! - a null binding-data value is left out;
//! - an HTTP trigger's request is an object: `Url`, `Method`, `Query` (an object of strings),
//!   `Headers` (an object of string arrays), `Params` and `Body` — its text, or base64 for an
//!   `application/octet-stream` or `multipart/*` body.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// One invocation's JSON, built as the host builds it. The values given are what the
/// trigger's extension hands the host (a .NET string, a number, an array, a dictionary);
/// [`HostInvocation::to_json`] encodes them.
///
/// ```
/// use otel_faas_local::azure::HostInvocation;
/// use serde_json::json;
///
/// let invocation = HostInvocation::new("Resize")
///     .data("myQueueItem", json!("HelloWorld"))
///     .metadata("DequeueCount", json!(4));
/// let body = invocation.to_json();
/// assert_eq!(body["Data"]["myQueueItem"], "\"HelloWorld\"");
/// assert_eq!(body["Metadata"]["DequeueCount"], "4");
/// ```
#[derive(Clone, Debug)]
pub struct HostInvocation {
    function: String,
    data: Map<String, Value>,
    metadata: Map<String, Value>,
}

/// A value as `GetHttpScriptInvocationContextValue` writes it: an object as it is, anything
/// else as its JSON text.
pub fn host_encode(value: &Value) -> Value {
    match value {
        Value::Object(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

impl HostInvocation {
    /// An invocation of `function`, with the host's `sys` metadata (`MethodName`, `UtcNow`,
    /// `RandGuid`).
    pub fn new(function: &str) -> Self {
        let mut metadata = Map::new();
        metadata.insert(
            "sys".to_owned(),
            json!({
                "MethodName": function,
                "UtcNow": "2026-11-21T09:00:00.2205399Z",
                "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9",
            }),
        );
        HostInvocation {
            function: function.to_owned(),
            data: Map::new(),
            metadata,
        }
    }

    /// The function invoked.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Input binding `binding` (the trigger's, say) holding `value`, encoded.
    pub fn data(mut self, binding: &str, value: Value) -> Self {
        self.data.insert(binding.to_owned(), host_encode(&value));
        self
    }

    /// Input binding `binding` holding bytes (`"dataType": "binary"`): base64.
    pub fn data_bytes(mut self, binding: &str, bytes: &[u8]) -> Self {
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.data.insert(binding.to_owned(), Value::String(text));
        self
    }

    /// Metadata `key` holding `value`, encoded; `null` is left out, as the host leaves it.
    pub fn metadata(mut self, key: &str, value: Value) -> Self {
        if !value.is_null() {
            self.metadata.insert(key.to_owned(), host_encode(&value));
        }
        self
    }

    /// Metadata `key` holding a `DateTime`/`DateTimeOffset`, which the host writes as a date
    /// string (`2026-11-21T08:58:31+00:00`).
    pub fn metadata_time(mut self, key: &str, time: &str) -> Self {
        self.metadata
            .insert(key.to_owned(), Value::String(time.to_owned()));
        self
    }

    /// Sets `sys.UtcNow`, when the host started the invocation.
    pub fn utc_now(mut self, time: &str) -> Self {
        if let Some(Value::Object(sys)) = self.metadata.get_mut("sys") {
            sys.insert("UtcNow".to_owned(), Value::String(time.to_owned()));
        }
        self
    }

    /// The HTTP trigger's binding `binding` holding `request` (its URI absolute), as
    /// `GetRequestAsJObject` writes it, with the `Query` and `Headers` metadata beside it.
    pub fn http_request(mut self, binding: &str, request: &http::Request<Bytes>) -> Self {
        let mut query = Map::new();
        for pair in request.uri().query().unwrap_or_default().split('&') {
            if let Some((key, value)) = pair.split_once('=').or(Some((pair, "")))
                && !key.is_empty()
            {
                query.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
        let mut headers = Map::new();
        for name in request.headers().keys() {
            let values: Vec<Value> = request
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(|v| Value::String(v.to_owned()))
                .collect();
            headers.insert(canonical(name.as_str()), Value::Array(values));
        }
        let binary = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|t| t == "application/octet-stream" || t.contains("multipart"));
        let mut req = Map::new();
        req.insert("Url".to_owned(), Value::String(request.uri().to_string()));
        req.insert(
            "Method".to_owned(),
            Value::String(request.method().to_string()),
        );
        req.insert("Query".to_owned(), Value::Object(query.clone()));
        req.insert("Headers".to_owned(), Value::Object(headers.clone()));
        req.insert("Params".to_owned(), Value::Object(Map::new()));
        if !request.body().is_empty() {
            let body = match binary {
                true => base64::engine::general_purpose::STANDARD.encode(request.body()),
                false => String::from_utf8_lossy(request.body()).into_owned(),
            };
            req.insert("Body".to_owned(), Value::String(body));
        }
        self.data.insert(binding.to_owned(), Value::Object(req));
        self.metadata
            .insert("Query".to_owned(), Value::Object(query));
        self.metadata
            .insert("Headers".to_owned(), Value::Object(headers));
        self
    }

    /// The request body: `{"Data": …, "Metadata": …}`.
    pub fn to_json(&self) -> Value {
        json!({ "Data": self.data, "Metadata": self.metadata })
    }
}

/// A header name as ASP.NET Core keeps it (`content-type` → `Content-Type`).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expectations of `DefaultHttpWorkerServiceTests.ValidateDefaultInvocationRequest`
    // and `HttpWorkerTestUtilities.GetScriptInvocationBindingData`/`GetScriptInvocationInputs`
    // (Azure/azure-functions-host `test/WebJobs.Script.Tests/HttpWorker/`): metadata and data
    // values are `JsonConvert.SerializeObject` of the .NET values, dates are dates.
    #[test]
    fn values_are_encoded_as_the_hosts_tests_expect() {
        let body = HostInvocation::new("testFunctionName")
            .data("myqueueItem", json!("HelloWorld"))
            .metadata("dequeueCount", json!(4))
            .metadata("helloString", json!("helloMetadata"))
            .metadata_time("VisibleTimeOffset", "2019-10-01T00:00:00+00:00")
            .to_json();
        assert_eq!(body["Data"]["myqueueItem"], "\"HelloWorld\"");
        assert_eq!(body["Metadata"]["dequeueCount"], "4");
        assert_eq!(body["Metadata"]["helloString"], "\"helloMetadata\"");
        assert_eq!(
            body["Metadata"]["VisibleTimeOffset"],
            "2019-10-01T00:00:00+00:00"
        );
        // `GetHttpScriptInvocationContextValueTest_POCO`: an object stays an object.
        let poco = HostInvocation::new("f")
            .metadata("bar", json!({ "Name": "TestName", "Id": 1234 }))
            .to_json();
        assert_eq!(poco["Metadata"]["bar"]["Id"], 1234);
        // `string[]` (`"cardinality": "many"`) is JSON text.
        let batch = HostInvocation::new("f")
            .metadata("MessageIdArray", json!(["m-1", "m-2"]))
            .to_json();
        assert_eq!(batch["Metadata"]["MessageIdArray"], "[\"m-1\",\"m-2\"]");
    }

    #[test]
    fn an_octet_stream_body_is_base64_and_a_text_body_is_text() {
        let request = |content_type: &str, body: &'static [u8]| {
            http::Request::builder()
                .method("POST")
                .uri("http://localhost:7071/api/upload?name=cat.png")
                .header("content-type", content_type)
                .body(Bytes::from_static(body))
                .unwrap()
        };
        let png = HostInvocation::new("upload")
            .http_request("req", &request("application/octet-stream", b"\x89PNG"))
            .to_json();
        assert_eq!(png["Data"]["req"]["Body"], "iVBORw==");
        assert_eq!(png["Data"]["req"]["Query"]["name"], "cat.png");
        assert_eq!(
            png["Data"]["req"]["Headers"]["Content-Type"],
            json!(["application/octet-stream"])
        );
        let text = HostInvocation::new("upload")
            .http_request("req", &request("text/plain", b"hello"))
            .to_json();
        assert_eq!(text["Data"]["req"]["Body"], "hello");
    }
}
