"""The catalogue's pen digit renderings, cached on disk so only the very first load pays.

Rendering the 7,494 bundled digits through the canvas brush and the Draw tab's
preprocessing takes several seconds per mode; the result is fixed by three things only: the
bundled file, the rendering code and the mode. One ``.npz`` per mode (``allow_pickle=False``)
lives in ``user_cache_dir()/pendigits/``, named by a key built from the bundled file's
SHA-256, :data:`~core.data.pen.render.RENDER_VERSION` and the mode. It is written atomically
(:func:`core.atomic_write.write_atomically`); a file that is damaged, of another key, or holds
arrays that are not renderings (wrong shapes, types, values) is ignored and rebuilt, never an
error. A cache that cannot be written only costs time.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np

from core.atomic_write import write_atomically
from core.data.drawing import MNIST_SIZE, UCI_BITMAP, UCI_BLOCK
from core.data.errors import DataError
from core.data.npz import read_npz
from core.data.paths import user_cache_dir
from core.data.pen.bundled import pen_digits_path
from core.data.pen.render import HELD_OUT_WRITERS, RENDER_VERSION
from core.errors import ModelFileError

__all__ = ["CACHE_MEMBERS", "cache_file", "read_cached_renderings", "write_cached_renderings"]

#: The arrays a cache file holds, in the order the catalogue uses them: x (n, 1, s, s)
#: float32, y (n,) int64, writers (n,) int64, x_test (m, 1, s, s) float32, y_test (m,) int64.
CACHE_MEMBERS = ("x", "y", "writers", "x_test", "y_test")

# A cache file member is never larger than this (the 28×28 training part is about 19 MB).
_MAX_MEMBER_BYTES = 64 * 1024 * 1024


def _side(mode: str) -> int:
    return MNIST_SIZE if mode == "mnist" else UCI_BITMAP // UCI_BLOCK


def cache_file(mode: str) -> Path:
    """Where the renderings of ``mode`` are cached for the bundled file and rendering code
    in use. Raises DataError when the bundled file is missing (as loading it would)."""
    digest = hashlib.sha256()
    try:
        digest.update(pen_digits_path().read_bytes())
    except OSError as e:
        raise DataError(f"the bundled pen digits cannot be read: {e.strerror or e}") from None
    digest.update(f"|render {RENDER_VERSION}|mode {mode}".encode())
    return user_cache_dir() / "pendigits" / f"{mode}-{digest.hexdigest()[:32]}.npz"


def _check(arrays: tuple[np.ndarray, ...], side: int) -> None:
    """ValueError unless ``arrays`` look like renderings of ``side``-pixel digits."""
    x, y, writers, x_test, y_test = arrays
    if x.dtype != np.float32 or x_test.dtype != np.float32:
        raise ValueError("images are not float32")
    if any(a.dtype != np.int64 for a in (y, writers, y_test)):
        raise ValueError("labels or writers are not int64")
    if len(x) != len(y) or len(y) != len(writers) or len(x_test) != len(y_test) or not len(x) or not len(x_test):
        raise ValueError("array lengths disagree")
    for images in (x, x_test):
        if not (np.all(images >= 0) and np.all(images <= 1)):  # also refuses NaN
            raise ValueError("pixel values outside 0..1")
    if any(a.min() < 0 or a.max() > 9 for a in (y, y_test)):
        raise ValueError("labels outside 0..9")
    if np.isin(writers, HELD_OUT_WRITERS).any():
        raise ValueError("a held-out writer in the training part")


def read_cached_renderings(mode: str) -> tuple[np.ndarray, ...] | None:
    """The cached renderings of ``mode`` (see :data:`CACHE_MEMBERS`; read-only), or None when
    there is no usable cache file (missing, damaged, stale or not renderings)."""
    path = cache_file(mode)
    side = _side(mode)
    image, vector = ((None, 1, side, side), "f"), ((None,), "i")
    members = {"x": image, "y": vector, "writers": vector, "x_test": image, "y_test": vector}
    try:
        found = read_npz(path, members, "a pen digits cache file", max_bytes=_MAX_MEMBER_BYTES)
        arrays = tuple(found[name] for name in CACHE_MEMBERS)
        _check(arrays, side)
    except (DataError, ValueError, OSError):
        return None  # missing or unusable: the caller renders afresh and overwrites it
    return arrays


def write_cached_renderings(mode: str, arrays: tuple[np.ndarray, ...]) -> None:
    """Store ``arrays`` (see :data:`CACHE_MEMBERS`) as the cache of ``mode``, atomically,
    and remove this mode's stale cache files. Failing to write only costs time: nothing is
    raised."""
    path = cache_file(mode)
    named = {name: np.ascontiguousarray(a) for name, a in zip(CACHE_MEMBERS, arrays, strict=True)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: np.savez(f, allow_pickle=False, **named),
                         action="cache the pen digits in")
        for old in path.parent.glob(f"{mode}-*.npz"):
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
    except (OSError, ModelFileError):
        pass
