"""Scenes read over HTTP(S) and S3 from real servers on loopback, and what each network
fault gives: one line naming the URL and the problem, a non-zero exit, nothing written.

The HTTP server (:mod:`loopback_http`) answers ``Range`` requests and injects the
faults; S3 is moto's server. Each test serves its files under names of its own, so
GDAL's per-process cache of one test never answers another's requests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
import rasterio
import rasterio.shutil
from click.testing import CliRunner
from loopback_http import LoopbackServer, closed_port

from roadseg.cli.main import cli
from roadseg.errors import (
    InputNotFoundError,
    RemoteAccessError,
    RemoteRangeError,
    RemoteUnavailableError,
)
from roadseg.io.remote import (
    describe_remote_failure,
    display_url,
    gdal_path,
    is_remote,
    network_settings,
    scene_file_name,
)

ROOT = Path(__file__).resolve().parents[1]
ROADSEG = str(Path(sys.executable).with_name("roadseg"))
SECRET = "s3cr3tV4lue"

#: Short timeouts and few retries, so that a fault ends a test in seconds.
FAST_NETWORK = {
    "GDAL_HTTP_TIMEOUT": "2",
    "GDAL_HTTP_CONNECTTIMEOUT": "2",
    "GDAL_HTTP_MAX_RETRY": "1",
    "GDAL_HTTP_RETRY_DELAY": "0.05",
}


@pytest.fixture(scope="module")
def cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 512x512 crop of the sample scene (roads on texture) as a COG with overviews."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from sample_scene import make_scene
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    image, _ = make_scene(1024, seed=0)
    folder = tmp_path_factory.mktemp("cog")
    plain = folder / "plain.tif"
    profile = dict(driver="GTiff", width=512, height=512, count=3, dtype="uint8")
    transform = rasterio.transform.from_origin(500000.0, 5500000.0, 1.0, 1.0)
    with rasterio.open(plain, "w", crs="EPSG:32633", transform=transform, **profile) as dst:
        dst.write(image[:, :512, :512])
    path = folder / "scene.tif"
    rasterio.shutil.copy(plain, path, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=256)
    return path


@pytest.fixture
def served(cog: Path, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch):
    """A loopback server over a folder holding the COG under this test's own name."""
    for key, value in FAST_NETWORK.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "www"
    root.mkdir()
    name = re.sub(r"\W", "_", request.node.name) + ".tif"
    shutil.copy(cog, root / name)
    with LoopbackServer(root) as server:
        yield server, name


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-q", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _layers(path: Path) -> dict[str, list]:
    """The geometries of each spatial layer, in a stable order."""
    return {
        layer: sorted(g.wkt for g in pyogrio.read_dataframe(path, layer=layer).geometry.normalize())
        for layer, geometry_type in pyogrio.list_layers(path)
        if geometry_type is not None
    }


# --- names and settings -----------------------------------------------------------


def test_urls_are_remote_and_map_to_gdal_network_paths() -> None:
    assert is_remote("https://h/a.tif") and is_remote("s3://b/a.tif")
    assert is_remote("/vsicurl/http://h/a.tif") and is_remote("/vsis3/b/a.tif")
    assert not is_remote("a.tif") and not is_remote(Path("/data/https/a.tif"))
    assert gdal_path("https://h/a.tif") == "/vsicurl/https://h/a.tif"
    assert gdal_path("s3://bucket/k/a.tif") == "/vsis3/bucket/k/a.tif"
    assert gdal_path("/vsis3/bucket/a.tif") == "/vsis3/bucket/a.tif"


def test_credentials_never_appear_in_a_displayed_url() -> None:
    url = f"https://user:{SECRET}@h:8443/k/a.tif?X-Amz-Signature={SECRET}&x-id=GetObject"
    shown = display_url(url)
    assert SECRET not in shown and "user" not in shown
    assert shown.startswith("https://h:8443/k/a.tif?") and "x-id=GetObject" in shown
    assert scene_file_name(url) == "a.tif"
    assert SECRET not in display_url("/vsicurl/" + url)


def test_settings_of_an_enclosing_rasterio_env_are_carried() -> None:
    # a batch worker runs a scene inside the settings its client sent
    with rasterio.Env(GDAL_HTTP_TIMEOUT="77", AWS_NO_SIGN_REQUEST="YES"):
        settings = dict(network_settings())
    assert settings["GDAL_HTTP_TIMEOUT"] == "77" and settings["AWS_NO_SIGN_REQUEST"] == "YES"


