"""A loopback HTTP server (127.0.0.1 only) serving MNIST files, for the download tests.

One server for the engine's and the dataset panel's tests. It answers Range requests and,
when a test asks, misbehaves in the ways real mirrors do:

- ``corrupt``: names of files served with one flipped byte (checksum mismatch);
- ``drop_after``: name → byte count; the first fetch of that file ends after so many bytes;
- ``honour_range = False``: ignore Range headers (always a full 200 reply);
- ``gate_file``: hold that file's transfer after ``gate_after`` bytes until ``gate`` is set
  (``gate_reached`` tells the test it is held), so cancelling mid-file is deterministic.

Every request is recorded in ``requests`` as (file name, Range header or None).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CHUNK = 64 * 1024
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        server: MnistServer = self.server  # type: ignore[assignment]
        name = self.path.rsplit("/", 1)[-1]
        range_header = self.headers.get("Range")
        with server.lock:
            server.requests.append((name, range_header))
            drop_after = server.drop_after.pop(name, None)
        data = server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        if name in server.corrupt:
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        if range_header and server.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop_after is not None:
            self.wfile.write(body[:drop_after])
            self.wfile.flush()
            self.close_connection = True  # the client sees the stream end early
            return
        for offset in range(0, len(body), CHUNK):
            if name == server.gate_file and start + offset >= server.gate_after and not server.gate.is_set():
                server.gate_reached.set()
                if not server.gate.wait(30):
                    return
            try:
                self.wfile.write(body[offset:offset + CHUNK])
            except (BrokenPipeError, ConnectionResetError):
                return


class MnistServer(ThreadingHTTPServer):
    """Serves ``files`` (name → bytes) under ``url``; see the module docstring."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str | None]] = []
        self.corrupt: set[str] = set()
        self.drop_after: dict[str, int] = {}
        self.honour_range = True
        self.gate_file: str | None = None
        self.gate_after = 512 * 1024
        self.gate = threading.Event()  # set: transfers flow freely
        self.gate_reached = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/mnist/"


@contextmanager
def serving(server: MnistServer) -> Iterator[MnistServer]:
    """Run ``server`` on a thread; on exit release any gate, stop it and join the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def bypass_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy the environment names."""
    for var in _PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"
