//! OTLP partial success: a collector that accepted an export only in part says so in a
//! `200` answer, and the pipeline reports it.
//!
//! Followed: the OTLP specification, "Partial Success" for OTLP/HTTP
//! (open-telemetry/opentelemetry-proto, `docs/specification.md`): a server that accepts only
//! part of a request answers `200` with the same `ExportTraceServiceResponse` as a full
//! success, its `partial_success` field set to the number of spans it rejected and, it should,
//! an `error_message` saying why; the client must not retry. The message is
//! `ExportTracePartialSuccess` (`opentelemetry/proto/collector/trace/v1/trace_service.proto`):
//! `rejected_spans` 0 with a non-empty `error_message` is a warning about an export accepted
//! whole, and both empty mean full success.
//!
//! `opentelemetry-otlp`'s HTTP exporter decodes that answer but returns success whatever it
//! says (at most an internal log line, which does not reach the function's log here), so a
//! collector dropping most spans looked like one taking them all. The exporter's HTTP client
//! (the same Hyper client the exporter would build) is therefore wrapped: the answer to each
//! export is read once more, and what a partial success rejected is kept for
//! [`crate::Telemetry`] to log after the flush, rate-limited like every export problem.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

/// What collectors said they rejected since it was last taken.
#[derive(Debug, Default)]
pub(crate) struct Rejections(Mutex<Option<Rejected>>);

/// Spans a collector rejected, and its last message about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Spans rejected, summed over the answers.
    pub(crate) spans: i64,
    /// The collector's last non-empty `error_message`.
    pub(crate) message: String,
}

impl Rejections {
    /// Keeps what one answer's `partial_success` says, when it says anything.
    fn record(&self, spans: i64, message: String) {
        if spans <= 0 && message.is_empty() {
            return;
        }
        let mut rejected = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match rejected.as_mut() {
            Some(rejected) => {
                rejected.spans += spans.max(0);
                if !message.is_empty() {
                    rejected.message = message;
                }
            }
            None => {
                *rejected = Some(Rejected {
                    spans: spans.max(0),
                    message,
                })
            }
        }
    }

    /// What was rejected since the last call, if anything.
    pub(crate) fn take(&self) -> Option<Rejected> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl Rejected {
    /// The log line's problem.
    pub(crate) fn describe(&self) -> String {
        let reason = match self.message.trim() {
            "" => "it gave no reason",
            message => message,
        };
        match self.spans {
            0 => format!("the collector accepted the spans with a warning: {reason}"),
            spans => format!(
                "the collector rejected {spans} of the exported spans (OTLP partial success): {reason}"
            ),
        }
    }
}

/// An HTTP client that reads the `partial_success` of every successful answer it passes on.
#[derive(Debug)]
pub(crate) struct WatchedClient<C> {
    inner: C,
    rejections: Arc<Rejections>,
}

impl<C> WatchedClient<C> {
    pub(crate) fn new(inner: C, rejections: Arc<Rejections>) -> Self {
        WatchedClient { inner, rejections }
    }
}

#[async_trait]
impl<C: HttpClient> HttpClient for WatchedClient<C> {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = self.inner.send_bytes(request).await?;
        if response.status().is_success() {
            // An answer that is not a protobuf response (an empty body, a proxy's page) says
            // nothing about rejected spans.
            if let Ok(answer) = ExportTraceServiceResponse::decode(response.body().clone())
                && let Some(partial) = answer.partial_success
            {
                self.rejections
                    .record(partial.rejected_spans, partial.error_message);
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_add_up_and_the_last_message_is_kept() {
        let rejections = Rejections::default();
        rejections.record(0, String::new());
        assert_eq!(
            rejections.take(),
            None,
            "an empty partial_success is full success"
        );
        rejections.record(2, "too big".into());
        rejections.record(3, String::new());
        let rejected = rejections.take().expect("rejected");
        assert_eq!(rejected.spans, 5);
        assert_eq!(
            rejected.describe(),
            "the collector rejected 5 of the exported spans (OTLP partial success): too big"
        );
        assert_eq!(rejections.take(), None, "taken");
        rejections.record(0, "use fewer attributes".into());
        assert_eq!(
            rejections.take().expect("a warning").describe(),
            "the collector accepted the spans with a warning: use fewer attributes"
        );
    }
}
