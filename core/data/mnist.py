"""MNIST: find a copy already on this computer, download it, load it fast.

MNIST is never shipped with nnstudio (nor committed to its repository). It is used from:

``find_mnist(extra_dirs)`` looks, in this order, for the four IDX files (``.gz`` or
uncompressed, ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte`` spellings) or a
Keras ``mnist.npz``:

1. ``$NNSTUDIO_DATA``: the folder itself, its ``mnist/`` and ``MNIST/raw/`` subfolders;
2. nnstudio's own data folder: ``user_data_dir()/mnist`` (where :func:`download_mnist`
   puts it by default);
3. Keras' cache: ``$KERAS_HOME/datasets/mnist.npz`` if ``KERAS_HOME`` is set, else
   ``~/.keras/datasets/mnist.npz``;
4. torchvision's layout ``<root>/MNIST/raw/`` (and a plain ``<root>/mnist/``) under the
   roots people commonly pass to ``torchvision.datasets.MNIST``: ``./data`` (the current
   folder), ``~/data``, ``~/datasets``, ``~/.torchvision``, ``~/.cache/torchvision``,
   ``~/torch_datasets``;
5. ``extra_dirs`` (for instance a folder the user picked): the folder, its ``mnist/`` and
   ``MNIST/raw/`` subfolders, or an ``.npz`` file given directly.

The home folder is ``Path.home()`` at call time. Nothing is written while searching.

``load_mnist(location)`` decodes the files (uint8 images ``(n, 28, 28)``, int64 labels) and
caches the decoded arrays twice: in memory for this process, and as uncompressed ``.npy``
files under ``user_cache_dir()/mnist/<key>/`` (key = SHA-256 of the source files' resolved
paths, sizes and modification times), so a later process loads them in a fraction of a
second. Cache files are read with ``np.load(allow_pickle=False)`` and checked; a damaged cache
is rebuilt. Arrays returned are read-only (they are shared by all callers); copy to modify.

``download_mnist(dest_dir)`` downloads the four IDX ``.gz`` files from public mirrors with
resume, progress, cancel and SHA-256 verification (see its docstring).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import count
from .errors import DataError, DownloadCancelled
from .idx import load_idx
from .npz import read_npz
from .paths import user_cache_dir, user_data_dir

__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_ATTRIBUTION",
    "MNIST_FILES",
    "DownloadCancelled",
    "MnistLocation",
    "clear_mnist_memory_cache",
    "download_mnist",
    "find_mnist",
    "load_mnist",
    "locate_mnist_in",
    "mnist_search_places",
]

#: (file name, size in bytes, SHA-256) of the four published gzip IDX files, in load order:
#: train images, train labels, test images, test labels.
MNIST_FILES: tuple[tuple[str, int, str], ...] = (
    ("train-images-idx3-ubyte.gz", 9_912_422,
     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    ("train-labels-idx1-ubyte.gz", 28_881,
     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    ("t10k-images-idx3-ubyte.gz", 1_648_877,
     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    ("t10k-labels-idx1-ubyte.gz", 4_542,
     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)

#: IDX mirrors, tried in order: torchvision's primary and fallback mirrors and the Google
#: storage copy used by TensorFlow's former MNIST tutorial. Files are checked by SHA-256,
#: so any mirror is safe.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MNIST_ATTRIBUTION = (
    "MNIST handwritten digits by Yann LeCun, Corinna Cortes and Christopher J. C. Burges "
    "(http://yann.lecun.com/exdb/mnist/), built from NIST Special Databases 1 and 3; "
    "licensed CC BY-SA 3.0. Not shipped with nnstudio: found on this computer or downloaded "
    "from a public mirror."
)

_STEMS = ("train-images", "train-labels", "t10k-images", "t10k-labels")
_KINDS = ("idx3", "idx1", "idx3", "idx1")
_SHAPES = ((60_000, 28, 28), (60_000,), (10_000, 28, 28), (10_000,))
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_CACHE_VERSION = 1
_CACHE_KEEP = 3
_CHUNK = 64 * 1024
_MAX_ATTEMPTS_PER_MIRROR = 5


# --------------------------------------------------------------------------- discovery


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
    if all(f"{key}.npy" in names for key in _NPZ_KEYS):
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


# --------------------------------------------------------------------------- loading

_memory_cache: dict[str, tuple[np.ndarray, ...]] = {}
_memory_lock = threading.Lock()


def clear_mnist_memory_cache() -> None:
    """Forget the arrays cached in this process (the on-disk cache stays)."""
    with _memory_lock:
        _memory_cache.clear()


def _cache_key(location: MnistLocation) -> str:
    parts = [_CACHE_VERSION, location.kind]
    for path in location.paths:
        try:
            st = path.stat()
        except OSError as e:
            raise DataError(f"{path}: the MNIST file cannot be read ({e.strerror or e})") from None
        parts.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _readonly(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    out = []
    for a in arrays:
        a = a.view()
        a.flags.writeable = False
        out.append(a)
    return tuple(out)


def _validate(arrays: Sequence[np.ndarray], where: str) -> tuple[np.ndarray, ...]:
    x_train, y_train, x_test, y_test = arrays
    for name, a, shape in zip(_NPZ_KEYS, arrays, _SHAPES, strict=True):
        if a.shape != shape:
            raise DataError(
                f"{where}: {name} has shape {a.shape} but MNIST's is {shape}; "
                f"this is not the standard MNIST set"
            )
    for name, a in (("x_train", x_train), ("x_test", x_test)):
        if a.dtype != np.uint8:
            raise DataError(f"{where}: {name} holds {a.dtype} values but MNIST pixels are uint8 (0..255)")
    labels = []
    for name, a in (("y_train", y_train), ("y_test", y_test)):
        if a.dtype.kind not in "iu":
            raise DataError(f"{where}: {name} holds {a.dtype} values but MNIST labels are integers")
        if a.size and (a.min() < 0 or a.max() > 9):
            raise DataError(f"{where}: {name} holds labels outside 0..9 ({a.min()}..{a.max()})")
        labels.append(a.astype(np.int64, copy=False))
    return (np.ascontiguousarray(x_train), labels[0], np.ascontiguousarray(x_test), labels[1])


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    """The four arrays of a Keras-style ``mnist.npz``: each member's header must declare
    MNIST's shape and an integer type before its data is read (see :mod:`.npz`)."""
    expected = {key: (shape, "iu") for key, shape in zip(_NPZ_KEYS, _SHAPES, strict=True)}
    arrays = read_npz(path, expected, "Keras' mnist.npz")
    return tuple(arrays[key] for key in _NPZ_KEYS)


