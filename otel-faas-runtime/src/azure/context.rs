//! What a handler receives besides its payload: the invocation as the Functions host
//! describes it, and the attributes every Azure invocation span carries.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    CLOUD_RESOURCE_ID, FAAS_COLDSTART, FAAS_INVOCATION_ID, FAAS_NAME, FAAS_TRIGGER,
};
use serde_json::{Map, Value};

use super::resource::AppIdentity;
use crate::redact::bounded;
use crate::telemetry::Telemetry;
use crate::trigger::FaasTrigger;

/// An event of an Azure Functions trigger, as an annotated handler takes it: the typed
/// payload and the invocation's [`Context`].
///
/// ```
/// use otel_faas_runtime::azure::{AzureEvent, QueueMessage};
/// use otel_faas_runtime::{traced_function, Error};
///
/// #[traced_function(trigger = "queue")]
/// async fn handler(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
///     println!("{} of {}", event.payload.id.as_deref().unwrap_or("?"), event.context.function_name());
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct AzureEvent<T> {
    /// The trigger's data.
    pub payload: T,
    /// The invocation.
    pub context: Context,
}

impl<T> AzureEvent<T> {
    /// An event of `payload` in `context`.
    pub fn new(payload: T, context: Context) -> Self {
        AzureEvent { payload, context }
    }
}

/// The function an invocation runs, named once when the app is built.
#[derive(Debug)]
pub(crate) struct FunctionIdentity {
    pub(crate) name: String,
    faas_name: String,
    resource_id: Option<String>,
}

impl FunctionIdentity {
    pub(crate) fn new(name: &str, app: &AppIdentity) -> Self {
        FunctionIdentity {
            name: name.to_owned(),
            faas_name: app.faas_name(name),
            resource_id: app.resource_id(name),
        }
    }
}

/// One invocation, as the Functions host describes it.
#[derive(Clone, Debug)]
pub struct Context {
    invocation_id: String,
    function: Arc<FunctionIdentity>,
    metadata: Arc<Map<String, Value>>,
}

impl Context {
    /// An invocation `invocation_id` of `function_name` in the app the environment describes
    /// (for calling a handler directly, as in a unit test).
    pub fn new(invocation_id: &str, function_name: &str) -> Self {
        let function = FunctionIdentity::new(function_name, &AppIdentity::from_env());
        Context::of(invocation_id.to_owned(), Arc::new(function), Map::new())
    }

    pub(crate) fn of(
        invocation_id: String,
        function: Arc<FunctionIdentity>,
        metadata: Map<String, Value>,
    ) -> Self {
        Context {
            invocation_id,
            function,
            metadata: Arc::new(metadata),
        }
    }

    /// The host's invocation id (its `X-Azure-Functions-InvocationId` header).
    pub fn invocation_id(&self) -> &str {
        &self.invocation_id
    }

    /// The function's name: its folder, where its `function.json` is.
    pub fn function_name(&self) -> &str {
        &self.function.name
    }

    /// The function's full name, `faas.name`: `<app>/<function>` (the FaaS conventions'
    /// function name on Azure, and so the invocation span's name), or the function alone when
    /// the app is not known.
    pub fn faas_name(&self) -> &str {
        &self.function.faas_name
    }

    /// The invocation's `Metadata` (trigger metadata and `sys`), as the host sent it; empty
    /// for a forwarded HTTP request.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The attributes every Azure invocation span carries.
    pub(crate) fn invocation_attributes(
        &self,
        telemetry: &Telemetry,
        trigger: FaasTrigger,
        out: &mut Vec<KeyValue>,
    ) -> bool {
        let coldstart = telemetry.take_coldstart();
        out.push(KeyValue::new(FAAS_TRIGGER, trigger.as_str()));
        out.push(KeyValue::new(
            FAAS_INVOCATION_ID,
            bounded(&self.invocation_id, telemetry.value_limit()),
        ));
        out.push(KeyValue::new(FAAS_COLDSTART, coldstart));
        out.push(KeyValue::new(FAAS_NAME, self.function.faas_name.clone()));
        if let Some(resource_id) = &self.function.resource_id {
            out.push(KeyValue::new(CLOUD_RESOURCE_ID, resource_id.clone()));
        }
        coldstart
    }
}
