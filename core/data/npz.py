"""Read arrays from a NumPy ``.npz`` archive that may be damaged or hostile.

``np.load`` allocates the array a member's header declares before reading its data, so a
200-byte member declaring (10**9, 28, 28) asks for 784 GB, and a zip member may unpack to
far more than its archive's size. :func:`read_npz` reads each wanted member's header first,
checks its shape and type against what the caller expects, and only then reads exactly the
declared number of bytes (never pickles). Devices and FIFOs are refused by ``opened``.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.data._files import count, opened, size_text
from core.data.errors import DataError

__all__ = ["read_npz"]

#: Default largest member read: 512 MiB (as for IDX files).
MAX_MEMBER_BYTES = 512 * 1024 * 1024


def _member(archive: zipfile.ZipFile, key: str, shape: tuple[int | None, ...], kinds: str, where: str,
            max_bytes: int) -> np.ndarray:
    with archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            declared, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            declared, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        declared = tuple(int(d) for d in declared)
        fits = len(declared) == len(shape) and all(s is None or s == d for s, d in zip(shape, declared, strict=True))
        if not fits:
            wanted = ("(" + ", ".join("n" if s is None else str(s) for s in shape)
                      + ("," if len(shape) == 1 else "") + ")")
            raise DataError(f"{where}: {key} has shape {declared} but {wanted} is expected")
        if dtype.kind not in kinds or dtype.hasobject or dtype.itemsize > 8:
            raise DataError(f"{where}: {key} holds {dtype} values, not the numbers expected")
        nbytes = math.prod(declared) * dtype.itemsize
        if nbytes > max_bytes:
            raise DataError(f"{where}: {key} declares {count(nbytes)} bytes, more than the "
                            f"{size_text(max_bytes)} nnstudio reads")
        data = member.read(nbytes + 1)
    if len(data) != nbytes:
        raise DataError(f"{where}: {key} holds {count(len(data))} bytes of data but its header declares "
                        f"{count(nbytes)}; the file is damaged")
    return np.frombuffer(data, dtype=dtype).reshape(declared, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike, members: Mapping[str, tuple[tuple[int | None, ...], str]],
             what: str = "a NumPy .npz archive", max_bytes: int = MAX_MEMBER_BYTES) -> dict[str, np.ndarray]:
    """The arrays ``members`` names from the ``.npz`` file at ``path``, read-only.

    ``members`` maps each key to (expected shape, allowed dtype kinds): a shape entry None
    accepts any size, kinds are NumPy kind letters ("u" unsigned, "i" signed, "f" float).
    Raises DataError naming the file (``what`` describes it) when it is not a regular file,
    not a zip archive, lacks a key, or a member's header declares another shape or type or
    more than ``max_bytes``: all checked before the member's data is read.
    """
    path = Path(path)
    where = str(path)
    with opened(path, what) as f:
        try:
            with zipfile.ZipFile(f) as archive:
                names = set(archive.namelist())
                missing = [k for k in members if f"{k}.npy" not in names]
                if missing:
                    raise DataError(f"{where}: the archive lacks {', '.join(missing)}")
                return {key: _member(archive, key, shape, kinds, where, max_bytes)
                        for key, (shape, kinds) in members.items()}
        except DataError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError,
                zlib.error) as e:
            raise DataError(f"{where}: the file cannot be read as {what} ({e})") from None
