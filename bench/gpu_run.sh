#!/usr/bin/env bash
# Every section of `python -m bench.gpu` in one call of a lent GPU machine (10 minutes at
# most, so that a 15-minute device budget leaves time for one rerun), on JAX: the machine
# has no TensorFlow.
#
#   bash bench/gpu_run.sh [bench.gpu options…]      (they override the defaults below)
#   C3D_BENCH_TINY=1 bash bench/gpu_run.sh           a rehearsal on a CPU, tiny sizes
#                                                    (tests/test_bench.py runs it so)
#
# Wheels carried in .whl/ (see the device notes) are installed first into /tmp/site.
# Sections run one after another, each merging the JSON of the one before, so a section
# that overruns leaves the figures of those before it. Results: $OUT (the device call's
# folder; pass no --out) or bench/results, gpu-*.json; the last one holds every figure.
# C3D_BENCH_LONG_SECONDS: the generated 720p video's length (default 600: issue 23's
# 10 minutes; about 18,000 frames to write first, once, into the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"

if compgen -G ".whl/*.whl" >/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# JAX takes 75% of the GPU's memory at start by default; torch's child needs some too.
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"

out="${OUT:-bench/results}"
cache="${C3D_BENCH_CACHE:-bench/results/cache}"
if [ "${C3D_BENCH_TINY:-0}" = 1 ]; then
  sizes=(--batch-sizes 1 --repeats 1 --input-shape 16,32,32 --long-seconds 0.6
         --long-size 64x48 --e2e-batch 1 --train-batch 2 --train-steps 1)
else
  sizes=(--batch-sizes 32,64,128 --repeats 5 --long-seconds "${C3D_BENCH_LONG_SECONDS:-600}"
         --long-size 1280x720 --train-batch 16 --train-steps 10)
fi

"$python" - <<'PY' || true
import os, shutil, subprocess
print("gpu_run:", shutil.which("nvidia-smi") and subprocess.run(
    ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
    capture_output=True, text=True).stdout.strip() or "no nvidia-smi", "|", os.cpu_count(), "CPUs")
PY

status=0
merge=()
for section in model decode e2e train; do
  started=$SECONDS
  "$python" -m bench.gpu --sections "$section" "${sizes[@]}" --cache "$cache" --out "$out" \
    "${merge[@]}" "$@" || status=$?  # 1: a target missed; the next sections still run
  latest=$(ls -t "$out"/gpu-*.json 2>/dev/null | head -n 1)
  [ -n "$latest" ] && merge=(--merge "$latest")
  echo "gpu_run: $section took $((SECONDS - started)) s (exit $status)" >&2
done
echo "gpu_run: every figure in $latest" >&2
exit "$status"
