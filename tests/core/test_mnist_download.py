"""download_mnist against a local HTTP server (127.0.0.1 only) serving the real MNIST files.

The server (``tests.loopback_mnist``) supports Range requests and can be told to corrupt a
file, drop the connection after N bytes the first time a file is fetched, or ignore Range
headers.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest

from core.data import MNIST_FILES, DataError, DownloadCancelled, download_mnist, load_mnist
from tests.core.data_fixtures import MNIST_GZ, TRAIN_COUNTS
from tests.loopback_mnist import MnistServer, bypass_proxies, closed_port_url, serving

TOTAL = sum(size for _, size, _ in MNIST_FILES)
OFFLINE_ADVICE = "check the connection and retry, or locate a folder that already holds mnist"


@pytest.fixture(scope="module")
def mnist_bytes(mnist_dir) -> dict[str, bytes]:
    return {name: (mnist_dir / name).read_bytes() for name in MNIST_GZ}


@pytest.fixture
def server(mnist_bytes, monkeypatch):
    bypass_proxies(monkeypatch)
    with serving(MnistServer(mnist_bytes)) as srv:
        yield srv


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.mnist
def test_checksums_are_the_published_ones(mnist_bytes):
    for name, size, digest in MNIST_FILES:
        assert len(mnist_bytes[name]) == size
        assert hashlib.sha256(mnist_bytes[name]).hexdigest() == digest


@pytest.mark.mnist
def test_download_with_progress(server, tmp_path):
    calls = []
    location = download_mnist(tmp_path / "dl", mirrors=[server.url],
                              progress=lambda done, total, name: calls.append((done, total, name)), timeout=10)
    assert location.kind == "idx" and location.folder == tmp_path / "dl"
    for (name, _, digest), path in zip(MNIST_FILES, location.paths, strict=True):
        assert path.name == name and _sha(path) == digest
    assert not list((tmp_path / "dl").glob("*.part"))
    assert len(calls) > 10
    assert all(total == TOTAL for _, total, _ in calls)
    dones = [done for done, _, _ in calls]
    assert dones == sorted(dones) and dones[-1] == TOTAL
    assert {name for _, _, name in calls} == set(MNIST_GZ)
    _x_train, y_train, _, _ = load_mnist(location)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS

    # A second call finds the verified files and downloads nothing.
    server.requests.clear()
    again = []
    download_mnist(tmp_path / "dl", mirrors=[server.url], progress=lambda *a: again.append(a))
    assert server.requests == [] and again[-1][0] == TOTAL


@pytest.mark.mnist
def test_corrupted_file_is_caught_by_checksum(server, tmp_path):
    server.corrupt.add("t10k-images-idx3-ubyte.gz")
    dest = tmp_path / "dl"
    with pytest.raises(DataError) as e:
        download_mnist(dest, mirrors=[server.url], timeout=10)
    message = str(e.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "SHA-256" in message
    assert not (dest / "t10k-images-idx3-ubyte.gz").exists()
    assert not (dest / "t10k-images-idx3-ubyte.gz.part").exists()
    assert _sha(dest / "train-images-idx3-ubyte.gz") == MNIST_FILES[0][2]  # earlier files kept


@pytest.mark.mnist
def test_corrupt_mirror_falls_back_to_next(server, tmp_path, mnist_bytes):
    with serving(MnistServer({name: data[:-1] + b"\0" for name, data in mnist_bytes.items()})) as bad:
        location = download_mnist(tmp_path / "dl", mirrors=[bad.url, server.url], timeout=10)
    assert all(_sha(p) == d for p, (_, _, d) in zip(location.paths, MNIST_FILES, strict=True))


@pytest.mark.mnist
def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    server.drop_after["train-images-idx3-ubyte.gz"] = 1_000_000
    location = download_mnist(tmp_path / "dl", mirrors=[server.url], timeout=10)
    assert _sha(location.paths[0]) == MNIST_FILES[0][2]
    fetches = [rng for name, rng in server.requests if name == "train-images-idx3-ubyte.gz"]
    assert fetches == [None, "bytes=1000000-"]


@pytest.mark.mnist
def test_server_ignoring_range_restarts(server, tmp_path):
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "train-labels-idx1-ubyte.gz.part").write_bytes(b"junk that must not survive")
    server.honour_range = False
    location = download_mnist(dest, mirrors=[server.url], timeout=10)
    assert _sha(location.paths[1]) == MNIST_FILES[1][2]
    assert ("train-labels-idx1-ubyte.gz", "bytes=26-") in server.requests


@pytest.mark.mnist
def test_cancel_keeps_part_and_next_call_resumes(server, tmp_path):
    dest = tmp_path / "dl"
    cancel = threading.Event()

    def progress(done, total, name):
        if done > 300_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_mnist(dest, mirrors=[server.url], progress=progress, cancel=cancel, timeout=10)
    part = dest / "train-images-idx3-ubyte.gz.part"
    assert part.is_file() and 300_000 < part.stat().st_size < MNIST_FILES[0][1]
    kept = part.stat().st_size
    assert not (dest / "train-images-idx3-ubyte.gz").exists()

    server.requests.clear()
    location = download_mnist(dest, mirrors=[server.url], timeout=10)
    assert _sha(location.paths[0]) == MNIST_FILES[0][2]
    assert server.requests[0] == ("train-images-idx3-ubyte.gz", f"bytes={kept}-")


@pytest.mark.mnist
def test_cancel_before_start(server, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path / "dl", mirrors=[server.url], cancel=cancel)
    assert server.requests == []


def test_offline_gives_plain_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with pytest.raises(DataError) as e:
        download_mnist(tmp_path / "dl", mirrors=[closed_port_url(), closed_port_url()], timeout=5)
    assert OFFLINE_ADVICE in str(e.value).lower()
    assert not list((tmp_path / "dl").glob("*.gz"))


@pytest.mark.mnist
def test_first_mirror_down_second_used(server, tmp_path):
    location = download_mnist(tmp_path / "dl", mirrors=[closed_port_url(), server.url], timeout=5)
    assert all(p.is_file() for p in location.paths)


@pytest.mark.mnist
def test_missing_file_on_mirror(server, tmp_path):
    del server.files["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError) as e:
        download_mnist(tmp_path / "dl", mirrors=[server.url], timeout=5)
    assert "404" in str(e.value) and OFFLINE_ADVICE in str(e.value).lower()