def test_a_scene_spec_never_shows_a_urls_credentials(cog: Path) -> None:
    from roadseg.raster.prepare import SceneSpec

    spec = SceneSpec(f"https://u:{SECRET}@h/a.tif?sig={SECRET}", None, (1,), None)  # type: ignore[arg-type]
    assert SECRET not in repr(spec) and "h/a.tif" in repr(spec)


def test_remote_scenes_of_one_file_name_get_names_of_their_own() -> None:
    from roadseg.batch.inputs import collect_scenes

    urls = ["https://h/2023/scene.tif", "https://h/2024/scene.tif", "s3://b/get.tif?id=1"]
    scenes = collect_scenes(urls)
    names = [scene.name for scene in scenes]
    assert names[0] == "scene" and names[1].startswith("scene-") and names[2] == "get"
    assert [scene.path for scene in scenes] == urls
    assert collect_scenes(urls)[1].name == names[1]  # stable from run to run


def test_network_settings_take_the_users_values_and_never_credentials() -> None:
    environ = {
        "GDAL_HTTP_TIMEOUT": "120",
        "AWS_NO_SIGN_REQUEST": "YES",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SECRET,
    }
    settings = dict(network_settings(environ))
    assert settings["GDAL_HTTP_TIMEOUT"] == "120"
    assert settings["AWS_NO_SIGN_REQUEST"] == "YES"
    assert settings["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("gdal_says", "kind", "words"),
    [
        ("HTTP response code: 404", InputNotFoundError, "not found on the server"),
        ("The specified key does not exist.", InputNotFoundError, "not found"),
        ("HTTP response code: 403", RemoteAccessError, "--aws-no-sign-request"),
        (
            "AWS_SECRET_ACCESS_KEY and AWS_NO_SIGN_REQUEST configuration options not defined",
            RemoteAccessError,
            "no AWS credentials",
        ),
        ("Range downloading not supported by this server!", RemoteRangeError, "Range"),
        ("CURL error: Could not connect to server", RemoteUnavailableError, "is it up"),
        ("CURL error: Operation timed out after 2000 ms", RemoteUnavailableError, "in time"),
        ("HTTP response code: 503", RemoteUnavailableError, "HTTP 503"),
    ],
)
def test_gdals_words_become_one_clear_error(gdal_says: str, kind: type, words: str) -> None:
    error = describe_remote_failure(
        rasterio.errors.RasterioIOError(gdal_says), f"https://h/a.tif?token={SECRET}"
    )
    assert isinstance(error, kind) and words in str(error)
    assert str(error).startswith("https://h/a.tif?token=REDACTED: ")


# --- the same result remote and local ----------------------------------------------


def test_a_remote_run_writes_what_the_local_run_writes(
    served: tuple[LoopbackServer, str], cog: Path, tmp_path: Path
) -> None:
    server, name = served
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copy(cog, tmp_path / name)  # the same file name: the COG's source tag names it
    for folder, scene in ((local, str(tmp_path / name)), (remote, server.url(name))):
        folder.mkdir()
        code, output = _run(
            ["run", scene, "--out", str(folder / "roads.gpkg"), "--prob-out", str(folder / "p.tif")]
        )
        assert code == 0, output
    assert (local / "p.tif").read_bytes() == (remote / "p.tif").read_bytes()
    assert _layers(local / "roads.gpkg") == _layers(remote / "roads.gpkg")
    assert len(_layers(remote / "roads.gpkg")["roads"]) > 0
    # read by ranges: the header, the overviews of the statistics and the tiles
    assert all(r.range or r.method == "HEAD" for r in server.gets())


