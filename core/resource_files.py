"""The one accessor for files shipped with nnstudio (datasets, models, presets, icons).

The top-level ``resources/`` folder of the repository is installed as the package
``core.resources`` (setuptools ``package-dir`` mapping), so an installed wheel, an sdist
build and an editable install all reach the files as ``core.resources``. In a plain source
checkout that was never installed, ``core.resources`` does not exist and the files are read
from the top-level package ``resources`` instead, but only when that package sits beside
this ``core`` package (another distribution's ``resources`` package is never used).

Only :mod:`importlib.resources` is used, so the files can also live inside a zip.

Paths are relative to ``resources/`` and always use ``/``: ``"datasets/digits8x8.csv.gz"``.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

# A version check rather than try/except ImportError, so mypy checks the right branch.
if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # Python 3.10
    from importlib.abc import Traversable

__all__ = ["read_resource_bytes", "resource_file", "resource_path", "resources_root"]


def _is_sibling_of_core(candidate: Traversable) -> bool:
    """True when the top-level ``resources`` package sits beside this ``core`` package."""
    core_root = importlib.resources.files("core")
    if isinstance(candidate, Path) and isinstance(core_root, Path):
        try:
            return candidate.resolve().parent == core_root.resolve().parent
        except OSError:
            return False
    # Not plain folders (a zip, a namespace): accept only if it holds what we ship.
    return candidate.joinpath("datasets").is_dir()


def resources_root() -> Traversable:
    """The folder of shipped resources, as an :class:`importlib.resources.abc.Traversable`.

    Raises FileNotFoundError with an explanation when neither ``core.resources`` nor a
    source-checkout ``resources`` package can be found.
    """
    try:
        return importlib.resources.files("core.resources")
    except ModuleNotFoundError:
        pass
    try:
        candidate = importlib.resources.files("resources")
    except ModuleNotFoundError:
        candidate = None
    if candidate is not None and _is_sibling_of_core(candidate):
        return candidate
    raise FileNotFoundError(
        "nnstudio's resource files are missing: neither the package 'core.resources' "
        "(installed) nor the folder 'resources' beside 'core' (source checkout) was found; "
        "reinstall nnstudio"
    )


def _parts(relative: str) -> tuple[str, ...]:
    if not isinstance(relative, str) or not relative.strip():
        raise ValueError(f"a resource path must be a non-empty string, not {relative!r}")
    if "\\" in relative:
        raise ValueError(f"resource path {relative!r} must use '/' as separator")
    path = PurePosixPath(relative)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise ValueError(f"resource path {relative!r} must be relative and stay inside resources/")
    return tuple(part for part in path.parts if part != ".")


def resource_path(relative: str) -> Traversable:
    """The shipped resource ``relative`` (e.g. ``"datasets/digits8x8.csv.gz"``) as a Traversable.

    Use ``.read_bytes()`` / ``.open("rb")`` on it, or :func:`resource_file` when a real file
    system path is needed. Raises FileNotFoundError naming the resource when it does not exist.
    """
    parts = _parts(relative)
    node = resources_root()
    for part in parts:
        node = node.joinpath(part)
    if not (node.is_file() or node.is_dir()):
        raise FileNotFoundError(f"the shipped resource {relative!r} is missing; reinstall nnstudio")
    return node


@contextlib.contextmanager
def resource_file(relative: str) -> Iterator[Path]:
    """Context manager giving a real file system path for the resource ``relative``.

    The path is only valid inside the ``with`` block (a temporary copy when the resources
    live in a zip).
    """
    with importlib.resources.as_file(resource_path(relative)) as path:
        yield Path(path)


def read_resource_bytes(relative: str) -> bytes:
    """The bytes of the shipped resource file ``relative``."""
    node = resource_path(relative)
    if not node.is_file():
        raise FileNotFoundError(f"the shipped resource {relative!r} is a folder, not a file")
    return node.read_bytes()
