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
//!
//! Scenario `sdk` runs `n` invocations of a handler that makes one DynamoDB `GetItem` over
//! HTTP on loopback to `otel_faas_local::dynamodb::DynamoDbTables` in the same process, with
//! a client without (`untraced`) or with (`traced`) `TraceInterceptor`: the difference per
//! invocation is the cost of tracing one AWS SDK call (span, attributes, export to a
//! discarding exporter), everything else — the SDK, HTTP, the double, the invocation's own
//! spans — being the same in both.

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
    if let [_, scenario, contestant, n] = args.as_slice()
        && scenario == "sdk"
    {
        sdk_calls(contestant, n.parse().unwrap_or(1000));
        return;
    }
    let (scenario, contestant, n) = match args.as_slice() {
        [_, scenario, contestant, n] => (
            scenario.as_str(),
            contestant.as_str(),
            n.parse().unwrap_or(1000),
        ),
        _ => {
            eprintln!(
                "usage: instructions <sqs|http> <bare|hand-written|otel-faas|otel-faas-metrics|sdk-disabled> <n>\n       instructions sdk <untraced|traced> <n>"
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

/// The DynamoDB client of [`get_item`].
static DYNAMODB: std::sync::OnceLock<aws_sdk_dynamodb::Client> = std::sync::OnceLock::new();

/// One `GetItem` of an item that exists.
#[otel_faas_runtime::traced_function(trigger = "other")]
async fn get_item(_event: LambdaEvent<serde_json::Value>) -> Result<(), otel_faas_runtime::Error> {
    let client = DYNAMODB.get().expect("the client");
    let item = client
        .get_item()
        .table_name("stock")
        .key(
            "sku",
            aws_sdk_dynamodb::types::AttributeValue::S("A-1".into()),
        )
        .send()
        .await?;
    black_box(item);
    Ok(())
}

/// `n` invocations of [`get_item`] with the client `contestant` names.
fn sdk_calls(contestant: &str, n: usize) {
    let traced = match contestant {
        "traced" => true,
        "untraced" => false,
        other => panic!("unknown contestant: {other:?}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config =
        Config::from_lookup(|key| (key == "OTEL_METRICS_EXPORTER").then(|| "none".to_owned()));
    let kit = TestKit::with_exporter(config, "bench", Discard);
    runtime.block_on(async {
        let dynamodb = otel_faas_local::dynamodb::DynamoDbTables::start()
            .await
            .expect("the DynamoDB double");
        dynamodb.create_table("stock", "sku");
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ))
            .endpoint_url(dynamodb.endpoint())
            .http_client(aws_smithy_http_client::Builder::new().build_http());
        if traced {
            config =
                config.interceptor(otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor::new());
        }
        let client = aws_sdk_dynamodb::Client::from_conf(config.build());
        client
            .put_item()
            .table_name("stock")
            .item(
                "sku",
                aws_sdk_dynamodb::types::AttributeValue::S("A-1".into()),
            )
            .item(
                "stock",
                aws_sdk_dynamodb::types::AttributeValue::N("5".into()),
            )
            .send()
            .await
            .expect("the item");
        DYNAMODB.set(client).expect("one client");
        let context = kit.context(Invocation {
            timeout: Some(Duration::from_secs(24 * 3600)),
            ..Invocation::default()
        });
        for _ in 0..n {
            let event = LambdaEvent::new(serde_json::json!({}), context.clone());
            kit.invoke_event(get_item, event).await.expect("the call");
        }
    });
}
