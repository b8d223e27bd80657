"""Decode a located copy of MNIST, checked, into read-only arrays, cached in memory and as
``.npy`` files under the per-user cache folder (a damaged cache is rebuilt)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.data.errors import DataError
from core.data.idx import load_idx
from core.data.mnist.files import NPZ_KEYS, SHAPES
from core.data.mnist.locate import MnistLocation, find_mnist, mnist_search_places
from core.data.npz import read_npz
from core.data.paths import user_cache_dir

_CACHE_VERSION = 1
_CACHE_KEEP = 3
_memory_cache: dict[str, tuple[np.ndarray, ...]] = {}
_memory_lock = threading.Lock()


def clear_mnist_memory_cache() -> None:
    """Forget the arrays cached in this process (the on-disk cache stays)."""
    with _memory_lock:
        _memory_cache.clear()


def _cache_key(location: MnistLocation) -> str:
    parts = [_CACHE_VERSION, location.kind]
    for path in location.paths:
        try:
            st = path.stat()
        except OSError as e:
            raise DataError(f"{path}: the MNIST file cannot be read ({e.strerror or e})") from None
        parts.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _readonly(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    out = []
    for a in arrays:
        a = a.view()
        a.flags.writeable = False
        out.append(a)
    return tuple(out)


def _validate(arrays: Sequence[np.ndarray], where: str) -> tuple[np.ndarray, ...]:
    x_train, y_train, x_test, y_test = arrays
    for name, a, shape in zip(NPZ_KEYS, arrays, SHAPES, strict=True):
        if a.shape != shape:
            raise DataError(
                f"{where}: {name} has shape {a.shape} but MNIST's is {shape}; "
                f"this is not the standard MNIST set"
            )
    for name, a in (("x_train", x_train), ("x_test", x_test)):
        if a.dtype != np.uint8:
            raise DataError(f"{where}: {name} holds {a.dtype} values but MNIST pixels are uint8 (0..255)")
    labels = []
    for name, a in (("y_train", y_train), ("y_test", y_test)):
        if a.dtype.kind not in "iu":
            raise DataError(f"{where}: {name} holds {a.dtype} values but MNIST labels are integers")
        if a.size and (a.min() < 0 or a.max() > 9):
            raise DataError(f"{where}: {name} holds labels outside 0..9 ({a.min()}..{a.max()})")
        labels.append(a.astype(np.int64, copy=False))
    return (np.ascontiguousarray(x_train), labels[0], np.ascontiguousarray(x_test), labels[1])


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    """The four arrays of a Keras-style ``mnist.npz``: each member's header must declare
    MNIST's shape and an integer type before its data is read (see :mod:`.npz`)."""
    expected = {key: (shape, "iu") for key, shape in zip(NPZ_KEYS, SHAPES, strict=True)}
    arrays = read_npz(path, expected, "Keras' mnist.npz")
    return tuple(arrays[key] for key in NPZ_KEYS)


def _decode(location: MnistLocation) -> tuple[np.ndarray, ...]:
    if location.kind == "npz":
        path = location.paths[0]
        return _validate(_read_npz(path), str(path))
    if location.kind != "idx" or len(location.paths) != 4:
        raise DataError(f"unknown MNIST location kind {location.kind!r}")
    x_train, y_train = load_idx(location.paths[0], location.paths[1])
    x_test, y_test = load_idx(location.paths[2], location.paths[3])
    return _validate((x_train, y_train, x_test, y_test), str(location.folder))


def _cache_dir() -> Path:
    return user_cache_dir() / "mnist"


def _load_disk_cache(folder: Path) -> tuple[np.ndarray, ...] | None:
    if not folder.is_dir():
        return None
    try:
        for key, shape in zip(NPZ_KEYS, SHAPES, strict=True):
            # A cache file is never larger than its array (8-byte labels) and a small header:
            # a damaged or swapped file is rebuilt without being read.
            if (folder / f"{key}.npy").stat().st_size > math.prod(shape) * 8 + 4096:
                raise ValueError("cache file too large")
        arrays = tuple(np.load(folder / f"{key}.npy", allow_pickle=False, mmap_mode=None) for key in NPZ_KEYS)
        if any(a.shape != s for a, s in zip(arrays, SHAPES, strict=True)):
            raise ValueError("unexpected shape")
        if arrays[0].dtype != np.uint8 or arrays[2].dtype != np.uint8:
            raise ValueError("unexpected dtype")
        if arrays[1].dtype != np.int64 or arrays[3].dtype != np.int64:
            raise ValueError("unexpected dtype")
        return arrays
    except (OSError, ValueError, EOFError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged cache: rebuild it
        return None


def _store_disk_cache(folder: Path, arrays: Sequence[np.ndarray]) -> None:
    """Write the decoded arrays atomically; failures only cost speed, never correctness."""
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True, exist_ok=False)
        for key, a in zip(NPZ_KEYS, arrays, strict=True):
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(a), allow_pickle=False)
        with contextlib.suppress(OSError):  # another process stored the same entry first
            os.replace(tmp, folder)
        _prune_cache(folder.parent, keep=folder.name)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prune_cache(root: Path, keep: str) -> None:
    try:
        entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != keep]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_CACHE_KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


def load_mnist(
    location: MnistLocation | None = None, use_disk_cache: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST: ``(x_train, y_train, x_test, y_test)``.

    x_train uint8 ``(60000, 28, 28)``, y_train int64 ``(60000,)``, x_test uint8
    ``(10000, 28, 28)``, y_test int64 ``(10000,)``; all read-only. ``location`` defaults to
    :func:`find_mnist`'s result. Raises DataError when MNIST is not found or its files are
    damaged.
    """
    if location is None:
        location = find_mnist()
        if location is None:
            raise DataError(
                "MNIST was not found on this computer. Download it (about 11.6 MB), or locate a "
                "folder that already holds MNIST. Looked in: "
                + "; ".join(str(p) for p in mnist_search_places())
            )
    key = _cache_key(location)
    with _memory_lock:
        cached = _memory_cache.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    arrays = None
    folder = _cache_dir() / key
    if use_disk_cache:
        arrays = _load_disk_cache(folder)
    if arrays is None:
        arrays = _decode(location)
        if use_disk_cache:
            _store_disk_cache(folder, arrays)
    arrays = _readonly(arrays)
    with _memory_lock:
        _memory_cache.clear()  # one copy of MNIST in memory is enough
        _memory_cache[key] = arrays
    return arrays  # type: ignore[return-value]
