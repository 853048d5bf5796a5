"""The weights shipped in the package: present, complete, small, and they find roads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roadseg.models import available_weights, load, read_metadata, resolve_checkpoint

LITE = "resunet-lite"
MOBILE = "resunet-mobilenetv2"

#: What each shipped file must be: its architecture, working resolution(s) and size.
EXPECTED = {
    LITE: {
        "arch_kwargs": {"in_channels": 3, "num_classes": 1, "base_channels": 16},
        "gsd": (1.0, None),
        "max_parameters": 1_000_000,
    },
    MOBILE: {
        "arch_kwargs": {
            "in_channels": 3,
            "num_classes": 1,
            "base_channels": 8,
            "encoder": "mobilenet_v2",
        },
        "gsd": (0.5, 1.0),
        "max_parameters": 3_000_000,
    },
}


def test_every_shipped_file_is_described_here() -> None:
    assert set(available_weights()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_weights_load_with_complete_metadata(name: str) -> None:
    expected = EXPECTED[name]
    path = resolve_checkpoint(name)
    assert path.stat().st_size < 20e6
    assert path.with_suffix(".md").is_file(), "every shipped file has its model card"
    model, meta = load(name)
    assert meta.name == name
    assert meta.architecture == "resunet"
    assert meta.arch_kwargs == expected["arch_kwargs"]
    assert meta.band_names == ("red", "green", "blue")
    assert meta.normalization["method"] == "percentile"
    assert (meta.gsd_m, meta.max_gsd_m) == expected["gsd"]
    assert 0.05 < meta.threshold < 0.95
    for key in ("command", "split", "hardware", "training_seconds", "step"):
        assert key in meta.training, key
    # The record names data relative to the checkout, never a path of the training machine.
    assert not re.search(r"(^|[\s:=,\"'])/[A-Za-z]", str(meta.training)), meta.training
    for dataset in ("massachusetts", "deepglobe", "vegas", "paris", "shanghai", "vegas-pan"):
        assert meta.metrics["per_dataset"][dataset]["relaxed_breakeven"] > 0
    assert read_metadata(name) == meta
    assert sum(p.numel() for p in model.parameters()) < expected["max_parameters"]


def _score(name: str, source: str) -> dict:
    from roadseg.data.spec import parse_source_spec
    from roadseg.evaluation.scoring import evaluate_model

    return evaluate_model(name, [parse_source_spec(source)], device="cpu")["per_dataset"]


# Relaxed precision and recall each file must reach on held-out images. Measured:
# resunet-lite (generation 3) Shanghai 0.65 / 0.54, Vegas 0.84 / 0.92, DeepGlobe
# 0.99 / 0.95, Massachusetts 0.66 / 0.94; resunet-mobilenetv2 0.74 / 0.39, 0.85 / 0.88,
# 1.00 / 0.67, 0.84 / 0.87.
FLOORS = {
    "shanghai": {LITE: (0.5, 0.45), MOBILE: (0.6, 0.3)},
    "vegas": {LITE: (0.7, 0.85), MOBILE: (0.75, 0.8)},
    "deepglobe": {LITE: (0.85, 0.8), MOBILE: (0.9, 0.55)},
    "massachusetts": {LITE: (0.55, 0.85), MOBILE: (0.75, 0.8)},
}


def _sources(data: Path) -> dict[str, str]:
    shanghai, vegas = data / "spacenet" / "shanghai", data / "spacenet" / "vegas"
    return {
        "shanghai": f"scenes:{shanghai / 'RGB-PanSharpen'},vectors={shanghai / 'geojson'},"
        "val=img308,name=shanghai",
        "vegas": f"scenes:{vegas / 'RGB-PanSharpen'},vectors={vegas / 'geojson'},"
        "val=img699+img1521,name=vegas",
        "deepglobe": f"pairs:{data / 'deepglobe' / 'train'},gsd=0.5,val=388,name=deepglobe",
        "massachusetts": f"pairs:{data / 'massachusetts' / 'train'},gsd=1.0,nodata=255,"
        "val=10378675_15,name=massachusetts",
    }


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("held_out", sorted(FLOORS))
def test_shipped_weights_find_roads_on_held_out_images(
    shared_data: Path, name: str, held_out: str
) -> None:
    scores = _score(name, _sources(shared_data)[held_out])[held_out]
    precision, recall = FLOORS[held_out][name]
    assert scores["relaxed_precision"] > precision
    assert scores["relaxed_recall"] > recall
