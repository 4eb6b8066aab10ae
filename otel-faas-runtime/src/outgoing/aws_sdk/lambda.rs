//! Lambda: `Invoke` is a CLIENT span whose context travels in the client context and in the
//! request's X-Ray header.

use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeInput, InvokeOutput};
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as OperationError, Input, Output,
};

use super::{OutgoingSpan, SpanShape};

pub(super) fn describe(input: &Input, region: Option<&str>, shape: &mut SpanShape, limit: usize) {
    if let Some(invoke) = input.downcast_ref::<InvokeInput>() {
        let function = invoke.function_name.as_deref().unwrap_or_default();
        *shape = SpanShape::lambda_invoke(function, region, limit);
    }
}

/// Writes the span into the client context; returns the X-Ray header for the request.
pub(super) fn propagate(input: &mut Input, span: &OutgoingSpan) -> Option<String> {
    let invoke = input.downcast_mut::<InvokeInput>()?;
    match span
        .trace_context()
        .client_context(invoke.client_context.as_deref())
    {
        Ok(Some(client_context)) => invoke.client_context = Some(client_context),
        Ok(None) => {}
        // The caller's client context goes as it was, without the trace; the span says so.
        Err(_) => span.record_left_out(&["client_context".to_owned()]),
    }
    // Lambda hands an asynchronous invoke no client context, but passes the request's
    // X-Ray header on as the invocation's trace header (`xray-lambda` reads it).
    span.trace_context().xray_header()
}

pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
    let Some(invoked) = output.downcast_ref::<InvokeOutput>() else {
        return;
    };
    if let Some(error) = &invoked.function_error {
        span.record_failure(error, "the invoked function returned an error");
    }
}

pub(super) fn error_code(error: &OperationError) -> Option<String> {
    super::sdk_code!(error; InvokeError)
}
