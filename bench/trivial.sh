# Sourced by the benchmarks: start_trivial STATUS builds bench/trivial_responder.c into $WORK
# and starts it on core 0 (where ringo runs), answering every request with STATUS (200 or 304);
# sets TRIVIAL_PID and TRIVIAL_URL. The caller's cleanup kills TRIVIAL_PID.
start_trivial() {
  cc -O2 -D_GNU_SOURCE -o "$WORK/trivial_responder" bench/trivial_responder.c
  rm -f "$WORK/trivial.port"
  taskset -c 0 "$WORK/trivial_responder" "$WORK/trivial.port" "$1" &
  TRIVIAL_PID=$!
  for _ in $(seq 1 100); do [[ -s "$WORK/trivial.port" ]] && break; sleep 0.05; done
  TRIVIAL_URL="http://127.0.0.1:$(cat "$WORK/trivial.port")"
}
