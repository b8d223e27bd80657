"""Download the four MNIST files from public mirrors: resume, progress, cancel, SHA-256
verification, clear messages when offline.

Why not ``pooch`` (the scientific-Python fetcher): it downloads to a temporary file that is
deleted on failure (no HTTP ``Range`` resume), takes one URL per file (no mirror list), has
no cancel hook, and brings ``requests`` (+4 packages), ``packaging`` and ``platformdirs``. The
tests hold resume, restart after a server that ignores Range, cancel-then-resume, mirror
fallback and the offline sentence; with pooch about 70 of these lines would go and those
behaviours with them."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from core.data._files import count
from core.data.errors import DataError, DownloadCancelled
from core.data.mnist.files import DEFAULT_MIRRORS, MNIST_FILES
from core.data.mnist.locate import MnistLocation
from core.data.paths import user_data_dir

_CHUNK = 64 * 1024
_MAX_ATTEMPTS_PER_MIRROR = 5


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
