#!/usr/bin/env bash
# Times the whole commands an admin runs, at several log sizes, with disk use and peak RSS,
# against PostgreSQL measured in the same run. Prints a table; asserts nothing.
#
#   scripts/command-bench.sh [-s SIZES] [-r RUNS] [-w WORKDIR] [-q QUERIES] GOVREC [OLD_GOVREC]
#
#   SIZES    comma-separated event counts (default 1000000,2000000,4000000)
#   RUNS     runs per size and binary, alternated between the binaries (default 3)
#   WORKDIR  where the event files, data directories and the PostgreSQL cluster go
#            (default ./command-bench; several GB at 4M events)
#   QUERIES  as_of requests per run (default 50)
#   GOVREC   the govrec binary to measure (a release build), OLD_GOVREC another to compare
#
# Per size, once: the replay benchmark's generated province (every event kind) written as a
# file of bare events (`gen-events`). Per run and binary, on a new data directory:
#   import   `govrec import FILE` (events appended in chunks of 1,000, each durable)
#   replay   `govrec replay` (the read models and their snapshot points rebuilt from the log)
#   disk     the log's files (everything but models/) and the read models' files (models/)
#   start    `govrec serve` to a 200 from /readyz: after the replay, after a clean stop
#            (SIGTERM), after kill -9
#   as_of    QUERIES requests at random seqs, alternately a county's coverage and the first page
#            of its members ledger, the first one right after a start; median, p99 and max
#   RSS      the peak of each command (`/usr/bin/time`), of the server over its first start
# PostgreSQL 15 (a private cluster on a Unix socket in WORKDIR, run as the postgres user, the
# default synchronous_commit): the same events as rows (seq, id, recorded_at, actor, event
# jsonb, unique seq and id), COPY in batches of 1,000 rows, each its own transaction; the same
# into a plain table (event as text, only seq indexed); then an ordered scan of the first
# table (COPY (SELECT ... ORDER BY seq) TO STDOUT, its output discarded).
#
# Needs: a release build of gen-events (`cargo build --release -p govrec-bench --bin
# gen-events`), GNU time (/usr/bin/time), curl, python3, and PostgreSQL's binaries
# (pg_ctl, initdb, psql; skipped with a note when absent).
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 2; }
sizes=1000000,2000000,4000000
runs=3
work=./command-bench
queries=50
while getopts "s:r:w:q:" option; do
    case $option in
        s) sizes=$OPTARG ;;
        r) runs=$OPTARG ;;
        w) work=$OPTARG ;;
        q) queries=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
bins=("$(realpath "$1")")
[ $# -ge 2 ] && bins+=("$(realpath "$2")")
root=$(cd "$(dirname "$0")/.." && pwd)
gen="$root/target/release/gen-events"
[ -x "$gen" ] || { echo "build gen-events first: cargo build --release -p govrec-bench --bin gen-events" >&2; exit 2; }
mkdir -p "$work"
work=$(realpath "$work")
results="$work/results.tsv"
printf 'size\tbinary\trun\tmeasure\tvalue\tunit\n' > "$results"

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$results"; }

# timed OUT_PREFIX COMMAND...: runs COMMAND, leaves "seconds peak_kb" in OUT_PREFIX.time.
timed() {
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$out.time" "$@" > "$out.stdout" 2> "$out.stderr" || {
        echo "failed: $* (see $out.stderr)" >&2
        return 1
    }
}

bytes() { du -sb "$@" 2> /dev/null | awk '{sum += $1} END {printf "%.0f\n", sum}'; }

wait_ready() {
    local port=$1 pid=$2 start=$3
    until curl -fs "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; do
        kill -0 "$pid" 2> /dev/null || { echo "the server exited before it was ready" >&2; return 1; }
        sleep 0.01
    done
    echo "$(date +%s.%N) - $start" | bc
}

# serve BIN DATA PORT LOG: starts a server, its pid in $server.
serve() {
    "$1" serve --data "$2" --addr "127.0.0.1:$3" >> "$4" 2>&1 &
    server=$!
}

# stop SIGNAL: stops the server and waits until it has exited.
stop() {
    kill "-$1" "$server"
    wait "$server" 2> /dev/null || true
}