def _decode(location: MnistLocation) -> tuple[np.ndarray, ...]:
    if location.kind == "npz":
        path = location.paths[0]
        return _validate(_read_npz(path), str(path))
    if location.kind != "idx" or len(location.paths) != 4:
        raise DataError(f"unknown MNIST location kind {location.kind!r}")
    x_train, y_train = load_idx(location.paths[0], location.paths[1])
    x_test, y_test = load_idx(location.paths[2], location.paths[3])
    return _validate((x_train, y_train, x_test, y_test), str(location.folder))


def _cache_dir() -> Path:
    return user_cache_dir() / "mnist"


def _load_disk_cache(folder: Path) -> tuple[np.ndarray, ...] | None:
    if not folder.is_dir():
        return None
    try:
        for key, shape in zip(_NPZ_KEYS, _SHAPES, strict=True):
            # A cache file is never larger than its array (8-byte labels) and a small header:
            # a damaged or swapped file is rebuilt without being read.
            if (folder / f"{key}.npy").stat().st_size > math.prod(shape) * 8 + 4096:
                raise ValueError("cache file too large")
        arrays = tuple(np.load(folder / f"{key}.npy", allow_pickle=False, mmap_mode=None) for key in _NPZ_KEYS)
        if any(a.shape != s for a, s in zip(arrays, _SHAPES, strict=True)):
            raise ValueError("unexpected shape")
        if arrays[0].dtype != np.uint8 or arrays[2].dtype != np.uint8:
            raise ValueError("unexpected dtype")
        if arrays[1].dtype != np.int64 or arrays[3].dtype != np.int64:
            raise ValueError("unexpected dtype")
        return arrays
    except (OSError, ValueError, EOFError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged cache: rebuild it
        return None


def _store_disk_cache(folder: Path, arrays: Sequence[np.ndarray]) -> None:
    """Write the decoded arrays atomically; failures only cost speed, never correctness."""
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True, exist_ok=False)
        for key, a in zip(_NPZ_KEYS, arrays, strict=True):
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(a), allow_pickle=False)
        with contextlib.suppress(OSError):  # another process stored the same entry first
            os.replace(tmp, folder)
        _prune_cache(folder.parent, keep=folder.name)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prune_cache(root: Path, keep: str) -> None:
    try:
        entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != keep]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_CACHE_KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


