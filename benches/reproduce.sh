#!/usr/bin/env bash
# Reproduces every table of BENCHMARKS.md, in its order and markdown form, in one run:
#
#   benches/reproduce.sh [OUTPUT]        # default OUTPUT: benchmarks-<UTC time>.md
#
# 0. the production path (callgrind on each contestant's function binary through the real
#    loop with real export, when `valgrind` is on PATH; its cold-start and latency tables
#    otherwise), and the binary size of each feature set built alone;
# 1. the in-process tables (criterion: SQS, HTTP, SQS batch scaling);
# 2. the process-level tables (cold start, memory and latency, binary size);
# 3. throughput at concurrency 1, 4 and 16 (AWS_LAMBDA_MAX_CONCURRENCY);
# 3b. flush behaviour with a slow, a down and a hung collector;
# 4. instructions per invocation (callgrind), when `valgrind` is on PATH; skipped otherwise.
#
# Everything printed (the tables, and the machine, date and commit they come from) also goes
# to OUTPUT, with what the harnesses report on standard error (what each contestant exported);
# the builds and criterion's own output go to OUTPUT.log. Takes about 10 minutes
# on a 2-vCPU machine once built, plus the production path's (see BENCHMARKS.md; a first
# build adds about 10). The counts the harnesses take from the environment (PRODPATH_FEW,
# PRODPATH_MANY, PRODPATH_COLD_STARTS, PRODPATH_LATENCY_INVOCATIONS, PRODPATH_ONLY,
# PROCESS_COLD_STARTS, PROCESS_INVOCATIONS, FLUSH_INVOCATIONS, FLUSH_CELL_SECONDS,
# THROUGHPUT_SECONDS, THROUGHPUT_IO_MS) pass through; CARGO_TARGET_DIR is honoured.
set -euo pipefail

out=$(realpath -m "${1:-benchmarks-$(date -u +%Y%m%dT%H%M%SZ).md}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log="$out.log"
: >"$log"
exec > >(tee "$out") 2>&1

target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target/release"

section() { printf '\n## %s\n\n' "$1"; }
# Runs a build step quietly: its output goes to the log, a failure stops the run.
quietly() { "$@" >>"$log" 2>&1 || { echo "failed: $* (see $log)"; tail -n 20 "$log"; exit 1; }; }

echo "# Benchmark run"
echo
echo "- command: \`benches/reproduce.sh $*\`"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- commit: \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
echo "- machine: $(nproc) vCPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr); $(rustc --version)"
echo "- load average when the run started: $(cut -d' ' -f1-3 /proc/loadavg)"

# Everything the process-level harnesses run is the release build.
quietly cargo build --release -p otel-faas-benches --bins
# The binary-size floor: the bare function in a workspace of its own (see its Cargo.toml).
quietly cargo build --release --manifest-path benches/bare-alone/Cargo.toml

# The production path prints its own header (command, commit, machine) and `##` sections.
if command -v valgrind >/dev/null; then
    "$bin/production_path"
else
    echo "The production path's instruction counts are skipped: \`valgrind\` is not on PATH."
    PRODPATH_ONLY=cold,latency "$bin/production_path"
fi
# Builds each feature set alone; cargo's output goes to the log.
"$bin/sizes" 2>>"$log"

section "Per-invocation cost of the glue, in process (criterion)"
echo "\`cargo bench -p otel-faas-benches --bench invocation\`; medians of criterion's samples."
echo
quietly cargo bench -p otel-faas-benches --bench invocation
# `cargo bench` rebuilt the fn_* binaries with the bench profile: back to the release build.
quietly cargo build --release -p otel-faas-benches --bins
"$bin/criterion_tables" "$target"

section "Process level: cold start, memory, binary size"
echo "\`cargo run --release -p otel-faas-benches --bin process\`"
echo
"$bin/process"

section "Throughput at concurrency 1, 4 and 16 (Lambda Managed Instances)"
echo "\`cargo run --release -p otel-faas-benches --bin throughput\`"
echo
"$bin/throughput"

section "Flush behaviour: a slow, a down and a hung collector"
echo "\`cargo run --release -p otel-faas-benches --bin flush_latency\`"
echo
"$bin/flush_latency"

section "Instructions per invocation (callgrind)"
if ! command -v valgrind >/dev/null; then
    echo "Skipped: \`valgrind\` is not on PATH."
    exit 0
fi
echo "\`valgrind --tool=callgrind $bin/instructions <scenario> <contestant> <n>\` for n = 500 and"
echo "1500; (total(1500) − total(500)) / 1000 instructions per invocation."
echo
# Instructions callgrind counted for n invocations of one contestant.
collected() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin/instructions" "$1" "$2" "$3" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A per
for scenario in sqs http; do
    for contestant in bare hand-written otel-faas otel-faas-metrics sdk-disabled; do
        few=$(collected "$scenario" "$contestant" 500)
        many=$(collected "$scenario" "$contestant" 1500)
        per[$scenario,$contestant]=$(((many - few) / 1000))
    done
done
# 151272 → "151 272", as BENCHMARKS.md writes counts.
spaced() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\| \)/\1 \2\3/' -e 'ta'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| contestant | SQS, 10 messages | ratio to hand-written | HTTP, REST GET | ratio to hand-written |"
echo "|---|---:|---:|---:|---:|"
for contestant in bare hand-written otel-faas otel-faas-metrics sdk-disabled; do
    row=""
    for scenario in sqs http; do
        count=${per[$scenario,$contestant]}
        r=$(ratio "$count" "${per[$scenario,hand-written]}")
        case $contestant in
            otel-faas) row+=" **$(spaced "$count")** | **$r** |" ;;
            sdk-disabled) row+=" $(spaced "$count") | $r ($(ratio "$count" "${per[$scenario,bare]}")× bare) |" ;;
            *) row+=" $(spaced "$count") | $r |" ;;
        esac
    done
    case $contestant in
        otel-faas) name="**otel-faas**" ;;
        otel-faas-metrics) name="otel-faas + FaaS metrics" ;;
        sdk-disabled) name="otel-faas, SDK disabled" ;;
        *) name=$contestant ;;
    esac
    echo "| $name |$row"
done

echo
echo "One DynamoDB \`GetItem\` per invocation on the local DynamoDB double, without and with"
echo "\`TraceInterceptor\` (\`instructions sdk <untraced|traced> <n>\`):"
echo
untraced=$(($(collected sdk untraced 1500) - $(collected sdk untraced 500)))
traced=$(($(collected sdk traced 1500) - $(collected sdk traced 500)))
echo "| client | instructions per invocation with one \`GetItem\` | |"
echo "|---|---:|---:|"
echo "| untraced | $(spaced $((untraced / 1000))) | 1.00 |"
echo "| traced (\`TraceInterceptor\`) | $(spaced $((traced / 1000))) | $(ratio "$traced" "$untraced") |"
echo "| **the traced call's own cost** | **$(spaced $(((traced - untraced) / 1000)))** | |"
