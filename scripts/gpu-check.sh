#!/bin/sh
# GPU readiness check (issue #9). On a GPU host: exports a random model of the real width (hidden 3584,
# MLP 18944, 28/4 heads, full vocabulary, real VAE) with as many decoder layers as fit in 5 minutes,
# fp16, then runs understanding and one edit through the TypeScript engine on every execution provider
# that loads there (cuda, webgpu, cpu) and prints tokens/s, ms per flow step and the largest difference
# against the CPU provider (bench/gpu-check.ts). Anywhere: `--tiny` runs the same engine part on
# models/tiny (what test/model/gpu-check.int.test.ts does on CPU).
#
#   scripts/gpu-check.sh [--tiny] [--layers N] [--work DIR]
#
# PYTHON (default python3: torch, onnx) exports; LAYERS / --layers overrides the layer count.
set -eu
cd "$(dirname "$0")/.."
tiny=0
layers="${LAYERS:-}"
work="${WORK:-${TMPDIR:-/tmp}/unimedvl-gpu-check}"
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) tiny=1 ;;
    --layers) layers="$2"; shift ;;
    --work) work="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
TSX="$PWD/node_modules/.bin/tsx"
if [ "$tiny" = 1 ]; then
  exec "$TSX" bench/gpu-check.ts models/tiny
fi
PY="${PYTHON:-python3}"
device=cpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then device=cuda; fi
# 8 real-width layers export in about 2-3 minutes on one H200 (one layer took 66 s with the embeddings,
# lm_head and VAE); on timeout the export is retried with 2 layers, then 1.
for n in ${layers:-8 2 1}; do
  rm -rf "$work"
  echo "[gpu-check] exporting a random real-width model with $n layer(s), fp16, on $device (5 minute limit)"
  if timeout 300 "$PY" models/export/check_real_width.py --layers "$n" --device "$device" --export-only --keep "$work"; then
    exec "$TSX" bench/gpu-check.ts "$work/bundle"
  fi
  echo "[gpu-check] export with $n layer(s) did not finish in 5 minutes"
done
exit 1
