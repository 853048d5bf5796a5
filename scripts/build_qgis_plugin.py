"""Build the installable QGIS plugin zip (QGIS: Plugins > Manage and Install Plugins >
Install from ZIP).

    python scripts/build_qgis_plugin.py [--out-dir dist]

Writes ``dist/roadseg_qgis-<version>.zip`` holding the ``roadseg_qgis`` folder (no
caches), the version read from the plugin's ``metadata.txt``.
"""

from __future__ import annotations

import argparse
import configparser
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "qgis_plugin" / "roadseg_qgis"


def build(out_dir: Path) -> Path:
    meta = configparser.ConfigParser()
    meta.read(PLUGIN / "metadata.txt")
    version = meta["general"]["version"]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"roadseg_qgis-{version}.zip"
    files = sorted(
        p
        for p in PLUGIN.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, Path("roadseg_qgis") / path.relative_to(PLUGIN))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist")
    print(build(parser.parse_args().out_dir))


if __name__ == "__main__":
    main()
