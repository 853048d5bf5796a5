"""Shared fixtures: small synthetic georeferenced rasters and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from real_data import SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder, or skip the test with the reason."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set ROADSEG_SHARED_DATA to use it)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow untrained ResUNet checkpoint, for batch and pipeline tests."""
    from batch_helpers import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def process_cluster():
    """A real dask scheduler and two worker processes on loopback."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """ONNX exports made by the tests go to a temporary folder, not the user's cache."""
    if "ROADSEG_CACHE_DIR" not in os.environ:
        os.environ["ROADSEG_CACHE_DIR"] = str(tmp_path_factory.mktemp("roadseg-cache"))
