#!/usr/bin/env bash
# Installs the Debian 12 packages fer needs, only those that are missing (uses sudo when not root).
# clang, libclang-rt-dev and libomp-dev build the libFuzzer harnesses (scripts/fuzz.sh); opencv-data
# is data only (the Haar face cascades of ferpredict --detect haar; fer does not link OpenCV).
# python3-onnx is for the tests only: the ONNX project's checker reads ferexport's files
# (tools/onnx_check.py); fer itself never imports it.
# The CUDA toolkit (nvcc, cuBLAS, cuDNN) is not a Debian package: fer uses /usr/local/cuda when present
# and builds CPU-only otherwise.
set -euo pipefail
packages=(build-essential cmake doctest-dev libbenchmark-dev libstb-dev libcli11-dev nlohmann-json3-dev
          libopenblas-openmp-dev fonts-dejavu-core clang libclang-rt-dev libomp-dev opencv-data python3-onnx)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
