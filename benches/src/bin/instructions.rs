//! Instructions per invocation, for each contestant of the in-process benchmark: counted by
//! `valgrind --tool=callgrind`, they do not move with the load of a shared machine as times
//! do.
//!
//! ```sh
//! cargo build --release -p otel-faas-benches --bin instructions
//! for n in 1000 2000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n target/release/instructions http otel-faas $n
//! done
//! ```
//!
//! Runs `n` invocations of one contestant (`bare`, `hand-written`, `otel-faas`,
//! `otel-faas-metrics`, `sdk-disabled`) on one scenario (`sqs`, `http`). The difference
//! between the totals of two runs, divided by the difference in `n`, is the cost of one
//! invocation without the set-up. `scripts`-free on purpose: the two numbers are printed by
//! callgrind (`Collected : …`).

use std::hint::black_box;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use otel_faas_benches::{
    Discard, HandWritten, bare_http, bare_sqs, http_request, rest_request, sqs_batch, traced_http,
    traced_sqs,
};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::testing::{Invocation, TestKit};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (scenario, contestant, n) = match args.as_slice() {
        [_, scenario, contestant, n] => (
            scenario.as_str(),
            contestant.as_str(),
            n.parse().unwrap_or(1000),
        ),
        _ => {
            eprintln!(
                "usage: instructions <sqs|http> <bare|hand-written|otel-faas|otel-faas-metrics|sdk-disabled> <n>"
            );
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let metrics = contestant == "otel-faas-metrics";
    let config = Config::from_lookup(|key| {
        (key == "OTEL_METRICS_EXPORTER" && !metrics).then(|| "none".to_owned())
    });
    let kit = TestKit::with_exporter(config, "bench", Discard);
    let context = kit.context(Invocation {
        timeout: Some(Duration::from_secs(24 * 3600)),
        ..Invocation::default()
    });
    let hand_written = HandWritten::default();
    let sqs = sqs_batch(10);
    let rest = rest_request();
    runtime.block_on(async {
        for _ in 0..n {
            match (scenario, contestant) {
                ("sqs", "bare") => drop(black_box(
                    bare_sqs(LambdaEvent::new(sqs.clone(), context.clone())).await,
                )),
                ("sqs", "hand-written") => drop(black_box(
                    hand_written
                        .sqs(LambdaEvent::new(sqs.clone(), context.clone()))
                        .await,
                )),
                ("sqs", "otel-faas" | "otel-faas-metrics") => drop(black_box(
                    kit.invoke_event(traced_sqs, LambdaEvent::new(sqs.clone(), context.clone()))
                        .await,
                )),
                ("sqs", "sdk-disabled") => drop(black_box(
                    traced_sqs(LambdaEvent::new(sqs.clone(), context.clone())).await,
                )),
                ("http", "bare") => drop(black_box(
                    bare_http(http_request(rest.clone(), context.clone())).await,
                )),
                ("http", "hand-written") => drop(black_box(
                    hand_written
                        .http(http_request(rest.clone(), context.clone()))
                        .await,
                )),
                ("http", "otel-faas" | "otel-faas-metrics") => {
                    let payload = lambda_http::request::LambdaRequest::ApiGatewayV1(rest.clone());
                    drop(black_box(
                        kit.invoke_event(traced_http, LambdaEvent::new(payload, context.clone()))
                            .await,
                    ))
                }
                ("http", "sdk-disabled") => drop(black_box(
                    traced_http(http_request(rest.clone(), context.clone())).await,
                )),
                other => panic!("unknown scenario or contestant: {other:?}"),
            }
        }
    });
}
