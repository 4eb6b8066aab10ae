//! Which platform a handler runs on — AWS Lambda or Azure Functions — and the checks that
//! keep a trigger and an event type on the same one.
//!
//! The provider is `provider = "aws"` or `"azure"` when written; otherwise a trigger that
//! exists on one platform only decides, and for `http`, which both have, the event type does:
//! `AzureEvent<…>` is Azure, anything else AWS. A trigger of the other platform, or an
//! `AzureEvent` argument on an AWS trigger, is an error that names the trigger to use.

use syn::spanned::Spanned as _;
use syn::{LitStr, Type};

use crate::valid::Trigger;

/// A platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Aws,
    Azure,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
        }
    }

    fn platform(self) -> &'static str {
        match self {
            Provider::Aws => "AWS Lambda",
            Provider::Azure => "Azure Functions",
        }
    }
}

/// The `provider` value.
pub(crate) fn parse(lit: &LitStr) -> syn::Result<Provider> {
    match lit.value().as_str() {
        "aws" => Ok(Provider::Aws),
        "azure" => Ok(Provider::Azure),
        other => {
            let hint = match other.to_ascii_lowercase().as_str() {
                "lambda" | "aws_lambda" | "amazon" => " (AWS Lambda is `\"aws\"`)",
                "azure_functions" | "functions" | "microsoft" => {
                    " (Azure Functions is `\"azure\"`)"
                }
                _ => "",
            };
            Err(syn::Error::new(
                lit.span(),
                format!(
                    "unknown provider `{other}`{hint}: use `provider = \"aws\"` or `provider = \"azure\"`"
                ),
            ))
        }
    }
}

/// The platforms a trigger exists on.
pub(crate) fn of_trigger(trigger: Trigger) -> &'static [Provider] {
    match trigger {
        Trigger::Http => &[Provider::Aws, Provider::Azure],
        Trigger::AzureQueue | Trigger::ServiceBus | Trigger::EventHubs | Trigger::Timer => {
            &[Provider::Azure]
        }
        _ => &[Provider::Aws],
    }
}

/// The trigger to use on `provider` for what `trigger` does elsewhere.
fn counterpart(trigger: Trigger, provider: Provider) -> &'static str {
    match (trigger, provider) {
        (Trigger::Sqs, Provider::Azure) => "`queue` (Storage queues) or `service_bus`",
        (Trigger::Sns, Provider::Azure) => "`service_bus`",
        (Trigger::Kinesis, Provider::Azure) => "`event_hubs`",
        (Trigger::Schedule, Provider::Azure) => "`timer`",
        (_, Provider::Azure) => "one of `http`, `queue`, `service_bus`, `event_hubs`, `timer`",
        (Trigger::AzureQueue, Provider::Aws) => "`sqs`",
        (Trigger::ServiceBus, Provider::Aws) => "`sqs` or `sns`",
        (Trigger::EventHubs, Provider::Aws) => "`kinesis`",
        (Trigger::Timer, Provider::Aws) => "`schedule`",
        (_, Provider::Aws) => {
            "one of `http`, `sqs`, `sns`, `eventbridge`, `schedule`, `s3`, `dynamodb`, `kinesis`, `other`"
        }
    }
}

/// Checks a trigger against an explicit provider; the error goes on the trigger's literal.
pub(crate) fn check_trigger(trigger: Trigger, lit: &LitStr, provider: Provider) -> syn::Result<()> {
    let platforms = of_trigger(trigger);
    if platforms.contains(&provider) {
        return Ok(());
    }
    let other = platforms[0];
    Err(syn::Error::new(
        lit.span(),
        format!(
            "`{}` is a trigger of {}, not of {} (`provider = \"{}\"`): on {} use {}",
            trigger.name(),
            other.platform(),
            provider.platform(),
            provider.name(),
            provider.platform(),
            counterpart(trigger, provider)
        ),
    ))
}

/// Whether the event type is written as an Azure event (`AzureEvent<…>`, by any path).
fn is_azure_event(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "AzureEvent"),
        Type::Reference(reference) => is_azure_event(&reference.elem),
        Type::Paren(paren) => is_azure_event(&paren.elem),
        Type::Group(group) => is_azure_event(&group.elem),
        _ => false,
    }
}

/// The provider of a handler: the explicit one, else the trigger's only one, else (for
/// `http`) the event type's. An `AzureEvent` on a trigger that is AWS's is an error on the
/// event type.
pub(crate) fn resolve(
    trigger: Trigger,
    explicit: Option<Provider>,
    event_type: &Type,
) -> syn::Result<Provider> {
    let azure_event = is_azure_event(event_type);
    let provider = explicit.unwrap_or_else(|| match of_trigger(trigger) {
        [only] => *only,
        _ if azure_event => Provider::Azure,
        _ => Provider::Aws,
    });
    if azure_event && provider == Provider::Aws {
        let message = match explicit {
            Some(_) if of_trigger(trigger).contains(&Provider::Azure) => format!(
                "`AzureEvent` is an Azure Functions event, and `provider = \"aws\"` asks for AWS Lambda's \
                 `{}` trigger: remove `provider = \"aws\"`",
                trigger.name()
            ),
            _ => format!(
                "`AzureEvent` is an Azure Functions event, and `{}` is an AWS Lambda trigger: on Azure \
                 Functions use {}",
                trigger.name(),
                counterpart(trigger, Provider::Azure)
            ),
        };
        return Err(syn::Error::new(event_type.span(), message));
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(
        trigger: Trigger,
        explicit: Option<Provider>,
        ty: &str,
    ) -> Result<Provider, String> {
        let ty: Type = syn::parse_str(ty).unwrap();
        resolve(trigger, explicit, &ty).map_err(|e| e.to_string())
    }

    #[test]
    fn http_takes_the_provider_of_its_event_type() {
        assert_eq!(
            resolved(Trigger::Http, None, "lambda_http::Request"),
            Ok(Provider::Aws)
        );
        assert_eq!(
            resolved(Trigger::Http, None, "AzureEvent<HttpRequest>"),
            Ok(Provider::Azure)
        );
        assert_eq!(
            resolved(
                Trigger::Http,
                None,
                "otel_faas_runtime::azure::AzureEvent<HttpRequest>"
            ),
            Ok(Provider::Azure)
        );
        assert_eq!(
            resolved(Trigger::Http, Some(Provider::Azure), "Req"),
            Ok(Provider::Azure)
        );
    }

    #[test]
    fn one_platform_triggers_decide_alone() {
        assert_eq!(resolved(Trigger::Timer, None, "X"), Ok(Provider::Azure));
        assert_eq!(
            resolved(Trigger::Sqs, None, "LambdaEvent<SqsEvent>"),
            Ok(Provider::Aws)
        );
        let error = resolved(Trigger::Kinesis, None, "AzureEvent<EventHubsBatch>").unwrap_err();
        assert!(error.contains("use `event_hubs`"), "{error}");
    }
}