def load_mnist(
    location: MnistLocation | None = None, use_disk_cache: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST: ``(x_train, y_train, x_test, y_test)``.

    x_train uint8 ``(60000, 28, 28)``, y_train int64 ``(60000,)``, x_test uint8
    ``(10000, 28, 28)``, y_test int64 ``(10000,)``; all read-only. ``location`` defaults to
    :func:`find_mnist`'s result. Raises DataError when MNIST is not found or its files are
    damaged.
    """
    if location is None:
        location = find_mnist()
        if location is None:
            raise DataError(
                "MNIST was not found on this computer. Download it (about 11.6 MB), or locate a "
                "folder that already holds MNIST. Looked in: "
                + "; ".join(str(p) for p in mnist_search_places())
            )
    key = _cache_key(location)
    with _memory_lock:
        cached = _memory_cache.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    arrays = None
    folder = _cache_dir() / key
    if use_disk_cache:
        arrays = _load_disk_cache(folder)
    if arrays is None:
        arrays = _decode(location)
        if use_disk_cache:
            _store_disk_cache(folder, arrays)
    arrays = _readonly(arrays)
    with _memory_lock:
        _memory_cache.clear()  # one copy of MNIST in memory is enough
        _memory_cache[key] = arrays
    return arrays  # type: ignore[return-value]


# --------------------------------------------------------------------------- download


class _Interrupted(Exception):
    """The transfer stopped early; ``progressed`` tells whether this attempt gained bytes."""

    def __init__(self, reason: str, progressed: bool):
        super().__init__(reason)
        self.progressed = progressed


class _BadFile(Exception):
    """The mirror served something that cannot be the file (wrong size)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _reason(error: BaseException) -> str:
    import urllib.error

    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP error {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return str(getattr(reason, "strerror", None) or reason)
    if isinstance(error, TimeoutError):
        return "the server did not answer in time"
    return str(error) or type(error).__name__


def _content_range_start(header: str | None) -> int | None:
    # "bytes 100-999/1000"
    if not header or not header.startswith("bytes "):
        return None
    try:
        return int(header[6:].split("-", 1)[0])
    except ValueError:
        return None


def _transfer(opener, url: str, part: Path, size: int, timeout: float,
              cancel: threading.Event | None, on_bytes: Callable[[int], None]) -> None:
    """Fetch ``url`` into ``part``, resuming from its current length with a Range request."""
    import http.client
    import urllib.error
    import urllib.request

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url)
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            part.unlink(missing_ok=True)  # our partial file does not fit the server's: restart
            raise _Interrupted("the server refused to resume", progressed=True) from None
        raise
    start_have = have
    with response:
        status = getattr(response, "status", 200)
        if status == 206:
            if not have or _content_range_start(response.headers.get("Content-Range")) != have:
                raise _BadFile("the server sent another part of the file than the one asked for")
            mode = "ab"
        elif status == 200:
            mode, have = "wb", 0  # no Range sent, or the server ignored it: start from the beginning
        else:
            raise _BadFile(f"unexpected HTTP status {status}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and have + int(length) != size:
            raise _BadFile(
                f"the server offers {count(have + int(length))} bytes but the file has {count(size)}"
            )
        on_bytes(have)
        with open(part, mode) as f:
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled("the download was cancelled; it will resume next time")
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    if have + len(chunk) > size:
                        raise _BadFile(f"the server sent more than the {count(size)} bytes of the file")
                    f.write(chunk)
                    have += len(chunk)
                    on_bytes(have)
            except (OSError, http.client.HTTPException) as e:
                raise _Interrupted(_reason(e), progressed=have > start_have or mode == "wb") from None
    if have < size:
        raise _Interrupted(
            f"the connection closed after {count(have)} of {count(size)} bytes",
            progressed=have > start_have or mode == "wb",
        )


def _offline_error(failures: list[str]) -> DataError:
    unique = list(dict.fromkeys(failures))
    detail = "; ".join(unique[-4:]) if unique else "no mirror was given"
    return DataError(
        f"MNIST could not be downloaded ({detail}). Check the connection and retry, or locate "
        f"a folder that already holds MNIST."
    )


def download_mnist(
    dest_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 30.0,
) -> MnistLocation:
    """Download the four MNIST IDX ``.gz`` files into ``dest_dir`` (default
    ``user_data_dir()/mnist``) and return their location.

    - Mirrors are tried in order for each file (``mirror + file name``).
    - Each file is written to ``<name>.part``; an existing ``.part`` is resumed with an HTTP
      ``Range`` request (a server that ignores Range sends the whole file: it is restarted).
      A transfer that breaks off after making progress is resumed on the same mirror.
    - Each file's SHA-256 is checked against the published value and only then renamed into
      place. Files already present and correct are kept.
    - ``progress(done_bytes, total_bytes, filename)`` reports over all four files
      (total 11,594,722 bytes), from the calling thread.
    - ``cancel``: when set, :class:`DownloadCancelled` is raised soon after; ``.part`` files
      are kept so the next call resumes.
    - ``timeout``: seconds for connecting and for each read.

    Raises DataError when a file does not match its checksum on every mirror (the damaged
    file is deleted; the message names it), or when no mirror can be reached ("check the
    connection and retry, or locate a folder that already holds MNIST").
    """
    # Imported here: the HTTP stack costs ~40 ms at start-up and only downloads need it.
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    dest = Path(dest_dir).expanduser() if dest_dir is not None else user_data_dir() / "mnist"
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{dest}: the folder for MNIST cannot be created ({e.strerror or e})") from None
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    opener = urllib.request.build_opener()  # reads proxy settings now, not at import
    opener.addheaders = [("User-Agent", "nnstudio (MNIST download)")]
    total = sum(size for _, size, _ in MNIST_FILES)
    done = {name: 0 for name, _, _ in MNIST_FILES}

    def report(name: str) -> None:
        if progress is not None:
            progress(sum(done.values()), total, name)

    todo = []
    for name, size, digest in MNIST_FILES:
        final = dest / name
        if final.is_file() and final.stat().st_size == size and _sha256(final) == digest:
            done[name] = size
        else:
            todo.append((name, size, digest))
    report(todo[0][0] if todo else MNIST_FILES[-1][0])

    for name, size, digest in todo:
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled("the download was cancelled; it will resume next time")
        final, part = dest / name, dest / f"{name}.part"

        def on_bytes(n: int, name: str = name) -> None:
            done[name] = n
            report(name)

        failures: list[str] = []
        checksum_error: DataError | None = None
        for mirror in mirrors:
            url = urllib.parse.urljoin(mirror if mirror.endswith("/") else mirror + "/", name)
            host = urllib.parse.urlsplit(url).netloc or mirror
            finished = False
            for _attempt in range(_MAX_ATTEMPTS_PER_MIRROR):
                try:
                    if part.exists() and part.stat().st_size >= size:
                        if part.stat().st_size > size:
                            part.unlink()
                            continue
                    else:
                        _transfer(opener, url, part, size, timeout, cancel, on_bytes)
                except _Interrupted as e:
                    failures.append(f"{host}: {e}")
                    if e.progressed:
                        continue  # resume on the same mirror
                    break
                except _BadFile as e:
                    part.unlink(missing_ok=True)
                    done[name] = 0
                    failures.append(f"{host}: {e}")
                    break
                except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
                    failures.append(f"{host}: {_reason(e)}")
                    break
                finished = True
                break
            if not finished:
                continue
            if _sha256(part) == digest:
                os.replace(part, final)
                done[name] = size
                report(name)
                checksum_error = None
                break
            part.unlink(missing_ok=True)
            done[name] = 0
            report(name)
            checksum_error = DataError(
                f"{name}: the file downloaded from {host} does not match its published SHA-256 "
                f"checksum, so it was deleted. Retry later, or locate a folder that already "
                f"holds MNIST."
            )
            failures.append(f"{host}: checksum mismatch")
        else:
            if checksum_error is not None:
                raise checksum_error
            raise _offline_error(failures)
    paths = tuple(dest / name for name, _, _ in MNIST_FILES)
    return MnistLocation("idx", paths, "downloaded")
