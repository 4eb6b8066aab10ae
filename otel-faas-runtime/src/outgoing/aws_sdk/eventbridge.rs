//! EventBridge: `PutEvents` is a PRODUCER span whose context each entry carries, in its
//! `TraceHeader` and in a JSON `detail`.

use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsInput, PutEventsOutput};
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as OperationError, Input, Output,
};

use super::{OutgoingSpan, SpanShape};
use crate::trigger::messaging::common;

pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    if let Some(put) = input.downcast_ref::<PutEventsInput>() {
        let entries = put.entries.as_deref().unwrap_or_default();
        let bus = common(entries.iter().map(|e| e.event_bus_name.as_deref()));
        *shape = SpanShape::eventbridge_put_events(bus, entries.len(), limit);
    }
}

/// Writes the span into each entry.
pub(super) fn propagate(input: &mut Input, span: &OutgoingSpan) -> Option<String> {
    let put = input.downcast_mut::<PutEventsInput>()?;
    let trace = span.trace_context();
    if !trace.is_valid() {
        return None;
    }
    let header = trace.xray_header();
    for entry in put.entries.as_deref_mut().unwrap_or_default() {
        if header.is_some() {
            entry.trace_header.clone_from(&header);
        }
        if let Some(detail) = entry
            .detail
            .as_deref()
            .and_then(|d| trace.inject_json_str(d))
        {
            entry.detail = Some(detail);
        }
    }
    None
}

pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
    let Some(put) = output.downcast_ref::<PutEventsOutput>() else {
        return;
    };
    let entries = put.entries.as_deref().unwrap_or_default();
    if let [only] = entries
        && let Some(id) = &only.event_id
    {
        span.record_message_id(id);
    }
    if put.failed_entry_count > 0 {
        let code = entries
            .iter()
            .find_map(|e| e.error_code.as_deref())
            .unwrap_or("_OTHER");
        span.record_failure(
            code,
            &format!(
                "{} of {} events were not put",
                put.failed_entry_count,
                entries.len()
            ),
        );
    }
}

pub(super) fn error_code(error: &OperationError) -> Option<String> {
    super::sdk_code!(error; PutEventsError)
}
