"""The command line's exit codes and its one user-facing error type."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a C tool cut off by ``| head``


class CliError(Exception):
    """A user-facing failure: ``str(error)`` is printed as one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code