pg_reference() {
    local size=$1 events=$2 run=$3
    if ! command -v pg_ctl > /dev/null || ! id postgres > /dev/null 2>&1; then
        echo "PostgreSQL not measured: pg_ctl or the postgres user is missing" >&2
        return 0
    fi
    local pg="$work/pg" rows="$work/rows-$size.copy"
    if [ ! -f "$rows" ]; then
        # COPY's text format: one script of COPY ... FROM STDIN blocks of 1,000 rows each.
        python3 - "$events" "$rows" <<'PY'
import json, sys, uuid
source, target = sys.argv[1], sys.argv[2]
def text(value):
    return value.replace('\\', '\\\\').replace('\t', '\\t').replace('\n', '\\n').replace('\r', '\\r')
with open(source) as events, open(target, 'w') as out:
    for seq, line in enumerate(events):
        if seq % 1000 == 0:
            if seq:
                out.write('\\.\n')
            out.write('COPY records (seq, id, recorded_at, actor, event) FROM STDIN;\n')
        event = json.loads(line)
        out.write(f"{seq}\t{uuid.uuid4()}\t2026-12-08 00:00:00.{seq % 1000000:06d}+00\tgovrec-import\t{text(json.dumps(event, ensure_ascii=False))}\n")
    out.write('\\.\n')
PY
        chmod 644 "$rows"
    fi
    runuser -u postgres -- pg_ctl -D "$pg" -m immediate stop > /dev/null 2>&1 || true
    rm -rf "$pg"
    mkdir -p "$pg"
    chown postgres "$pg"
    chmod 755 "$work"
    runuser -u postgres -- initdb -D "$pg" -A trust -U postgres > /dev/null
    runuser -u postgres -- pg_ctl -D "$pg" -l "$pg/log" -w \
        -o "-k $pg -c listen_addresses='' -c shared_buffers=256MB -c max_wal_size=4GB" start > /dev/null
    local psql=(runuser -u postgres -- psql -h "$pg" -U postgres -q -v ON_ERROR_STOP=1)
    "${psql[@]}" -c "CREATE TABLE records (seq bigint PRIMARY KEY, id uuid NOT NULL UNIQUE,
        recorded_at timestamptz NOT NULL, actor text NOT NULL, event jsonb NOT NULL)"
    local before
    before=$(bytes "$pg/base")
    timed "$work/pg-copy" "${psql[@]}" -f "$rows"
    read -r seconds _ < "$work/pg-copy.time"
    record "$size" postgresql "$run" copy_seconds "$seconds" s
    record "$size" postgresql "$run" copy_rate "$(echo "$size / $seconds" | bc)" events/s
    "${psql[@]}" -c "CHECKPOINT"
    record "$size" postgresql "$run" table_bytes "$(( $(bytes "$pg/base") - before ))" B
    # The same rows into a plain table: the event as text, no index but the primary key.
    "${psql[@]}" -c "CREATE TABLE records_plain (seq bigint PRIMARY KEY, id uuid NOT NULL,
        recorded_at timestamptz NOT NULL, actor text NOT NULL, event text NOT NULL)"
    sed 's/^COPY records (/COPY records_plain (/' "$rows" > "$rows.plain"
    chmod 644 "$rows.plain"
    timed "$work/pg-copy-plain" "${psql[@]}" -f "$rows.plain"
    rm -f "$rows.plain"
    read -r seconds _ < "$work/pg-copy-plain.time"
    record "$size" postgresql "$run" copy_plain_rate "$(echo "$size / $seconds" | bc)" events/s
    timed "$work/pg-scan" "${psql[@]}" -o /dev/null \
        -c "COPY (SELECT seq, id, recorded_at, actor, event FROM records ORDER BY seq) TO STDOUT"
    read -r seconds _ < "$work/pg-scan.time"
    record "$size" postgresql "$run" scan_seconds "$seconds" s
    record "$size" postgresql "$run" scan_rate "$(echo "$size / $seconds" | bc)" rows/s
    runuser -u postgres -- pg_ctl -D "$pg" -m fast stop > /dev/null
}

