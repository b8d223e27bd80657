"""Reader for IDX files (the MNIST format), raw or gzip-compressed.

Format: a 4-byte magic ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32 dimension
sizes, then the values in row-major (C) order, big-endian for multi-byte types.
MNIST images are magic 2051 (``00 00 08 03``: uint8, 3 dimensions), labels magic 2049
(``00 00 08 01``: uint8, 1 dimension).

Compression is detected from the gzip magic bytes (``1f 8b``), never from the file name.
Declared sizes are checked against the real size before any array is allocated: a lying
header cannot make the reader allocate more memory than the data actually holds. A gzip
file is unpacked piece by piece and never past its declared size, and nothing over
``MAX_IDX_BYTES`` is ever held, so a gzip bomb is refused in milliseconds. Devices and FIFOs
are refused before reading. Files with 0 samples, samples of size 0 or more than
``MAX_IDX_DIMS`` dimensions are refused with a sentence.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.data._files import GZIP_MAGIC, GzipStream, GzipTruncated, count, file_size, opened, read_limited, size_text
from core.data.errors import DataError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "MAX_IDX_BYTES", "MAX_IDX_DIMS", "load_idx", "read_idx"]

IMAGES_MAGIC = 2051  # 00 00 08 03: uint8, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 00 00 08 01: uint8, 1 dimension (count)

#: Largest IDX file (unpacked: header and values) nnstudio reads: 512 MiB, ten times MNIST's
#: training images. Imported images become float32 (4 bytes a pixel), so this keeps a dataset
#: within about 2 GiB; a header declaring more is refused before anything is unpacked.
MAX_IDX_BYTES = 512 * 1024 * 1024

#: Most dimensions an IDX file may declare: what a NumPy array can have (64 since NumPy 2).
MAX_IDX_DIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32

# IDX type code -> (big-endian numpy dtype, name)
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Extra decompressed bytes counted (not stored) to report the real size of an oversized file.
_COUNT_LIMIT = 64 * 1024 * 1024
_MAX_HEADER = 4 + 4 * 255  # magic and up to 255 dimension sizes
_KIND = "an IDX file"  # what a folder is not, in messages


def _parse_header(name: str, head: bytes | bytearray, total_hint: str) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """Parse the IDX header in ``head`` (at least the first bytes of the unpacked file).

    Returns (dtype, dims, header_length, magic). ``total_hint`` describes the file length for
    messages when the header itself is cut short.
    """
    if len(head) < 4:
        raise DataError(
            f"{name}: too short to be an IDX file ({total_hint}; the header alone needs 4 bytes)"
        )
    zero, type_code, ndim = struct.unpack(">HBB", head[:4])
    magic = int.from_bytes(head[:4], "big")
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise DataError(
            f"{name}: not an IDX file (magic number {magic}, bytes {head[:4].hex(' ')}); "
            f"MNIST images start with {IMAGES_MAGIC} and labels with {LABELS_MAGIC}"
        )
    if ndim > MAX_IDX_DIMS:
        raise DataError(
            f"{name}: the IDX header declares {ndim} dimensions but at most {MAX_IDX_DIMS} are "
            f"supported (MNIST images have 3); the file is damaged or is not a dataset"
        )
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise DataError(
            f"{name}: the IDX header is cut short: magic {magic} announces {ndim} dimensions "
            f"({header_len} header bytes) but the file holds {total_hint}"
        )
    dims = struct.unpack(f">{ndim}I", head[4:header_len])
    return _IDX_TYPES[type_code], tuple(int(d) for d in dims), header_len, magic


def _describe_dims(dims: tuple[int, ...]) -> str:
    return " × ".join(count(d) for d in dims)


def _size_mismatch(name: str, dims, dtype, expected: int, actual: str, longer: bool,
                   compressed: bool) -> DataError:
    holds = "unpacks to" if compressed else "holds"
    why = "it holds more than its header declares" if longer else "it is truncated"
    return DataError(
        f"{name}: the header declares {_describe_dims(dims)} values of {dtype.itemsize} byte"
        f"{'s' if dtype.itemsize != 1 else ''} ({count(expected)} bytes with the header) "
        f"but the file {holds} {actual} bytes; the file is damaged ({why})"
    )


def _declared_size(dims: tuple[int, ...], dtype: np.dtype, header_len: int) -> int:
    return header_len + math.prod(dims) * dtype.itemsize


def _too_large(name: str, dims, dtype, expected: int, actual: str) -> DataError:
    return DataError(
        f"{name}: the header declares {_describe_dims(dims)} values ({count(expected)} bytes with the "
        f"header) and the file {actual}; nnstudio reads IDX files of up to {size_text(MAX_IDX_BYTES)}: "
        f"use a smaller file (fewer samples)"
    )


def _check_dims(name: str, dims: tuple[int, ...]) -> None:
    """Refuse an IDX file that holds no values: 0 samples, or samples of size 0."""
    if dims[0] == 0:
        raise DataError(f"{name}: the file holds 0 samples (its header declares {_describe_dims(dims)}); "
                        f"there is nothing to load")
    if 0 in dims[1:]:
        raise DataError(f"{name}: each sample holds 0 values (the header declares {_describe_dims(dims)}); "
                        f"the file is damaged or is not a dataset")


def _decode_gzip(name: str, f: BinaryIO) -> tuple[np.dtype, tuple[int, ...], bytearray, int, int]:
    """Unpack a gzip IDX file from ``f``. Returns (dtype, dims, unpacked bytes, header length,
    magic).

    Never holds more than ``min(declared size, MAX_IDX_BYTES) + 1`` unpacked bytes: the
    header is read first, and a header declaring more than the budget is refused after
    counting (not storing) at most ``_COUNT_LIMIT`` bytes, so a gzip bomb costs milliseconds
    and no memory.
    """
    stream = GzipStream(f, name)
    try:
        head = stream.read(_MAX_HEADER)
    except GzipTruncated as e:
        raise DataError(f"{name}: the gzip file is truncated (it ends after {count(e.produced)} unpacked "
                        f"bytes); get the file again") from None
    if not head:
        raise DataError(f"{name}: the file is empty (the gzip stream holds no data)")
    dtype, dims, header_len, magic = _parse_header(name, head, f"only {count(len(head))} bytes when unpacked")
    _check_dims(name, dims)
    expected = _declared_size(dims, dtype, header_len)
    if expected > MAX_IDX_BYTES:
        # Measure the real size without storing it: a lying header (a damaged file) gets the
        # usual "declares / holds" message, a real oversized file or a bomb a size limit.
        try:
            actual = len(head) + stream.discard(_COUNT_LIMIT)
        except GzipTruncated as e:
            raise _size_mismatch(name, dims, dtype, expected, count(e.produced), False, True) from None
        if stream.ended:
            raise _size_mismatch(name, dims, dtype, expected, count(actual), actual > expected, True)
        raise _too_large(name, dims, dtype, expected, f"unpacks to more than {count(actual)} bytes")

    # Output grows with the real data only, capped just above the declared size, so a
    # lying header cannot make us allocate what the file does not hold.
    out = head
    try:
        out += stream.read(expected + 1 - len(out))
    except GzipTruncated as e:
        raise DataError(
            f"{name}: the gzip file is truncated (it ends after {count(e.produced)} unpacked bytes "
            f"of the {count(expected)} its header declares); get the file again"
        ) from None
    if len(out) > expected:
        # More data than declared: count (without storing) how much, to say both numbers.
        actual = len(out)
        with contextlib.suppress(GzipTruncated, DataError):
            actual += stream.discard(_COUNT_LIMIT)
        actual_text = count(actual) if stream.ended else f"more than {count(actual)}"
        raise _size_mismatch(name, dims, dtype, expected, actual_text, True, True)
    if len(out) < expected:
        raise _size_mismatch(name, dims, dtype, expected, count(len(out)), False, True)
    return dtype, dims, out, header_len, magic


def _read_raw(name: str, f: BinaryIO) -> tuple[np.dtype, tuple[int, ...], bytes, int, int]:
    """Read an uncompressed IDX file, checking its length before reading the payload."""
    size = file_size(f)
    head = f.read(_MAX_HEADER)
    dtype, dims, header_len, magic = _parse_header(name, head, f"{count(size)} bytes")
    _check_dims(name, dims)
    expected = _declared_size(dims, dtype, header_len)
    if size != expected:
        raise _size_mismatch(name, dims, dtype, expected, count(size), size > expected, False)
    if expected > MAX_IDX_BYTES:
        raise _too_large(name, dims, dtype, expected, f"holds {count(size)} bytes")
    f.seek(0)
    data = read_limited(f, expected)
    if data is None or len(data) != expected:  # the file changed while reading
        actual = "more than " + count(expected) if data is None else count(len(data))
        raise _size_mismatch(name, dims, dtype, expected, actual, data is None, False)
    return dtype, dims, data, header_len, magic


def _decode(path: str | os.PathLike) -> tuple[np.ndarray, str, int]:
    path = Path(path)
    name = str(path)
    with opened(path, _KIND) as f:
        start = f.read(2)
        if not start:
            raise DataError(f"{name}: the file is empty")
        f.seek(0)
        data: bytes | bytearray
        if start == GZIP_MAGIC:
            dtype, dims, data, header_len, magic = _decode_gzip(name, f)
        else:
            dtype, dims, data, header_len, magic = _read_raw(name, f)
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    if dtype.byteorder == ">" and sys.byteorder == "little":
        array = array.astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array, name, magic


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip) into an array of the declared shape and type.

    Returns a native-byte-order array of shape ``dims`` from the header, e.g. uint8
    ``(60000, 28, 28)`` for MNIST training images or uint8 ``(60000,)`` for its labels.
    The array is read-only (a view over the decoded bytes, no copy); ``.copy()`` it to modify.
    Raises DataError naming the file for an empty file, a device or FIFO, a bad magic
    number, more than ``MAX_IDX_DIMS`` dimensions, 0 samples or samples of size 0, a
    truncated or damaged gzip stream, declared dimensions that disagree with the file length,
    or a file larger than ``MAX_IDX_BYTES`` unpacked (a gzip bomb is refused without being
    unpacked).
    """
    return _decode(path)[0]


