#!/usr/bin/env bash
# Builds the libFuzzer harnesses in tests/fuzz/ with clang (ASan + UBSan) and runs each for a
# bounded time on its seed corpus (tests/fuzz/corpus/<target>/); fails on any crash, sanitizer
# report, timeout or out-of-memory.
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default 20 s; targets: csv image safetensors config haar)
# Only the few sources the readers use are compiled (not the engine, no CUDA), into build-fuzz/.
# New inputs found while fuzzing go to build-fuzz/corpus/<target>/ (not committed); a crasher is
# written to build-fuzz/artifacts/ -- add it as a regression test in tests/unit/ and fix the reader.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv image safetensors config haar)

CXX=${FER_FUZZ_CXX:-}
if [ -z "$CXX" ]; then
  for c in clang++ clang++-14 clang++-15 clang++-16; do
    if command -v "$c" >/dev/null; then CXX=$c; break; fi
  done
fi
if [ -z "$CXX" ]; then
  echo "fuzz: clang++ not found; hint: apt-get install clang libclang-rt-dev" >&2
  exit 1
fi

out=build-fuzz
mkdir -p "$out/obj" "$out/generated/fer" "$out/artifacts"
cat > "$out/generated/fer/config.h.new" <<'H'
#pragma once
namespace fer {
inline constexpr bool kCudaBuilt = false;
inline constexpr const char* kCudaArchitectures = "";
inline constexpr bool kCudnnBuilt = false;
inline constexpr const char* kCpuGemm = "blocked";
inline constexpr const char* kVersion = "fuzz";
}  // namespace fer
H
cmp -s "$out/generated/fer/config.h.new" "$out/generated/fer/config.h" ||
  mv "$out/generated/fer/config.h.new" "$out/generated/fer/config.h"
rm -f "$out/generated/fer/config.h.new"

stb_inc=/usr/include/stb
[ -d "$stb_inc" ] || stb_inc=/usr/include
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fopenmp
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I. -I"$out/generated" -I"$stb_inc" -w)
# The engine sources the five readers need (linked from an archive: only what is used comes in).
lib_src=(kernels/common.cpp kernels/cast_cpu.cpp kernels/elementwise_cpu.cpp
         tensor/tensor.cpp tensor/allocator.cpp tensor/autograd.cpp tensor/dispatch.cpp
         nn/safetensors.cpp tensor/atomic_file.cpp
         data/dataset.cpp data/fer_csv.cpp data/image_io.cpp data/stb_impl.cpp data/image_folder.cpp
         data/haar_cascade.cpp data/face_detect.cpp
         kernels/augment_cpu.cpp
         tools/common/train_config.cpp)

compile() {  # src obj extra-flags...
  local src=$1 obj=$2
  shift 2
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ scripts/fuzz.sh -nt "$obj" ] ||
     [ -n "$(find "$(dirname "$src")" "${FER_FUZZ_HEADERS[@]}" -name '*.h' -newer "$obj" -print -quit 2>/dev/null)" ]; then
    "$CXX" "${flags[@]}" "$@" -c "$src" -o "$obj"
  fi
}
FER_FUZZ_HEADERS=(kernels tensor nn data tools/common)
export -f compile
export CXX FER_FUZZ_HEADERS
start=$(date +%s)
jobs=$(nproc)
pids=()
objs=()
for src in "${lib_src[@]}"; do
  obj="$out/obj/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  extra=()
  # stb_image compiled as in CMake, with -fwrapv: its int arithmetic on crafted JPEG coefficients
  # wraps (defined); clang's UBSan still instruments wrapping overflow unless told not to.
  [ "$src" = data/stb_impl.cpp ] && extra=(-fwrapv -fno-sanitize=signed-integer-overflow)
  compile "$src" "$obj" -fsanitize=fuzzer-no-link ${extra[@]+"${extra[@]}"} &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
rm -f "$out/libfer_fuzz.a"
ar rcs "$out/libfer_fuzz.a" "${objs[@]}"
for t in "${targets[@]}"; do
  "$CXX" "${flags[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.cpp" "$out/libfer_fuzz.a" -o "$out/fuzz_$t"
done
echo "fuzz: built ${targets[*]} in $(( $(date +%s) - start )) s"

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t"
  echo "fuzz: $t for ${seconds} s"
  # -rss_limit_mb / -malloc_limit_mb: an input may not make the reader allocate more than 1 GiB;
  # -timeout: no single input may take more than 10 s.
  if ! "$out/fuzz_$t" "$out/corpus/$t" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$out/artifacts/$t-" >"$out/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; see $out/$t.log and the input in $out/artifacts/" >&2
    tail -n 40 "$out/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/$t.log" | tail -n 2
  fi
done
exit $status
