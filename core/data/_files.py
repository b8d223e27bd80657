"""Small helpers shared by the data readers: opening and reading a user's file with a human
error, and counts written the way messages show them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import DataError


def count(n: int) -> str:
    """10000 -> "10,000" (messages quote counts this way)."""
    return f"{n:,}"


@contextmanager
def opened(path: Path, kind: str) -> Iterator[BinaryIO]:
    """The file open for binary reading; DataError naming it when it is missing, a folder,
    or fails to open or read (inside the ``with`` block too).

    ``kind`` names what was expected ("an IDX file", "a CSV file") for the folder case.
    """
    try:
        with open(path, "rb") as f:
            yield f
    except FileNotFoundError:
        raise DataError(f"{path}: the file does not exist") from None
    except IsADirectoryError:
        raise DataError(f"{path}: this is a folder, not {kind}") from None
    except OSError as e:
        raise DataError(f"{path}: the file cannot be read ({e.strerror or e})") from None


def read_bytes(path: Path, kind: str) -> bytes:
    """The whole file; DataError as for :func:`opened`."""
    with opened(path, kind) as f:
        return f.read()
