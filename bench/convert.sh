#!/bin/sh
# Converter benchmark: ResNet-50 (random weights) ONNX -> .mlmodel and .mlpackage, whole process.
# Prints the median wall time of 3 runs and the peak RSS per format and precision.
# Usage: bench/convert.sh [BUILD_DIR]   (times `ringo convert`, the command users run)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
tool=$build/ringo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$here/tests/coreml/export_models.py" "$work" resnet50 >/dev/null
onnx=$work/resnet50.onnx
echo "resnet50.onnx: $(stat -c %s "$onnx") bytes"

for precision in fp32 fp16; do
  flag="--precision $precision"
  for ext in mlmodel mlpackage; do
    times=""
    rss=0
    for run in 1 2 3; do
      out=$work/out.$ext
      /usr/bin/time -v -o "$work/time.txt" "$tool" convert "$onnx" -o "$out" $flag >/dev/null
      t=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" |
          awk -F: '{ print ($1 * 60) + $2 }')
      r=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
      times="$times $t"
      [ "$r" -gt "$rss" ] && rss=$r
    done
    median=$(echo $times | tr ' ' '\n' | sort -n | sed -n 2p)
    size=$(du -sb "$out" | cut -f1)
    echo "$precision .$ext: median ${median}s, peak RSS $((rss / 1024)) MiB, output $size bytes"
  done
done
