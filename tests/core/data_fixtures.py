"""Helpers shared by the data-package tests: IDX/CSV builders, an isolated home, MNIST access.

The ``mnist_dir`` fixture comes from tests/conftest.py (fails in CI when MNIST is missing,
skips with the reason elsewhere).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from core.data import Dataset, DatasetInfo
from core.data import mnist as mnist_module
from core.params import Param

MNIST_GZ = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
               np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray, dims: tuple[int, ...] | None = None) -> bytes:
    """IDX encoding of ``array`` (header dims may be overridden to make a lying header)."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = _TYPE_CODES[big.dtype]
    dims = array.shape if dims is None else dims
    header = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    return header + big.tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False, dims=None) -> Path:
    data = idx_bytes(array, dims)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def small_mnist_like(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28) and uint8 labels (n,) cycling 0..9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


def write_fake_idx_folder(folder: Path, compress: bool = True, n: int = 20) -> Path:
    """The four MNIST file names with small fake content (enough for discovery only)."""
    folder.mkdir(parents=True, exist_ok=True)
    x, y = small_mnist_like(n)
    suffix = ".gz" if compress else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", x, compress)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", y, compress)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", x, compress)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", y, compress)
    return folder


def write_fake_npz(path: Path, n: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x, y = small_mnist_like(n)
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    return path


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME, NNSTUDIO_HOME and working folder; no MNIST anywhere unless a test adds it.

    Returns the fake home folder.
    """
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path / "nnstudio-home"))
    for var in ("NNSTUDIO_DATA", "KERAS_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(work)
    mnist_module.clear_mnist_memory_cache()
    yield home
    mnist_module.clear_mnist_memory_cache()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def squares_dataset_entry(calls: list[dict]) -> DatasetInfo:
    """A test-only catalogue entry (``side`` × ``side`` grid points, left half against right
    half); ``calls`` records the settings each load received."""

    def load(side: int, spread: float) -> Dataset:
        calls.append({"side": side, "spread": spread})
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), axis=-1).reshape(-1, 2) * spread
        y = (np.arange(side * side) % side >= side / 2).astype(np.int64)
        return Dataset(name="squares", x=grid.astype(np.float32), y=y, class_names=("left", "right"),
                       input_shape=(2,), description="grid", attribution="",
                       preprocessing={"scale": 1.0, "layout": "points"})

    return DatasetInfo(
        "squares", "Squares (test)", "Grid points, left half against right half.", "generated", load=load,
        schema=(Param("side", "int", default=4, minimum=2, maximum=12, label="Points per side",
                      help="points per row"),
                Param("spread", "float", default=1.0, minimum=0.1, maximum=5.0, step=0.5, decimals=2,
                      help="distance between points")))
