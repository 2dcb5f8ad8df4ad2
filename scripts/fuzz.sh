#!/usr/bin/env bash
# A fuzzing campaign: every target of fuzz/ under libFuzzer for SECONDS each (default 600),
# JOBS at a time (default 2), starting from and adding to the committed corpus
# (fuzz/corpus/TARGET/), which is then minimised. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). A failing input lands in fuzz/libfuzzer/artifacts/TARGET/;
# see docs/CONTRIBUTING.md, "Fuzzing".
#
#   scripts/fuzz.sh [SECONDS [JOBS [TARGET...]]]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
jobs=${2:-2}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(block append_body proofs checkpoint_note import_line)
fi
fuzz=(cargo +nightly fuzz)
flags=(--fuzz-dir fuzz/libfuzzer --sanitizer none --debug-assertions)
"${fuzz[@]}" build "${flags[@]}"
mkdir -p target/fuzz-logs
run() {
    local target=$1
    mkdir -p "fuzz/corpus/$target"
    "${fuzz[@]}" run "${flags[@]}" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=16384 -print_final_stats=1 \
        > "target/fuzz-logs/$target.log" 2>&1
    echo "$target: $(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "target/fuzz-logs/$target.log" | tr '\n' ' ')"
}
status=0
running=0
for target in "${targets[@]}"; do
    run "$target" || { echo "$target: FAILED, see target/fuzz-logs/$target.log"; status=1; } &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
done
wait || status=1
for target in "${targets[@]}"; do
    "${fuzz[@]}" cmin "${flags[@]}" "$target" "fuzz/corpus/$target" > "target/fuzz-logs/$target.cmin.log" 2>&1 \
        || { echo "$target: cmin failed, see target/fuzz-logs/$target.cmin.log"; status=1; }
    echo "$target: corpus $(ls "fuzz/corpus/$target" | wc -l) inputs"
done
exit "$status"
