"""Download MNIST in the background: ``core.data.download_mnist`` on a QThread.

``MnistDownloader`` lives in the GUI thread and owns one worker thread per download. The
worker emits immutable values; the downloader receives them in the GUI thread (its slots
are bound methods of a GUI-thread QObject, so Qt queues the calls) and relays them as the
signals of ``nnstudio.background.work.BackgroundWork`` (kind ``"mnist"``), which widgets and
tests wait on (see PITFALLS: QThread).

Teardown: ``shutdown(timeout_ms)`` cancels, then quits and waits for the thread; every
owner must call it (the dataset panel does, and the main window's close should).
``adopt_mnist_copy`` copies a copy of MNIST the user located into nnstudio's data folder,
so it is found again next time.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from core.data import DataError, DownloadCancelled, MnistLocation, download_mnist, load_mnist, user_data_dir
from core.data import mnist as mnist_module
from nnstudio.background.work import BackgroundWork

#: The ``kind`` every signal of the downloader carries.
KIND = "mnist"

#: Progress is signalled when it moves by at least 1/PROGRESS_STEPS of the total (the core
#: reports every 64 KiB, about 180 times for MNIST: every report passes, a finer core would not).
PROGRESS_STEPS = 1000


@dataclass(frozen=True)
class DownloadProgress:
    """What ``progressed`` carries: ``done`` of ``total`` bytes over the four files, the file
    being fetched; ``preparing``: every file is verified and being decoded (the last phase,
    a few seconds: ``done == total``)."""

    done: int
    total: int
    file_name: str
    preparing: bool = False


def mnist_folder() -> Path:
    """Where nnstudio keeps its own copy of MNIST: ``user_data_dir()/mnist``."""
    return user_data_dir() / "mnist"


class _Worker(QObject):
    """Runs in the worker thread. Never touches a widget; emits immutable values only.

    Every signal carries the download's ``run_id`` so the GUI side can ignore a late signal
    of a download it already shut down.
    """

    progressed = Signal(int, object)  # run id, DownloadProgress
    finished = Signal(int, str)       # folder holding the files
    failed = Signal(int, str)         # message for the user
    cancelled = Signal(int)

    def __init__(self, run_id: int, dest: Path, mirrors: Sequence[str], cancel: threading.Event, timeout: float):
        super().__init__()
        self._run_id = run_id
        self._dest = dest
        self._mirrors = tuple(mirrors)
        self._cancel = cancel
        self._timeout = timeout
        self._last_step = -1
        self._last_name = ""
        self._last_total = 0

    def _on_progress(self, done: int, total: int, name: str) -> None:
        # Throttle by amount, not time: a time throttle would hold back the last value
        # before a stalled connection, and the user would see less than has arrived.
        step = PROGRESS_STEPS * done // total if total else 0
        if step != self._last_step or name != self._last_name:
            self._last_step, self._last_name, self._last_total = step, name, int(total)
            self.progressed.emit(self._run_id, DownloadProgress(int(done), int(total), str(name)))

    @Slot()
    def run(self) -> None:
        run_id = self._run_id
        try:
            location = download_mnist(self._dest, mirrors=self._mirrors, progress=self._on_progress,
                                      cancel=self._cancel, timeout=self._timeout)
            if self._cancel.is_set():
                raise DownloadCancelled("cancelled")
            # Decode once here, off the GUI thread: the in-memory cache makes the GUI's first
            # load of MNIST take a fraction of a second instead of seconds.
            self.progressed.emit(run_id, DownloadProgress(self._last_total, self._last_total, self._last_name,
                                                          preparing=True))
            load_mnist(location)
        except DownloadCancelled:
            self.cancelled.emit(run_id)
        except DataError as exc:
            self.failed.emit(run_id, str(exc))
        except Exception as exc:  # broad on purpose: any failure must reach the user, not kill the thread
            self.failed.emit(run_id, f"MNIST could not be downloaded: {type(exc).__name__}: {exc}")
        else:
            self.finished.emit(run_id, str(location.folder))
        finally:
            QThread.currentThread().quit()


class MnistDownloader(BackgroundWork):
    """Start, follow and cancel an MNIST download (GUI thread).

    Signals (all emitted in the GUI thread, kind ``"mnist"``): ``started``;
    ``progressed(kind, DownloadProgress)``; then ``finished(kind, folder)``, ``failed(kind,
    message, "")`` or ``cancelled(kind)`` (``.part`` files are kept for a resume). When an
    end signal is emitted, ``running`` is already False, so a slot may start again.
    """

    def __init__(self, dest: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
                 timeout: float = 30.0, parent: QObject | None = None):
        super().__init__(parent)
        self._dest = Path(dest) if dest is not None else None
        self._mirrors = tuple(mirrors) if mirrors is not None else None
        self._timeout = timeout
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._run_id = 0
        self._cancel = threading.Event()
        app = QCoreApplication.instance()
        if app is not None:  # last line of defence: never leave a running thread at exit
            app.aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def destination(self) -> Path:
        return self._dest if self._dest is not None else mnist_folder()

    def start(self) -> bool:
        """Start downloading (False when a download already runs)."""
        if self._thread is not None:
            return False
        # Read the mirrors now, not at import: tests (and future settings) replace them.
        mirrors = self._mirrors if self._mirrors is not None else tuple(mnist_module.DEFAULT_MIRRORS)
        self._cancel = threading.Event()
        self._run_id += 1
        thread = QThread(self)
        thread.setObjectName("mnistDownloadThread")
        worker = _Worker(self._run_id, self.destination(), mirrors, self._cancel, self._timeout)
        worker.moveToThread(thread)
        # Connect everything before start (early emissions are lost otherwise). Receivers are
        # bound methods of this GUI-thread object, so Qt queues them into the GUI thread.
        thread.started.connect(worker.run)
        thread.finished.connect(worker.deleteLater)  # deleted in its own thread as it ends
        worker.progressed.connect(self._on_worker_progressed)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit(KIND)
        return True

    def cancel(self) -> None:
        """Ask the download to stop; ``cancelled`` follows soon (``.part`` files are kept)."""
        self._cancel.set()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the thread to end. True when no thread is left running."""
        thread = self._thread
        if thread is None:
            return True
        self._cancel.set()
        thread.quit()
        if not thread.wait(timeout_ms):
            return False
        self._release()
        return True

    def _release(self) -> None:
        thread = self._thread
        self._thread = self._worker = None
        self._run_id += 1  # signals still queued from that run are now ignored
        if thread is not None:
            thread.deleteLater()

    # -- relays (GUI thread) ---------------------------------------------------------------------
    def _current(self, run_id: int) -> bool:
        return self._thread is not None and run_id == self._run_id

    def _on_worker_progressed(self, run_id: int, progress: DownloadProgress) -> None:
        if self._current(run_id):
            self.progressed.emit(KIND, progress)

    def _finish(self) -> None:
        # The worker quits its thread right after its last signal: wait for that before
        # anyone reacts, so a new download may start from a slot and nothing is left running.
        if self._thread is not None:
            self._thread.wait(10_000)
        self._release()

    def _on_worker_finished(self, run_id: int, folder: str) -> None:
        if self._current(run_id):
            self._finish()
            self.finished.emit(KIND, folder)

    def _on_worker_failed(self, run_id: int, message: str) -> None:
        if self._current(run_id):
            self._finish()
            self.failed.emit(KIND, message, "")

    def _on_worker_cancelled(self, run_id: int) -> None:
        if self._current(run_id):
            self._finish()
            self.cancelled.emit(KIND)


