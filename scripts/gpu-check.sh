#!/usr/bin/env bash
# scripts/gpu-check.sh [all|plan|STEP...]: the prepared device checks of a GPU session
# (docs/gpu-session.md), sized to the session's device time: 15 minutes in all, the machine's start
# (a minute or more) and every idle second included. One device call runs them:
#
#   bash scripts/gpu-check.sh all        (timeout_s 600, carry [".device"])
#
# Steps, most important first. Each gets the timeout min(its cap, time left before the deadline) and
# is skipped when less than its floor is left. The deadline is FER_GPU_SECONDS (default 560) seconds
# after the script starts. A step that finished is written to build-gpu/gpu-check.done, so `all`
# called again on the same warm machine (within its 30 s idle window) goes on with what is left.
#
#   build     configure, and build only what the device runs: fer_tests_cuda, fertrain, the CUDA
#             benches (FER_CUDA_ARCH, default native); the data unpacks meanwhile
#   test      fer_tests_cuda one source file at a time (a crash or hang is confined to its file):
#             every kernel's parity test with NaN-prefilled outputs, golden models on CUDA, CUDA
#             training, cuDNN and tensor-core convolutions, the CUDA graph step
#   step      bench_train_step (fer, fer-graph) and the PyTorch twins eager / channels_last+bf16 in
#             the same call: images/s and peak memory side by side
#   train     r001-cnn6 on FER2013 on the GPU, 3 epochs, then 2 epochs with --cuda-graph on
#   sanitize  compute-sanitizer memcheck on the kernel parity files (model-sized cases left out)
#   conv      bench_conv_cuda: every conv shape, native vs cuDNN vs tensor cores
#   ops       bench_ops_cuda (GB/s of BN, masking, CE, add+ReLU) and bench_augment_cuda
#   compile   the PyTorch twins with torch.compile (slow to compile; last)
#
# Back in $OUT (at most 8 files, refreshed after every step, so a call cut off by the device time
# still returns what finished): gpu-check.log (everything), steps.tsv (step, status, seconds),
# tests.log, sanitize.log, bench.tar.gz (benchmark JSON/text, peer CSVs), run-r001-cnn6.tar.gz.
#
#   bash scripts/gpu-check.sh plan       prints the steps, caps and floors (no GPU needed)
#   bash scripts/gpu-check.sh test conv  runs just those steps (still skipping finished ones)
# Knobs: FER_GPU_SECONDS, FER_CUDA_ARCH, FER_GPU_REDO=1 (ignore gpu-check.done), FER_GPU_BUILD_DIR
# (default build-gpu). FER_GPU_FAKE="build=3,test=1,..." replaces each step by a sleep of that many
# seconds (1 when not named; a negative number fails the step), divides every cap and floor by 30
# and needs no GPU: the test of the deadline and resume logic (tests/tools/test_gpu_check.cpp).
set -uo pipefail

STEPS=(build test step train sanitize conv ops compile)
declare -A CAP=([build]=300 [test]=170 [step]=150 [train]=100 [sanitize]=150 [conv]=120 [ops]=60 [compile]=240)
declare -A FLOOR=([build]=90 [test]=40 [step]=45 [train]=40 [sanitize]=45 [conv]=40 [ops]=20 [compile]=90)

budget=${FER_GPU_SECONDS:-560}
mode=${1:-}
if [ "$mode" = plan ]; then
  printf "%-9s %5s %5s\n" step cap floor
  for s in "${STEPS[@]}"; do printf "%-9s %5d %5d\n" "$s" "${CAP[$s]}" "${FLOOR[$s]}"; done
  echo "deadline ${budget} s after the start (FER_GPU_SECONDS)"
  exit 0
fi
if [ "$mode" = all ]; then
  wanted=("${STEPS[@]}")
elif [ -n "$mode" ]; then
  wanted=("$@")
  for s in "${wanted[@]}"; do
    [ -n "${CAP[$s]:-}" ] || { echo "gpu-check: unknown step '$s' (steps: ${STEPS[*]}, or all, plan)"; exit 2; }
  done
