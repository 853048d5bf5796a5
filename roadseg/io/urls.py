"""Names of remote scenes: which paths are URLs, what GDAL opens, what may be shown.

Plain string functions, free of GDAL, so that any layer may ask whether a path is
remote; reading remote scenes is :mod:`roadseg.io.remote`'s.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: How a remote scene may be written, and GDAL's virtual file system for each.
URL_SCHEMES = ("http://", "https://", "s3://")
VSI_PREFIXES = ("/vsicurl/", "/vsicurl?", "/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/")

#: Query keys whose values are secrets (signed URLs of S3, Azure, Google, tokens).
_SECRET_QUERY = re.compile(r"(sig|signature|token|credential|key|secret|password|auth)", re.I)


def is_remote(path: str | os.PathLike[str]) -> bool:
    """Whether a scene is read over the network (a URL or a GDAL network path)."""
    text = os.fspath(path)
    return text.startswith(URL_SCHEMES) or text.startswith(VSI_PREFIXES)


def gdal_path(path: str | os.PathLike[str]) -> str:
    """The name GDAL opens: ``/vsicurl/`` for web URLs, ``/vsis3/`` for ``s3://``.

    ``s3://`` goes straight to GDAL's ``/vsis3/`` (rather than through rasterio's AWS
    session, which needs boto3), so credentials and endpoints work as in ``gdalinfo``.
    """
    text = os.fspath(path)
    if text.startswith(("http://", "https://")):
        return "/vsicurl/" + text
    if text.startswith("s3://"):
        return "/vsis3/" + text.removeprefix("s3://")
    return text


def display_url(path: str | os.PathLike[str]) -> str:
    """A scene's name fit for messages, logs and records: a URL without its user,
    password and secret query values; a local path unchanged."""
    text = os.fspath(path)
    if not is_remote(text):
        return text
    if text.startswith("/vsicurl?"):  # GDAL's options form: url=...&header.X=...
        options = parse_qsl(text.removeprefix("/vsicurl?"), keep_blank_values=True)
        return "/vsicurl?" + urlencode(
            [
                (key, display_url(value) if key == "url" else _shown_value(key, value))
                for key, value in options
            ]
        )
    prefix = ""
    if text.startswith("/vsicurl/"):
        prefix, text = "/vsicurl/", text.removeprefix("/vsicurl/")
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return prefix + text
    host = parts.netloc.rpartition("@")[2]  # without user and password (IPv6 kept)
    query = urlencode(
        [
            (key, _shown_value(key, value))
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return prefix + urlunsplit((parts.scheme, host, parts.path, query, ""))


def _shown_value(key: str, value: str) -> str:
    return "REDACTED" if _SECRET_QUERY.search(key) else value


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_PARAMETER = re.compile(
    r"(?P<key>[?&][^=&\s]*(?:sig|signature|token|credential|key|secret|password|auth)"
    r"[^=&\s]*=)[^&\s'\"]*",
    re.I,
)


def redact(text: str) -> str:
    """``text`` (a library's message) with the credentials of any URL in it removed:
    ``user:password@`` and the values of secret query parameters."""
    return _SECRET_PARAMETER.sub(r"\g<key>REDACTED", _USERINFO.sub("", text))


def scene_file_name(path: str | os.PathLike[str]) -> str:
    """The file name of a scene, local or remote (``scene.tif`` of
    ``https://host/a/scene.tif?X-Amz-Signature=...``)."""
    text = os.fspath(path)
    if is_remote(text):
        text = urlsplit(display_url(text).removeprefix("/vsicurl/")).path or text
    return text.rstrip("/").rsplit("/", 1)[-1]
