"""Find a copy of MNIST already on this computer (nnstudio's folders, Keras' and
torchvision's usual places, folders the user names); nothing is written while searching."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.data.mnist.files import NPZ_KEYS
from core.data.paths import user_data_dir

_STEMS = ("train-images", "train-labels", "t10k-images", "t10k-labels")
_KINDS = ("idx3", "idx1", "idx3", "idx1")


@dataclass(frozen=True)
class MnistLocation:
    """Where a copy of MNIST was found.

    ``kind`` is ``"idx"`` (``paths`` = train images, train labels, test images, test labels)
    or ``"npz"`` (``paths`` = the one Keras-style ``.npz`` file with keys x_train, y_train,
    x_test, y_test). ``source`` says in words where it was found.
    """

    kind: str
    paths: tuple[Path, ...]
    source: str

    @property
    def folder(self) -> Path:
        """The folder holding the files."""
        return self.paths[0].parent

    def describe(self) -> str:
        """One line for the user, e.g. ``"/home/me/.keras/datasets/mnist.npz (Keras cache)"``."""
        where = self.paths[0] if self.kind == "npz" else self.folder
        return f"{where} ({self.source})"


def _idx_file(folder: Path, stem: str, kind: str) -> Path | None:
    names = (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte")
    for name in names:
        for candidate in (folder / f"{name}.gz", folder / name):
            try:
                if candidate.is_file() and candidate.stat().st_size > 0:
                    return candidate
            except OSError:
                continue
    return None


def _idx_folder(folder: Path, source: str) -> MnistLocation | None:
    paths = []
    for stem, kind in zip(_STEMS, _KINDS, strict=True):
        found = _idx_file(folder, stem, kind)
        if found is None:
            return None
        paths.append(found)
    return MnistLocation("idx", tuple(paths), source)


def _npz_file(path: Path, source: str) -> MnistLocation | None:
    try:
        if not path.is_file():
            return None
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return None
    if all(f"{key}.npy" in names for key in NPZ_KEYS):
        return MnistLocation("npz", (path,), source)
    return None


def _in_place(path: Path, source: str) -> MnistLocation | None:
    """MNIST at ``path``: an npz file, or a folder (itself, mnist/, MNIST/raw/, mnist.npz)."""
    if path.suffix.lower() == ".npz":
        return _npz_file(path, source)
    for folder in (path, path / "mnist", path / "MNIST" / "raw", path / "MNIST"):
        found = _idx_folder(folder, source)
        if found is not None:
            return found
    return _npz_file(path / "mnist.npz", source)


def _keras_npz() -> Path:
    keras_home = os.environ.get("KERAS_HOME", "").strip()
    base = Path(keras_home).expanduser() if keras_home else Path.home() / ".keras"
    return base / "datasets" / "mnist.npz"


def _torchvision_roots() -> list[Path]:
    home = Path.home()
    return [Path.cwd() / "data", home / "data", home / "datasets", home / ".torchvision",
            home / ".cache" / "torchvision", home / "torch_datasets"]


def _candidates(extra_dirs: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    places: list[tuple[Path, str]] = []
    env = os.environ.get("NNSTUDIO_DATA", "").strip()
    if env:
        places.append((Path(env).expanduser(), "NNSTUDIO_DATA"))
    places.append((user_data_dir() / "mnist", "nnstudio data folder"))
    places.append((_keras_npz(), "Keras cache"))
    for root in _torchvision_roots():
        places.append((root, "torchvision folder"))
    for extra in extra_dirs:
        places.append((Path(extra).expanduser(), "chosen folder"))
    return places


def mnist_search_places(extra_dirs: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The places :func:`find_mnist` looks at, in order (for showing the user)."""
    return [path for path, _ in _candidates(extra_dirs)]


def locate_mnist_in(path: str | os.PathLike) -> MnistLocation | None:
    """MNIST in the one folder (or ``.npz`` file) ``path``, e.g. one the user picked.

    Checks the folder itself, its ``mnist/`` and ``MNIST/raw/`` subfolders and a
    ``mnist.npz`` inside it. None when nothing complete is there.
    """
    return _in_place(Path(path).expanduser(), "chosen folder")


def find_mnist(extra_dirs: Iterable[str | os.PathLike] = ()) -> MnistLocation | None:
    """The first complete copy of MNIST found in the places listed in the module docs.

    Only file names, sizes and (for ``.npz``) the archive's member names are checked here;
    :func:`load_mnist` validates the content. None when no copy is found.
    """
    for path, source in _candidates(extra_dirs):
        if source == "Keras cache":
            found = _npz_file(path, source)
        elif source == "torchvision folder":
            found = _idx_folder(path / "MNIST" / "raw", source) or _idx_folder(path / "mnist", source)
        else:
            found = _in_place(path, source)
        if found is not None:
            return found
    return None
