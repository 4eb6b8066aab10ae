//! The invoked function ARN: the account id and the `cloud.resource_id` it yields.
//!
//! An ARN is `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`. The semantic
//! conventions want `cloud.resource_id` to identify the code that ran, so an alias qualifier
//! (`:live`) is replaced by the function version the runtime reports, while a version
//! qualifier (`:42`, `:$LATEST`) and an unqualified ARN are kept as they are.

use std::sync::Mutex;

use opentelemetry::StringValue;

/// Attribute values derived from one invoked ARN; cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArnAttributes {
    /// `aws.lambda.invoked_arn`: the ARN as invoked.
    pub(crate) invoked_arn: StringValue,
    /// `cloud.account.id`, when the ARN has one.
    pub(crate) account_id: Option<StringValue>,
    /// `cloud.resource_id`, when the ARN is a function ARN.
    pub(crate) resource_id: Option<StringValue>,
}

impl ArnAttributes {
    pub(crate) fn parse(invoked_arn: &str, function_version: &str) -> Self {
        let parts: Vec<&str> = invoked_arn.split(':').collect();
        let is_function_arn =
            parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function";
        let account_id = parts
            .get(4)
            .filter(|a| is_function_arn && !a.is_empty())
            .map(|a| StringValue::from(a.to_string()));
        let resource_id = is_function_arn.then(|| match parts.get(7) {
            Some(qualifier) if is_alias(qualifier) && !function_version.is_empty() => {
                format!("{}:{}", parts[..7].join(":"), function_version)
            }
            _ => invoked_arn.to_owned(),
        });
        ArnAttributes {
            invoked_arn: StringValue::from(invoked_arn.to_owned()),
            account_id,
            resource_id: resource_id.map(StringValue::from),
        }
    }
}

/// A qualifier that is neither a version number nor `$LATEST` is an alias.
fn is_alias(qualifier: &str) -> bool {
    qualifier != "$LATEST" && !qualifier.chars().all(|c| c.is_ascii_digit())
}

/// Remembers the attributes of the last ARN seen: a function is invoked through the same ARN
/// almost every time, so each invocation costs one comparison instead of a parse.
#[derive(Debug, Default)]
pub(crate) struct ArnCache {
    last: Mutex<Option<(String, ArnAttributes)>>,
}

impl ArnCache {
    pub(crate) fn get(&self, invoked_arn: &str, function_version: &str) -> ArnAttributes {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match last.as_ref() {
            Some((arn, attributes)) if arn == invoked_arn => attributes.clone(),
            _ => {
                let attributes = ArnAttributes::parse(invoked_arn, function_version);
                *last = Some((invoked_arn.to_owned(), attributes.clone()));
                attributes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource_id(arn: &str, version: &str) -> Option<String> {
        ArnAttributes::parse(arn, version)
            .resource_id
            .map(|v| v.as_str().to_owned())
    }

    #[test]
    fn alias_is_replaced_by_the_version() {
        assert_eq!(
            resource_id(
                "arn:aws:lambda:eu-west-1:123456789012:function:orders:live",
                "7"
            )
            .as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:orders:7")
        );
    }

    #[test]
    fn versions_and_unqualified_arns_are_kept() {
        let unqualified = "arn:aws:lambda:eu-west-1:123456789012:function:orders";
        assert_eq!(resource_id(unqualified, "7").as_deref(), Some(unqualified));
        let version = "arn:aws:lambda:eu-west-1:123456789012:function:orders:3";
        assert_eq!(resource_id(version, "7").as_deref(), Some(version));
        let latest = "arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST";
        assert_eq!(resource_id(latest, "$LATEST").as_deref(), Some(latest));
    }

    #[test]
    fn account_id_is_the_fifth_field() {
        let a = ArnAttributes::parse("arn:aws:lambda:eu-west-1:123456789012:function:orders", "1");
        assert_eq!(
            a.account_id.map(|v| v.as_str().to_owned()).as_deref(),
            Some("123456789012")
        );
    }

    #[test]
    fn garbage_yields_no_account_and_no_resource() {
        for arn in [
            "",
            "not an arn",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:r:a:layer:x:1",
            ":::::::",
        ] {
            let a = ArnAttributes::parse(arn, "1");
            assert_eq!(a.account_id, None, "{arn}");
            assert_eq!(a.resource_id, None, "{arn}");
        }
    }

    #[test]
    fn cache_answers_a_changed_arn() {
        let cache = ArnCache::default();
        let a = cache.get("arn:aws:lambda:r:111111111111:function:f:live", "2");
        let b = cache.get("arn:aws:lambda:r:222222222222:function:f", "2");
        assert_ne!(a.account_id, b.account_id);
        assert_eq!(
            cache.get("arn:aws:lambda:r:111111111111:function:f:live", "2"),
            a
        );
    }
}
