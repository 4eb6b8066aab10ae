//! A function built with `panic = "abort"`, as `cargo lambda build --release` builds one
//! unless the project sets a profile: before the fix a panic ended the process with status
//! 134, nothing was posted to the Runtime API and no span was exported.
//!
//! The test builds the runtime's `panic_abort` example with that profile setting into a
//! target directory of its own (every crate is compiled again, about 75 s on 2 cores the first
//! time), so it is `#[ignore]`d in a plain `cargo test`; `.ci/run` runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use otel_faas_local::collector::Collector;
use otel_faas_local::emulator::{FunctionConfig, Invocation, InvocationResult, RuntimeApi};
use serde_json::json;

mod platform;

use platform::{FUNCTION, Platform, logged, named, string};

/// Builds the `panic_abort` example with `panic = "abort"`; returns the binary.
fn build_with_panic_abort() -> PathBuf {
    // The test binary is `<target>/debug/deps/panic_abort-…`.
    let exe = std::env::current_exe().expect("the test binary");
    let target = exe.ancestors().nth(3).expect("the target directory");
    let target = target.join("panic-abort");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--manifest-path", manifest])
        .args(["-p", "otel-faas-runtime", "--example", "panic_abort"])
        .args(["--config", "profile.dev.panic=\"abort\""])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the panic = \"abort\" build failed");
    target.join("debug/examples/panic_abort")
}

#[tokio::test]
#[ignore = "builds an example with panic = \"abort\" (every crate again); .ci/run runs it"]
async fn a_panic_in_a_panic_abort_build_is_exported_and_reported_before_the_abort() {
    let program = build_with_panic_abort();
    let api = RuntimeApi::start(FunctionConfig::new(FUNCTION))
        .await
        .expect("emulator");
    let collector = Collector::start().await.expect("collector");
    let vars = [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            collector.endpoint(),
        ),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ];
    let mut platform = Platform::start_program(&program, api, collector, &vars);

    let invocation =
        Invocation::json(&json!({ "panic": true })).with_timeout(Duration::from_secs(10));
    let outcome = platform.api.invoke(invocation).await;
    let InvocationResult::Error(error) = &outcome.result else {
        panic!(
            "the panic is reported to the Runtime API: {:?}; output: {:#?}",
            outcome.result,
            platform.function.output()
        )
    };
    assert_eq!(error.error_type, "panic");
    assert_eq!(
        error.error_message,
        "Lambda panicked: the order book is corrupt"
    );

    let spans = platform.trace_of(&outcome.request_id).await;
    let server = named(&spans, FUNCTION);
    assert_eq!(server.attribute("error.type").cloned(), string("panic"));
    assert_eq!(
        server.view.error.as_deref(),
        Some("the order book is corrupt")
    );
    assert!(
        logged(&platform, "panic = \"abort\""),
        "warned at start-up: {:#?}",
        platform.function.output()
    );

    // And then the process aborts, as the build asks.
    let status = platform
        .function
        .terminate(Duration::from_secs(5))
        .await
        .expect("the process ends");
    assert!(!status.success(), "{status:?}");
}
