"""Writing a file atomically the way an editor does (``save_model`` and the exports use it).

- The content goes to a temporary file in the target's folder, is flushed and fsynced, gets
  the replaced file's permissions (or the umask default) and is renamed over the target, so
  the file appears complete or not at all; the folder is fsynced where the OS allows.
- A symbolic link is written *through*: the file it points to is replaced and the link
  stays a link (as editors do), also when it dangles.
- Only a regular file (or a new name) is a valid target: a folder, a device node, a FIFO or
  a socket is refused with a sentence, and so is an empty path.
- Temporary files are named ``.<name>.nnsave-<random>.tmp`` and held under an exclusive
  ``flock`` while being written. A save killed part-way leaves one behind; the next save to
  the same folder removes every such file whose lock is free (its writer is gone) — never one
  another process is still writing. Without ``flock`` (Windows) only ones older than a day go.

Every problem raises ``ModelFileError`` naming the path and the reason; ``action`` words it
for the caller ("save the model to", the default, or "write the ONNX file").
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from core.errors import ModelFileError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


__all__ = ["TEMP_MARK", "export_folder", "remove_stale_temp_files", "save_target", "write_atomically",
           "write_bytes_atomically"]

#: Part of every temporary file name, so cleanup only ever touches our own files.
TEMP_MARK = ".nnsave-"
_TEMP_NAME = re.compile(r"^\..+\.nnsave-[A-Za-z0-9_]{8}\.tmp$")
#: Without flock, a temporary file older than this is taken as left by a killed save.
_STALE_SECONDS_WITHOUT_LOCKS = 24 * 3600

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def _bare(action: str) -> str:
    """``save the model to`` -> ``save the model`` (for messages without a path)."""
    return action.removesuffix(" to")


def _error(message: str) -> ModelFileError:
    return ModelFileError(message)


def save_target(path: str | os.PathLike[str], action: str = "save the model to",
                example: str = "model.nnz") -> Path:
    """The regular file a save to ``path`` replaces or creates: symbolic links followed.

    Raises ModelFileError for an empty path or a target that is not a regular file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise _error(f"cannot {_bare(action)}: {path!r} is not a file name")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise _error(f"cannot {_bare(action)}: no file name was given")
    original = Path(text)
    target = Path(os.path.realpath(original)) if original.is_symlink() else original
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise _error(f"cannot {action} {text!r}: {exc.strerror or exc}") from None
    for is_kind, kind in _KINDS:
        if is_kind(st.st_mode):
            shown = text if target == original else f"{text} (a link to {target})"
            raise _error(f"cannot {action} {shown!r}: it is {kind}, not a file; choose a file name "
                         f"such as {example}")
    return target


def write_atomically(target: Path, write: Callable[[IO[bytes]], object],
                     verify: Callable[[Path], None] | None = None, action: str = "save the model to") -> None:
    """Write ``target`` through ``write(fileobj)``; ``verify(temp_path)`` may refuse the
    written file (by raising) before it replaces anything. Cleans stale temporary files."""
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_temp_files(folder)
    fileobj = _locked_temp_file(folder, target.name, str(target), action)
    name = fileobj.name
    try:
        with fileobj:
            write(fileobj)
            fileobj.flush()
            os.fsync(fileobj.fileno())
            if verify is not None:
                verify(Path(name))
            os.chmod(name, _new_file_mode(target))
            if fcntl is not None:
                os.replace(name, target)  # while still locked: no cleaner can take it for stale
        if fcntl is None:
            os.replace(name, target)  # Windows renames only closed files
    except BaseException as exc:
        _remove_quietly(name)
        if isinstance(exc, OSError):
            raise _error(f"cannot {action} {str(target)!r}: {exc.strerror or exc}") from None
        raise
    _fsync_directory(folder)


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes, action: str = "save the model to",
                           example: str = "model.nnz") -> Path:
    """``data`` written to ``path`` atomically (the checks of ``save_target``, then
    ``write_atomically``); returns the file written (a link's target). ModelFileError otherwise."""
    target = save_target(path, action=action, example=example)
    write_atomically(target, lambda fileobj: fileobj.write(data), action=action)
    return target


def export_folder(path: str | os.PathLike[str]) -> Path:
    """The folder an export writes into, created when missing (with its parents).
    ModelFileError naming the path when it is a file or cannot be created."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise _error(f"cannot export to the folder {str(folder)!r}: it is a file, not a folder; "
                     "choose a new folder name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _error(f"cannot export to the folder {str(folder)!r}: {exc.strerror or exc}") from None
    return folder


def _locked_temp_file(folder: Path, name: str, shown: str, action: str) -> IO[bytes]:
    """A new temporary file in ``folder``, locked; retried if a cleaner removed it before
    the lock was taken (the window between creating and locking)."""
    for _ in range(10):
        try:
            f = tempfile.NamedTemporaryFile(  # noqa: SIM115 - returned open, the caller closes it
                dir=folder, prefix=f".{name}{TEMP_MARK}", suffix=".tmp", delete=False)
        except OSError as exc:
            raise _error(f"cannot {action} {shown!r}: {exc.strerror or exc}") from None
        if fcntl is None:
            return f
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            if os.fstat(f.fileno()).st_nlink > 0:
                return f
        except OSError:
            pass
        f.close()
    raise _error(f"cannot {action} {shown!r}: could not create a temporary file in its folder")


def remove_stale_temp_files(folder: Path) -> list[str]:
    """Remove temporary files of killed saves in ``folder``; return their names."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        if not _TEMP_NAME.match(entry):
            continue
        full = os.path.join(folder, entry)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            continue
        if _remove_if_abandoned(full, st):
            removed.append(entry)
    return removed


def _remove_if_abandoned(full: str, st: os.stat_result) -> bool:
    if fcntl is None:
        if time.time() - st.st_mtime > _STALE_SECONDS_WITHOUT_LOCKS:
            return _remove_quietly(full)
        return False
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a save in progress holds it
        if os.fstat(fd).st_ino != st.st_ino:
            return False
        return _remove_quietly(full)
    finally:
        os.close(fd)


def _new_file_mode(path: Path) -> int:
    """Permissions for the saved file: the replaced file's, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _remove_quietly(name: str) -> bool:
    try:
        os.unlink(name)
    except OSError:
        return False
    return True


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable where the OS supports syncing a directory (not Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
