#!/usr/bin/env python3
"""Checks what cfn-lint cannot know about template.yaml: that it matches this repository's
build and the runtime's needs.

    python3 deploy/aws/check_template.py [--built TARGET_DIR]

- each function's CodeUri is target/lambda/<binary>/ for a [[bin]] of deploy/aws/Cargo.toml
  (cargo lambda's layout, and build.sh's); with --built, that directory holds an executable
  `bootstrap` and the collector.yaml the layer is pointed at;
- Runtime provided.al2023 (a Rust binary is an OS-only runtime's `bootstrap`) and Handler
  bootstrap;
- every SQS event source reports partial batch failures (FunctionResponseTypes:
  ReportBatchItemFailures), without which Lambda ignores the batchItemFailures the per_message
  glue returns and deletes failed messages;
- a queue's VisibilityTimeout is at least six times its consumer's Timeout, and every Timeout
  leaves room for OTEL_FAAS_FLUSH_TIMEOUT and OTEL_FAAS_DEADLINE_MARGIN.

Reads the template with cfn-lint's own decoder (.ci/run installs cfn-lint).
"""

import os
import pathlib
import sys
import tomllib

from cfnlint.decode import decode

HERE = pathlib.Path(__file__).resolve().parent


def main(args):
    built = pathlib.Path(args[1]) if args[:1] == ["--built"] else None
    template, matches = decode(str(HERE / "template.yaml"))
    if matches:
        print(*matches, sep="\n")
        return 1
    with open(HERE / "Cargo.toml", "rb") as file:
        binaries = {b["name"] for b in tomllib.load(file)["bin"]}
    defaults = template.get("Globals", {}).get("Function", {})
    resources = template["Resources"]
    problems = []

    def prop(fn, key):
        return fn.get(key, defaults.get(key))

    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        fn = resource["Properties"]
        code = pathlib.PurePosixPath(fn["CodeUri"])
        if code.parent != pathlib.PurePosixPath("../../target/lambda") or code.name not in binaries:
            problems.append(f"{name}: CodeUri {code} is not ../../target/lambda/<a [[bin]]>/")
        elif built is not None:
            folder = built / "lambda" / code.name
            if not os.access(folder / "bootstrap", os.X_OK):
                problems.append(f"{name}: no executable {folder}/bootstrap")
            if not (folder / "collector.yaml").is_file():
                problems.append(f"{name}: no {folder}/collector.yaml for the collector layer")
        if prop(fn, "Runtime") != "provided.al2023":
            problems.append(f"{name}: Runtime {prop(fn, 'Runtime')}, not provided.al2023")
        if prop(fn, "Handler") != "bootstrap":
            problems.append(f"{name}: Handler {prop(fn, 'Handler')}, not bootstrap")
        variables = dict(defaults.get("Environment", {}).get("Variables", {}))
        variables.update(fn.get("Environment", {}).get("Variables", {}))
        flush_ms = int(variables.get("OTEL_FAAS_FLUSH_TIMEOUT", 1000))
        margin_ms = int(variables.get("OTEL_FAAS_DEADLINE_MARGIN", 100))
        timeout = int(prop(fn, "Timeout") or 3)
        if timeout * 1000 <= flush_ms + margin_ms:
            problems.append(f"{name}: Timeout {timeout} s leaves no time beside the flush")
        for event_name, event in fn.get("Events", {}).items():
            if event["Type"] != "SQS":
                continue
            where = f"{name}.Events.{event_name}"
            properties = event["Properties"]
            if "ReportBatchItemFailures" not in properties.get("FunctionResponseTypes", []):
                problems.append(f"{where}: FunctionResponseTypes lacks ReportBatchItemFailures")
            queue = properties["Queue"]
            if isinstance(queue, dict) and "Fn::GetAtt" in queue:
                queue_name = queue["Fn::GetAtt"][0]
                visibility = resources[queue_name]["Properties"].get("VisibilityTimeout", 30)
                if int(visibility) < 6 * timeout:
                    problems.append(
                        f"{where}: {queue_name} VisibilityTimeout {visibility} s is under six "
                        f"times the function's Timeout ({timeout} s)"
                    )
    for problem in problems:
        print(f"deploy/aws/template.yaml: {problem}")
    print(f"deploy/aws/template.yaml: checked against the build, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
