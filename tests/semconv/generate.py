#!/usr/bin/env python3
"""Generates `registry.json`, the semantic-convention facts `tests/semconv.rs` checks
every exported span, metric and resource against, from the registry's own model files.

Usage (from the repository root), after cloning open-telemetry/semantic-conventions:

    python3 tests/semconv/generate.py ../semantic-conventions > tests/semconv/registry.json

Needs PyYAML. `SEMCONV_VERSION` names the version when the checkout is not a git clone.
Run it again, and commit the result, when moving to a newer registry: the
version (`git describe --tags` of the checkout) is written into the table.

The model mixes two syntaxes (https://github.com/open-telemetry/weaver, `schemas/`):
- `groups:` (definition/1): attribute groups, spans (`type: span`, `span_kind`,
  `extends`), metrics (`type: metric`), each attribute either defined (`id`) or referenced
  (`ref`) with a requirement level;
- `file_format: definition/2`: `attributes`, `attribute_groups`, `spans` (`type`, `kind`),
  `span_refinements` (`ref` to a span type), `metrics`, `metric_refinements`, where an
  attribute list may pull in a group with `ref_group`.
What the table keeps, per attribute: type (enum members with their values and whether each
is deprecated), stability, deprecation; per span definition: kind and each attribute's
requirement level, resolved through groups, `extends` and refinements; per metric:
instrument, unit and attributes.
"""

import json
import os
import pathlib
import subprocess
import sys

import yaml


def load(root):
    docs = []
    for path in sorted(pathlib.Path(root, "model").rglob("*.yaml")):
        with open(path) as f:
            doc = yaml.safe_load(f)
        if isinstance(doc, dict):
            docs.append((str(path.relative_to(root)), doc))
    return docs


def attr_type(spec):
    t = spec.get("type")
    if isinstance(t, dict):
        members = {}
        for m in t.get("members", []):
            members[str(m["value"])] = bool(m.get("deprecated"))
        return "enum", members
    return t, None


def level_of(entry):
    level = entry.get("requirement_level", "recommended")
    if isinstance(level, dict):
        return next(iter(level))
    return level


def main(root):
    docs = load(root)
    attributes = {}
    groups = {}  # id -> list of attribute entries (refs or ids)
    extends = {}
    spans = {}  # id -> {"kind", "entries", "base"}
    metrics = {}

    def define(spec, source):
        key = spec.get("id") or spec.get("key")  # definition/2 names it `key`
        if key is None or "ref" in spec:
            return
        kind, members = attr_type(spec)
        entry = {
            "type": kind,
            "stability": spec.get("stability", "development"),
            "deprecated": bool(spec.get("deprecated")),
            "source": source,
        }
        if members is not None:
            entry["members"] = members
        attributes[key] = entry

    for source, doc in docs:
        for attr in doc.get("attributes", []) or []:
            define(attr, source)
        for group in doc.get("groups", []) or []:
            for attr in group.get("attributes", []) or []:
                define(attr, source)
            gid = group["id"]
            groups[gid] = group.get("attributes", []) or []
            if "extends" in group:
                extends[gid] = group["extends"]
            if group.get("type") == "span":
                spans[gid] = {"kind": group.get("span_kind"), "group": gid}
            if group.get("type") == "metric":
                metrics[group["metric_name"]] = {
                    "instrument": group.get("instrument"),
                    "unit": group.get("unit"),
                    "group": gid,
                    "deprecated": bool(group.get("deprecated")),
                }
        for group in doc.get("attribute_groups", []) or []:
            groups[group["id"]] = group.get("attributes", []) or []
        for span in doc.get("spans", []) or []:
            groups[span["type"]] = span.get("attributes", []) or []
            spans[span["type"]] = {"kind": span.get("kind"), "group": span["type"]}
        for refinement in doc.get("span_refinements", []) or []:
            groups[refinement["id"]] = refinement.get("attributes", []) or []
            base = spans.get(refinement["ref"], {}).get("kind")
            spans[refinement["id"]] = {
                "kind": base,
                "group": refinement["id"],
                "base": refinement["ref"],
            }
        for metric in doc.get("metrics", []) or []:
            name = metric.get("name") or metric.get("metric_name")
            gid = "metric." + name
            groups[gid] = metric.get("attributes", []) or []
            metrics[name] = {
                "instrument": metric.get("instrument"),
                "unit": metric.get("unit"),
                "group": gid,
                "deprecated": bool(metric.get("deprecated")),
            }

    def resolve(gid, out, seen=()):
        """Fills attribute -> requirement level from group `gid` into `out`: an entry that
        states a level wins over what an outer group said; one that does not only adds."""
        if gid in seen or gid not in groups:
            return out
        if gid in extends:
            resolve(extends[gid], out, seen + (gid,))
        for entry in groups[gid]:
            if "ref_group" in entry:
                resolve(entry["ref_group"], out, seen + (gid,))
                continue
            key = entry.get("ref") or entry.get("id") or entry.get("key")
            if key is not None and ("requirement_level" in entry or key not in out):
                out[key] = level_of(entry)
        return out

    span_table = {}
    for sid, span in spans.items():
        resolved = {}
        kind = span["kind"]
        if "base" in span:
            resolve(span["base"], resolved)
            kind = spans.get(span["base"], {}).get("kind")
        resolve(span["group"], resolved)
        span_table[sid] = {"kind": kind, "attributes": dict(sorted(resolved.items()))}
    metric_table = {}
    for name, metric in metrics.items():
        metric_table[name] = {
            "instrument": metric["instrument"],
            "unit": metric["unit"],
            "deprecated": metric["deprecated"],
            "attributes": dict(sorted(resolve(metric["group"], {}).items())),
        }
    version = os.environ.get("SEMCONV_VERSION") or subprocess.run(
        ["git", "-C", root, "describe", "--tags"], capture_output=True, text=True
    ).stdout.strip()
    json.dump(
        {
            "registry": "open-telemetry/semantic-conventions",
            "version": version,
            "attributes": dict(sorted(attributes.items())),
            "spans": dict(sorted(span_table.items())),
            "metrics": dict(sorted(metric_table.items())),
        },
        sys.stdout,
        indent=1,
        sort_keys=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
