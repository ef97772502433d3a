#!/usr/bin/env bash
# R003's outlier experiment, end to end: does removing the autoencoder's 2% outliers from Training
# help the classifier (R003 reports +4%)?
#
#   scripts/r003-outliers.sh DATA OUT [fertrain flags...]      e.g. --device cuda, or --epochs 2 --limit 500 to try it
#
#   1. fertrain --recipe r003-autoencoder            -> OUT/autoencoder/
#   2. ferclean --autoencoder .../best.safetensors --percentile 98 --val split:0.2 --seed S
#      --only-autoencoder -> OUT/outliers.exclude: the outliers among the 80% of Training that the
#      baseline trains on (R003: 460 of 22,968), nothing else (ferclean's duplicate and test-overlap
#      rules are fer's own and would blur the comparison)
#   3. fertrain --recipe r003-baseline                -> OUT/baseline/
#   4. fertrain --recipe r003-baseline --exclude OUT/outliers.exclude -> OUT/baseline-outliers-removed/
#      (--exclude filters the training part only, after the split: both runs validate and test on the
#      same images)
#   5. OUT/summary.txt: the test accuracy (PublicTest) of both runs and the difference.
#
# Each run is resumable: a step whose summary.json exists is skipped, one with a checkpoint but no
# summary is continued with --resume (stop with Ctrl-C or SIGTERM, run the same command again).
# The extra flags go to every fertrain call (not on --resume, which keeps the run's settings, apart
# from --device/--threads). FER_BIN (default build/bin) names the folder of the programs.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA OUT [fertrain flags...]" >&2
  exit 2
fi
data=$1 out=$2
shift 2
bin=${FER_BIN:-build/bin}
for p in fertrain ferclean; do
  [ -x "$bin/$p" ] || { echo "r003-outliers: $bin/$p not found; build first or set FER_BIN" >&2; exit 2; }
done
[ -e "$data" ] || { echo "r003-outliers: --data '$data' does not exist" >&2; exit 2; }
mkdir -p "$out"

# the flags that may follow --resume (the rest are the run's own, in its config.json), and the
# split the runs use (the recipes' split:0.2 unless --val is given), which ferclean must score
# (with the class set and --skip-bad, which decide which images the split holds)
resume_flags=()
clean_flags=()
args=("$@")
seed=1 val=split:0.2
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --device|--threads) resume_flags+=("${args[i]}" "${args[i+1]:-}"); i=$((i + 1)) ;;
    --seed) seed=${args[i+1]:-}; i=$((i + 1)) ;;
    --seed=*) seed=${args[i]#--seed=} ;;
    --val) val=${args[i+1]:-}; i=$((i + 1)) ;;
    --val=*) val=${args[i]#--val=} ;;
    --classes) clean_flags+=(--classes "${args[i+1]:-}"); i=$((i + 1)) ;;
    --classes=*) clean_flags+=(--classes "${args[i]#--classes=}") ;;
    --skip-bad) clean_flags+=(--skip-bad) ;;
    --config|--config=*)
      echo "r003-outliers: --config is not supported here (ferclean must see the split's flags): give them as flags" >&2
      exit 2 ;;
  esac
done

train() {  # train NAME fertrain-args...
  local name=$1 dir=$out/$1
  shift
  if [ -f "$dir/summary.json" ]; then
    echo "r003-outliers: $name done ($dir/summary.json)"
  elif [ -f "$dir/last.safetensors" ]; then
    echo "r003-outliers: $name: resuming $dir"
    "$bin/fertrain" --resume "$dir" --no-progress ${resume_flags[@]+"${resume_flags[@]}"} | tee -a "$dir.log"
  else
    echo "r003-outliers: $name -> $dir"
    "$bin/fertrain" --data "$data" --out "$dir" --no-progress "$@" | tee "$dir.log"
  fi
}

train autoencoder --recipe r003-autoencoder ${args[@]+"${args[@]}"}
# An index from another split (other --val/--seed, or an older script that scored all of Training)
# is set aside, not reused.
if [ -f "$out/outliers.exclude" ] &&
   ! { grep -q '^# --only-autoencoder' "$out/outliers.exclude" &&
       grep -qF "fertrain --val $val --seed $seed)" "$out/outliers.exclude"; }; then
  echo "r003-outliers: $out/outliers.exclude was made for another split; moved to $out/outliers.exclude.stale" >&2
  mv "$out/outliers.exclude" "$out/outliers.exclude.stale"
fi
if [ ! -f "$out/outliers.exclude" ]; then
  # ferclean writes the index atomically
  "$bin/ferclean" --data "$data" --autoencoder "$out/autoencoder/best.safetensors" --percentile 98 \
    --val "$val" --seed "$seed" --only-autoencoder ${clean_flags[@]+"${clean_flags[@]}"} \
    --out "$out/outliers.exclude" | tee "$out/ferclean.log"
fi
echo "r003-outliers: $(grep -vc '^#' "$out/outliers.exclude") autoencoder outliers in $out/outliers.exclude"
train baseline --recipe r003-baseline ${args[@]+"${args[@]}"}
train baseline-outliers-removed --recipe r003-baseline --exclude "$out/outliers.exclude" ${args[@]+"${args[@]}"}

# The test split's accuracy of each run's best checkpoint (summary.json: "test", or "val" when the
# test split is the validation split).
python3 - "$out" > "$out/summary.txt.tmp" <<'PY'
import json, os, sys
out = sys.argv[1]
def acc(name):
    s = json.load(open(os.path.join(out, name, "summary.json")))
    part = s.get("test") or s["val"]
    return part["accuracy"], part["split"], part["images"], s["epochs_done"], s["best_epoch"]
a, b = acc("baseline"), acc("baseline-outliers-removed")
print(f"R003 outlier experiment ({out})")
print(f"baseline:                  {100 * a[0]:.2f}% on {a[1]} ({a[2]} images), best epoch {a[4]} of {a[3]}")
print(f"baseline, outliers removed: {100 * b[0]:.2f}% on {b[1]} ({b[2]} images), best epoch {b[4]} of {b[3]}")
print(f"difference: {100 * (b[0] - a[0]):+.2f} points (R003 reports +4)")
PY
mv "$out/summary.txt.tmp" "$out/summary.txt"
cat "$out/summary.txt"
