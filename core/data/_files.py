"""Small helpers shared by the data readers: opening a user's file with a human error (regular
files only), reading it under a size budget, unpacking gzip piece by piece under a budget,
and counts written the way messages show them.

Every reader goes through :func:`opened`, so a device (``/dev/zero``), a FIFO or a socket is
refused before a single byte is read, and through :func:`read_limited` or
:class:`GzipStream`, so no file, and no gzip bomb, can make a reader hold more bytes than
its caller's budget.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from core.data.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
#: Largest data file nnstudio reads for a dataset (IDX, CSV, gzip or not).
MAX_DATA_FILE_BYTES = 512 * 2**20

# Compressed bytes read from the file at a time while unpacking.
_CHUNK = 1 << 20


def count(n: int) -> str:
    """10000 -> "10,000" (messages quote counts this way)."""
    return f"{n:,}"


def size_text(n: int) -> str:
    """A byte count in words: 536870912 -> "512 MiB", 1536 -> "1.5 KiB", 12 -> "12 bytes"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:,.3g} {unit}" if n % scale else f"{n // scale:,} {unit}"
    return f"{n:,} bytes"


@contextmanager
def opened(path: Path, kind: str) -> Iterator[BinaryIO]:
    """The file open for binary reading; DataError naming it when it is missing, a folder,
    not a regular file (a device, FIFO or socket: reading one could hang or never end), or
    fails to open or read (inside the ``with`` block too).

    ``kind`` names what was expected ("an IDX file", "a CSV file") for the folder case.
    """
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        # On a regular file the flag changes nothing.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: the file does not exist") from None
    except IsADirectoryError:
        raise DataError(f"{path}: this is a folder, not {kind}") from None
    except OSError as e:
        raise DataError(f"{path}: the file cannot be read ({e.strerror or e})") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise DataError(f"{path}: the file cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        os.close(fd)
        raise DataError(f"{path}: this is a folder, not {kind}")
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DataError(f"{path}: this is not a regular file (it is a device, pipe or socket), "
                        f"so it cannot be {kind}; choose a file on disk")
    try:
        with os.fdopen(fd, "rb") as f:
            yield f
    except OSError as e:
        raise DataError(f"{path}: the file cannot be read ({e.strerror or e})") from None


def file_size(f: BinaryIO) -> int:
    """Size in bytes of the open regular file ``f``."""
    return os.fstat(f.fileno()).st_size


def read_limited(f: BinaryIO, limit: int) -> bytes | None:
    """The rest of ``f``, or None when it holds more than ``limit`` bytes (never reads more
    than ``limit + 1``: a file that grows while it is read cannot exceed the budget)."""
    data = f.read(limit + 1)
    return None if len(data) > limit else data


class GzipTruncated(DataError):
    """The gzip data ends before its end-of-stream marker. ``produced``: unpacked bytes seen."""

    def __init__(self, message: str, produced: int):
        super().__init__(message)
        self.produced = produced


class GzipStream:
    """Unpack a gzip file piece by piece, holding no more unpacked bytes than asked for.

    ``read(n)`` returns up to ``n`` unpacked bytes (fewer only at the end of the data);
    ``discard(n)`` unpacks up to ``n`` bytes without keeping them and says how many there
    were (to measure an oversized file without storing it). ``ended`` becomes True when the
    end of the data was reached. Concatenated gzip members are read as one stream (as
    ``gunzip`` does) and zero padding after the last member is ignored; anything else
    after the data, a damaged stream (bad CRC included) or a truncated one raises
    DataError naming the file (:class:`GzipTruncated` for the last).
    """

    def __init__(self, f: BinaryIO, name: str):
        self._f = f
        self._name = name
        self._d = zlib.decompressobj(wbits=31)
        self._input = b""  # compressed bytes read from the file, not yet given to zlib
        self.produced = 0
        self.ended = False

    def read(self, n: int) -> bytearray:
        out = bytearray()
        self._pull(n, out)
        return out

    def discard(self, n: int) -> int:
        return self._pull(n, None)

    def _pull(self, n: int, out: bytearray | None) -> int:
        got = 0
        while got < n and not self.ended:
            if not self._input:
                self._input = self._f.read(_CHUNK)
                if not self._input:
                    raise GzipTruncated(
                        f"{self._name}: the gzip file is truncated (it ends after {count(self.produced)} "
                        f"unpacked bytes); get the file again", self.produced)
            try:
                chunk = self._d.decompress(self._input, min(n - got, _CHUNK * 4))
            except zlib.error as e:
                raise DataError(f"{self._name}: the gzip data is damaged ({e}); get the file again") from None
            self._input = self._d.unconsumed_tail
            got += len(chunk)
            self.produced += len(chunk)
            if out is not None:
                out += chunk
            if self._d.eof:
                self._next_member(self._d.unused_data)
        return got

    def _next_member(self, rest: bytes) -> None:
        """After a member's end: start the next member, or end on zero padding / end of file."""
        while True:
            rest = rest.lstrip(b"\0")
            if len(rest) < len(GZIP_MAGIC):
                more = self._f.read(_CHUNK)
                if not more:
                    if rest:
                        break  # a stray byte after the data
                    self.ended = True
                    return
                rest += more
                continue
            if rest.startswith(GZIP_MAGIC):
                self._d = zlib.decompressobj(wbits=31)
                self._input = rest
                return
            break
        raise DataError(f"{self._name}: unexpected data after the gzip data ({rest[:8].hex(' ')} …); "
                        f"the file is damaged")


def data_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the data file ``path`` must not be read, found without reading it (None when it
    may be): missing, not a regular file (a device such as /dev/zero, a FIFO, a folder),
    empty, or larger than ``MAX_DATA_FILE_BYTES``. Follows symbolic links."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"{path} does not exist"
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        return f"{path} cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return f"{path} is {what}"
    if info.st_size == 0:
        # Also what /proc and /sys files report: their size says nothing about their content.
        return f"{path} is empty"
    if info.st_size > MAX_DATA_FILE_BYTES:
        return (f"{path} is larger ({info.st_size:,} bytes) than the {MAX_DATA_FILE_BYTES // 2**20:,} MiB "
                "nnstudio reads for a dataset")
    return None


def read_text_bytes(path: Path, kind: str, max_bytes: int, too_large: str) -> bytes | bytearray:
    """The bytes of a text file, unpacked when it is gzip, never more than ``max_bytes`` held.
    ``too_large``: the sentence for a file over the limit (its word "holds" becomes "unpacks
    to" for a gzip file that unpacks to more). DataError for a file that cannot be opened
    (``kind`` names it) or is too large."""
    with opened(path, kind) as f:
        if f.read(2) == GZIP_MAGIC:
            f.seek(0)
            data: bytes | bytearray = GzipStream(f, path.name).read(max_bytes + 1)
            if len(data) > max_bytes:
                raise DataError(too_large.replace("holds", "unpacks to"))
            return data
        f.seek(0)
        limited = read_limited(f, max_bytes) if file_size(f) <= max_bytes else None
        if limited is None:
            raise DataError(too_large)
        return limited
