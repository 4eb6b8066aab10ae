#!/usr/bin/env python3
"""Checks Azure Functions app roots against SchemaStore's schemas (vendored in schemas/).

    python3 deploy/azure/check_app.py APP_ROOT...     # exit 1 on the first app with a problem
    python3 deploy/azure/check_app.py --self-test     # the check rejects what it must

host.json is validated against the host.json schema as published.

function.json is not validated against its published schema as a whole: there, each binding
must match one of the binding definitions, and the SQL binding's definition (`sqlBinding`, a
`oneOf` whose branches only constrain properties that are present) matches almost any object,
so a Service Bus trigger with `"queueName": 5` or an HTTP trigger with `"authLevel":
"everyone"` passes. Instead each binding is validated against the definition of its own
`type` (the definition whose `type` enum names it) together with `bindingBase`, and its keys
must be ones that definition (or the branch for its type) or `bindingBase` declares, which
catches a misspelt key the schema would let through. A type no definition names (an
extension's binding) is validated against `dynamicBinding`, as the schema does.

Needs the `jsonschema` package (.ci/run installs it in a virtual environment).
"""

import json
import pathlib
import sys

import jsonschema

SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


HOST_SCHEMA = load(SCHEMAS / "host.json.schema.json")
FUNCTION_SCHEMA = load(SCHEMAS / "function.json.schema.json")
DEFINITIONS = FUNCTION_SCHEMA["definitions"]


# Keys the Functions host reads that the vendored function.json schema does not declare, from
# Microsoft's binding references (learn.microsoft.com, javascript/api/@azure/functions:
# EventHubTriggerOptions, ServiceBusQueueTriggerOptions). The schema still names the event hub
# `path`, its Functions 1.x name.
UNDECLARED_KEYS = {
    "eventHubTrigger": {"eventHubName"},
    "eventHub": {"eventHubName"},
    "serviceBusTrigger": {"cardinality", "isSessionsEnabled"},
}


def type_enum(node):
    return node.get("properties", {}).get("type", {}).get("enum", [])


def definition_of(binding_type):
    """The binding definition that names `binding_type`, and the branch of it that does."""
    for name, definition in DEFINITIONS.items():
        if binding_type in type_enum(definition):
            return name, definition
        for branch in definition.get("oneOf", []):
            if binding_type in type_enum(branch):
                return name, branch
    return "dynamicBinding", None


def binding_problems(binding):
    """What is wrong with one binding of a function.json."""
    if not isinstance(binding, dict):
        return ["a binding must be an object"]
    binding_type = binding.get("type")
    name, branch = definition_of(binding_type)
    schema = {
        "definitions": DEFINITIONS,
        "allOf": [
            {"$ref": "#/definitions/bindingBase"},
            {"$ref": f"#/definitions/{name}"},
        ],
    }
    validator = jsonschema.Draft4Validator(schema)
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(binding)'}: {e.message}"
        for e in validator.iter_errors(binding)
    ]
    if branch is not None:
        known = set(DEFINITIONS["bindingBase"]["properties"])
        known |= set(DEFINITIONS[name].get("properties", {}))
        known |= set(branch.get("properties", {}))
        known |= UNDECLARED_KEYS.get(binding_type, set())
        for key in sorted(set(binding) - known):
            problems.append(f"{key}: not a property of a {binding_type!r} binding ({name})")
    return [f"{binding_type!r} binding: {p}" for p in problems]


def function_problems(document):
    """What is wrong with a function.json document."""
    problems = []
    if not isinstance(document, dict):
        return ["function.json must be an object"]
    bindings = document.get("bindings")
    if not isinstance(bindings, list) or not bindings:
        return ["bindings: a non-empty list is required"]
    top = dict(FUNCTION_SCHEMA)
    top["properties"] = {k: v for k, v in top["properties"].items() if k != "bindings"}
    for error in jsonschema.Draft4Validator(top).iter_errors(document):
        problems.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
    for index, binding in enumerate(bindings):
        problems += [f"bindings/{index}: {p}" for p in binding_problems(binding)]
    return problems


def host_problems(document):
    """What is wrong with a host.json document."""
    validator = jsonschema.Draft7Validator(HOST_SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def check_app(root):
    """Prints and returns the problems of the app rooted at `root`."""
    root = pathlib.Path(root)
    problems = [f"host.json: {p}" for p in host_problems(load(root / "host.json"))]
    functions = sorted(root.glob("*/function.json"))
    if not functions:
        problems.append("no <function>/function.json under the app root")
    for path in functions:
        relative = path.relative_to(root)
        problems += [f"{relative}: {p}" for p in function_problems(load(path))]
    for problem in problems:
        print(f"{root}/{problem}")
    print(f"{root}: host.json and {len(functions)} function.json checked, {len(problems)} problems")
    return problems


def self_test():
    """The check rejects what the published schema lets through, and accepts a good app."""
    good = {"type": "serviceBusTrigger", "direction": "in", "name": "order",
            "queueName": "orders", "connection": "ServiceBusConnection"}
    bad = [
        dict(good, queueName=5),
        dict(good, queuename="orders"),
        {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "everyone"},
        {"type": "queue", "direction": "in", "name": "out", "queueName": "q"},
        {"type": "http", "name": "res"},
    ]
    failures = []
    if binding_problems(good):
        failures.append(f"a good binding was rejected: {binding_problems(good)}")
    for binding in bad:
        if not binding_problems(binding):
            failures.append(f"not rejected: {binding}")
    whole = jsonschema.Draft4Validator(FUNCTION_SCHEMA)
    passed = sum(1 for b in bad if not list(whole.iter_errors({"bindings": [b]})))
    print(f"self-test: the published function.json schema as a whole accepts {passed} of them")
    if not host_problems({"version": "1.0"}) or not host_problems({"version": "2.0", "customHandler": 5}):
        failures.append("a bad host.json was accepted")
    for failure in failures:
        print(f"self-test: {failure}")
    print(f"self-test: {len(bad)} bad bindings and 2 bad host.json rejected, {len(failures)} failures")
    return failures


def main(args):
    if args == ["--self-test"]:
        return 1 if self_test() else 0
    if not args:
        print(__doc__)
        return 2
    problems = [p for root in args for p in check_app(root)]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
