//! Nothing here: the crate's tests check otel-faas's OTLP/gRPC exporter and receiver against
//! tonic and `opentelemetry-otlp`'s `grpc-tonic` exporter (`interop/tests/`). It is a
//! workspace member outside `default-members`, so `cargo test` at the root never compiles
//! tonic; run it with `cargo test -p otel-faas-interop`.
