#!/bin/sh
# Reference-evaluator latency: `ringo predict` on MobileNetV2 (224x224, random weights) on one
# core, whole process (load + predict), median of 5, for each format in fp32.
# Usage: bench/predict.sh [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/tests/coreml/export_models.py" "$work" mobilenet_v2 >/dev/null
input=$(/usr/bin/python3 -c "import onnx; print(onnx.load('$work/mobilenet_v2.onnx').graph.input[0].name)")
for ext in mlmodel mlpackage; do
  "$build/ringo" convert "$work/mobilenet_v2.onnx" -o "$work/m.$ext" >/dev/null
  times=""
  for run in 1 2 3 4 5; do
    start=$(date +%s.%N)
    OPENBLAS_NUM_THREADS=1 taskset -c 0 "$build/ringo" predict "$work/m.$ext" \
      -i "$input=$work/mobilenet_v2.input.npy" --json >/dev/null
    end=$(date +%s.%N)
    times="$times $(echo "$end - $start" | bc)"
  done
  median=$(echo $times | tr ' ' '\n' | sort -n | sed -n 3p)
  echo "mobilenet_v2 .$ext fp32 predict (one core, whole process): median ${median}s  runs:$times"
done
