#!/usr/bin/env bash
# Tracking-server benchmark: the figures of docs/benchmarks.md. Server pinned to core 0 with its
# default flags (which choose one I/O thread there), load generators (wrk, curl, Python) pinned to core 1. Prints a Markdown table.
# Usage: bench/run.sh [build/ringo] [repeats=3] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ringo}
REPEATS=${2:-3}
SECS=${3:-10}
PY=${PYTHON:-python3}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/setup installs it)"; exit 1; }
WORK=$(mktemp -d /tmp/ringo-bench.XXXXXX)
LOAD="taskset -c 1"
SERVER_PID=""
TRIVIAL_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$TRIVIAL_PID" ]]; then kill "$TRIVIAL_PID" 2>/dev/null || true; wait "$TRIVIAL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

taskset -c 0 "$BIN" server --port 0 --store "$WORK/store" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/server.log" | head -1)
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
post() { curl -fsS -X POST "$URL$1" -H 'Content-Type: application/json' -d "$2"; }
json_field() { $PY -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
wrk_rps() { awk '/Requests\/sec/ {print $2}'; }
wrk_ms() { awk -v q="$1" '$1==q {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
wrk_p50() { wrk_ms 50%; }
wrk_p99() { awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }

sleep 0.5
RSS_IDLE=$(rss)

EXP=$(post /api/2.0/mlflow/experiments/create '{"name":"bench"}' | json_field '["experiment_id"]')
RUN=$(post /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\"}" | json_field '["run"]["info"]["run_id"]')
export RUN_ID=$RUN

source bench/trivial.sh
start_trivial 200
declare -a NOOP NOOP_P99 CEIL METRIC_RPS METRIC_P99 METRIC_P999 METRIC_P50 BATCH_RPS RELOG_RPS
for i in $(seq 1 "$REPEATS"); do
  # The do-nothing server: the same requests answered `{}` by bench/trivial_responder.c.
  out=$($LOAD wrk -t1 -c64 -d"${SECS}s" --latency -s bench/log_metric.lua "$TRIVIAL_URL")
  NOOP+=("$(echo "$out" | wrk_rps)")
  NOOP_P99+=("$(echo "$out" | wrk_p99)")
  out=$($LOAD wrk -t1 -c64 -d"${SECS}s" --latency "$URL/health")
  CEIL+=("$(echo "$out" | wrk_rps)")
  # A fresh run each time: log_metric.lua counts steps from 1, so a second pass into the same run
  # would re-log the steps the first one wrote (merging into written chunks), not append.
  RUN_ID=$(post /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\"}" | json_field '["run"]["info"]["run_id"]')
  export RUN_ID
  out=$($LOAD wrk -t1 -c64 -d"${SECS}s" --latency -s bench/log_metric.lua "$URL")
  METRIC_RPS+=("$(echo "$out" | wrk_rps)")
  METRIC_P99+=("$(echo "$out" | wrk_p99)")
  METRIC_P50+=("$(echo "$out" | wrk_p50)")
  METRIC_P999+=("$(echo "$out" | awk '/^p99.9:/ {print $2}')")
done
# Batches: a fresh run per repetition so every batch inserts new rows.
RSS_LOAD=0
for i in $(seq 1 "$REPEATS"); do
  RUN_ID=$(post /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\"}" | json_field '["run"]["info"]["run_id"]')
  export RUN_ID
  ( sleep $((SECS / 2)); rss >"$WORK/rss_load" ) &
  SAMPLER=$!
  out=$($LOAD wrk -t1 -c8 -d"${SECS}s" --latency -s bench/log_batch.lua "$URL")
  wait "$SAMPLER"
  BATCH_RPS+=("$(echo "$out" | wrk_rps)")
  RSS_LOAD=$(cat "$WORK/rss_load")
done
# The same steps logged again and again (points between points), a fresh run per repetition.
for i in $(seq 1 "$REPEATS"); do
  RUN_ID=$(post /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\"}" | json_field '["run"]["info"]["run_id"]')
  export RUN_ID
  out=$($LOAD wrk -t1 -c8 -d"${SECS}s" --latency -s bench/log_batch_relog.lua "$URL")
  RELOG_RPS+=("$(echo "$out" | wrk_rps)")
done

# History of 100k points of one key.
HRUN=$(post /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$EXP\"}" | json_field '["run"]["info"]["run_id"]')
$LOAD $PY bench/seed.py "$URL" history "$HRUN" 100000
HIST=()
for i in $(seq 1 $((REPEATS * 3))); do
  HIST+=("$($LOAD curl -fsS -o "$WORK/hist.json" -w '%{time_total}' "$URL/api/2.0/mlflow/metrics/get-history?run_id=$HRUN&metric_key=curve")")
done
POINTS=$($PY -c "import json; print(len(json.load(open('$WORK/hist.json'))['metrics']))")
# Its ceiling: the same bytes as a file in the artifact store, fetched the same way (curl into a
# file, which costs the client as much as the server's part here).
mkdir -p "$WORK/store/artifacts/bench"
cp "$WORK/hist.json" "$WORK/store/artifacts/bench/hist.json"
HIST_CEIL=()
for i in $(seq 1 $((REPEATS * 3))); do
  HIST_CEIL+=("$($LOAD curl -fsS -o "$WORK/hist_file.json" -w '%{time_total}' "$URL/api/2.0/mlflow-artifacts/artifacts/bench/hist.json")")
done
# Both again with the client writing nowhere: what the server's part takes (a client that
# parses the response instead of storing it pays no page faults for a 7 MB file).
HIST_NULL=()
HIST_CEIL_NULL=()
for i in $(seq 1 $((REPEATS * 3))); do
  HIST_NULL+=("$($LOAD curl -fsS -o /dev/null -w '%{time_total}' "$URL/api/2.0/mlflow/metrics/get-history?run_id=$HRUN&metric_key=curve")")
  HIST_CEIL_NULL+=("$($LOAD curl -fsS -o /dev/null -w '%{time_total}' "$URL/api/2.0/mlflow-artifacts/artifacts/bench/hist.json")")
done

# 10k runs with params and metrics; runs created/s comes from the seeding itself.
SEXP=$(post /api/2.0/mlflow/experiments/create '{"name":"search"}' | json_field '["experiment_id"]')
RUNS_PER_S=$($LOAD $PY bench/seed.py "$URL" runs "$SEXP" 10000)
SEARCH_BODY="{\"experiment_ids\":[\"$SEXP\"],\"filter\":\"metrics.m0 > 0.5 and params.p1 = '3'\",\"order_by\":[\"metrics.m1 DESC\"],\"max_results\":100}"
SEARCH=()
for i in $(seq 1 $((REPEATS * 3))); do
  SEARCH+=("$($LOAD curl -fsS -o "$WORK/search.json" -w '%{time_total}' -X POST "$URL/api/2.0/mlflow/runs/search" -H 'Content-Type: application/json' -d "$SEARCH_BODY")")
done
MATCHED=$($PY -c "import json; print(len(json.load(open('$WORK/search.json')).get('runs', [])))")
SEARCH_ALL_BODY="{\"experiment_ids\":[\"$SEXP\"],\"filter\":\"metrics.m0 > 0.5 and params.p1 = '3'\",\"order_by\":[\"metrics.m1 DESC\"],\"max_results\":1000}"
SEARCH_ALL=()
for i in $(seq 1 $((REPEATS * 3))); do
  SEARCH_ALL+=("$($LOAD curl -fsS -o "$WORK/search_all.json" -w '%{time_total}' -X POST "$URL/api/2.0/mlflow/runs/search" -H 'Content-Type: application/json' -d "$SEARCH_ALL_BODY")")
done
MATCHED_ALL=$($PY -c "import json; print(len(json.load(open('$WORK/search_all.json')).get('runs', [])))")

# Artifact download: a 1 GiB file placed in the artifact store, fetched through the proxy.
dd if=/dev/urandom of="$WORK/store/artifacts/bench/blob.bin" bs=1M count=1024 status=none
cat "$WORK/store/artifacts/bench/blob.bin" >/dev/null
DL=()
for i in $(seq 1 "$REPEATS"); do
  DL+=("$($LOAD curl -fsS -o /dev/null -w '%{speed_download}' "$URL/api/2.0/mlflow-artifacts/artifacts/bench/blob.bin")")
done

m() { printf '%s\n' "$@" | median; }
CEIL_M=$(m "${CEIL[@]}")
METRIC_M=$(m "${METRIC_RPS[@]}")
NOOP_M=$(m "${NOOP[@]}")
cat <<TABLE
| measurement | median | runs |
|---|---|---|
| do-nothing server (bench/trivial_responder.c) answering the log-metric requests, wrk 64 conns | $(printf '%.0f' "$NOOP_M") req/s, p99 $(m "${NOOP_P99[@]}") ms | ${NOOP[*]} |
| ceiling: GET /health (no store work), wrk 64 conns | $(printf '%.0f' "$CEIL_M") req/s | ${CEIL[*]} |
| single log-metric, wrk 64 keep-alive conns | $(printf '%.0f' "$METRIC_M") req/s ($(awk "BEGIN {printf \"%.0f\", 100*$METRIC_M/$NOOP_M}")% of the do-nothing server, $(awk "BEGIN {printf \"%.0f\", 100*$METRIC_M/$CEIL_M}")% of /health) | ${METRIC_RPS[*]} |
| single log-metric p50 | $(m "${METRIC_P50[@]}") ms | ${METRIC_P50[*]} |
| single log-metric p99 | $(m "${METRIC_P99[@]}") ms | ${METRIC_P99[*]} |
| single log-metric p99.9 | $(m "${METRIC_P999[@]}") ms | ${METRIC_P999[*]} |
| log-batch of 1000 metrics, wrk 8 conns | $(awk "BEGIN {printf \"%.0f\", 1000*$(m "${BATCH_RPS[@]}")}") points/s | ${BATCH_RPS[*]} batches/s |
| log-batch re-logging the same 1,000 steps per key, wrk 8 conns | $(awk "BEGIN {printf \"%.0f\", 1000*$(m "${RELOG_RPS[@]}")}") points/s | ${RELOG_RPS[*]} batches/s |
| get-history, $POINTS points of one key | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${HIST[@]}")}") ms | ${HIST[*]} s |
| ceiling: the same $(stat -c %s "$WORK/hist.json") bytes as an artifact file | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${HIST_CEIL[@]}")}") ms | ${HIST_CEIL[*]} s |
| get-history, the same, received into /dev/null | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${HIST_NULL[@]}")}") ms | ${HIST_NULL[*]} s |
| ceiling: the artifact file, received into /dev/null | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${HIST_CEIL_NULL[@]}")}") ms | ${HIST_CEIL_NULL[*]} s |
| runs/search over 10k runs, metric+param filter, order_by metric, max_results 100 ($MATCHED returned) | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${SEARCH[@]}")}") ms | ${SEARCH[*]} s |
| same with max_results 1000 ($MATCHED_ALL returned) | $(awk "BEGIN {printf \"%.1f\", 1000*$(m "${SEARCH_ALL[@]}")}") ms | ${SEARCH_ALL[*]} s |
| runs created/s (create + log-batch of 5 params, 5 metrics; 4 Python threads) | $RUNS_PER_S runs/s | |
| artifact download, 1 GiB via the proxy | $(awk "BEGIN {printf \"%.2f\", $(m "${DL[@]}")/1e9}") GB/s | ${DL[*]} B/s |
| server RSS idle / under log-batch load | $RSS_IDLE MB / $RSS_LOAD MB | |
TABLE
