//! The peers: the same handler bodies instrumented with what a Rust user would pick instead of
//! otel-faas, each driven the way its own documentation shows, exporting to an exporter that
//! discards (in process) so that only the instrumentation is measured.
//!
//! - [`lambda_layer`]: `lambda_runtime`'s own `OpenTelemetryLayer` over `tracing` +
//!   `tracing-opentelemetry` + the OpenTelemetry SDK, flushed with the provider's
//!   `force_flush` after every invocation, as the layer's documentation and example do.
//! - [`lite`]: lambda-otel-lite's `create_traced_handler` in sync mode. It pins OpenTelemetry
//!   0.32, one version behind ours, so it runs on its own OpenTelemetry tree (the `_032`
//!   crates of this package).
//!
//! Each peer produces the spans its model allows, with the attributes otel-faas records where
//! the peer gives a place to put them (the handler's own `tracing` span for the layer, a
//! `SpanAttributesExtractor` for lambda-otel-lite): see each module.

pub mod lambda_layer;
pub mod lite;

#[cfg(test)]
mod tests {
    //! What each peer exports for one invocation: the spans the tables compare.

    use std::sync::{Arc, Mutex};

    use lambda_runtime::layers::OpenTelemetryFaasTrigger;
    use lambda_runtime::tower::{Layer as _, Service as _, service_fn};
    use lambda_runtime::{LambdaEvent, LambdaInvocation};
    use otel_faas_runtime::testing::{Invocation, TestKit};

    use super::lambda_layer::{self, LayerTelemetry};
    use super::lite::{self, LiteTelemetry, SqsBatch};
    use crate::{http_request, rest_request, sqs_batch};

    const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[derive(Clone, Debug, Default)]
    struct Keep(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl opentelemetry_sdk::trace::SpanExporter for Keep {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[derive(Clone, Debug, Default)]
    struct Keep032(Arc<Mutex<Vec<opentelemetry_sdk_032::trace::SpanData>>>);

    impl opentelemetry_sdk_032::trace::SpanExporter for Keep032 {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk_032::trace::SpanData>,
        ) -> opentelemetry_sdk_032::error::OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn context() -> lambda_runtime::Context {
        TestKit::new()
            .function_name("orders")
            .context(Invocation::default())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn the_layer_exports_an_invocation_span_and_a_linked_batch_span() {
        let keep = Keep::default();
        let telemetry = LayerTelemetry::new(keep.clone());
        let event = sqs_batch(10);
        let mut service = telemetry
            .layer(OpenTelemetryFaasTrigger::PubSub)
            .layer(service_fn(|invocation: LambdaInvocation| {
                lambda_layer::sqs(LambdaEvent::new(event.clone(), invocation.context))
            }));
        let _subscriber = tracing::dispatcher::set_default(&telemetry.dispatch);
        runtime()
            .block_on(service.call(lambda_layer::invocation(context())))
            .unwrap();
        let spans = keep.0.lock().unwrap();
        let names: Vec<_> = spans
            .iter()
            .map(|s| (s.name.to_string(), s.span_kind.clone()))
            .collect();
        assert_eq!(spans.len(), 2, "{names:?}");
        let batch = spans.iter().find(|s| s.name == "process orders").unwrap();
        assert_eq!(batch.span_kind, opentelemetry::trace::SpanKind::Consumer);
        assert_eq!(batch.links.len(), 10);
        let invocation = spans.iter().find(|s| s.name != "process orders").unwrap();
        // The handler records `otel.kind = SERVER` as the layer's example does, too late: see
        // `lambda_layer`.
        assert_eq!(
            invocation.span_kind,
            opentelemetry::trace::SpanKind::Internal
        );
        assert_eq!(invocation.name, "orders");
        assert_eq!(batch.parent_span_id, invocation.span_context.span_id());
    }

    #[test]
    fn the_layer_exports_an_http_span_with_the_attributes_but_not_the_callers_parent() {
        let keep = Keep::default();
        let telemetry = LayerTelemetry::new(keep.clone());
        let event = rest_request();
        let mut service = telemetry
            .layer(OpenTelemetryFaasTrigger::Http)
            .layer(service_fn(|invocation: LambdaInvocation| {
                let request = http_request(event.clone(), invocation.context);
                async move { lambda_layer::http(request).await.map(drop) }
            }));
        let _subscriber = tracing::dispatcher::set_default(&telemetry.dispatch);
        runtime()
            .block_on(service.call(lambda_layer::invocation(context())))
            .unwrap();
        let spans = keep.0.lock().unwrap();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        // Name, kind and parent come too late (see `lambda_layer`); the attributes do not.
        assert_eq!(span.name, "orders");
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Internal);
        assert_ne!(span.span_context.trace_id().to_string(), PARENT_TRACE);
        let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert!(keys.contains(&"http.route"), "{keys:?}");
        assert!(keys.contains(&"http.response.status_code"), "{keys:?}");
    }

    #[test]
    fn lite_exports_one_consumer_span_with_a_link_per_message() {
        let keep = Keep032::default();
        let telemetry = LiteTelemetry::new(keep.clone());
        let handler = lambda_otel_lite::create_traced_handler(
            "orders",
            telemetry.completion.clone(),
            lite::sqs,
        );
        let _subscriber = tracing::dispatcher::set_default(&telemetry.dispatch);
        runtime()
            .block_on(handler(LambdaEvent::new(
                SqsBatch(sqs_batch(10)),
                context(),
            )))
            .unwrap();
        let spans = keep.0.lock().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "process orders");
        assert_eq!(
            spans[0].span_kind,
            opentelemetry_032::trace::SpanKind::Consumer
        );
        assert_eq!(spans[0].links.len(), 10);
    }

    #[test]
    fn lite_exports_an_http_span_with_the_callers_parent() {
        let keep = Keep032::default();
        let telemetry = LiteTelemetry::new(keep.clone());
        let handler = lambda_otel_lite::create_traced_handler(
            "pets",
            telemetry.completion.clone(),
            lite::http,
        );
        let _subscriber = tracing::dispatcher::set_default(&telemetry.dispatch);
        runtime()
            .block_on(handler(LambdaEvent::new(rest_request(), context())))
            .unwrap();
        let spans = keep.0.lock().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(
            spans[0].span_kind,
            opentelemetry_032::trace::SpanKind::Server
        );
        assert_eq!(spans[0].span_context.trace_id().to_string(), PARENT_TRACE);
        let keys: Vec<_> = spans[0]
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert!(keys.contains(&"http.request.method"), "{keys:?}");
    }
}
