#!/usr/bin/env bash
# Cost per manifest 304 that does not depend on machine load: malloc calls per request (a
# preloaded counter, bench/malloc_count.c) and, when perf works, system calls and server CPU time
# per request (CPU time still moves with the other core's load: caches are shared), on the
# device path as a fleet uses it (device token, device attributes, If-None-Match, 100,000 device
# ids in turn via bench/manifest.lua). Server pinned to core 0 with one I/O thread, wrk on core 1.
# Usage: [RECORD=perf.data] bench/manifest_costs.sh [build/ringo] [seconds=4] [connections=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ringo}
SECS=${2:-4}
CONNS=${3:-1000}
WORK=$(mktemp -d /tmp/ringo-manifest-costs.XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
cc -O2 -shared -fPIC -o "$WORK/malloc_count.so" bench/malloc_count.c

LD_PRELOAD="$WORK/malloc_count.so" taskset -c 0 "$BIN" server --port 0 --store "$WORK/store" \
  --threads 1 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/server.log" 2>/dev/null && break
  sleep 0.05
done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/server.log" | head -1)

# The first token may be made from this machine without one; then every call needs one.
export MLFLOW_TRACKING_TOKEN
MLFLOW_TRACKING_TOKEN=$("$BIN" tokens create --scope admin --name bench --tracking-uri "$URL" |
  tail -1)
"$BIN" models register fuzz/corpus/coreml_parse_fuzz/digits.mlmodel --name bench \
  --tracking-uri "$URL" >/dev/null
"$BIN" collections create app --model bench --tracking-uri "$URL" >/dev/null
DEP=$("$BIN" deployments create app --model bench=1 --tracking-uri "$URL")
"$BIN" channels promote app release "$DEP" --tracking-uri "$URL" >/dev/null
DEVICE=$("$BIN" tokens create --scope device --name fleet --tracking-uri "$URL" | tail -1)
PATH_="/api/deploy/v1/collections/app/channels/release/manifest"
ETAG=$(curl -fsS -D - -o /dev/null -H "Authorization: Bearer $DEVICE" \
  "$URL$PATH_?device_id=d1&device_class=iPhone" | awk -F': ' 'tolower($1)=="etag" {print $2}' |
  tr -d '\r')

answered() {  # 304s answered so far, from the server's own counters
  curl -fsS -H "Authorization: Bearer $MLFLOW_TRACKING_TOKEN" "$URL/metrics" |
    awk '/^ringo_http_requests_total/ && /manifest/ && /status="304"/ {n += $2} END {print n + 0}'
}
mallocs() {
  kill -USR2 "$SERVER_PID"; sleep 0.2
  grep '^malloc_count' "$WORK/server.log" | tail -1 | awk '{print $2}'
}
load() {
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$1" --latency -H "If-None-Match: $ETAG" \
    -H "Authorization: Bearer $DEVICE" -s bench/manifest.lua "$URL$PATH_"
}
# The do-nothing ceiling at the same connections, in the same run (throughput is noisy here).
taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$URL/health" >"$WORK/ceiling"
load 2s >/dev/null  # warm: connections, buckets, caches
A=$(answered); M0=$(mallocs)
PERF=""
if perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
  perf stat -x, -e raw_syscalls:sys_enter,task-clock -p "$SERVER_PID" -o "$WORK/perf" \
    -- sleep "$SECS" &
  PERF=$!
fi
# RECORD=file: also a CPU profile of the server under the load (perf report -i file).
if [[ -n "${RECORD:-}" ]]; then
  # RECORD_ARGS: other perf record options, e.g. "-e probe_libc:malloc --call-graph dwarf".
  # shellcheck disable=SC2086
  perf record -q ${RECORD_ARGS:--e cpu-clock -g} -p "$SERVER_PID" -o "$RECORD" \
    -- sleep "$SECS" 2>/dev/null &
  REC=$!
fi
load "${SECS}s" >"$WORK/wrk"
[[ -n "$PERF" ]] && wait "$PERF"
[[ -n "${REC:-}" ]] && wait "$REC"
M1=$(mallocs); B=$(answered)
N=$((B - A))
echo "ceiling, GET /health: $(awk '/Requests\/sec/ {r = $2} $1 == "50%" {p = $2} \
  $1 == "99%" {q = $2} END {print r " req/s, p50 " p ", p99 " q}' "$WORK/ceiling")"
echo "manifest 304s: $N in ${SECS}s: $(awk '/Requests\/sec/ {r = $2} $1 == "50%" {p = $2} \
  $1 == "99%" {q = $2} END {print r " req/s, p50 " p ", p99 " q}' "$WORK/wrk")"
awk '/Non-2xx/' "$WORK/wrk"
echo "malloc calls per 304: $(awk "BEGIN {printf \"%.2f\", ($M1 - $M0) / $N}")"
if [[ -n "$PERF" ]]; then
  SYS=$(awk -F, '/sys_enter/ {print $1}' "$WORK/perf")
  CPU=$(awk -F, '/task-clock/ {print $1}' "$WORK/perf")
  echo "server system calls per 304: $(awk "BEGIN {printf \"%.2f\", $SYS / $N}")"
  echo "server CPU per 304: $(awk "BEGIN {printf \"%.1f\", 1000 * $CPU / $N}") us"
fi
