#!/usr/bin/env bash
# Every figure of the performance table in docs/benchmarks.md ("Tails, defaults and limits") in
# one command, each beside its ceiling measured in the same run: the tracking server against the
# do-nothing server (bench/run.sh), manifest 304s at 1,000 connections against the trivial 304
# responder (bench/deploy.sh), and ResNet-50 conversion against `cp` of its ONNX file
# (bench/convert.sh). Servers run on core 0 with default flags, load generators on core 1.
# Usage: bench/tails.sh [build/ringo] [repeats=1] [seconds=8]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ringo}
REPEATS=${2:-1}
SECS=${3:-8}
echo "## $(date -u '+%Y-%m-%d %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### Tracking server"
bench/run.sh "$BIN" "$REPEATS" "$SECS"
echo
echo "### Manifest 304s"
bench/deploy.sh "$BIN" "$SECS" "$REPEATS"
echo
echo "### Conversion"
bench/convert.sh "$(dirname "$BIN")"
