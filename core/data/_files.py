"""Small helpers shared by the data readers: reading a user's file with a human error, and
counts written the way messages show them."""

from __future__ import annotations

from pathlib import Path

from .errors import DataError


def count(n: int) -> str:
    """10000 -> "10,000" (messages quote counts this way)."""
    return f"{n:,}"


def read_bytes(path: Path, kind: str) -> bytes:
    """The whole file; DataError naming it when it is missing, a folder or unreadable.

    ``kind`` names what was expected ("an IDX file", "a CSV file") for the folder case.
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: the file does not exist") from None
    except IsADirectoryError:
        raise DataError(f"{path}: this is a folder, not {kind}") from None
    except OSError as e:
        raise DataError(f"{path}: the file cannot be read ({e.strerror or e})") from None
