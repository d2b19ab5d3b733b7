#!/usr/bin/env bash
# Pipeline runner benchmark (issue 4): per-step overhead of `ringo run` and the wall time of a
# fully cached 4-step pipeline. Targets: <= 20 ms per step, <= 200 ms for the cached pipeline.
#   per step: pipelines of 1 and N `true` steps against a running server, --no-cache;
#             (T(N) - T(1)) / (N - 1), so process start and the pipeline run are not counted.
#   cached:   a 4-step chain (each step writes an output) run once, then timed unchanged, both
#             against the running server and on the embedded store (--store, as a user runs it).
# Prints the median of REPEATS runs of each.
# Usage: bench/pipeline.sh [build/ringo] [repeats=5] [steps=20]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/ringo}")
REPEATS=${2:-5}
N=${3:-20}
WORK=$(mktemp -d /tmp/ringo-bench-pipeline.XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MLFLOW_TRACKING_URI RINGO_TRACKING_URI MLFLOW_RUN_ID RINGO_RUN_ID MLFLOW_EXPERIMENT_ID \
  MLFLOW_EXPERIMENT_NAME RINGO_PARENT_RUN_ID

"$BIN" server --host 127.0.0.1 --port 0 --store "$WORK/store" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/server.log" | head -1)
[[ -n "$URL" ]] || { echo "bench: the server did not start"; cat "$WORK/server.log"; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# chain DIR COUNT WITH_OUTPUTS: a pipeline of COUNT steps, each needing the one before.
chain() {
  local dir=$1 count=$2 outputs=$3 i
  mkdir -p "$dir"
  {
    echo "name: chain"
    echo "entry_points:"
    echo "  main: {}"
    if [[ $outputs == 1 ]]; then
      echo "  step:"
      echo "    parameters: {out: path, n: string}"
      echo "    command: \"echo {n} > {out}/value.txt\""
    else
      echo "  step:"
      echo "    parameters: {n: string}"
      echo "    command: \"true\""
    fi
    echo "steps:"
    for i in $(seq 1 "$count"); do
      echo "  - name: s$i"
      echo "    entry_point: step"
      if [[ $outputs == 1 ]]; then
        echo "    parameters: {out: \"{outputs.o}\", n: \"$i\"}"
        echo "    outputs: [o]"
      else
        echo "    parameters: {n: \"$i\"}"
      fi
      if [[ $i -gt 1 ]]; then echo "    needs: [s$((i - 1))]"; fi
    done
  } >"$dir/MLproject"
}

# seconds CMD...: wall time of one command (output discarded, failure fatal).
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$WORK/last.log" 2>&1 || { echo "bench: failed: $*"; cat "$WORK/last.log"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

chain "$WORK/one" 1 0
chain "$WORK/many" "$N" 0
per_step=()
for _ in $(seq 1 "$REPEATS"); do
  t1=$(seconds "$BIN" run "$WORK/one" --tracking-uri "$URL" --no-cache)
  tn=$(seconds "$BIN" run "$WORK/many" --tracking-uri "$URL" --no-cache)
  per_step+=("$(echo "($tn - $t1) * 1000 / ($N - 1)" | bc -l)")
done
printf 'per-step overhead (%d trivial steps, server):  median %.1f ms  (runs: %s)\n' "$N" \
  "$(printf '%s\n' "${per_step[@]}" | median)" "$(printf '%.1f ' "${per_step[@]}")"

chain "$WORK/four" 4 1
"$BIN" run "$WORK/four" --tracking-uri "$URL" >/dev/null 2>&1
cached=()
for _ in $(seq 1 "$REPEATS"); do
  cached+=("$(echo "$(seconds "$BIN" run "$WORK/four" --tracking-uri "$URL") * 1000" | bc -l)")
done
grep -q "s4: cached" "$WORK/last.log" || { echo "bench: the rerun was not cached"; cat "$WORK/last.log"; exit 1; }
printf 'cached 4-step pipeline (server):              median %.0f ms  (runs: %s)\n' \
  "$(printf '%s\n' "${cached[@]}" | median)" "$(printf '%.0f ' "${cached[@]}")"

chain "$WORK/four-embedded" 4 1
"$BIN" run "$WORK/four-embedded" --store "$WORK/embedded" >/dev/null 2>&1
cached=()
for _ in $(seq 1 "$REPEATS"); do
  cached+=("$(echo "$(seconds "$BIN" run "$WORK/four-embedded" --store "$WORK/embedded") * 1000" | bc -l)")
done
grep -q "s4: cached" "$WORK/last.log" || { echo "bench: the rerun was not cached"; cat "$WORK/last.log"; exit 1; }
printf 'cached 4-step pipeline (embedded store):      median %.0f ms  (runs: %s)\n' \
  "$(printf '%s\n' "${cached[@]}" | median)" "$(printf '%.0f ' "${cached[@]}")"
