#!/usr/bin/env bash
# Builds the custom handler into the app root as host.json expects it (app/handler), for
# `func start` (Azure Functions Core Tools) or `func azure functionapp publish <app>` from app/.
#
#   deploy/azure/build.sh                      # release, x86_64-unknown-linux-gnu (Linux plans)
#   TARGET=aarch64-unknown-linux-gnu deploy/azure/build.sh
#   PREBUILT=1 PROFILE=dev TARGET= deploy/azure/build.sh
#       # only the copy, from a binary built by the caller: .ci/run builds it (host target,
#       # debug) together with the tests, so that no crate is built twice
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
profile="${PROFILE:-release}"
target="${TARGET-x86_64-unknown-linux-gnu}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

args=(build --manifest-path "$root/Cargo.toml" -p otel-faas-deploy-azure --bin handler --profile "$profile")
out="$target_dir"
if [[ -n "$target" ]]; then
  args+=(--target "$target")
  out="$out/$target"
fi
# Cargo's dev profile builds into debug/.
[[ "$profile" == dev ]] && out="$out/debug" || out="$out/$profile"

[[ -n "${PREBUILT:-}" ]] || cargo "${args[@]}"
install -m 0755 "$out/handler" "$root/deploy/azure/app/handler"
echo "deploy/azure/app/handler: built ($profile${target:+, $target})"