def test_evaluate_scores_remote_files_as_local_ones(
    served: tuple[LoopbackServer, str], cog: Path, tmp_path: Path
) -> None:
    server, name = served
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from sample_scene import make_scene
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    _, mask = make_scene(1024, seed=0)
    with rasterio.open(cog) as src:
        profile = dict(driver="GTiff", width=512, height=512, count=1, dtype="uint8")
        with rasterio.open(
            server.root / "mask.tif", "w", crs=src.crs, transform=src.transform, **profile
        ) as dst:
            dst.write(mask[:512, :512].astype("uint8")[None])
    prob, roads = server.root / "p.tif", server.root / "roads.gpkg"
    code, output = _run(
        ["run", str(server.root / name), "--out", str(roads), "--prob-out", str(prob)]
    )
    assert code == 0, output
    local = _run(["evaluate", str(prob), str(server.root / "mask.tif")])
    remote = _run(["evaluate", server.url("p.tif"), server.url("mask.tif")])
    assert local[0] == remote[0] == 0 and local[1] == remote[1], remote[1]
    local = _run(["evaluate", str(roads), str(roads)])
    remote = _run(["evaluate", server.url("roads.gpkg"), str(roads)])
    assert local[0] == remote[0] == 0 and local[1] == remote[1], remote[1]
    code, output = _run(["evaluate", server.url("nothing.tif"), str(server.root / "mask.tif")])
    assert code == 1 and "not found on the server" in output, output