def _expect(name: str, magic: int, kind: str, expected: int) -> None:
    if magic != expected:
        other = {IMAGES_MAGIC: "an images file", LABELS_MAGIC: "a labels file"}.get(magic)
        hint = f" (that is {other}: were the two files swapped?)" if other else ""
        article = "an" if kind[0] in "aeiou" else "a"
        raise DataError(
            f"{name}: not an IDX {kind} file: its magic number is {magic} but {article} {kind} "
            f"file starts with {expected}{hint}"
        )


def load_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load an IDX images file and its labels file (raw or gzip each).

    Returns ``(x, y)``: x uint8 ``(n, rows, cols)`` (read-only, see :func:`read_idx`),
    y int64 ``(n,)``. The images file must have magic 2051 and the labels file magic 2049;
    the counts must agree. Raises DataError naming the file otherwise.
    """
    x, x_name, x_magic = _decode(images_path)
    _expect(x_name, x_magic, "images", IMAGES_MAGIC)
    y, y_name, y_magic = _decode(labels_path)
    _expect(y_name, y_magic, "labels", LABELS_MAGIC)
    if len(y) != len(x):
        raise DataError(
            f"{y_name}: the labels file has {count(len(y))} entries but the images file "
            f"{x_name} has {count(len(x))}; the two files do not belong together"
        )
    return x, y.astype(np.int64)
