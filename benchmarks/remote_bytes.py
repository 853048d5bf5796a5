"""Bytes a remote run asks the server for, against the size of the file.

Serves Cloud-Optimised GeoTIFFs from a loopback HTTP server with ``Range`` support
(``tests/loopback_http.py``) and counts the body bytes it sends for:

- ``roadseg run URL --out roads.gpkg`` over the whole scene;
- opening the scene and reading its statistics (``prepare_scene``: header, and the
  overviews the statistics are read from);
- one 512 x 512 window of the working grid, after the statistics, as a block task
  reads it.

Scenes: a synthetic 4096² RGB scene (the sample scene's generator, tiled 4x4) and,
when ``../shared/data`` is there, the Swellendam aerial scene, each turned into a COG
with GDAL's COG driver (DEFLATE, 512 px tiles, overviews).

    python benchmarks/remote_bytes.py [--data ../shared/data] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from loopback_http import LoopbackServer  # noqa: E402
from sample_scene import make_scene  # noqa: E402

from roadseg.io.remote import network_env  # noqa: E402
from roadseg.models import read_metadata, resolve_model  # noqa: E402
from roadseg.pipeline import run_scene  # noqa: E402
from roadseg.raster.prepare import prepare_scene, read_scene  # noqa: E402
from roadseg.raster.reader import read_window  # noqa: E402

WINDOW = 512


def synthetic_scene(path: Path, side: int = 4096) -> Path:
    """The sample scene's texture and roads, 1024² tiled to ``side``² at 1 m, UTM."""
    image, _ = make_scene(1024, seed=3)
    reps = side // 1024
    tiled = np.tile(image, (1, reps, reps))
    profile = dict(driver="GTiff", width=side, height=side, count=3, dtype="uint8")
    transform = from_origin(500000.0, 5500000.0, 1.0, 1.0)
    with rasterio.open(path, "w", crs="EPSG:32633", transform=transform, **profile) as dst:
        dst.write(tiled)
    return path


def to_cog(source: Path, target: Path) -> Path:
    rasterio.shutil.copy(
        source, target, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=512, OVERVIEWS="AUTO"
    )
    return target


def measure(server: LoopbackServer, name: str, folder: Path) -> dict[str, object]:
    size = (server.root / name).stat().st_size
    url = server.url(name)
    meta = read_metadata(resolve_model(None, "cpu"))
    row: dict[str, object] = {"scene": name, "file_bytes": size}

    server.clear()
    with network_env():
        _, spec = prepare_scene(
            url + "?prepare",
            in_channels=meta.in_channels,
            model_gsd_m=meta.gsd_m,
            max_gsd_m=meta.max_gsd_m,
            normalization=meta.normalization,
        )
    row["prepare_bytes"] = server.bytes_sent()
    server.clear()
    window = Window(0, 0, min(WINDOW, spec.grid.width), min(WINDOW, spec.grid.height))
    read_scene(
        spec,
        lambda src: read_window(src, spec.grid, spec.bands, spec.stats, window, spec.nodata),
    )
    row["window_512_bytes"] = server.bytes_sent()
    row["grid"] = f"{spec.grid.width}x{spec.grid.height} at {spec.grid.gsd_m:.3g} m"

    server.clear()
    run_scene(url + "?run", folder / f"{Path(name).stem}.gpkg", overwrite=True)
    row["run_bytes"] = server.bytes_sent()
    row["run_requests"] = sum(1 for _ in server.gets())
    for key in ("prepare_bytes", "window_512_bytes", "run_bytes"):
        row[key.replace("_bytes", "_ratio")] = round(int(row[key]) / size, 4)  # type: ignore[call-overload]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        www = folder / "www"
        www.mkdir()
        to_cog(synthetic_scene(folder / "synthetic.tif"), www / "synthetic-4096.tif")
        swellendam = args.data / "swellendam" / "3420B_2010_328_RGB_LATLNG.tif"
        if swellendam.is_file():
            to_cog(swellendam, www / "swellendam.tif")
        with LoopbackServer(www) as server:
            for name in sorted(p.name for p in www.iterdir()):
                rows.append(measure(server, name, folder))
    for row in rows:
        print(
            f"{row['scene']}: {int(row['file_bytes']) / 2**20:.1f} MiB, grid {row['grid']}; "  # type: ignore[call-overload]
            f"prepare {row['prepare_ratio']:.3f}, one {WINDOW}² window "
            f"{row['window_512_ratio']:.3f}, whole run {row['run_ratio']:.3f} of the file "
            f"({row['run_requests']} GET requests)"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
