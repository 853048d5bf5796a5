"""The QGIS provider's overhead: one scene through Processing and through the CLI.

Runs under a Python with QGIS's bindings (the system ``python3``), alternately, the
same scene through ``processing.run("roadseg:extractroads", ...)`` and through
``roadseg run`` as a plain child process, and reports each wall time and the ratio of
the medians.

    QT_QPA_PLATFORM=offscreen python3 benchmarks/qgis_provider_overhead.py \\
        --roadseg .venv/bin/roadseg [--scene ../shared/data/swellendam/...tif] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, "/usr/share/qgis/python/plugins")
sys.path.insert(0, str(ROOT / "qgis_plugin"))

from qgis.core import QgsApplication  # noqa: E402

APP = QgsApplication([], False)
APP.initQgis()

import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

Processing.initialize()
from roadseg_qgis.plugin import RoadsegPlugin  # noqa: E402
from roadseg_qgis.provider import EXECUTABLE_SETTING  # noqa: E402
from roadseg_qgis.runner import child_environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roadseg", required=True)
    parser.add_argument(
        "--scene",
        default=str(
            ROOT.parent / "shared" / "data" / "swellendam" / "3420B_2010_328_RGB_LATLNG.tif"
        ),
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plugin = RoadsegPlugin(None)
    plugin.initProcessing()
    ProcessingConfig.setSettingValue(EXECUTABLE_SETTING, args.roadseg)
    provider, cli = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "roads.gpkg"
        # Warm-up: the ONNX export is cached after the first run.
        subprocess.run(
            [args.roadseg, "-q", "run", args.scene, "--out", str(out), "--overwrite"],
            check=True,
            env=child_environment(),
        )
        for _ in range(args.rounds):
            start = time.perf_counter()
            processing.run("roadseg:extractroads", {"INPUT": args.scene, "OUTPUT": str(out)})
            provider.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(
                [args.roadseg, "-q", "run", args.scene, "--out", str(out), "--overwrite"],
                check=True,
                env=child_environment(),
            )
            cli.append(time.perf_counter() - start)
    print(f"provider: median {statistics.median(provider):.2f} s {[round(t, 2) for t in provider]}")
    print(f"CLI:      median {statistics.median(cli):.2f} s {[round(t, 2) for t in cli]}")
    print(f"provider / CLI: {statistics.median(provider) / statistics.median(cli):.3f}")
    plugin.unload()


if __name__ == "__main__":
    main()
    APP.exitQgis()
