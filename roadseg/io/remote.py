"""Scenes on web servers and object stores: their names, GDAL's network settings, faults.

A scene may be given as ``https://``, ``http://`` or ``s3://`` URL, or in GDAL's own
``/vsicurl/`` and ``/vsis3/`` forms (a QGIS layer's source uses those). GDAL reads such
a Cloud-Optimised GeoTIFF by HTTP ``Range`` requests: only the header, the overviews
the statistics need and the tiles of each block travel.

The settings that make those reads efficient and bounded (:data:`NETWORK_DEFAULTS`)
live here and nowhere else. They are applied with :func:`network_env`, in the client
and, carried in :class:`~roadseg.raster.prepare.SceneSpec`, in every Dask worker
(workers do not inherit the client's environment). A setting the user exported
(``GDAL_HTTP_TIMEOUT=120``) wins over the default. Credentials are never carried: GDAL
reads them from each process's own environment (``AWS_ACCESS_KEY_ID``, ...), and URLs
are shown without user, password or signed query strings (:func:`display_url`).

Network failures become roadseg errors that name the URL and the problem
(:func:`describe_remote_failure`); those a retry can fix are
:class:`~roadseg.errors.RemoteUnavailableError`, which a batch retries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from roadseg.errors import (
    InputNotFoundError,
    InvalidInputError,
    RemoteAccessError,
    RemoteRangeError,
    RemoteUnavailableError,
    RoadsegError,
    SceneChangedError,
    UnreadableInputError,
)
from roadseg.io.urls import display_url, gdal_path, is_remote, redact, scene_file_name

__all__ = [
    "check_unchanged",
    "describe_remote_failure",
    "display_url",
    "gdal_path",
    "is_remote",
    "network_env",
    "network_settings",
    "scene_file_name",
    "web_validators",
    "with_retries",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: GDAL settings for reading scenes over the network. ``EMPTY_DIR``: do not list the
#: "folder" of a URL on open (a request per sibling file on some servers); merged
#: consecutive ranges and HTTP/2 multiplexing: fewer, larger requests; ``VSI_CACHE``: a
#: bounded per-file cache, so that the overlap of neighbouring blocks is fetched once;
#: bounded timeouts and retries (GDAL retries HTTP 429, 500, 502, 503 and 504 itself);
#: serial multi-range reads (see below).
NETWORK_DEFAULTS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    # GDAL's default reads a block's tiles by parallel ranges that bypass its cache, so
    # the tiles neighbouring blocks share were fetched twice (a whole run asked for 1.3
    # to 2.2 times the file); serial reads go through the cache (0.9 to 1.0 times, and
    # fewer requests: benchmarks/remote_bytes.py). The few extra round trips are small
    # beside the model's time.
    "GDAL_HTTP_MULTIRANGE": "SERIAL",
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": str(32 * 2**20),
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
}

#: Settings taken from the client's environment and carried to workers with the
#: scene: how to reach the server, never who the user is (no keys, tokens or passwords).
CARRIED_FROM_ENVIRONMENT = (
    *NETWORK_DEFAULTS,
    "AWS_NO_SIGN_REQUEST",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_S3_ENDPOINT",
    "AWS_HTTPS",
    "AWS_VIRTUAL_HOSTING",
    "CURL_CA_BUNDLE",
    "GDAL_CURL_CA_BUNDLE",
    "GDAL_HTTP_UNSAFESSL",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS",
)

#: Attempts at a read that failed for a reason a retry may fix (a dropped connection,
#: a timeout), each after GDAL's own retries; the delay between them doubles from
#: ``GDAL_HTTP_RETRY_DELAY`` seconds.
READ_ATTEMPTS = 3


def network_settings(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """GDAL settings for network reads: the defaults, overridden and completed by the
    environment's values of :data:`CARRIED_FROM_ENVIRONMENT`. Sorted pairs, so that they
    travel in frozen task descriptions."""
    if environ is None:
        # The process's environment, then what an enclosing rasterio.Env sets (a batch
        # worker runs a scene inside the settings its client sent).
        environ = {**os.environ, **_active_env_options()}
    settings = dict(NETWORK_DEFAULTS)
    settings.update({k: str(environ[k]) for k in CARRIED_FROM_ENVIRONMENT if environ.get(k)})
    if settings.get("GDAL_CURL_CA_BUNDLE") == _default_ca_bundle():
        # rasterio's own choice for this machine, not the user's: another machine's
        # GDAL finds its own.
        del settings["GDAL_CURL_CA_BUNDLE"]
    if "CURL_CA_BUNDLE" in settings:
        # rasterio points GDAL_CURL_CA_BUNDLE, which GDAL prefers, at certifi's bundle
        # (in the environment too): the user's curl setting would be ignored.
        settings["GDAL_CURL_CA_BUNDLE"] = settings["CURL_CA_BUNDLE"]
    return tuple(sorted(settings.items()))


@contextlib.contextmanager
def network_env(settings: tuple[tuple[str, str], ...] | None = None) -> Iterator[None]:
    """Apply network settings (default: :func:`network_settings`) for GDAL reads."""
    import rasterio

    with rasterio.Env(**dict(settings if settings is not None else network_settings())):
        yield


@contextlib.contextmanager
def vector_network_env(settings: tuple[tuple[str, str], ...] | None = None) -> Iterator[None]:
    """:func:`network_env` for vector reads: pyogrio carries a GDAL of its own, whose
    settings rasterio's Env does not reach; they are restored afterwards."""
    import pyogrio

    wanted = dict(settings if settings is not None else network_settings())
    before = {key: pyogrio.get_gdal_config_option(key) for key in wanted}
    pyogrio.set_gdal_config_options(wanted)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def _gdal_words(exc: BaseException) -> str:
    """GDAL's most telling words in an exception chain, on one line."""
    words = []
    current: BaseException | None = exc
    while current is not None and len(words) < 8:
        text = " ".join(str(current).split())
        if text and "previous exception" not in text:
            words.append(text)
        current = current.__cause__ or current.__context__
    return redact(words[-1]) if words else type(exc).__name__