else
  echo "usage: bash scripts/gpu-check.sh all | plan | STEP...   (steps: ${STEPS[*]}; docs/gpu-session.md)"
  exit 2
fi

OUT=${OUT:-/tmp/fer-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
start=$SECONDS
D=$PWD/.device
B=${FER_GPU_BUILD_DIR:-$PWD/build-gpu}
fake=${FER_GPU_FAKE:-}
if [ -n "$fake" ]; then
  for s in "${STEPS[@]}"; do CAP[$s]=$((CAP[$s] / 30)); FLOOR[$s]=$((FLOOR[$s] / 30)); done
fi
echo "== $(date -u +%FT%TZ) gpu-check ${wanted[*]} (deadline ${budget} s)"
# fake_step STEP SECONDS: FER_GPU_FAKE's stand-in for step_STEP (the orchestration alone)
fake_step() {
  local n
  n=$(echo ",$fake," | sed -n "s/.*,$1=\(-\{0,1\}[0-9]*\),.*/\1/p")
  n=${n:-1}
  [ "$n" -lt 0 ] && return 3
  [ "$n" -gt "$2" ] && { sleep "$2"; return 124; }
  sleep "$n"
}
data_pid=""
if [ -z "$fake" ]; then
[ -f "$D/suite.sh" ] || { echo "gpu-check: .device missing: run ../shared/tools/stage-device --data here and carry .device"; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
nvcc --version | tail -1

# The environment of .device/suite.sh (../shared/tools/device-suite): cuDNN from PyTorch's
# environment as an ordinary prefix, the staged libraries, the data under /tmp/fer-data.
if [ ! -d "$D/cudnn/lib" ]; then
  c=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
  if [ -n "$c" ] && [ -d "$c/lib" ]; then
    mkdir -p "$D/cudnn/lib"; ln -sfn "$c/include" "$D/cudnn/include"
    for f in "$c"/lib/libcudnn*.so.*; do ln -sf "$f" "$D/cudnn/lib/"; b=$(basename "$f"); ln -sf "$f" "$D/cudnn/lib/${b%%.so.*}.so"; done
  else echo "gpu-check: cuDNN not found in python3's environment; building without it"; fi
fi
export CUDNN_ROOT=$D/cudnn
export LD_LIBRARY_PATH=$D/lib/x86_64-linux-gnu:$D/cudnn/lib:${LD_LIBRARY_PATH:-}
if [ -f "$D/fer2013.tar.gz" ] && [ ! -d /tmp/fer-data/fer2013 ]; then
  # unpacked beside, then moved, so that a cut-off unpack never looks like a complete data set
  rm -rf /tmp/fer-data.part && mkdir -p /tmp/fer-data /tmp/fer-data.part
  (tar xzf "$D/fer2013.tar.gz" -C /tmp/fer-data.part && mv /tmp/fer-data.part/* /tmp/fer-data/) &
  data_pid=$!
fi
fi
wait_data() {
  [ -n "$data_pid" ] && { wait "$data_pid" || echo "gpu-check: unpacking the data failed"; data_pid=""; }
  if [ -d /tmp/fer-data/fer2013 ]; then export FER_DATA=/tmp/fer-data; return 0; fi
  return 1
}

mkdir -p "$B" /tmp/fer-bench /tmp/fer-runs || exit 2
done_file=$B/gpu-check.done
[ "${FER_GPU_REDO:-0}" = 1 ] && rm -f "$done_file"
touch "$done_file" "$OUT/steps.tsv"
left() { echo $((budget - (SECONDS - start))); }
# limit STEP: the timeout for STEP now (0: skip it)
limit() {
  local l; l=$(left)
  [ "$l" -lt "${FLOOR[$1]}" ] && { echo 0; return; }
  [ "$l" -lt "${CAP[$1]}" ] && { echo "$l"; return; }
  echo "${CAP[$1]}"
}
pack_bench() { tar czf "$OUT/bench.tar.gz" -C /tmp/fer-bench . 2>/dev/null; }
pack_runs() { [ -d /tmp/fer-runs/r001-cnn6 ] && tar czf "$OUT/run-r001-cnn6.tar.gz" --exclude='*.safetensors' -C /tmp/fer-runs . 2>/dev/null; }

# run_bench NAME SECONDS ARGS...: one benchmark binary, JSON + console text into /tmp/fer-bench
run_bench() {
  local n=$1 t=$2; shift 2
  timeout "$t" "$B/bin/$n" --benchmark_out=/tmp/fer-bench/$n.json --benchmark_out_format=json "$@" \
    > /tmp/fer-bench/$n.txt 2>&1
  local rc=$?
  tail -30 /tmp/fer-bench/$n.txt
  return $rc
}

# per_file SECONDS LOG WRAPPER...: fer_tests_cuda once per tests/cuda source file, within SECONDS;
# WRAPPER (maybe empty) goes before the binary (compute-sanitizer). FILTER_ARGS adds doctest filters.
per_file() {
  local total=$1 log=$2; shift 2
  local until=$((SECONDS + total)) rc=0 f n t r t0
  for f in tests/cuda/*.cpp; do
    n=$(basename "$f")
    t=$((until - SECONDS))
    if [ "$t" -lt 5 ]; then echo "-- $n: not run (out of time)" | tee -a "$log"; rc=1; continue; fi
    [ "$t" -gt 90 ] && t=90
    t0=$SECONDS
    echo "-- $n" >> "$log"
    timeout "$t" "$@" "$B/bin/fer_tests_cuda" -sf="*$n" ${FILTER_ARGS:-} >> "$log" 2>&1
    r=$?
    printf -- "-- %-40s rc %-3d %4d s\n" "$n" "$r" $((SECONDS - t0)) | tee -a "$log"
    [ "$r" -eq 0 ] || rc=1
  done
  return $rc
}

step_build() {
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${FER_CUDA_ARCH:-native}" \
    -DCMAKE_PREFIX_PATH="$D" -DCUDNN_ROOT="$D/cudnn" > "$B/configure.log" 2>&1 \
    || { tail -30 "$B/configure.log"; return 2; }
  grep -E "^-- fer:" "$B/configure.log"
  timeout "$1" cmake --build "$B" -j"$(nproc)" --target fer_tests_cuda fertrain bench_train_step \
    bench_conv_cuda bench_ops_cuda bench_augment_cuda > "$B/build.log" 2>&1
  local rc=$?
  grep -E "error|warning" "$B/build.log" | head -40
  tail -3 "$B/build.log"
  return $rc
}
step_test() { wait_data; per_file "$1" "$OUT/tests.log"; }
step_sanitize() {
  # the kernel and op parity cases only: memcheck slows the model-sized ones 10-100x (doctest's
  # -tce drops test cases by name; ? stands for a space)
  FILTER_ARGS="-tce=*resnet*,*rmn*,*unet*,*autoencoder*,*vit*,*efficientnet*,*classifier*,*trains*,*tiny?model*,*out?of?memory*,*fertrain*,*CNN6*,*a?model?s?outputs*" \
    per_file "$1" "$OUT/sanitize.log" compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20
  local rc=$?
  grep -E "ERROR SUMMARY: [1-9]" "$OUT/sanitize.log" | head -20
  return $rc
}
step_step() {
  local t=$1 rc=0 t0=$SECONDS
  run_bench bench_train_step $((t * 2 / 3)) --no-cpu --csv=/tmp/fer-bench/train_step.csv || rc=1
  t=$((t - (SECONDS - t0)))
  [ "$t" -gt 10 ] || return 1
  (PYTHONUNBUFFERED=1 timeout "$t" python3 bench/peers/train_step_torch.py --modes eager,eager_cl_bf16 \
    --csv /tmp/fer-bench/peers_train_step.csv > /tmp/fer-bench/peers.log 2>&1) || rc=1
  tail -20 /tmp/fer-bench/peers.log
  return $rc
}
step_compile() {
  (PYTHONUNBUFFERED=1 timeout "$1" python3 bench/peers/train_step_torch.py --modes compile,compile_cl_bf16 \
    --models cnn6,resnet18,unet --csv /tmp/fer-bench/peers_compile.csv > /tmp/fer-bench/peers_compile.log 2>&1)
  local rc=$?
  tail -20 /tmp/fer-bench/peers_compile.log
  return $rc
}
step_train() {
  wait_data || { echo "gpu-check: no /tmp/fer-data/fer2013 (stage with --data): no training run"; return 1; }
  local t=$1 rc=0 t0=$SECONDS run=/tmp/fer-runs/r001-cnn6
  rm -rf "$run" /tmp/fer-runs/r001-cnn6-graph
  timeout $((t * 2 / 3)) "$B/bin/fertrain" --recipe r001-cnn6 --data /tmp/fer-data/fer2013 --device cuda \
    --epochs 3 --no-progress --out "$run" > /tmp/fer-runs/r001-cnn6.log 2>&1 || rc=1
  tail -12 /tmp/fer-runs/r001-cnn6.log
  t=$((t - (SECONDS - t0)))
  [ "$t" -gt 10 ] || return 1
  # the first 2 epochs again, the step replayed as a CUDA graph (docs/cuda-graphs.md)
  timeout "$t" "$B/bin/fertrain" --recipe r001-cnn6 --data /tmp/fer-data/fer2013 --device cuda \
    --epochs 2 --cuda-graph on --no-progress --out /tmp/fer-runs/r001-cnn6-graph \
    > /tmp/fer-runs/r001-cnn6-graph.log 2>&1 || rc=1
  tail -6 /tmp/fer-runs/r001-cnn6-graph.log
  return $rc
}
step_conv() { run_bench bench_conv_cuda "$1"; }
step_ops() {
  local rc=0 t0=$SECONDS
  FER_BENCH_OPS_CSV=/tmp/fer-bench/bench_ops_cuda.csv run_bench bench_ops_cuda $(($1 * 2 / 3)) || rc=1
  run_bench bench_augment_cuda $(($1 - (SECONDS - t0))) || rc=1
  return $rc
}

overall=0
for s in "${wanted[@]}"; do
  if grep -qx "$s" "$done_file"; then echo "== $s: done earlier on this machine"; continue; fi
  if [ "$s" != build ] && ! grep -qx build "$done_file"; then
    echo "== $s: skipped (no build)"; printf "%s\tskipped-no-build\t0\n" "$s" >> "$OUT/steps.tsv"; overall=1; continue
  fi
  t=$(limit "$s")
  if [ "$t" -eq 0 ]; then
    echo "== $s: skipped, $(left) s left < floor ${FLOOR[$s]} s"
    printf "%s\tskipped-time\t0\n" "$s" >> "$OUT/steps.tsv"; overall=1; continue
  fi
  echo "== $s (timeout $t s, $(left) s left)"
  t0=$SECONDS
  if [ -n "$fake" ]; then fake_step "$s" "$t"; else "step_$s" "$t"; fi
  rc=$?
  dt=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then status=ok; echo "$s" >> "$done_file"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=timeout; overall=1
  else status="failed-rc$rc"; overall=1; fi
  # a failed step still counts as done (its logs came back): rerun it with FER_GPU_REDO=1 or by name
  [ "$status" != ok ] && [ "$s" != build ] && echo "$s" >> "$done_file"
  printf "%s\t%s\t%d\n" "$s" "$status" "$dt" >> "$OUT/steps.tsv"
  echo "== $s: $status in $dt s"
  pack_bench; pack_runs
done
echo "== gpu-check done in $((SECONDS - start)) s, rc=$overall"
cat "$OUT/steps.tsv"
exit $overall
