"""Hostile data files: gzip bombs, devices and FIFOs, impossible IDX headers, CSV labels that
overflow, quoted commas. Every one gets a DataError sentence, in bounded time and memory.

The bombs and the Hypothesis property (tests/core/hostile_data.py) run in a subprocess whose
address space is capped at 1 GiB with ``resource.setrlimit(RLIMIT_AS)``: a reader that
materialised a 1.25 GiB bomb would die there with MemoryError (as the readers before issue 14
did), not take the test machine down.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.data import DataError, csv_import, load_csv, load_idx, read_idx
from core.data.mnist import MnistLocation, load_mnist
from tests.core.data_fixtures import idx_bytes, small_mnist_like, write_idx
from tests.core.hostile_data import gzip_repeated, idx_header, write_bombs

REPO = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 1 << 30  # 1 GiB for the whole subprocess: Python, NumPy, Hypothesis and the reader


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict:
    return write_bombs(tmp_path_factory.mktemp("bombs"))


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS caps the address space on Linux only")
def test_bombs_and_random_files_give_only_data_error_in_bounded_memory(bombs):
    folder = next(iter(bombs.values()))[1].parent
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "tests.core.hostile_data", str(ADDRESS_SPACE), str(folder), "300"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["property"] == "passed", done.stdout[-3000:] + done.stderr[-3000:]
    for name, result in report["bombs"].items():
        assert result["outcome"].startswith("DataError: "), f"{name}: {result['outcome']}"
        assert result["cpu_seconds"] < 5, f"{name} took {result['cpu_seconds']:.1f} s of CPU"
    outcomes = {name: r["outcome"] for name, r in report["bombs"].items()}
    assert "IDX files of up to 512 MiB" in outcomes["honest-header.idx.gz"]
    assert "IDX files of up to 512 MiB" in outcomes["labels-bomb.idx.gz"]
    assert "holds more than its header declares" in outcomes["small-header.idx.gz"]
    assert "CSV files of up to 256 MiB" in outcomes["rows.csv.gz"]
    assert "it is truncated" in outcomes["liar.idx"]
    # The CSV reader may hold its 256 MiB budget of text, never the 1.25 GiB.
    assert report["max_rss_kib"] < 700 * 1024, report


# -- gzip bombs, in this process (smaller, measured with tracemalloc) -----------------------------


def test_idx_gzip_bomb_over_the_budget_is_refused_without_unpacking(tmp_path):
    """An honest header declaring 600 MiB (over the 512 MiB budget) with 600 MiB of zeros:
    refused after unpacking at most the 64 MiB it counts, none of it stored."""
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(gzip_repeated(idx_header(0x08, (600, 1024, 1024)), bytes(1 << 20), 600))
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        start = time.process_time()
        with pytest.raises(DataError) as e:
            read_idx(path)
        cpu = time.process_time() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak allocation {peak:,} bytes"
    assert cpu < 3, f"{cpu:.1f} s of CPU"
    message = str(e.value)
    assert "bomb.idx.gz" in message and "629,145,616 bytes" in message and "up to 512 MiB" in message


def test_csv_gzip_bomb_is_refused_at_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 1 << 20)
    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip_repeated(b"a,label\n", b"0,1\n" * (1 << 16), 64))  # 16 MiB of text
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"rows\.csv\.gz: the file unpacks to more than 1 MiB of text"):
            load_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, f"peak allocation {peak:,} bytes"


def test_csv_larger_than_the_budget_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 1000)
    path = tmp_path / "big.csv"
    path.write_text("a,label\n" + "0,1\n1,0\n" * 200)
    with pytest.raises(DataError, match=r"big\.csv: the file holds more than 1,000 bytes of text"):
        load_csv(path)
    path.write_text("a,label\n" + "0,1\n1,0\n" * 100)  # 808 bytes: within the budget
    assert load_csv(path)[0].shape == (200, 1)


def test_gzip_members_concatenated_and_zero_padding_are_read(tmp_path):
    x, _y = small_mnist_like(6)
    data = idx_bytes(x)
    path = tmp_path / "two-members.gz"
    path.write_bytes(gzip.compress(data[:100]) + gzip.compress(data[100:]) + bytes(50))
    assert np.array_equal(read_idx(path), x)
    path.write_bytes(gzip.compress(data) + b"garbage")
    with pytest.raises(DataError, match="unexpected data after the gzip data"):
        read_idx(path)


# -- not regular files -------------------------------------------------------------------------


def _refused_within(seconds: float, read, path) -> str:
    """The DataError message of ``read(path)``; fails when it takes longer than ``seconds``
    (a FIFO made the old readers wait for a writer for ever)."""
    outcome: list = []

    def run():
        try:
            read(path)
            outcome.append("accepted")
        except BaseException as e:  # broad on purpose: reported below
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"reading {path} did not finish within {seconds} s"
    assert isinstance(outcome[0], DataError), repr(outcome[0])
    return str(outcome[0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX feature")
@pytest.mark.parametrize("read", [read_idx, load_csv, lambda p: load_idx(p, p)], ids=["idx", "csv", "idx-pair"])
def test_fifo_is_refused_without_waiting(tmp_path, read):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused_within(5, read, fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("read", [read_idx, load_csv], ids=["idx", "csv"])
def test_endless_device_is_refused(read):
    assert "not a regular file" in _refused_within(5, read, "/dev/zero")


# -- IDX headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("ndim", [65, 255])
def test_idx_with_more_than_64_dimensions_is_a_data_error(tmp_path, compress, ndim):
    data = idx_header(0x08, (2,) + (1,) * (ndim - 1)) + bytes(2)
    path = tmp_path / "many-dims"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError, match=rf"many-dims: the IDX header declares {ndim} dimensions but at most 64"):
        read_idx(path)


def test_idx_with_64_dimensions_still_reads(tmp_path):
    path = tmp_path / "64-dims"
    path.write_bytes(idx_header(0x08, (2,) + (1,) * 63) + bytes([7, 9]))
    assert read_idx(path).reshape(-1).tolist() == [7, 9]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dims, words", [((0, 28, 28), "holds 0 samples"), ((5, 0, 28), "each sample holds 0 values"),
                                         ((0,), "holds 0 samples")])
def test_idx_without_samples_or_with_empty_samples_is_refused(tmp_path, compress, dims, words):
    path = tmp_path / "empty-set"
    path.write_bytes(gzip.compress(idx_header(0x08, dims)) if compress else idx_header(0x08, dims))
    with pytest.raises(DataError, match=rf"empty-set: the file {words}|empty-set: {words}") as e:
        read_idx(path)
    assert "×" in str(e.value) or dims == (0,)


def test_idx_pair_with_zero_samples_is_refused(tmp_path):
    images = write_idx(tmp_path / "images", np.zeros((0, 28, 28), np.uint8))
    labels = write_idx(tmp_path / "labels", np.zeros((0,), np.uint8))
    with pytest.raises(DataError, match="images: the file holds 0 samples"):
        load_idx(images, labels)


# -- CSV labels and quoted commas ---------------------------------------------------------------------


@pytest.mark.parametrize("label", ["1e19", "1e30", "-1e30", "10000000000000000001", "9007199254740993"])
@pytest.mark.parametrize("quoted", [False, True])  # the fast (np.loadtxt) and the careful path
def test_csv_huge_whole_number_label_is_a_clear_error(tmp_path, label, quoted):
    first = '"0.5"' if quoted else "0.5"
    path = tmp_path / "huge.csv"
    path.write_text(f"x,label\n{first},1\n0.25,{label}\n0.75,2\n")
    with pytest.raises(DataError) as e:
        load_csv(path)
    message = str(e.value)
    assert f"huge.csv, line 3, column 2: the label '{label}' is too large for a class number" in message


def test_csv_labels_up_to_2_53_are_classes(tmp_path):
    path = tmp_path / "big-ok.csv"
    path.write_text("x,label\n0.5,9007199254740992\n0.25,-9007199254740992\n0.75,3\n")
    _x, y, names = load_csv(path)
    assert names == ("-9007199254740992", "3", "9007199254740992") and y.tolist() == [2, 0, 1]


def test_csv_quoted_label_keeps_its_comma_in_semicolon_file(tmp_path):
    path = tmp_path / "spreadsheet.csv"
    path.write_text('height;weight;kind\n1,5;2;"small, round"\n2,5;3;"big, square"\n3;4,25;"small, round"\n',
                    encoding="utf-8")
    x, y, names = load_csv(path)
    assert names == ("big, square", "small, round")
    assert y.tolist() == [1, 0, 1]
    assert x.tolist() == [[1.5, 2.0], [2.5, 3.0], [3.0, 4.25]]


def test_csv_quoted_header_name_keeps_its_comma(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text('a;"size, cm";"kind, name"\n1,5;2;x\n2;3,5;y\n')
    x, _y, names = load_csv(path, label_column="kind, name")
    assert names == ("x", "y") and x.tolist() == [[1.5, 2.0], [2.0, 3.5]]


# -- MNIST npz ----------------------------------------------------------------------------------------


def test_mnist_npz_member_declaring_a_huge_array_is_refused_from_its_header(tmp_path):
    path = tmp_path / "mnist.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8))
    header["shape"] = (10**9, 28, 28)
    with zipfile.ZipFile(path, "w") as archive:
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, header)
        archive.writestr("x_train.npy", member.getvalue() + bytes(100))
        for key in ("y_train", "x_test", "y_test"):
            member = io.BytesIO()
            np.save(member, np.zeros(3, np.uint8))
            archive.writestr(f"{key}.npy", member.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(DataError,
                           match=r"x_train has shape \(1000000000, 28, 28\) but \(60000, 28, 28\) is expected"):
            load_mnist(MnistLocation("npz", (path,), "test"), use_disk_cache=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def _npz_with_lying_member(path: Path, key: str, shape: tuple[int, ...], others: dict[str, np.ndarray]) -> Path:
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8))
    header["shape"] = shape
    with zipfile.ZipFile(path, "w") as archive:
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, header)
        archive.writestr(f"{key}.npy", member.getvalue() + bytes(100))
        for name, array in others.items():
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr(f"{name}.npy", member.getvalue())
    return path


def test_read_npz_checks_headers_before_reading(tmp_path):
    from core.data.npz import read_npz

    wanted = {"images": ((None, 28, 28), "iu"), "labels": ((None,), "iu")}
    good = tmp_path / "good.npz"
    np.savez(good, images=np.ones((3, 28, 28), np.uint8), labels=np.arange(3))
    arrays = read_npz(good, wanted)
    assert arrays["images"].shape == (3, 28, 28) and arrays["labels"].tolist() == [0, 1, 2]

    huge = _npz_with_lying_member(tmp_path / "huge.npz", "images", (10**9, 28, 28), {"labels": np.arange(3)})
    with pytest.raises(DataError, match=r"images declares 784,000,000,000 bytes, more than the 512 MiB"):
        read_npz(huge, wanted)
    short = _npz_with_lying_member(tmp_path / "short.npz", "images", (2, 28, 28), {"labels": np.arange(2)})
    with pytest.raises(DataError, match=r"images holds 100 bytes of data but its header declares 1,568"):
        read_npz(short, wanted)
    floats = tmp_path / "floats.npz"
    np.savez(floats, images=np.ones((3, 28, 28)), labels=np.arange(3))
    with pytest.raises(DataError, match="images holds float64 values"):
        read_npz(floats, wanted)
    with pytest.raises(DataError, match="cannot be read as"):
        read_npz(_garbage(tmp_path), wanted)


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return path


def test_data_file_problem_names_what_must_not_be_read(tmp_path):
    """The stat-only check the document runs before loading an imported dataset's files."""
    from core.data import MAX_DATA_FILE_BYTES, data_file_problem

    good = tmp_path / "good.csv"
    good.write_text("x,label\n1,0\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.idx"
    with open(huge, "wb") as f:
        f.truncate(MAX_DATA_FILE_BYTES + 1)  # sparse: no disk space used
    assert data_file_problem(good) is None
    assert data_file_problem(tmp_path / "gone.csv") == f"{tmp_path / 'gone.csv'} does not exist"
    assert data_file_problem(tmp_path) == f"{tmp_path} is a folder"
    assert data_file_problem("/dev/zero") == "/dev/zero is not a regular file"
    assert data_file_problem(empty) == f"{empty} is empty"
    assert data_file_problem(huge).startswith(f"{huge} is larger") and "512 MiB" in data_file_problem(huge)
    assert data_file_problem("bad\0name").startswith("bad\0name cannot be read")
