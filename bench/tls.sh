#!/usr/bin/env bash
# HTTPS against plain HTTP in one run: two servers on the same binary (one with a throwaway
# certificate made here), each pinned to core 0 with one I/O thread, wrk pinned to core 1 with 64
# keep-alive connections. Rounds alternate between the two so drift hits both. Prints a Markdown
# table for docs/benchmarks.md.
# Usage: bench/tls.sh [build/ringo] [repeats=3] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ringo}
REPEATS=${2:-3}
SECS=${3:-10}
PY=${PYTHON:-python3}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/setup installs it)"; exit 1; }
command -v openssl >/dev/null || { echo "bench: openssl is missing"; exit 1; }
WORK=$(mktemp -d /tmp/ringo-bench-tls.XXXXXX)
LOAD="taskset -c 1"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A P-256 certificate for 127.0.0.1, self-signed: wrk does not verify, the cost is the same.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null

start() {  # start NAME [server flags...]: prints the URL
  local name=$1
  shift
  taskset -c 0 "$BIN" server --port 0 --store "$WORK/$name" --threads 1 "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/$name.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -o 'https\?://[0-9.]*:[0-9]*' "$WORK/$name.log" | head -1
}
PLAIN=$(start plain)
TLS=$(start tls --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")

post() { curl -fsS -k -X POST "$1$2" -H 'Content-Type: application/json' -d "$3"; }
json_field() {
  $PY -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"
}
new_run() {
  local exp
  exp=$(post "$1" /api/2.0/mlflow/experiments/create '{"name":"bench"}' |
    json_field '["experiment_id"]')
  post "$1" /api/2.0/mlflow/runs/create "{\"experiment_id\":\"$exp\"}" |
    json_field '["run"]["info"]["run_id"]'
}
ms() {  # wrk's latency of a percentile line ("50%" or "99%") in ms
  awk -v p="$1" '$1==p {v=$2
    if (v ~ /us$/) {sub(/us/,"",v); v/=1000}
    else if (v ~ /ms$/) {sub(/ms/,"",v)}
    else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}
    print v}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m() { printf '%s\n' "$@" | median; }

declare -A RUN_OF=([plain]=$(new_run "$PLAIN") [tls]=$(new_run "$TLS"))
declare -A URL_OF=([plain]=$PLAIN [tls]=$TLS)
declare -A RES
# A figure with error answers in it is no figure: wrk counts them, the script stops.
check() {
  if grep -q "Non-2xx" <<<"$2"; then
    echo "bench: $1 had error answers:" >&2
    echo "$2" >&2
    exit 1
  fi
}
for i in $(seq 1 "$REPEATS"); do
  for kind in plain tls; do
    url=${URL_OF[$kind]}
    out=$($LOAD wrk -t1 -c64 -d"${SECS}s" --latency "$url/health")
    check "$kind /health" "$out"
    RES[$kind.health.rps]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
    RES[$kind.health.p50]+="$(echo "$out" | ms 50%) "
    RES[$kind.health.p99]+="$(echo "$out" | ms 99%) "
    out=$(RUN_ID=${RUN_OF[$kind]} $LOAD wrk -t1 -c64 -d"${SECS}s" --latency \
      -s bench/log_metric.lua "$url")
    check "$kind log-metric" "$out"
    RES[$kind.metric.rps]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
    RES[$kind.metric.p50]+="$(echo "$out" | ms 50%) "
    RES[$kind.metric.p99]+="$(echo "$out" | ms 99%) "
  done
done

row() {  # row LABEL KIND TEST
  local k="$2.$3"
  # shellcheck disable=SC2086
  printf '| %s | %.0f | %s | %s | %s |\n' "$1" "$(m ${RES[$k.rps]})" "$(m ${RES[$k.p50]})" \
    "$(m ${RES[$k.p99]})" "${RES[$k.rps]% }"
}
echo "| measurement (wrk, 64 keep-alive conns, 1 I/O thread) | req/s | p50 ms | p99 ms |" \
  "runs (req/s) |"
echo "|---|---|---|---|---|"
row "GET /health, http" plain health
row "GET /health, https" tls health
row "single log-metric, http" plain metric
row "single log-metric, https" tls metric
