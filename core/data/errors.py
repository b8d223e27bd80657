"""Error types of the data package.

Every message is a sentence a user can act on: it names the file and, where it applies,
the line and column (1-based) of the culprit. Numbers are written with thousands
separators ("9,999").
"""

from __future__ import annotations

__all__ = ["DataError", "DownloadCancelled"]


class DataError(ValueError):
    """Bad input data: a damaged or unexpected file, an impossible setting, a failed download.

    ``str(error)`` is the whole user-facing message.
    """


class DownloadCancelled(Exception):
    """A download was cancelled through its ``cancel`` event.

    Partial files (``*.part``) are kept, so the next download resumes where this one stopped.
    Not a :class:`DataError`: nothing is wrong with any data, the user asked to stop.
    """
