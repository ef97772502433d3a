#!/usr/bin/env bash
# scripts/gpu-check.sh [all|plan|STEP...]: the prepared device checks of a GPU session
# (docs/gpu-session.md), sized to the session's device time: 15 minutes in all, the machine's start
# (a minute or more) and every idle second included. One device call runs them:
#
#   bash scripts/gpu-check.sh all        (timeout_s 600, carry [".device"])
#
# Steps, most important first. Each gets the timeout min(its cap, time left before the deadline) and
# is skipped when less than its floor is left. The deadline is FER_GPU_SECONDS (default 560) seconds
# after the script starts. What finished is written to build-gpu/gpu-check.done (steps, and the test
# files of `test` and `sanitize` one by one), so `all` called again on the same warm machine (within
# its 30 s idle window) goes on with what is left; `build` always runs (a no-op make when nothing
# changed, a rebuild when the carried tree did).
#
#   build     configure and build what the device runs: fer_tests_cuda and the programs first (the step
#             fails only if they fail), then the CUDA benches (a bench that fails to build only
#             skips the steps that need it); FER_CUDA_ARCH, default native. The data unpacks meanwhile.
#   test      fer_tests_cuda one source file at a time, kernel parity files first (a crash or hang
#             is confined to its file; a failed file runs again with FER_DEBUG_SYNC=1, which names
#             the faulting kernel): every kernel's parity test with NaN-prefilled outputs, golden
#             models on CUDA, CUDA training, cuDNN and tensor-core convolutions, the CUDA graph step
#   sanitize  compute-sanitizer memcheck on the kernel parity cases, file by file (model-sized
#             cases left out), with FER_CUDA_ALLOC=direct: every tensor its own cudaMalloc, so an
#             access past a tensor's end is not hidden inside a cached block
#   step      bench_train_step eager, the PyTorch twins eager / channels_last+bf16 right after (images/s
#             and peak memory side by side), then bench_train_step's CUDA-graph rows
#   train     r001-cnn6 on FER2013 on the GPU, 3 epochs, then 2 epochs with --cuda-graph on
#   conv      bench_conv_cuda: every conv shape, native vs cuDNN vs tensor cores
#   ops       bench_ops_cuda (GB/s of BN, masking, CE, add+ReLU) and bench_augment_cuda
#   compile   the PyTorch twins with torch.compile (slow to compile; last)
#
# Back in $OUT (at most 8 files, refreshed after every step, so a call cut off by the device time
# still returns what finished): gpu-check.log (everything), steps.tsv (step, status, seconds),
# tests.log, sanitize.log, bench.tar.gz (benchmark JSON/text/CSV, peer CSVs), run-r001-cnn6.tar.gz.
#
#   bash scripts/gpu-check.sh plan       prints the steps, caps and floors (no GPU needed)
#   bash scripts/gpu-check.sh test conv  runs just those steps (still skipping finished ones)
# Knobs: FER_GPU_SECONDS, FER_CUDA_ARCH, FER_GPU_REDO=1 (ignore gpu-check.done), FER_GPU_BUILD_DIR
# (default build-gpu), FER_GPU_WORK (scratch: data, bench output, runs; default /tmp/fer-gpu),
# FER_GPU_DEVICE_DIR (default .device of the repository), FER_GPU_LIMITS="step=cap:floor,..."
# (other caps and floors, in seconds).
# FER_GPU_FAKE="build=3,test=1,..." replaces each step by a sleep of that many seconds (1 when not
# named; a negative number fails the step), divides every cap and floor by 30 and needs no GPU: the
# test of the deadline and resume logic (tests/tools/test_gpu_check.cpp).
set -uo pipefail

STEPS=(build test sanitize step train conv ops compile)
declare -A CAP=([build]=300 [test]=170 [sanitize]=150 [step]=150 [train]=100 [conv]=120 [ops]=60 [compile]=240)
declare -A FLOOR=([build]=90 [test]=40 [sanitize]=45 [step]=45 [train]=40 [conv]=40 [ops]=20 [compile]=90)
# the binaries each step runs (a step whose binary did not build is skipped)
declare -A NEEDS=([test]=fer_tests_cuda [sanitize]=fer_tests_cuda [step]=bench_train_step [train]=fertrain
                  [conv]=bench_conv_cuda [ops]="bench_ops_cuda bench_augment_cuda" [compile]="")
