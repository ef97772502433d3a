#!/usr/bin/env bash
# The README's first command: installs missing Debian packages, builds fertrain (Release), and trains
# the default model on the built-in synthetic faces. Extra arguments go to fertrain, e.g.
#   scripts/quickstart.sh --epochs 3
#   scripts/quickstart.sh --data ../shared/data/fer2013 --recipe r001-cnn6
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${FER_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)" --target fertrain
exec build/bin/fertrain "$@"
