#!/usr/bin/env python3
"""Checks that each workspace package's rust-version is no older than that of any crate it
builds with, as Cargo.lock pins them (clippy's incompatible_msrv lint checks our own code).

    python3 .ci/check_msrv.py

A package is checked with its default features and, for the runtime, with the features a
user picks (`azure`, `grpc`); the aws-sdk-* features need the AWS SDK's rust-version and the
azure-monitor feature opentelemetry-application-insights', which the root package (its
examples and tests use them) declares.
"""

import json
import subprocess
import sys

# (package, cargo tree feature arguments, which rust-version applies)
CHECKS = [
    ("otel-faas-macros", [], "otel-faas-macros"),
    ("otel-faas-runtime", [], "otel-faas-runtime"),
    ("otel-faas-runtime", ["--features", "azure"], "otel-faas-runtime"),
    ("otel-faas-runtime", ["--features", "azure-monitor"], "otel-faas"),
    ("otel-faas-runtime", ["--features", "grpc"], "otel-faas-runtime"),
    ("otel-faas-runtime", ["--all-features"], "otel-faas"),
    ("otel-faas-local", [], "otel-faas-local"),
    ("otel-faas-deploy-aws", [], "otel-faas-deploy-aws"),
    ("otel-faas-deploy-azure", [], "otel-faas-deploy-azure"),
    ("otel-faas", [], "otel-faas"),
]


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    declared = {
        p["name"]: p["rust_version"]
        for p in metadata["packages"]
        if p["id"] in metadata["workspace_members"]
    }
    wanted = {(p["name"], p["version"]): p.get("rust_version") for p in metadata["packages"]}
    problems = 0
    for package, features, governing in CHECKS:
        tree = subprocess.run(
            ["cargo", "tree", "--locked", "-p", package, *features, "-e", "normal,build",
             "--prefix", "none", "-f", "{p}"],
            check=True, capture_output=True, text=True,
        ).stdout
        needs = []
        for line in tree.splitlines():
            name, _, rest = line.partition(" v")
            crate_version = rest.split(" ")[0]
            needed = wanted.get((name, crate_version))
            if needed:
                needs.append((version(needed), f"{name} {crate_version}"))
        most, crate = max(needs)
        ok = most <= version(declared[governing])
        problems += not ok
        print(
            f"{'ok' if ok else 'TOO OLD'}: {package} {' '.join(features) or '(default features)'}"
            f" needs Rust {'.'.join(map(str, most))} ({crate}); {governing} declares "
            f"{declared[governing]}"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
