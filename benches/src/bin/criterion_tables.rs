//! The in-process tables of BENCHMARKS.md from criterion's results: reads every
//! `criterion/**/new/{benchmark,estimates}.json` under the target directory that the
//! `invocation` bench wrote, and prints the SQS, HTTP and SQS-scaling tables in markdown,
//! medians of criterion's samples.
//!
//! ```sh
//! cargo bench -p otel-faas-benches --bench invocation
//! cargo run --release -p otel-faas-benches --bin criterion_tables -- target
//! ```
//!
//! The argument is the target directory (default `target`). A benchmark that has no result
//! is an error: the tables are all or nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use otel_faas_benches::thousands;
use otel_faas_runtime::Error;
use serde_json::Value;

/// The in-process contestants: criterion's function id and the row's name.
const CONTESTANTS: [(&str, &str); 7] = [
    ("bare", "bare"),
    ("hand-written", "hand-written"),
    ("otel-faas", "**otel-faas**"),
    ("otel-faas + FaaS metrics", "otel-faas + FaaS metrics"),
    ("otel-faas, SDK disabled", "otel-faas, SDK disabled"),
    (
        "lambda_runtime OpenTelemetryLayer",
        "lambda_runtime `OpenTelemetryLayer`",
    ),
    ("lambda-otel-lite", "lambda-otel-lite"),
];

const SCALING_SIZES: [u64; 5] = [1, 10, 100, 1_000, 10_000];

fn main() -> Result<(), Error> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target".to_owned());
    let root = Path::new(&target).join("criterion");
    let mut medians = HashMap::new();
    collect(&root, &mut medians)?;
    if medians.is_empty() {
        return Err(format!(
            "no criterion results under {}: run `cargo bench -p otel-faas-benches --bench invocation` first",
            root.display()
        )
        .into());
    }
    let median = |id: &str| -> Result<f64, Error> {
        medians.get(id).copied().ok_or_else(|| {
            format!("no criterion result for {id:?} under {}", root.display()).into()
        })
    };

    for (group, title, lite) in [
        (
            "sqs, 10 messages",
            "SQS, a batch of 10 messages",
            "lambda-otel-lite (one span)",
        ),
        (
            "http, REST API GET",
            "HTTP, an API Gateway REST request",
            "lambda-otel-lite",
        ),
    ] {
        let ours = median(&format!("{group}/otel-faas"))?;
        println!("### {title}\n");
        println!("| contestant | median | ratio to otel-faas |");
        println!("|---|---:|---:|");
        for (id, name) in CONTESTANTS {
            let value = median(&format!("{group}/{id}"))?;
            let name = if id == "lambda-otel-lite" { lite } else { name };
            let (time, ratio) = (time(value), format!("{:.2}", value / ours));
            match id {
                "otel-faas" => println!("| {name} | **{time}** | {ratio} |"),
                _ => println!("| {name} | {time} | {ratio} |"),
            }
        }
        println!();
    }

    println!("### SQS batch scaling, cost per message\n");
    println!(
        "| messages | bare | per message | ratio | hand-written | per message | ratio | **otel-faas** | per message | otel-faas over bare, per message |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in SCALING_SIZES {
        let at = |id: &str| median(&format!("sqs batch scaling/{id}/{size}"));
        let (bare, hand, ours) = (at("bare")?, at("hand-written")?, at("otel-faas")?);
        let n = size as f64;
        println!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {} | {} | {} |",
            thousands(size),
            time(bare),
            time(bare / n),
            bare / ours,
            time(hand),
            time(hand / n),
            hand / ours,
            time(ours),
            time(ours / n),
            time((ours - bare) / n),
        );
    }
    Ok(())
}

/// Every benchmark's median (ns) under `dir`, by criterion's full id (`group/function[/value]`).
fn collect(dir: &Path, medians: &mut HashMap<String, f64>) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path: PathBuf = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                let benchmark = read(&path.join("benchmark.json"))?;
                let estimates = read(&path.join("estimates.json"))?;
                let id = benchmark["full_id"]
                    .as_str()
                    .ok_or_else(|| format!("no full_id in {}", path.display()))?;
                let median = estimates["median"]["point_estimate"]
                    .as_f64()
                    .ok_or_else(|| format!("no median in {}", path.display()))?;
                medians.insert(id.to_owned(), median);
            } else {
                collect(&path, medians)?;
            }
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// A duration in nanoseconds as BENCHMARKS.md writes it: `455 ns`, `5.10 µs`, `8.47 ms`.
fn time(ns: f64) -> String {
    match ns.abs() {
        n if n < 1e3 => format!("{ns:.0} ns"),
        n if n < 1e6 => format!("{:.2} µs", ns / 1e3),
        _ => format!("{:.2} ms", ns / 1e6),
    }
}
