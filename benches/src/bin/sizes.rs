//! Binary size of the otel-faas function with each feature set of the runtime, against the
//! bare function and `lambda_runtime`'s OpenTelemetry layer, every one built alone.
//!
//! ```sh
//! cargo run --release -p otel-faas-benches --bin sizes
//! ```
//!
//! Builds (release, `strip = "symbols"`, as the workspace's profile) the bare function of
//! `benches/bare-alone`, the layer's function of `benches/sizes/layer`, and the otel-faas
//! function of `benches/sizes/otel-faas` once per feature set below, each with `cargo build
//! -p`, which resolves the features of that package alone: no feature of another contestant,
//! of the tests or of the benchmark crate reaches it. Then prints one markdown table. The
//! builds share `CARGO_TARGET_DIR` when it is set (the dependencies are compiled once per
//! feature set that changes them); their output goes to standard error.

use std::path::{Path, PathBuf};
use std::process::Command;

use otel_faas_runtime::Error;

/// The otel-faas feature sets: a label, and the arguments that select them.
const FEATURE_SETS: &[(&str, &[&str])] = &[
    ("defaults (`tls`, `gzip`)", &[]),
    ("`--no-default-features`", &["--no-default-features"]),
    (
        "`gzip`, no TLS",
        &["--no-default-features", "--features", "gzip"],
    ),
    (
        "`tls`, no gzip",
        &["--no-default-features", "--features", "tls"],
    ),
    ("defaults + `http-json`", &["--features", "http-json"]),
    ("defaults + `aws-sigv4`", &["--features", "aws-sigv4"]),
];

fn main() -> Result<(), Error> {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sizes = benches.join("sizes/Cargo.toml");
    let bare = build(
        &benches.join("bare-alone/Cargo.toml"),
        "fn-bare-alone",
        "fn_bare_alone",
        &[],
        "bare",
    )?;
    let layer = build(
        &sizes,
        "fn-size-lambda-layer",
        "fn_size_lambda_layer",
        &[],
        "layer",
    )?;
    let mut rows = Vec::new();
    for (i, (label, args)) in FEATURE_SETS.iter().enumerate() {
        let path = build(
            &sizes,
            "fn-size-otel-faas",
            "fn_size_otel_faas",
            args,
            &format!("set{i}"),
        )?;
        rows.push((format!("otel-faas, {label}"), size(&path)?));
    }
    let bare = size(&bare)?;
    let layer = size(&layer)?;
    println!("## Binary size: each feature set, built alone (stripped release)\n");
    println!(
        "Each function in a dependency graph of its own (`benches/bare-alone`, `benches/sizes`), \
         the same one-message SQS handler; `cargo run --release -p otel-faas-benches --bin sizes`.\n"
    );
    println!("| function | size | over bare | over bare, ÷ the layer's |");
    println!("|---|---:|---:|---:|");
    let over = |s: u64| s as f64 - bare as f64;
    println!("| bare (`lambda_runtime` only) | {} | 0 | |", mib(bare));
    println!(
        "| `lambda_runtime`'s OpenTelemetry layer, OTLP/HTTP (no TLS) | {} | {} | 1.00 |",
        mib(layer),
        signed_mib(over(layer))
    );
    for (label, s) in &rows {
        println!(
            "| {label} | {} | {} | {:.2} |",
            mib(*s),
            signed_mib(over(*s)),
            over(*s) / over(layer)
        );
    }
    println!();
    Ok(())
}

/// Builds `bin` of `package` in the workspace of `manifest` with `args`, and copies it aside
/// as `<bin>-<tag>` (the next feature set overwrites the build's own output).
fn build(
    manifest: &Path,
    package: &str,
    bin: &str,
    args: &[&str],
    tag: &str,
) -> Result<PathBuf, Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("building {package} {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(["build", "--release", "--manifest-path"])
        .arg(manifest)
        .args(["-p", package, "--bin", bin])
        .args(args)
        .status()?;
    if !status.success() {
        return Err(format!("cargo build of {package} {} failed", args.join(" ")).into());
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => manifest
            .parent()
            .ok_or("no manifest directory")?
            .join("target"),
    };
    let built = target.join("release").join(bin);
    let kept = target.join("release").join(format!("{bin}-{tag}"));
    std::fs::copy(&built, &kept).map_err(|e| format!("{}: {e}", built.display()))?;
    Ok(kept)
}

fn size(path: &Path) -> Result<u64, Error> {
    Ok(std::fs::metadata(path)?.len())
}

fn mib(bytes: u64) -> String {
    format!(
        "{:.2} MiB ({bytes} bytes)",
        bytes as f64 / (1024.0 * 1024.0)
    )
}

fn signed_mib(bytes: f64) -> String {
    format!("{:+.2} MiB", bytes / (1024.0 * 1024.0)).replace('-', "−")
}