#: S3's error codes and messages, as GDAL passes them on, and the HTTP status they mean.
_S3_ERRORS = (
    (404, re.compile(r"NoSuchKey|NoSuchBucket|does not exist", re.I)),
    (403, re.compile(r"AccessDenied|Access Denied|InvalidAccessKeyId|SignatureDoesNotMatch", re.I)),
)


def _http_status(text: str) -> int | None:
    found = re.search(r"HTTP (?:response )?code:? (\d{3})", text)
    return int(found.group(1)) if found else None


def describe_remote_failure(exc: BaseException, path: str | os.PathLike[str]) -> RoadsegError:
    """The roadseg error for a failed open or read of a remote scene."""
    url = display_url(path)
    words = _gdal_words(exc)
    status = _http_status(words)
    if status is None:  # object stores answer in words (S3's error codes)
        status = next((code for code, pattern in _S3_ERRORS if pattern.search(words)), None)
    if "AWS_NO_SIGN_REQUEST" in words or "credentials not filled" in words:
        return RemoteAccessError(
            f"{url}: no AWS credentials; for a public bucket give --aws-no-sign-request, "
            "otherwise set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    if status == 404:
        return InputNotFoundError(f"{url}: not found on the server (HTTP 404); check the URL")
    if status in (401, 403):
        return RemoteAccessError(
            f"{url}: access denied (HTTP {status}); for a public bucket give "
            "--aws-no-sign-request, otherwise set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or renew the signed URL"
        )
    if "Range downloading not supported" in words or status == 416:
        return RemoteRangeError(
            f"{url}: the server ignores HTTP Range requests, so the scene cannot be read "
            "in parts; download it (curl -o scene.tif URL) and run on the copy"
        )
    lowered = words.lower()
    if "could not connect" in lowered or "failed to connect" in lowered:
        problem = "the server cannot be reached (connection refused); is it up?"
    elif "resolve" in lowered:
        problem = "the server's name cannot be resolved; check the URL and the network"
    elif "timed out" in lowered or "timeout" in lowered:
        problem = "the server did not answer in time (GDAL_HTTP_TIMEOUT)"
    elif status is not None:
        problem = f"the server failed (HTTP {status})"
    elif "decod" in lowered or "corrupt" in lowered or "not a tiff" in lowered:
        return UnreadableInputError(
            f"{url}: could not be read ({words}); the file on the server is corrupt"
        )
    elif "ssl" in lowered or "certificate" in lowered:
        return RemoteAccessError(
            f"{url}: the server's certificate is not trusted ({words}); give the CA "
            "bundle that signs it with CURL_CA_BUNDLE=ca.pem"
        )
    else:
        problem = f"a read failed ({words}): the connection dropped or timed out"
    return RemoteUnavailableError(f"{url}: {problem}; try again later")


def web_validators(path: str | os.PathLike[str]) -> tuple[str, ...] | None:
    """What a web server says identifies a file's version: its ``ETag``,
    ``Last-Modified`` and size, from a one-byte ``Range`` request (which a signed
    ``GET`` URL allows, unlike ``HEAD``). ``None`` for ``s3://`` and other non-web
    scenes, whose header fingerprint alone is compared.

    Raises:
        RemoteUnavailableError: the server did not answer.
    """
    import base64
    import ssl
    import urllib.request

    url = os.fspath(path).removeprefix("/vsicurl/")
    if not url.startswith(("http://", "https://")):
        return None
    settings = dict(network_settings())
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    request = urllib.request.Request(
        urlunsplit((parts.scheme, host, parts.path, parts.query, "")),
        headers={"Range": "bytes=0-0"},
    )
    if parts.username is not None:  # curl sends URL credentials as basic auth: so do we
        token = f"{parts.username}:{parts.password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    context = None
    if parts.scheme == "https":
        if settings.get("GDAL_HTTP_UNSAFESSL", "").upper() in ("YES", "TRUE", "ON", "1"):
            context = ssl._create_unverified_context()  # the user asked GDAL for the same
        else:
            bundle = settings.get("GDAL_CURL_CA_BUNDLE") or _default_ca_bundle()
            context = ssl.create_default_context(cafile=bundle)
    try:
        with urllib.request.urlopen(
            request, timeout=float(settings["GDAL_HTTP_TIMEOUT"]), context=context
        ) as answer:
            answer.read(1)
            headers = answer.headers
    except Exception as exc:  # urllib raises many kinds; all mean "no answer now"
        raise RemoteUnavailableError(
            f"{display_url(path)}: the server could not be asked for the file's version ({exc})"
        ) from None
    size = (headers.get("Content-Range") or "").rpartition("/")[2] or headers.get(
        "Content-Length", ""
    )
    return (headers.get("ETag", ""), headers.get("Last-Modified", ""), size)


def _active_env_options() -> dict[str, str]:
    """The options of the rasterio.Env in force, if any."""
    from rasterio.env import getenv, hasenv

    return {str(k): str(v) for k, v in getenv().items()} if hasenv() else {}


def _default_ca_bundle() -> str | None:
    """The CA bundle GDAL uses when none is set (rasterio points it at certifi's)."""
    with contextlib.suppress(ImportError):
        import certifi

        return certifi.where()
    return None


def fresh_reads(path: str | os.PathLike[str]) -> dict[str, str]:
    """GDAL settings that bypass (and so drop) GDAL's cache of a remote file: after a
    failed transfer the cache may hold what the server never sent."""
    return {"CPL_VSIL_CURL_NON_CACHED": gdal_path(path)}


def with_retries(
    read: Callable[[], T],
    path: str | os.PathLike[str],
    *,
    fingerprint: Callable[[], object] | None = None,
    expected: object = None,
) -> T:
    """Run ``read`` (which opens and reads ``path``), retrying failures a retry can fix.

    A local scene is read once. For a remote one, a failure that is not the server's
    final word (404, 403, no ``Range``) is retried up to :data:`READ_ATTEMPTS` times,
    bypassing GDAL's cache, with a doubling delay. When ``fingerprint`` is given and
    returns something else than ``expected`` after a failure, the file changed on the
    server: :class:`~roadseg.errors.SceneChangedError`.

    Raises:
        RoadsegError: the failure as :func:`describe_remote_failure` names it.
    """
    import rasterio
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    if not is_remote(path):
        return read()
    delay = float(dict(network_settings()).get("GDAL_HTTP_RETRY_DELAY", "1"))
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            if attempt == 1:
                return read()
            with rasterio.Env(**fresh_reads(path)):
                return read()
        except (RasterioError, CPLE_BaseError, InvalidInputError, RemoteUnavailableError) as exc:
            if isinstance(exc, RemoteUnavailableError):  # an open that did not get through
                error = exc
            elif not isinstance(exc, InvalidInputError):
                error = describe_remote_failure(exc, path)
            elif attempt > 1 and type(exc) is InvalidInputError:
                # It opened before, so a header that is "not a raster" did not arrive.
                error = RemoteUnavailableError(
                    f"{display_url(path)}: the server stopped answering during the run "
                    "(the connection dropped or timed out); try again later"
                )
            else:
                raise
            if fingerprint is not None:
                check_unchanged(path, fingerprint, expected)
            if not isinstance(error, RemoteUnavailableError) or attempt == READ_ATTEMPTS:
                raise error from exc
            log.warning("%s (attempt %d of %d)", error, attempt, READ_ATTEMPTS)
            time.sleep(delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def check_unchanged(
    path: str | os.PathLike[str], fingerprint: Callable[[], object], expected: object
) -> None:
    """Raise :class:`~roadseg.errors.SceneChangedError` when the file on the server is
    no longer the one the run started with (read past GDAL's cache)."""
    import rasterio

    try:
        with rasterio.Env(**fresh_reads(path)):
            now = fingerprint()
    except Exception:  # the server cannot be asked now: the caller reports its failure
        return
    if now != expected:
        raise SceneChangedError(
            f"{display_url(path)}: the file changed on the server during the run; "
            "nothing was written; run again once it is stable"
        )
