#!/usr/bin/env bash
# Delivery benchmark: manifest requests answered 304 at 1,000 keep-alive device connections
# (beside GET /health on the same server in the same run, the do-nothing ceiling), blob download
# speed, and the memory of 10,000 devices long-polling at once. Server pinned to core 0 with one
# I/O thread, load on core 1. The manifest requests come from 100,000 device ids in turn
# (bench/manifest.lua), as a fleet's do, within the per-device rate limit. Needs Debian's
# /usr/bin/python3 with torch to make a model.
# The three throughput figures are taken in turn REPEATS times; the table gives their medians
# (and each run's value), so one noisy minute does not decide a share.
# Usage: bench/deploy.sh [build/ringo] [seconds=10] [repeats=1]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ringo}
SECS=${2:-10}
REPEATS=${3:-1}
WORK=$(mktemp -d /tmp/ringo-deploy-bench.XXXXXX)
SERVER_PID=""
TRIVIAL_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$TRIVIAL_PID" ]]; then kill "$TRIVIAL_PID" 2>/dev/null || true; wait "$TRIVIAL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

taskset -c 0 "$BIN" server --port 0 --store "$WORK/store" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/server.log" | head -1)

/usr/bin/python3 tests/coreml/export_models.py "$WORK" resnet18 >/dev/null
"$BIN" convert "$WORK/resnet18.onnx" -o "$WORK/r.mlmodel" >/dev/null
"$BIN" models register "$WORK/r.mlmodel" --name bench --tracking-uri "$URL" >/dev/null
"$BIN" collections create app --model bench --tracking-uri "$URL" >/dev/null
DEP=$("$BIN" deployments create app --model bench=1 --tracking-uri "$URL")
"$BIN" channels promote app release "$DEP" --tracking-uri "$URL" >/dev/null
MANIFEST="$URL/api/deploy/v1/collections/app/channels/release/manifest?device_id=d1&device_class=iPhone"
ETAG=$(curl -fsS -D - -o "$WORK/manifest.json" "$MANIFEST" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
SHA=$(python3 -c "import json; print(json.load(open('$WORK/manifest.json'))['models'][0]['sha256'])")
SIZE=$(python3 -c "import json; print(json.load(open('$WORK/manifest.json'))['models'][0]['size'])")

# A fresh server process on the same store, so its heap holds no leftovers of the seeding.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
taskset -c 0 "$BIN" server --port 0 --store "$WORK/store" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/server.log" | head -1)
MANIFEST="$URL/api/deploy/v1/collections/app/channels/release/manifest?device_id=d1&device_class=iPhone"
curl -fsS -o /dev/null "$MANIFEST"
sleep 0.5

# 10,000 long-polls held at once, measured first (before other load grows the heap): server RSS
# before and while they wait.
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
BEFORE=$(rss)
taskset -c 1 python3 - "$URL" "$ETAG" 10000 "$WORK/held" <<'PY' &
import asyncio, sys, urllib.parse
url, etag, n, flag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlsplit(url)
async def one(i, ready):
    r, w = await asyncio.open_connection(u.hostname, u.port)
    w.write(("GET /api/deploy/v1/collections/app/channels/release/manifest?device_id=d%d&wait=60 HTTP/1.1\r\n"
             "Host: x\r\nIf-None-Match: %s\r\n\r\n" % (i, etag)).encode())
    await w.drain()
    ready.append(w)
    await asyncio.sleep(30)
async def main():
    ready = []
    tasks = [asyncio.create_task(one(i, ready)) for i in range(n)]
    while len(ready) < n:
        await asyncio.sleep(0.2)
    open(flag, "w").write(str(len(ready)))
    await asyncio.sleep(8)
    for t in tasks: t.cancel()
asyncio.run(main())
PY
POLLER=$!
for _ in $(seq 1 600); do [[ -f "$WORK/held" ]] && break; sleep 0.1; done
sleep 3
DURING=$(rss)
HELD=$(curl -s "$URL/metrics" | awk '/^ringo_http_open_connections/ {print $2}')
kill "$POLLER" 2>/dev/null || true
wait "$POLLER" 2>/dev/null || true

rps() { awk '/Requests\/sec/ {print $2}'; }
pct() { awk -v p="$1" '$1 == p {print $2}'; }
source bench/trivial.sh
# The median of its arguments (the lower middle one for an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
TRIV_ALL=() CEIL_ALL=() NM_ALL=() TRIV_P99=() CEIL_P99=() NM_P99=() NM_P50=()
for _ in $(seq 1 "$REPEATS"); do
  start_trivial 304
  TRIV_OUT=$(taskset -c 1 wrk -t1 -c1000 -d"${SECS}s" --latency -H "If-None-Match: $ETAG" \
             -s bench/manifest.lua "$TRIVIAL_URL/")
  kill "$TRIVIAL_PID"; wait "$TRIVIAL_PID" 2>/dev/null || true; TRIVIAL_PID=""
  CEIL_OUT=$(taskset -c 1 wrk -t1 -c1000 -d"${SECS}s" --latency "$URL/health")
  NM_OUT=$(taskset -c 1 wrk -t1 -c1000 -d"${SECS}s" --latency -H "If-None-Match: $ETAG" \
           -s bench/manifest.lua "${MANIFEST%%\?*}")
  TRIV_ALL+=("$(rps <<<"$TRIV_OUT")") TRIV_P99+=("$(pct 99% <<<"$TRIV_OUT")")
  CEIL_ALL+=("$(rps <<<"$CEIL_OUT")") CEIL_P99+=("$(pct 99% <<<"$CEIL_OUT")")
  NM_ALL+=("$(rps <<<"$NM_OUT")") NM_P99+=("$(pct 99% <<<"$NM_OUT")")
  NM_P50+=("$(pct 50% <<<"$NM_OUT")")
done
TRIV=$(median "${TRIV_ALL[@]}")
CEIL=$(median "${CEIL_ALL[@]}")
NM=$(median "${NM_ALL[@]}")
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$MANIFEST")
DL=()
for i in 1 2 3; do
  DL+=("$(taskset -c 1 curl -fsS -o /dev/null -w '%{speed_download}' "$URL/api/deploy/v1/blobs/$SHA")")
done
DLM=$(printf '%s\n' "${DL[@]}" | sort -g | sed -n 2p)

cat <<TABLE
| measurement | result |
|---|---|
| trivial 304 responder (bench/trivial_responder.c), wrk 1000 connections, same requests | $(printf '%.0f' "$TRIV") req/s (p99 ${TRIV_P99[*]}; runs: ${TRIV_ALL[*]}) |
| ceiling: GET /health, wrk 1000 connections | $(printf '%.0f' "$CEIL") req/s (p99 ${CEIL_P99[*]}; runs: ${CEIL_ALL[*]}) |
| manifest, If-None-Match (status $STATUS), wrk 1000 keep-alive connections | $(printf '%.0f' "$NM") req/s ($(awk "BEGIN {printf \"%.0f\", 100*$NM/$TRIV}")% of the trivial responder, $(awk "BEGIN {printf \"%.0f\", 100*$NM/$CEIL}")% of /health; p50 ${NM_P50[*]}, p99 ${NM_P99[*]}; runs: ${NM_ALL[*]}) |
| blob download, $SIZE bytes (median of 3) | $(awk "BEGIN {printf \"%.2f\", $DLM/1e9}") GB/s |
| 10,000 long-polls ($HELD connections open): server RSS before / during | $((BEFORE / 1024)) MB / $((DURING / 1024)) MB ($(( (DURING - BEFORE) * 1024 / 10000 )) bytes per waiting device) |
TABLE
