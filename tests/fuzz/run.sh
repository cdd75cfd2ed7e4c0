#!/bin/sh
# run.sh BIN_DIR SECONDS TARGET... — runs each libFuzzer target BIN_DIR/fuzz-TARGET for SECONDS
# from a scratch copy of its seed corpus (tests/fuzz/corpus/TARGET/, which the run never
# grows), with its dictionary (tests/fuzz/TARGET.dict) and extra flags (tests/fuzz/
# TARGET.options, one line) when they exist. Work goes to build/fuzz/run/TARGET/: the grown
# corpus, the log, and any crasher (crash-*, timeout-*, oom-*, leak-*). Exits 1 when a target
# found one, naming it and how to reproduce it. (`make fuzz`; tests/fuzz/README.md.)
set -u
bin=$1
seconds=$2
shift 2
failed=""
for t in "$@"; do
    work=build/fuzz/run/$t
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/found"
    cp tests/fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null
    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=4096 \
        -artifact_prefix="$work/found/" -print_final_stats=1
    [ -f tests/fuzz/"$t".dict ] && set -- "$@" -dict=tests/fuzz/"$t".dict
    [ -f tests/fuzz/"$t".options ] && set -- "$@" $(cat tests/fuzz/"$t".options)
    if "$bin/fuzz-$t" "$@" "$work/corpus" >"$work/log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
        echo "fuzz $t: ok, $runs runs in ${seconds}s, corpus $(ls "$work/corpus" | wc -l) inputs"
    else
        echo "fuzz $t: FAILED (log: $work/log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed|artifact_prefix|Test unit written)' \
            "$work/log" | head -20
        for f in "$work/found"/*; do
            [ -e "$f" ] && echo "  reproduce: $bin/fuzz-$t $f"
        done
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed"
    exit 1
fi