def adopt_mnist_copy(location: MnistLocation, dest: str | os.PathLike | None = None) -> MnistLocation:
    """Copy the MNIST files at ``location`` into ``dest`` (default ``user_data_dir()/mnist``)
    and check that the copy loads. Returns the new location.

    Each file is copied to a temporary name and renamed into place, so an interrupted copy
    never leaves a truncated file to be found later; a copy that does not load (damaged or
    not MNIST) is removed again. Raises DataError naming the problem. The check decodes the
    files once, which also fills the in-memory cache the first use of the dataset reads.
    """
    target = Path(dest) if dest is not None else mnist_folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{target}: the folder for MNIST cannot be created ({e.strerror or e})") from None
    copies: list[Path] = []
    created: list[Path] = []
    try:
        for source in location.paths:
            final = target / source.name
            if final.exists() and final.resolve() == source.resolve():
                copies.append(final)
                continue
            temporary = target / f".{source.name}.copying"
            try:
                shutil.copyfile(source, temporary)
                os.replace(temporary, final)
            except OSError as e:
                temporary.unlink(missing_ok=True)
                raise DataError(f"{source}: could not be copied to {target} ({e.strerror or e})") from None
            copies.append(final)
            created.append(final)
        adopted = MnistLocation(location.kind, tuple(copies), "nnstudio data folder")
        load_mnist(adopted)
    except DataError:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return adopted
