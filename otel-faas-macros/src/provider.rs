//! Which platform a handler runs on — AWS Lambda or Azure Functions — and the checks that
//! keep a trigger and an event type on the same one.
//!
//! The provider is `provider = "aws"` or `"azure"` when written; otherwise a trigger that
//! exists on one platform only decides, and for `http`, which both have, the event type does:
//! `AzureEvent<…>` is Azure, anything else AWS. A trigger of the other platform, or an
//! `AzureEvent` argument on an AWS trigger, is an error that names the trigger to use.

use syn::spanned::Spanned as _;
use syn::{LitStr, Type};

use crate::triggers::{Provider, Trigger};

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

/// Checks a trigger against an explicit provider; the error goes on the trigger's literal.
pub(crate) fn check_trigger(trigger: Trigger, lit: &LitStr, provider: Provider) -> syn::Result<()> {
    if trigger.is_on(provider) {
        return Ok(());
    }
    let Some(other) = trigger.platforms().next() else {
        return Ok(());
    };
    Err(syn::Error::new(
        lit.span(),
        format!(
            "`{}` is a trigger of {}, not of {} (`provider = \"{}\"`): on {} use {}",
            trigger.name(),
            other.platform(),
            provider.platform(),
            provider.name(),
            provider.platform(),
            trigger.elsewhere(provider)
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
    let provider = explicit.unwrap_or_else(|| {
        let mut platforms = trigger.platforms();
        match (platforms.next(), platforms.next()) {
            (Some(only), None) => only,
            _ if azure_event => Provider::Azure,
            _ => Provider::Aws,
        }
    });
    if azure_event && provider == Provider::Aws {
        let message = match explicit {
            Some(_) if trigger.is_on(Provider::Azure) => format!(
                "`AzureEvent` is an Azure Functions event, and `provider = \"aws\"` asks for AWS Lambda's \
                 `{}` trigger: remove `provider = \"aws\"`",
                trigger.name()
            ),
            _ => format!(
                "`AzureEvent` is an Azure Functions event, and `{}` is an AWS Lambda trigger: on Azure \
                 Functions use {}",
                trigger.name(),
                trigger.elsewhere(Provider::Azure)
            ),
        };
        return Err(syn::Error::new(event_type.span(), message));
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(trigger: &str, explicit: Option<Provider>, ty: &str) -> Result<Provider, String> {
        let trigger = Trigger::named(trigger).expect("a trigger of the table");
        let ty: Type = syn::parse_str(ty).unwrap();
        resolve(trigger, explicit, &ty).map_err(|e| e.to_string())
    }

    #[test]
    fn http_takes_the_provider_of_its_event_type() {
        assert_eq!(
            resolved("http", None, "lambda_http::Request"),
            Ok(Provider::Aws)
        );
        assert_eq!(
            resolved("http", None, "AzureEvent<HttpRequest>"),
            Ok(Provider::Azure)
        );
        assert_eq!(
            resolved(
                "http",
                None,
                "otel_faas_runtime::azure::AzureEvent<HttpRequest>"
            ),
            Ok(Provider::Azure)
        );
        assert_eq!(
            resolved("http", Some(Provider::Azure), "Req"),
            Ok(Provider::Azure)
        );
    }

    #[test]
    fn one_platform_triggers_decide_alone() {
        assert_eq!(resolved("timer", None, "X"), Ok(Provider::Azure));
        assert_eq!(
            resolved("sqs", None, "LambdaEvent<SqsEvent>"),
            Ok(Provider::Aws)
        );
        let error = resolved("kinesis", None, "AzureEvent<EventHubsBatch>").unwrap_err();
        assert!(error.contains("use `event_hubs`"), "{error}");
    }
}
