#!/bin/sh
# Converter benchmark: ResNet-50 (random weights) ONNX -> .mlmodel and .mlpackage, whole process.
# Prints, per format and precision, the median wall time of 3 runs, its ratio to the median of 3
# `cp` runs of the ONNX file (timed the same way, in the same run), the peak RSS and the median
# count of minor page faults. Each run writes a fresh file (the previous output is removed first,
# outside the timing, for cp and ringo alike).
# Usage: bench/convert.sh [BUILD_DIR]   (times `ringo convert`, the command users run)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
tool=$build/ringo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$here/tests/coreml/export_models.py" "$work" resnet50 >/dev/null
onnx=$work/resnet50.onnx
echo "resnet50.onnx: $(stat -c %s "$onnx") bytes; load: $(uptime | sed 's/.*load average: //')"

median() { echo "$@" | tr ' ' '\n' | sort -n | sed -n 2p; }

# Runs "$@" 3 times under /usr/bin/time -v; sets $wall (median, s), $faults (median minor page
# faults) and $rss (peak, KiB). $before, when set, runs before each timed run.
measure() {
  times="" minors="" rss=0
  for run in 1 2 3; do
    if [ -n "$before" ]; then eval "$before"; fi
    # Wall time from the clock in ns: /usr/bin/time's own rounds to 10 ms, too coarse for cp.
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null
    t1=$(date +%s.%N)
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    f=$(sed -n 's/.*Minor (reclaiming a frame) page faults: //p' "$work/time.txt")
    r=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
    times="$times $t" minors="$minors $f"
    [ "$r" -gt "$rss" ] && rss=$r
  done
  wall=$(median $times)
  faults=$(median $minors)
}

before="rm -f '$work/copy.onnx'" measure cp "$onnx" "$work/copy.onnx"
cp_wall=$wall
echo "cp: median ${cp_wall}s, peak RSS $((rss / 1024)) MiB, minor faults $faults"
# For reference: ringo syncs what it writes before renaming it into place; cp does not.
before="rm -f '$work/copy.onnx'" measure sh -c 'cp "$1" "$2" && sync "$2"' sh "$onnx" \
  "$work/copy.onnx"
echo "cp + sync: median ${wall}s"

for precision in fp32 fp16; do
  for ext in mlmodel mlpackage; do
    out=$work/out.$ext
    before="rm -rf '$out'" measure "$tool" convert "$onnx" -o "$out" --precision "$precision"
    ratio=$(awk -v a="$wall" -v b="$cp_wall" 'BEGIN { printf "%.1f", a / b }')
    size=$(du -sb "$out" | cut -f1)
    echo "$precision .$ext: median ${wall}s (${ratio}x cp), peak RSS $((rss / 1024)) MiB," \
         "minor faults $faults, output $size bytes"
  done
done
