#!/usr/bin/env bash
# Start a dask scheduler for roadseg batch runs.
#   DASK_HOST (default 0.0.0.0), DASK_PORT (8786), DASK_DASHBOARD (:8787)
# Then: roadseg batch ... --scheduler tcp://THIS_HOST:8786
set -euo pipefail
exec "${DASK:-dask}" scheduler \
  --host "${DASK_HOST:-0.0.0.0}" \
  --port "${DASK_PORT:-8786}" \
  --dashboard-address "${DASK_DASHBOARD:-:8787}"
