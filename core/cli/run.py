"""The entry point: parse, run the command, turn every failure into one line and an exit code."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from core.cli.errors import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from core.cli.parser import build_parser, program_name
from core.errors import SpecError, TrainingError
from core.saving import ModelFileError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser(program_name())
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or EXIT_OK)
    except CliError as exc:
        return _fail(parser.prog, str(exc), exc.code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return _fail(parser.prog, "interrupted; nothing was saved", EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader stopped early (``... | head``): not an error to report
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # broad on purpose: the last line of defence for a command line
        if _data_error(exc) or isinstance(exc, (ModelFileError, SpecError, TrainingError)):
            return _fail(parser.prog, str(exc), EXIT_USAGE)
        if os.environ.get("NNSTUDIO_DEBUG"):
            raise
        return _fail(parser.prog, f"unexpected {type(exc).__name__}: {exc} (set NNSTUDIO_DEBUG=1 to see "
                                  "the traceback, and please report it)", EXIT_FAILED)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit cannot raise BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test's capture)
        pass


def _fail(prog: str, message: str, code: int) -> int:
    message = " ".join(message.split())  # exactly one line
    # A hostile value such as 1e300 written out in full would flood the line: keep its ends.
    message = re.sub(r"\d{41,}", lambda m: f"{m[0][:8]}…{m[0][-4:]} ({len(m[0]):,} digits)", message)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _data_error(exc: BaseException) -> bool:
    try:
        from core.data import DataError
    except ImportError:  # pragma: no cover - core.data is part of core
        return False
    return isinstance(exc, DataError)
