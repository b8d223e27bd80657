"""Reader for IDX files (the MNIST format), raw or gzip-compressed.

Format: a 4-byte magic ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32 dimension
sizes, then the values in row-major (C) order, big-endian for multi-byte types.
MNIST images are magic 2051 (``00 00 08 03``: uint8, 3 dimensions), labels magic 2049
(``00 00 08 01``: uint8, 1 dimension).

Compression is detected from the gzip magic bytes (``1f 8b``), never from the file name.
Declared sizes are checked against the real size before any array is allocated: a lying
header cannot make the reader allocate more memory than the data actually holds.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from ._files import count, opened, read_bytes
from .errors import DataError

__all__ = ["read_idx", "load_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 2051  # 00 00 08 03: uint8, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 00 00 08 01: uint8, 1 dimension (count)

_GZIP_MAGIC = b"\x1f\x8b"

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
_COUNT_LIMIT = 256 * 1024 * 1024
_KIND = "an IDX file"  # what a folder is not, in messages


def _parse_header(name: str, head: bytes, total_hint: str) -> tuple[np.dtype, tuple[int, ...], int, int]:
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


def _inflate(name: str, data: bytes, limit: int) -> tuple[bytes, "zlib._Decompress"]:
    """At most ``limit`` unpacked bytes of the gzip ``data``, and the decompressor (its
    ``eof``, ``unconsumed_tail`` and ``unused_data`` tell what is left)."""
    d = zlib.decompressobj(wbits=31)
    try:
        return d.decompress(data, limit), d
    except zlib.error as e:
        raise DataError(f"{name}: the gzip data is damaged ({e}); get the file again") from None


def _decode_gzip(name: str, data: bytes) -> tuple[np.dtype, tuple[int, ...], bytes, int, int]:
    """Decompress a gzip IDX file. Returns (dtype, dims, unpacked bytes, header length, magic)."""
    # The header is at most 4 + 4*255 bytes: decode it with a throwaway decompressor.
    max_header = 4 + 4 * 255
    head, head_d = _inflate(name, data, max_header)
    if len(head) < max_header and not head_d.eof:
        raise DataError(
            f"{name}: the gzip file is truncated (it ends after {count(len(head))} unpacked "
            f"bytes); get the file again"
        )
    if not head:
        raise DataError(f"{name}: the file is empty (the gzip stream holds no data)")
    dtype, dims, header_len, magic = _parse_header(name, head, f"only {count(len(head))} bytes when unpacked")
    expected = header_len + int(np.prod(dims, dtype=object)) * dtype.itemsize
    limit = min(expected + 1, sys.maxsize)

    # Output grows with the real data only, capped just above the declared size, so a
    # lying header cannot make us allocate what the file does not hold.
    out, d = _inflate(name, data, limit)
    if len(out) < limit and not d.eof:
        raise DataError(
            f"{name}: the gzip file is truncated (it ends after {count(len(out))} unpacked bytes "
            f"of the {count(expected)} its header declares); get the file again"
        )
    if len(out) > expected:
        # More data than declared: count (without storing) how much, to say both numbers.
        actual = len(out)
        tail = d.unconsumed_tail
        try:
            while not d.eof and actual - expected < _COUNT_LIMIT:
                chunk = d.decompress(tail, 1 << 20)
                tail = d.unconsumed_tail
                if not chunk and not tail:
                    break
                actual += len(chunk)
        except zlib.error:
            pass
        actual_text = count(actual) if d.eof else f"more than {count(actual)}"
        raise _size_mismatch(name, dims, dtype, expected, actual_text, True, True)
    if len(out) < expected:
        raise _size_mismatch(name, dims, dtype, expected, count(len(out)), False, True)
    if d.unused_data.strip(b"\0"):
        raise DataError(
            f"{name}: unexpected data after the IDX content ({count(len(d.unused_data))} "
            f"more compressed bytes); the file is damaged"
        )
    return dtype, dims, out, header_len, magic


def _read_raw(name: str, path: Path) -> tuple[np.dtype, tuple[int, ...], bytes, int, int]:
    """Read an uncompressed IDX file, checking its length before reading the payload."""
    with opened(path, _KIND) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(4 + 4 * 255)
        dtype, dims, header_len, magic = _parse_header(name, head, f"{count(size)} bytes")
        expected = header_len + int(np.prod(dims, dtype=object)) * dtype.itemsize
        if size != expected:
            raise _size_mismatch(name, dims, dtype, expected, count(size), size > expected, False)
        f.seek(0)
        data = f.read()
    if len(data) != expected:  # the file changed while reading
        raise _size_mismatch(name, dims, dtype, expected, count(len(data)), len(data) > expected, False)
    return dtype, dims, data, header_len, magic


def _decode(path: str | os.PathLike) -> tuple[np.ndarray, str, int]:
    path = Path(path)
    name = str(path)
    with opened(path, _KIND) as f:
        start = f.read(2)
    if not start:
        raise DataError(f"{name}: the file is empty")
    if start == _GZIP_MAGIC:
        dtype, dims, data, header_len, magic = _decode_gzip(name, read_bytes(path, _KIND))
    else:
        dtype, dims, data, header_len, magic = _read_raw(name, path)
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
    Raises DataError naming the file for an empty file, a bad magic number, a truncated or
    damaged gzip stream, or declared dimensions that disagree with the file length.
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
