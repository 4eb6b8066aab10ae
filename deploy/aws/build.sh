#!/usr/bin/env bash
# Builds the functions of template.yaml into the layout its CodeUri expects — cargo lambda's:
# target/lambda/<binary>/bootstrap — with collector.yaml beside each bootstrap (the collector
# layer reads /var/task/collector.yaml).
#
#   deploy/aws/build.sh                  # cargo lambda build --release --arm64 (Zig)
#   ARCH=x86_64 deploy/aws/build.sh      # for Architecture=x86_64
#   BUILDER=cargo deploy/aws/build.sh    # plain cargo: cargo build --release --target <triple>;
#                                        # the build machine's glibc must not be newer than
#                                        # provided.al2023's (2.34), and a cross build needs a
#                                        # linker for the target
#   BUILDER=prebuilt PROFILE=dev TARGET= deploy/aws/build.sh
#                                        # only the layout, from binaries built by the caller:
#                                        # .ci/run builds them (host target, debug) together
#                                        # with the tests, so that no crate is built twice
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
arch="${ARCH:-arm64}"
builder="${BUILDER:-cargo-lambda}"
profile="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bins=(orders-api orders-consumer)

case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu flag=--arm64 ;;
  x86_64) triple=x86_64-unknown-linux-gnu flag=--x86-64 ;;
  *) echo "ARCH must be arm64 or x86_64, as template.yaml's Architecture" >&2; exit 2 ;;
esac

case "$builder" in
  cargo-lambda)
    # Puts each binary in target/lambda/<binary>/bootstrap itself.
    cargo lambda build --manifest-path "$root/Cargo.toml" -p otel-faas-deploy-aws \
      --release "$flag"
    ;;
  cargo | prebuilt)
    target="${TARGET-$triple}"
    args=(build --manifest-path "$root/Cargo.toml" -p otel-faas-deploy-aws --bins --profile "$profile")
    out="$target_dir"
    if [[ -n "$target" ]]; then
      args+=(--target "$target")
      out="$out/$target"
    fi
    [[ "$profile" == dev ]] && out="$out/debug" || out="$out/$profile"
    [[ "$builder" == cargo ]] && cargo "${args[@]}"
    for bin in "${bins[@]}"; do
      mkdir -p "$target_dir/lambda/$bin"
      install -m 0755 "$out/$bin" "$target_dir/lambda/$bin/bootstrap"
    done
    ;;
  *) echo "BUILDER must be cargo-lambda, cargo or prebuilt" >&2; exit 2 ;;
esac

for bin in "${bins[@]}"; do
  test -x "$target_dir/lambda/$bin/bootstrap"
  install -m 0644 "$root/deploy/aws/collector.yaml" "$target_dir/lambda/$bin/collector.yaml"
  echo "target/lambda/$bin: bootstrap, collector.yaml"
done