def test_a_gdal_network_path_and_a_preview_work_too(
    served: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    server, name = served
    out = tmp_path / "roads.gpkg"
    code, output = _run(
        [
            "run",
            "/vsicurl/" + server.url(name),
            "--out",
            str(out),
            "--preview",
            str(tmp_path / "p.png"),
        ]
    )
    assert code == 0, output
    assert out.is_file() and (tmp_path / "p.png").is_file()


def test_no_credential_reaches_the_log_or_the_geopackage(
    served: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    server, name = served
    url = server.url(name).replace("://", f"://user:{SECRET}@") + f"?X-Amz-Signature={SECRET}"
    out = tmp_path / "roads.gpkg"
    result = CliRunner().invoke(cli, ["-v", "run", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert SECRET.encode() not in out.read_bytes()


# --- faults -------------------------------------------------------------------------

FAULTS = {
    "server down": ({}, "cannot be reached"),
    "404": ({"status": 404}, "not found on the server (HTTP 404)"),
    "403": ({"status": 403}, "access denied (HTTP 403)"),
    "503 every time": ({"status": 503}, "the server failed (HTTP 503)"),
    "no Range": ({"ignore_range": True}, "ignores HTTP Range requests"),
    "timeout": ({"delay": 4.0, "skip": 1}, "time"),
    "dropped every time": ({"drop_after": 1000, "skip": 1}, "dropped or timed out"),
    "changed during the run": ({"replace_after": 2}, "changed on the server"),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_a_fault_ends_the_run_with_one_line_and_nothing_written(
    case: str, served: tuple[LoopbackServer, str], cog: Path, tmp_path: Path
) -> None:
    server, name = served
    settings, words = FAULTS[case]
    if case == "changed during the run":
        other = bytearray(cog.read_bytes())
        other[len(other) // 2 :] = bytes(len(other) - len(other) // 2)  # tiles lost
        settings = {**settings, "replacement": bytes(other[:-4096])}
    url = f"http://127.0.0.1:{closed_port()}/{name}" if case == "server down" else server.url(name)
    url += f"?X-Amz-Signature={SECRET}"  # a signed URL: its secret is never shown
    server.fault(name, **settings)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, output = _run(["run", url, "--out", str(out_dir / "roads.gpkg")])
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert code == 1, output
    assert len(lines) == 1 and display_url(url) in lines[0] and words in lines[0], output
    assert SECRET not in output
    assert sorted(os.listdir(out_dir)) == []


@pytest.mark.parametrize(
    "settings",
    [{"drop_after": 1000, "skip": 1, "times": 1}, {"status": 503, "times": 1}],
    ids=["a transfer dropped once", "HTTP 503 once"],
)
def test_a_fault_that_passes_is_retried(
    settings: dict, served: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    server, name = served
    server.fault(name, **settings)
    code, output = _run(["run", server.url(name), "--out", str(tmp_path / "roads.gpkg")])
    assert code == 0, output
    assert (tmp_path / "roads.gpkg").is_file()


# --- batches ------------------------------------------------------------------------


def test_a_batch_goes_on_past_a_bad_remote_scene_and_retries_it_next_time(
    served: tuple[LoopbackServer, str], cog: Path, tmp_path: Path
) -> None:
    server, name = served
    shutil.copy(cog, server.root / "second.tif")
    manifest = tmp_path / "scenes.txt"
    manifest.write_text(f"{server.url(name)}\n{server.url('second.tif')}\n")
    out_dir = tmp_path / "out"
    server.fault("second.tif", status=404)
    args = ["batch", "--manifest", str(manifest), "--out-dir", str(out_dir), "--workers", "1"]
    code, output = _run([*args, "--retries", "0"])
    assert code == 1 and "1 of 2 scenes failed" in output, output
    assert (out_dir / f"{Path(name).stem}.gpkg").is_file()
    assert not (out_dir / "second.gpkg").exists()
    server.clear()
    code, output = _run([*args, "--retries", "0"])
    assert code == 0, output
    assert (out_dir / "second.gpkg").is_file()
    records = [
        json.loads(line) for line in (out_dir / "batch-record.jsonl").read_text().splitlines()
    ]
    last = {r["scene"]: r["status"] for r in records}
    assert last == {Path(name).stem: "skipped", "second": "done"}
    assert all(r["input"].startswith("http://127.0.0.1:") for r in records)


# --- HTTPS and S3 -------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_with_a_certificate_the_run_is_told_to_trust(
    cog: Path, tmp_path: Path, monkeypatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    for k, v in FAST_NETWORK.items():
        monkeypatch.setenv(k, v)
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(cog, root / "tls.tif")
    with LoopbackServer(root, https=(cert, key)) as server:
        untrusted = tmp_path / "untrusted.gpkg"
        code, output = _run(["run", server.url("tls.tif"), "--out", str(untrusted)])
        assert code == 1 and "certificate" in output and "CURL_CA_BUNDLE" in output, output
        assert not untrusted.exists()
        monkeypatch.setenv("CURL_CA_BUNDLE", str(cert))
        code, output = _run(
            ["run", server.url("tls.tif") + "?v=2", "--out", str(tmp_path / "r.gpkg")]
        )
        assert code == 0, output


@pytest.fixture
def s3_server(cog: Path, monkeypatch):
    """moto's S3 server on loopback, with a private and a public bucket holding the COG."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        s3 = boto3.client(
            "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1", **credentials
        )
        s3.create_bucket(Bucket="private")
        s3.create_bucket(Bucket="public", ACL="public-read")
        s3.upload_file(str(cog), "private", "scenes/scene.tif")
        s3.upload_file(str(cog), "public", "scenes/scene.tif", ExtraArgs={"ACL": "public-read"})
        for key, value in FAST_NETWORK.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_S3_ENDPOINT", f"{host}:{port}")
        monkeypatch.setenv("AWS_HTTPS", "NO")
        monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        for key in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "AWS_NO_SIGN_REQUEST",
        ):
            monkeypatch.delenv(key, raising=False)
        yield
    finally:
        server.stop()


def test_s3_scenes_with_credentials_and_from_a_public_bucket(
    s3_server: None, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    private = ["-v", "run", "/vsis3/private/scenes/scene.tif", "--out", str(tmp_path / "a.gpkg")]
    code, output = _run(private)
    assert code == 0, output
    assert SECRET not in output and SECRET.encode() not in (tmp_path / "a.gpkg").read_bytes()
    code, output = _run(["run", "s3://private/nothing.tif", "--out", str(tmp_path / "b.gpkg")])
    assert code == 1 and "not found" in output, output
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    public = ["run", "s3://public/scenes/scene.tif", "--out", str(tmp_path / "c.gpkg")]
    code, output = _run([*public, "--aws-no-sign-request"])
    assert code == 0, output  # unsigned requests to a public bucket
    assert _layers(tmp_path / "a.gpkg") == _layers(tmp_path / "c.gpkg")
    assert not (tmp_path / "b.gpkg").exists()
    # (no credentials at all: GDAL keeps the credentials it found for the process, so
    # that case is checked on GDAL's words in test_gdals_words_become_one_clear_error)


# --- nothing sent but to the scene's server ---------------------------------------


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_remote_run_connects_to_the_scenes_server_only(
    served: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    server, name = served
    trace = tmp_path / "connect.txt"
    command = ["strace", "-f", "-e", "trace=connect", "-o", str(trace), ROADSEG, "-q", "run"]
    command += [server.url(name), "--out", str(tmp_path / "r.gpkg")]
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    inet = [line for line in calls if "AF_INET" in line]
    ports = {int(p) for p in re.findall(r"sin6?_port=htons\((\d+)\)", " ".join(inet))}
    assert inet and ports == {server.port}, inet
