#!/usr/bin/env bash
# Start one worker per GPU on this machine, each declaring the resource GPU=1, so that
# 'roadseg batch --device cuda' places scenes on them (and only on them).
#   start-gpu-workers.sh tcp://SCHEDULER:8786
#   GPUS (default: all, from nvidia-smi), MEMORY_LIMIT per worker (default 16GB)
# Alternative with dask-cuda (pip install dask-cuda), which pins one worker per GPU
# by itself:
#   dask cuda worker tcp://SCHEDULER:8786 --resources GPU=1 --memory-limit 16GB
set -euo pipefail
scheduler="${1:?usage: $0 tcp://SCHEDULER:8786}"
gpus="${GPUS:-$(nvidia-smi --query-gpu=index --format=csv,noheader | tr '\n' ' ')}"
pids=()
for gpu in $gpus; do
  CUDA_VISIBLE_DEVICES="$gpu" "${DASK:-dask}" worker "$scheduler" \
    --nworkers 1 \
    --nthreads 1 \
    --resources GPU=1 \
    --memory-limit "${MEMORY_LIMIT:-16GB}" \
    --name "gpu${gpu}-$(hostname)" &
  pids+=("$!")
done
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
wait