BENCHES="bench_train_step bench_conv_cuda bench_ops_cuda bench_augment_cuda"
# tests/cuda files with no case left after the sanitize filter (model-sized cases only)
SANITIZE_SKIP=" test_model_golden_cuda.cpp test_models_r003_parity.cpp test_tiny_training_cuda.cpp test_fertrain_cuda_graph.cpp test_cuda_oom_message.cpp test_programs_cuda.cpp "

budget=${FER_GPU_SECONDS:-560}
# FER_GPU_LIMITS="step=cap:floor,...": other caps and floors (seconds)
for kv in ${FER_GPU_LIMITS:+${FER_GPU_LIMITS//,/ }}; do
  k=${kv%%=*} v=${kv#*=}
  [[ -n "${CAP[$k]:-}" && "$v" =~ ^[0-9]+:[0-9]+$ ]] || { echo "gpu-check: FER_GPU_LIMITS entry '$kv': expected step=cap:floor"; exit 2; }
  CAP[$k]=${v%%:*}; FLOOR[$k]=${v#*:}
done
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
# the build always runs first: the binaries must be the carried tree's
[[ " ${wanted[*]} " == *" build "* ]] || wanted=(build "${wanted[@]}")

OUT=${OUT:-/tmp/fer-out}
mkdir -p "$OUT"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # the repository
D=${FER_GPU_DEVICE_DIR:-$SRC/.device}
B=${FER_GPU_BUILD_DIR:-$SRC/build-gpu}
W=${FER_GPU_WORK:-/tmp/fer-gpu}
fake=${FER_GPU_FAKE:-}
if [ -n "$fake" ]; then
  for s in "${STEPS[@]}"; do CAP[$s]=$((CAP[$s] / 30)); FLOOR[$s]=$((FLOOR[$s] / 30)); done
fi

main() {
start=$SECONDS
echo "== $(date -u +%FT%TZ) gpu-check ${wanted[*]} (deadline ${budget} s)"
data_pid=""
if [ -z "$fake" ]; then
  [ -f "$D/suite.sh" ] || { echo "gpu-check: .device missing: run ../shared/tools/stage-device --data here and carry .device"; return 2; }
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
  nvcc --version | tail -1
  # The environment of .device/suite.sh (../shared/tools/device-suite): cuDNN from PyTorch's
  # environment as an ordinary prefix, the staged libraries, the data under $W/data.
  if [ ! -d "$D/cudnn/lib" ]; then
    c=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
    if [ -n "$c" ] && [ -d "$c/lib" ]; then
      mkdir -p "$D/cudnn/lib"; ln -sfn "$c/include" "$D/cudnn/include"
      for f in "$c"/lib/libcudnn*.so.*; do ln -sf "$f" "$D/cudnn/lib/"; b=$(basename "$f"); ln -sf "$f" "$D/cudnn/lib/${b%%.so.*}.so"; done
    else echo "gpu-check: cuDNN not found in python3's environment; building without it"; fi
  fi
  export CUDNN_ROOT=$D/cudnn
  export LD_LIBRARY_PATH=$D/lib/x86_64-linux-gnu:$D/cudnn/lib:${LD_LIBRARY_PATH:-}
  if [ -f "$D/fer2013.tar.gz" ] && [ ! -d "$W/data/fer2013" ]; then
    # unpacked beside, then moved, so that a cut-off unpack never looks like a complete data set
    rm -rf "$W/data.part" && mkdir -p "$W/data" "$W/data.part"
    (tar xzf "$D/fer2013.tar.gz" -C "$W/data.part" && mv "$W/data.part"/* "$W/data/") &
    data_pid=$!
  fi
fi
mkdir -p "$B" "$W/bench" "$W/runs" || return 2
done_file=$B/gpu-check.done
[ "${FER_GPU_REDO:-0}" = 1 ] && rm -f "$done_file"
touch "$done_file" "$OUT/steps.tsv"

overall=0
built=0
for s in "${wanted[@]}"; do
  if [ "$s" != build ]; then
    if grep -qx "$s" "$done_file"; then echo "== $s: done earlier on this machine"; continue; fi
    missing=""
    [ "$built" = 1 ] || missing=" (the build failed or was skipped)"
    if [ -z "$fake" ]; then
      for bin in ${NEEDS[$s]}; do [ -x "$B/bin/$bin" ] || missing="$missing $bin"; done
    fi
    if [ -n "$missing" ]; then
      echo "== $s: skipped, not built:$missing"
      printf "%s\tskipped-not-built\t0\n" "$s" >> "$OUT/steps.tsv"; overall=1; continue
    fi
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
  if [ "$rc" -eq 0 ]; then status=ok
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=timeout
  else status="failed-rc$rc"; fi
  [ "$status" = ok ] || overall=1
  # a step that ran to its end counts as done, failed or not (its logs came back: rerun it by name
  # with FER_GPU_REDO=1); one cut off by its timeout does not, so a second call goes on with it
  if [ "$s" = build ]; then
    [ "$status" = ok ] && built=1
  elif [ "$status" != timeout ]; then
    echo "$s" >> "$done_file"
  fi
  printf "%s\t%s\t%d\n" "$s" "$status" "$dt" >> "$OUT/steps.tsv"
  echo "== $s: $status in $dt s"
  pack_bench; pack_runs
done
echo "== gpu-check done in $((SECONDS - start)) s, rc=$overall"
cat "$OUT/steps.tsv"
return $overall
}

left() { echo $((budget - (SECONDS - start))); }
# limit STEP: the timeout for STEP now (0: skip it)
limit() {
  local l; l=$(left)
  [ "$l" -lt "${FLOOR[$1]}" ] && { echo 0; return; }
  [ "$l" -lt 1 ] && { echo 0; return; }
  [ "$l" -lt "${CAP[$1]}" ] && { echo "$l"; return; }
  echo "${CAP[$1]}"
}
# rest T0 TOTAL: what is left of TOTAL seconds since T0 (at least 0)
rest() { local r=$(($2 - (SECONDS - $1))); [ "$r" -gt 0 ] && echo "$r" || echo 0; }
wait_data() {
  [ -n "$data_pid" ] && { wait "$data_pid" || echo "gpu-check: unpacking the data failed"; data_pid=""; }
  if [ -d "$W/data/fer2013" ]; then export FER_DATA=$W/data; return 0; fi
  return 1
}
pack_bench() { [ -n "$(ls -A "$W/bench" 2>/dev/null)" ] && tar czf "$OUT/bench.tar.gz" -C "$W/bench" . 2>/dev/null; return 0; }
pack_runs() { [ -d "$W/runs/r001-cnn6" ] && tar czf "$OUT/run-r001-cnn6.tar.gz" --exclude='*.safetensors' -C "$W/runs" . 2>/dev/null; return 0; }

# fake_step STEP SECONDS: FER_GPU_FAKE's stand-in for step_STEP (the orchestration alone)
fake_step() {
  local n
  n=$(echo ",$fake," | sed -n "s/.*,$1=\(-\{0,1\}[0-9]*\),.*/\1/p")
  n=${n:-1}
  [ "$n" -lt 0 ] && return 3
  [ "$n" -gt "$2" ] && { sleep "$2"; return 124; }
  sleep "$n"
}

# run_bench NAME SECONDS ARGS...: one benchmark binary (line-buffered, so a cut-off run keeps its
# lines), JSON + console text into $W/bench; NAME may carry a suffix after '@' for a second run
run_bench() {
  local tag=$1 t=$2; shift 2
  local n=${tag%%@*}
  [ "$t" -gt 0 ] || return 124
  timeout "$t" stdbuf -oL -eL "$B/bin/$n" --benchmark_out="$W/bench/${tag/@/-}.json" --benchmark_out_format=json "$@" \
    > "$W/bench/${tag/@/-}.txt" 2>&1
  local rc=$?
  tail -30 "$W/bench/${tag/@/-}.txt"
  return $rc
}

# The tests/cuda files, kernel parity first, the model-sized and end-to-end files last.
test_files() {
  local f late=""
  for f in "$SRC"/tests/cuda/*.cpp; do
    case $(basename "$f") in
      test_model_golden_cuda.cpp|test_models_r003_parity.cpp|test_tiny_training_cuda.cpp|test_step_graph.cpp|test_fertrain_cuda_graph.cpp|test_checkpoint_cuda.cpp|test_programs_cuda.cpp)
        late="$late $(basename "$f")" ;;
      *) echo "$(basename "$f")" ;;
    esac
  done
  for f in $late; do echo "$f"; done
}

# per_file KIND SECONDS LOG WRAPPER...: fer_tests_cuda once per tests/cuda file within SECONDS, each
# file recorded as KIND:file in the done file once it ran (so a second call skips it); WRAPPER
# (maybe empty) goes before the binary (compute-sanitizer); FILTER_ARGS adds doctest filters.
per_file() {
  local kind=$1 total=$2 log=$3; shift 3
  local until=$((SECONDS + total)) rc=0 n t r t0
  for n in $(test_files); do
    [ "$kind" = sanitize ] && [[ "$SANITIZE_SKIP" == *" $n "* ]] && continue
    grep -qx "$kind:$n" "$done_file" && continue
    t=$((until - SECONDS))
    if [ "$t" -lt 5 ]; then echo "-- $n: not run (out of time)" | tee -a "$log"; rc=124; continue; fi
    [ "$t" -gt 90 ] && t=90
    t0=$SECONDS
    echo "-- $n" >> "$log"
    # shellcheck disable=SC2086  # FILTER_ARGS holds one doctest flag without spaces ('?' matches one)
    timeout "$t" "$@" "$B/bin/fer_tests_cuda" -sf="*$n" ${FILTER_ARGS:-} >> "$log" 2>&1
    r=$?
    printf -- "-- %-40s rc %-3d %4d s\n" "$n" "$r" $((SECONDS - t0)) | tee -a "$log"
    echo "$kind:$n" >> "$done_file"
    if [ "$r" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=1; fi
    # a failed (not timed-out) test file runs once more with FER_DEBUG_SYNC=1: a synchronise after
    # every launch names the kernel that faulted; not the graph files (a capture refuses the sync)
    if [ "$kind" = test ] && [ "$r" -ne 0 ] && [ "$r" -ne 124 ] && [[ "$n" != *graph* ]]; then
      t=$((until - SECONDS))
      [ "$t" -gt 60 ] && t=60
      if [ "$t" -ge 5 ]; then
        t0=$SECONDS
        echo "-- $n again with FER_DEBUG_SYNC=1" >> "$log"
        # shellcheck disable=SC2086
        FER_DEBUG_SYNC=1 timeout "$t" "$@" "$B/bin/fer_tests_cuda" -sf="*$n" ${FILTER_ARGS:-} >> "$log" 2>&1
        r=$?
        printf -- "-- %-40s rc %-3d %4d s (FER_DEBUG_SYNC=1)\n" "$n" "$r" $((SECONDS - t0)) | tee -a "$log"
      fi
    fi
  done
  return $rc
}

step_build() {
  local t0=$SECONDS
  timeout "$1" cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DFER_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${FER_CUDA_ARCH:-native}" -DCMAKE_PREFIX_PATH="$D" -DCUDNN_ROOT="$D/cudnn" \
    > "$B/configure.log" 2>&1 || { tail -30 "$B/configure.log"; return 2; }
  grep -E "^-- fer:" "$B/configure.log"
  local rc=0
  timeout "$(rest "$t0" "$1")" cmake --build "$B" -j"$(nproc)" --target fer_tests_cuda fertrain fereval ferpredict fercam ferclean > "$B/build.log" 2>&1 || rc=$?
  grep -E "error|warning" "$B/build.log" | head -40
  tail -3 "$B/build.log"
  [ "$rc" -eq 0 ] || return "$rc"
  # the benches: each on its own, a failure only skips the steps that need it
  local b
  for b in $BENCHES; do
    timeout "$(rest "$t0" "$1")" cmake --build "$B" -j"$(nproc)" --target "$b" >> "$B/build.log" 2>&1 \
      || echo "gpu-check: $b did not build (rc $?); see build-gpu/build.log"
  done
  return 0
}
step_test() { per_file test "$1" "$OUT/tests.log"; }
step_sanitize() {
  # the kernel and op parity cases only: memcheck slows the model-sized ones 10-100x (doctest's
  # -tce drops test cases by name; ? stands for a space)
  FILTER_ARGS="-tce=*resnet*,*rmn*,*unet*,*autoencoder*,*vit*,*efficientnet*,*classifier*,*trains*,*tiny?model*,*out?of?memory*,*fertrain*,*CNN6*,*a?model?s?outputs*" \
    FER_CUDA_ALLOC=direct per_file sanitize "$1" "$OUT/sanitize.log" \
    compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20
  local rc=$?
  grep -E "ERROR SUMMARY: [1-9]" "$OUT/sanitize.log" | head -20
  return $rc
}
step_step() {
  local t0=$SECONDS rc=0
  # fer eager (no graph), then PyTorch in the same minutes, then fer's CUDA-graph rows
  run_bench bench_train_step "$(( $1 * 2 / 5 ))" --no-cpu --no-graph --csv="$W/bench/train_step.csv" || rc=1
  if [ "$(rest "$t0" "$1")" -gt 10 ]; then
    (PYTHONUNBUFFERED=1 timeout "$(( $(rest "$t0" "$1") * 2 / 3 ))" python3 "$SRC/bench/peers/train_step_torch.py" \
      --modes eager,eager_cl_bf16 --csv "$W/bench/peers_train_step.csv" > "$W/bench/peers.log" 2>&1) || rc=1
    tail -20 "$W/bench/peers.log"
  fi
  run_bench bench_train_step@graph "$(rest "$t0" "$1")" --no-cpu --benchmark_filter=graph \
    --csv="$W/bench/train_step_graph.csv" || rc=1
  return $rc
}
step_compile() {
  (PYTHONUNBUFFERED=1 timeout "$1" python3 "$SRC/bench/peers/train_step_torch.py" --modes compile,compile_cl_bf16 \
    --models cnn6,resnet18,unet --csv "$W/bench/peers_compile.csv" > "$W/bench/peers_compile.log" 2>&1)
  local rc=$?
  tail -20 "$W/bench/peers_compile.log"
  return $rc
}
step_train() {
  wait_data || { echo "gpu-check: no $W/data/fer2013 (stage with --data): no training run"; return 1; }
  local t0=$SECONDS rc=0 run=$W/runs/r001-cnn6
  rm -rf "$run" "$W/runs/r001-cnn6-graph"
  timeout "$(( $1 * 2 / 3 ))" "$B/bin/fertrain" --recipe r001-cnn6 --data "$W/data/fer2013" --device cuda \
    --epochs 3 --no-progress --log-interval 50 --out "$run" > "$W/runs/r001-cnn6.log" 2>&1 || rc=1
  tail -12 "$W/runs/r001-cnn6.log"
  [ "$(rest "$t0" "$1")" -gt 10 ] || return 124
  # the first 2 epochs again, the step replayed as a CUDA graph (docs/cuda-graphs.md)
  timeout "$(rest "$t0" "$1")" "$B/bin/fertrain" --recipe r001-cnn6 --data "$W/data/fer2013" --device cuda \
    --epochs 2 --cuda-graph on --no-progress --log-interval 50 --out "$W/runs/r001-cnn6-graph" \
    > "$W/runs/r001-cnn6-graph.log" 2>&1 || rc=1
  tail -6 "$W/runs/r001-cnn6-graph.log"
  return $rc
}
step_conv() { run_bench bench_conv_cuda "$1"; }
step_ops() {
  local t0=$SECONDS rc=0
  FER_BENCH_OPS_CSV="$W/bench/bench_ops_cuda.csv" run_bench bench_ops_cuda "$(( $1 * 2 / 3 ))" || rc=1
  run_bench bench_augment_cuda "$(rest "$t0" "$1")" || rc=1
  return $rc
}

# everything to the console and to gpu-check.log; waiting for tee keeps the log's last lines
main 2>&1 | tee -a "$OUT/gpu-check.log"
exit "${PIPESTATUS[0]}"
