"""The files a user names: a network spec (JSON, bounded and checked), any text file, the
``-o`` model path; every way they can be unusable is a CliError naming the file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.cli.errors import CliError
from core.errors import SpecError
from core.network import Network
from core.spec.model import NetworkSpec

#: A spec file larger than this is not a network spec (a real one is a few KB); reading stops here.
MAX_SPEC_BYTES = 16 * 1024 * 1024


#: Lists and objects nest a few levels in a spec (spec > layers > layer > kernel_size); deeper
#: nesting is refused before it can exhaust Python's recursion limit.
MAX_SPEC_DEPTH = 32


def read_spec(path: str) -> NetworkSpec:
    """The NetworkSpec in the JSON file ``path``; CliError naming the file and the problem.

    Bounded work for any file: at most MAX_SPEC_BYTES are read; numbers with thousands of
    digits and nesting deeper than MAX_SPEC_DEPTH are refused with a sentence.
    """
    text = read_text(path, "spec file", MAX_SPEC_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: the network spec is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                       f"{exc.msg})") from None
    except RecursionError:
        raise CliError(f"{path}: the JSON nests lists or objects too deeply to be a network spec "
                       f"(at most {MAX_SPEC_DEPTH} levels)") from None
    except ValueError:  # Python refuses to convert integers of more than 4,300 digits
        raise CliError(f"{path}: the JSON holds a number with thousands of digits; no setting of a "
                       "network spec is that large") from None
    if _json_depth(data, MAX_SPEC_DEPTH) > MAX_SPEC_DEPTH:
        raise CliError(f"{path}: the JSON nests lists or objects more than {MAX_SPEC_DEPTH} levels deep; "
                       "a network spec needs only a few")
    with spec_errors(path):
        return NetworkSpec.from_dict(data)


def _json_depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[1]`` is 1), counted without recursion
    and only up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def network_from_spec(spec: NetworkSpec, source: str, build: bool = True) -> Network:
    """``Network.from_spec`` for a spec a user gave (``source`` names it in messages); every
    way the spec can be unusable is a CliError (see :func:`spec_errors`)."""
    with spec_errors(source):
        return Network.from_spec(spec, build=build)


@contextmanager
def spec_errors(source: str) -> Iterator[None]:
    """Turn every way a user's spec can be unusable into a CliError naming ``source``.

    The engine promises SpecError for a bad spec; the other types are caught as well, only
    around parsing and building a spec the user gave, so that a hostile spec can never reach
    the user as "unexpected ... please report it".
    """
    try:
        yield
    except SpecError as exc:
        raise CliError(f"{source}: {exc}") from None
    except MemoryError:
        raise CliError(f"{source}: the network is too large to build in this computer's memory; use "
                       "fewer or smaller layers") from None
    except RecursionError:
        raise CliError(f"{source}: the network spec nests too deeply to be used") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise CliError(f"{source}: the network spec has an invalid setting ({_first_line(exc)})") from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def read_text(path: str, what: str, max_bytes: int) -> str:
    """The UTF-8 text of ``path``; CliError if it is missing, a folder, unreadable, not text or
    larger than ``max_bytes`` (read in one bounded call, so ``/dev/zero`` cannot exhaust memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise CliError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise CliError(f"{path}: is larger than {max_bytes // (1024 * 1024):,} MB, too large for a {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a text file (expected a {what} in UTF-8)") from None


def output_path(output: str) -> Path:
    """The model file ``-o`` names, checked before any work: its folder exists, and it is a
    regular file or new. A device or pipe is refused: an atomic save would replace the node
    itself (``-o /dev/null`` run as root once replaced /dev/null with a regular file)."""
    if not output.strip():
        raise CliError("-o needs a file name, e.g. -o model.nnz")
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"cannot save to {output}: the folder {folder} does not exist")
    if path.is_dir():
        raise CliError(f"cannot save to {output}: it is a folder")
    if path.exists() and not path.is_file():
        raise CliError(f"cannot save to {output}: it is a device or a pipe, not a file; choose a file name "
                       "such as model.nnz")
    return path