govrec_run() {
    local bin=$1 label=$2 size=$3 events=$4 run=$5
    local data="$work/data-$label" out="$work/$label"
    rm -rf "$data"
    timed "$out-import" "$bin" import "$events" --data "$data"
    read -r seconds kb < "$out-import.time"
    record "$size" "$label" "$run" import_seconds "$seconds" s
    record "$size" "$label" "$run" import_rate "$(echo "$size / $seconds" | bc)" events/s
    record "$size" "$label" "$run" import_peak_rss "$((kb / 1024))" MiB
    timed "$out-replay" "$bin" replay --data "$data"
    read -r seconds kb < "$out-replay.time"
    record "$size" "$label" "$run" replay_seconds "$seconds" s
    record "$size" "$label" "$run" replay_rate "$(echo "$size / $seconds" | bc)" events/s
    record "$size" "$label" "$run" replay_peak_rss "$((kb / 1024))" MiB
    local log_bytes models_bytes
    models_bytes=$(bytes "$data/models")
    log_bytes=$(( $(bytes "$data") - models_bytes ))
    record "$size" "$label" "$run" log_bytes "$log_bytes" B
    record "$size" "$label" "$run" models_bytes "$models_bytes" B
    record "$size" "$label" "$run" models_to_log "$(echo "scale=3; $models_bytes / $log_bytes" | bc)" ratio

    local token county port pid start
    token=$("$bin" token create --role office --data "$data" 2> /dev/null | tail -1)
    port=$((20000 + RANDOM % 20000))
    local server_log="$out-serve.log"
    : > "$server_log"
    start=$(date +%s.%N)
    serve "$bin" "$data" "$port" "$server_log"
    pid=$server
    record "$size" "$label" "$run" start_after_replay "$(wait_ready "$port" "$pid" "$start")" s
    county=$(curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/coverage" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["children"][0]["area"]["id"])')
    local latencies="$out-asof.txt"
    : > "$latencies"
    for query in $(seq 1 "$queries"); do
        local at=$(( (RANDOM * 32768 + RANDOM) % size ))
        local path="/v1/coverage?area=$county&as_of=$at"
        [ $((query % 2)) -eq 0 ] && path="/v1/ledgers/members?area=$county&limit=100&as_of=$at"
        curl -fs -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port$path" >> "$latencies"
    done
    record "$size" "$label" "$run" as_of_first "$(head -1 "$latencies")" s
    record "$size" "$label" "$run" as_of_median "$(sort -n "$latencies" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" s
    record "$size" "$label" "$run" as_of_p99 "$(sort -n "$latencies" | awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); print a[i]}')" s
    record "$size" "$label" "$run" as_of_max "$(sort -n "$latencies" | tail -1)" s
    record "$size" "$label" "$run" serve_peak_rss "$(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 ))" MiB
    stop TERM
    start=$(date +%s.%N)
    serve "$bin" "$data" "$port" "$server_log"
    pid=$server
    record "$size" "$label" "$run" start_after_clean_stop "$(wait_ready "$port" "$pid" "$start")" s
    # Let the server write and settle, as a server killed in service would have.
    sleep 2
    stop KILL
    start=$(date +%s.%N)
    serve "$bin" "$data" "$port" "$server_log"
    pid=$server
    record "$size" "$label" "$run" start_after_kill "$(wait_ready "$port" "$pid" "$start")" s
    stop TERM
    rm -rf "$data"
}

IFS=, read -r -a size_list <<< "$sizes"
for size in "${size_list[@]}"; do
    events="$work/events-$size.jsonl"
    [ -f "$events" ] || "$gen" "$size" "$events" > /dev/null
    size=$(wc -l < "$events")
    for run in $(seq 1 "$runs"); do
        index=0
        for bin in "${bins[@]}"; do
            label=new
            [ "$index" -eq 1 ] && label=old
            govrec_run "$bin" "$label" "$size" "$events" "$run"
            index=$((index + 1))
        done
        pg_reference "$size" "$events" "$run"
        echo "size $size run $run done" >&2
    done
done

# The medians over the runs, a row per size and binary.
python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
table = {}
for row in rows:
    table.setdefault((int(row['size']), row['binary']), {}).setdefault(row['measure'], []).append(float(row['value']))
measures = ['import_rate', 'import_peak_rss', 'replay_seconds', 'replay_rate', 'replay_peak_rss',
            'log_bytes', 'models_bytes', 'models_to_log', 'start_after_replay', 'start_after_clean_stop',
            'start_after_kill', 'as_of_first', 'as_of_median', 'as_of_p99', 'as_of_max', 'serve_peak_rss',
            'copy_rate', 'copy_plain_rate', 'table_bytes', 'scan_rate']
print('size\tbinary\t' + '\t'.join(measures))
for (size, binary), values in sorted(table.items()):
    cells = []
    for measure in measures:
        if measure in values:
            median = statistics.median(values[measure])
            cells.append(f'{median:.3f}' if median < 100 else f'{median:.0f}')
        else:
            cells.append('')
    print(f'{size}\t{binary}\t' + '\t'.join(cells))
PY
echo "every figure: $results" >&2
