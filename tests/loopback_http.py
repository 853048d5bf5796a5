"""A real HTTP server on loopback that serves files by byte ranges, with injected faults.

Tests and benchmarks use it to read scenes the way GDAL reads a Cloud-Optimised
GeoTIFF from a web server or object store: ``HEAD`` and ``GET`` with ``Range``, answered
``206 Partial Content`` with ``Content-Range``, ``ETag`` and ``Last-Modified``. Every
request is logged with the bytes sent, so a test can measure what a run asked for.

Faults are set per file name with :meth:`LoopbackServer.fault`:

Counts of requests below are of ranged ``GET`` requests (reads of data).

- ``status``: answer every request with this HTTP status (404, 403, 503, ...); with
  ``times``, only the first that many ranged ``GET`` requests, then serve normally.
- ``ignore_range``: answer ``200 OK`` with the whole file whatever the ``Range``.
- ``drop_after``: on ``GET`` requests after the first ``skip`` ones, send the headers and
  this many bytes of the body, then close the connection (a dropped transfer); with
  ``times``, only that many times.
- ``delay``: sleep this many seconds before answering ``GET`` requests after the first
  ``skip`` ones (a server that stops answering: the client times out).
- ``replace_after``: after this many ``GET`` requests, serve the bytes of ``replacement``
  instead (a file that changes during a run), with a new ``ETag``.

Server down is a port nothing listens on (:func:`closed_port`).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.server
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Fault:
    """What goes wrong with one file (see the module docstring)."""

    status: int | None = None
    times: int | None = None
    ignore_range: bool = False
    drop_after: int | None = None
    delay: float | None = None
    skip: int = 0
    replacement: bytes | None = None
    replace_after: int | None = None
    gets: int = 0
    fired: int = 0


@dataclass(frozen=True)
class Request:
    """One request the server answered."""

    method: str
    path: str
    range: str | None
    status: int
    sent: int
    headers: dict[str, str] = field(default_factory=dict, compare=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server keeps its own log."""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        owner = self.server.owner
        name = self.path.split("?", 1)[0].lstrip("/")
        requested = self.headers.get("Range")
        with owner.lock:
            fault = owner.faults.get(name)
            if fault is not None and body and requested:
                fault.gets += 1  # data reads; GDAL probes a signed URL's size by a plain GET
            data, etag, mtime = owner.content(name, fault)
        failing = fault is not None and fault.status is not None
        if failing and (fault.times is None or (body and requested and fault.gets <= fault.times)):
            self._status_only(fault.status, name, requested)
            return
        if data is None:
            self._status_only(404, name, requested)
            return
        if fault is not None and body and fault.delay is not None and fault.gets > fault.skip:
            time.sleep(fault.delay)
        size = len(data)
        start, stop, partial = 0, size, False
        match = _RANGE.match(requested or "")
        if requested and match and not (fault and fault.ignore_range):
            first, last = match.groups()
            if first:
                start = int(first)
                stop = min(size, int(last) + 1) if last else size
            else:  # a suffix range: the last N bytes
                start = max(0, size - int(last))
            if start >= size:
                self._status_only(416, name, requested, extra={"Content-Range": f"bytes */{size}"})
                return
            partial = True
        status = 206 if partial else 200
        self.send_response(status)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Length", str(stop - start))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        if not (fault and fault.ignore_range):
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.end_headers()
        sent = 0
        if body:
            chunk = data[start:stop]
            drop = (
                fault is not None
                and fault.drop_after is not None
                and fault.gets > fault.skip
                and (fault.times is None or fault.fired < fault.times)
                and len(chunk) > fault.drop_after
            )
            if drop:
                assert fault is not None and fault.drop_after is not None
                with owner.lock:
                    fault.fired += 1
                chunk = chunk[: fault.drop_after]
                self.close_connection = True
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
                sent = len(chunk)
            except OSError:
                self.close_connection = True
            if drop:
                # Abort the connection: the client sees a transfer cut short.
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
        owner.record(Request(self.command, name, requested, status, sent, dict(self.headers)))

    def _status_only(
        self,
        status: int,
        name: str,
        requested: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        message = f"{status} {http.HTTPStatus(status).phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(message)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(message)
        self.server.owner.record(Request(self.command, name, requested, status, 0))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hangs up early (as GDAL does) is not the server's error."""


class LoopbackServer:
    """Serve the files of a folder on ``127.0.0.1`` in a background thread.

    Use as a context manager. ``https`` takes ``(certificate, key)`` paths.
    """

    def __init__(self, root: str | Path, *, https: tuple[Path, Path] | None = None) -> None:
        self.root = Path(root)
        self.faults: dict[str, Fault] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._https = https
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LoopbackServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        if self._https is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self._https[0]), str(self._https[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, name: str) -> str:
        """The URL of a file of the folder."""
        scheme = "https" if self._https else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{name}"

    def fault(self, name: str, **settings: Any) -> Fault:
        """Make requests for ``name`` go wrong (see the module docstring)."""
        with self.lock:
            self.faults[name] = Fault(**settings)
            return self.faults[name]

    def clear(self) -> None:
        """Serve every file normally again and forget the log."""
        with self.lock:
            self.faults.clear()
            self.requests.clear()

    def content(self, name: str, fault: Fault | None) -> tuple[bytes | None, str, float]:
        """The bytes served for ``name`` now, their ETag and modification time."""
        replaced = fault is not None and fault.replacement is not None
        if replaced and fault.replace_after is not None and fault.gets > fault.replace_after:
            data = fault.replacement
            return data, hashlib.sha1(data).hexdigest()[:16], time.time()
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            return None, "", 0.0
        data = path.read_bytes()
        return data, hashlib.sha1(data).hexdigest()[:16], path.stat().st_mtime

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def bytes_sent(self, name: str | None = None) -> int:
        """Body bytes sent, for one file or all."""
        with self.lock:
            return sum(r.sent for r in self.requests if name is None or r.path == name)

    def gets(self, name: str | None = None) -> Iterator[Request]:
        with self.lock:
            found = [r for r in self.requests if r.method == "GET"]
        return iter(r for r in found if name is None or r.path == name)


def closed_port() -> int:
    """A loopback port nothing listens on (a server that is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
