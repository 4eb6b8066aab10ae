//! Secrets Manager: `aws.secretsmanager.secret.arn` (`registry.aws.secretsmanager` in
//! `model/aws/registry.yaml`), from the `SecretId` a call names when it is an ARN, else from
//! the `ARN` the answer gives — as the JavaScript instrumentation does
//! (`instrumentation-aws-sdk/src/services/secretsmanager.ts` of
//! open-telemetry/opentelemetry-js-contrib). A secret's value, in a request or an answer,
//! is never read.

use aws_sdk_secretsmanager::operation::delete_secret::{DeleteSecretInput, DeleteSecretOutput};
use aws_sdk_secretsmanager::operation::describe_secret::{
    DescribeSecretInput, DescribeSecretOutput,
};
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueInput, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::put_secret_value::{
    PutSecretValueInput, PutSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::rotate_secret::{RotateSecretInput, RotateSecretOutput};
use aws_sdk_secretsmanager::operation::update_secret::{UpdateSecretInput, UpdateSecretOutput};
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use opentelemetry::{Key, KeyValue};
use opentelemetry_semantic_conventions::attribute::AWS_SECRETSMANAGER_SECRET_ARN;

use super::{OutgoingSpan, SpanShape};
use crate::redact::bounded;

/// The first of the listed types `value` is, and the named field of it.
macro_rules! field {
    ($value:expr, $field:ident; $($ty:ty),+ $(,)?) => {{
        let value = $value;
        None$(.or_else(|| value.downcast_ref::<$ty>()?.$field.as_deref()))+
    }};
}

pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    let secret_id: Option<&str> = field!(input, secret_id;
        GetSecretValueInput,
        DescribeSecretInput,
        PutSecretValueInput,
        UpdateSecretInput,
        DeleteSecretInput,
        RotateSecretInput,
    );
    if let Some(arn) = secret_id.filter(|id| id.starts_with("arn:")) {
        shape.attributes.push(KeyValue::new(
            AWS_SECRETSMANAGER_SECRET_ARN,
            bounded(arn, limit),
        ));
    }
}

pub(super) fn finish(span: &OutgoingSpan, output: &Output, started_with: &[Key]) {
    if started_with
        .iter()
        .any(|k| k.as_str() == AWS_SECRETSMANAGER_SECRET_ARN)
    {
        return;
    }
    let arn: Option<&str> = field!(output, arn;
        GetSecretValueOutput,
        DescribeSecretOutput,
        PutSecretValueOutput,
        UpdateSecretOutput,
        DeleteSecretOutput,
        RotateSecretOutput,
    );
    if let Some(arn) = arn {
        span.set(AWS_SECRETSMANAGER_SECRET_ARN, arn);
    }
}
