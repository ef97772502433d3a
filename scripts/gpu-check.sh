#!/usr/bin/env bash
# scripts/gpu-check.sh PHASE: the prepared device checks of a GPU session (docs/gpu-session.md).
# Runs on the device machine from the repository root, with `.device` carried (staged here by
# ../shared/tools/stage-device --data). Each phase keeps inside one device call (under 10 minutes)
# by giving each step its own `timeout`, and writes at most 8 files to $OUT.
#
#   verify    build for the machine's GPU; the cuda-labelled tests (every kernel's parity test, the
#             golden model tests on CUDA, the CUDA training test); compute-sanitizer memcheck on the
#             kernel parity tests (the model-sized tests are left out: memcheck slows them 10-100x)
#   measure   the CUDA benchmarks (convolution shapes native vs cuDNN vs tensor cores, whole training
#             steps, the memory-bound ops in GB/s), their PyTorch twins in the same call, and a short CNN6 run on FER2013 on the GPU
#
# The build folder build-gpu/ stays on the machine while it is held, so `measure` right after
# `verify` does not rebuild. Results go into bench/results/<date>-<device>.md (see bench/README.md).
set -uo pipefail
phase=${1:-}
OUT=${OUT:-/tmp/fer-out}
mkdir -p "$OUT"
[ -f .device/suite.sh ] || { echo "gpu-check: .device/suite.sh missing: run ../shared/tools/stage-device --data here and carry .device"; exit 2; }
export FER_CUDA_ARCH=${FER_CUDA_ARCH:-native}
rc=0
case $phase in
  verify)
    timeout 300 bash .device/suite.sh build || rc=$?
    [ $rc -eq 0 ] || { echo "gpu-check: build failed or ran out of time (rc $rc)"; exit $rc; }
    FER_CTEST_ARGS="-L cuda" timeout 120 bash .device/suite.sh test || rc=$?
    # the kernel parity tests only (the doctest filter -tce drops the model-sized cases; suite.sh
    # splits the command on spaces, so the patterns use ? for a space)
    FER_SANITIZE_CMD="bin/fer_tests_cuda -tce=*on?CUDA*,*model*,*trains*,*out?of?memory*" \
      timeout 150 bash .device/suite.sh sanitize || rc=$?
    ;;
  measure)
    [ -x build-gpu/bin/fertrain ] || { timeout 300 bash .device/suite.sh build || exit $?; }
    # bench_ops_cuda (BN, masking, cross-entropy, add+ReLU: GB/s and % of the copy bandwidth) also
    # writes its summary as $OUT/bench_ops_cuda.csv; a few seconds
    FER_BENCH_OPS_CSV="$OUT/bench_ops_cuda.csv" \
      FER_BENCH_GLOB="build-gpu/bin/bench_conv_cuda build-gpu/bin/bench_train_step build-gpu/bin/bench_augment_cuda build-gpu/bin/bench_ops_cuda" timeout 215 bash .device/suite.sh bench || rc=$?
    (PYTHONUNBUFFERED=1 timeout 120 python3 bench/peers/train_step_torch.py --csv "$OUT/peers_train_step.csv" \
      > "$OUT/peers.log" 2>&1) || rc=1
    tail -20 "$OUT/peers.log"
    if [ -d /tmp/fer-data/fer2013 ]; then
      run=/tmp/fer-runs/r001-cnn6
      rm -rf "$run"
      timeout 150 build-gpu/bin/fertrain --recipe r001-cnn6 --data /tmp/fer-data/fer2013 --device cuda \
        --epochs 5 --no-progress --out "$run" > /tmp/fer-runs-r001.log 2>&1 || rc=1
      tail -15 /tmp/fer-runs-r001.log
      cp /tmp/fer-runs-r001.log "$run/fertrain.log" 2>/dev/null
      tar czf "$OUT/run-r001-cnn6.tar.gz" --exclude='*.safetensors' -C /tmp/fer-runs r001-cnn6 || rc=1
      # the same recipe's first 2 epochs with the step replayed as a CUDA graph: epoch images/s side by
      # side with the run above (docs/cuda-graphs.md)
      timeout 50 build-gpu/bin/fertrain --recipe r001-cnn6 --data /tmp/fer-data/fer2013 --device cuda \
        --epochs 2 --cuda-graph on --no-progress --out /tmp/fer-runs/r001-cnn6-graph > "$OUT/run-r001-cnn6-graph.log" 2>&1 || rc=1
      tail -6 "$OUT/run-r001-cnn6-graph.log"
    else
      echo "gpu-check: no /tmp/fer-data/fer2013 (stage with --data): the training run is skipped"
    fi
    ;;
  *)
    echo "usage: bash scripts/gpu-check.sh verify|measure   (docs/gpu-session.md)"
    exit 2 ;;
esac
echo "== gpu-check $phase done, rc=$rc"
exit $rc
