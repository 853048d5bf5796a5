#!/usr/bin/env bash
# Start CPU workers on this machine and attach them to a scheduler.
#   start-cpu-workers.sh tcp://SCHEDULER:8786
#   N_WORKERS (default: cores / 2), MEMORY_LIMIT per worker (default 4GB),
#   OMP_NUM_THREADS (torch threads per worker, default 2)
# One thread per worker: a worker runs one scene at a time; torch uses OMP_NUM_THREADS.
set -euo pipefail
scheduler="${1:?usage: $0 tcp://SCHEDULER:8786}"
cores="$(nproc)"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "${DASK:-dask}" worker "$scheduler" \
  --nworkers "${N_WORKERS:-$(( cores / 2 > 0 ? cores / 2 : 1 ))}" \
  --nthreads 1 \
  --memory-limit "${MEMORY_LIMIT:-4GB}" \
  --name "cpu-$(hostname)"
