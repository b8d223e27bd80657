"""Run pure functions (evaluation, gradient check, dataset loading) off the GUI thread;
results come back as GUI-thread signals of the ``BackgroundWork`` vocabulary.

A private ``QThreadPool`` (one thread) runs each job; a relay ``QObject`` living in the GUI
thread carries the result back by a queued signal to a bound method of this runner, which
re-emits it on the GUI thread (PITFALLS: never a lambda on a worker signal, never wait on a
signal emitted from another thread). Jobs receive only immutable or private data (a network
copy, read-only arrays) and never touch a widget.

Only the newest job of each ``kind`` reports: a result of an older job (e.g. an evaluation
of weights replaced since) is dropped.

A job submitted with ``steered=True`` (fine-tuning on the user's drawings) is also given two
keyword arguments: ``progress(fraction, text)``, which reaches the GUI thread as
``progressed(kind, (fraction, text))``, and ``should_stop()``, which turns true after
``cancel(kind)``; a cancelled job that then returns reports ``cancelled(kind)``, not its result.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal

from nnstudio.background.work import BackgroundWork

__all__ = ["TaskRunner"]


class _Relay(QObject):
    """Emitted from the pool's thread; lives in the GUI thread, so delivery is queued."""

    progressed = Signal(str, int, float, str)
    finished = Signal(str, int, object)
    failed = Signal(str, int, str, str)


class TaskRunner(BackgroundWork):
    """``submit(kind, fn, *args)`` runs ``fn(*args)`` in the background.

    Signals (GUI thread, ``nnstudio.background.work``): ``started(kind)`` when ``kind`` becomes
    busy (a job submitted while an older one of that kind still runs supersedes it and
    starts nothing new), then ``finished(kind, result)`` or ``failed(kind, message,
    details)`` for the newest job of that kind, after which ``kind`` is no longer busy.
    ``cancelled(kind)`` follows ``cancel(kind)`` for a steered job (see the module doc);
    a pure function cannot be cancelled.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # Created before the relay: Qt deletes children in creation order, and the pool's
        # destructor waits for running jobs, so the relay outlives every job that may emit.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_relay_progressed)
        self._relay.finished.connect(self._on_relay_finished)
        self._relay.failed.connect(self._on_relay_failed)
        self._tokens = itertools.count(1)
        self._latest: dict[str, int] = {}
        #: The stop request of each kind's newest steered job (``cancel`` sets it).
        self._stops: dict[str, threading.Event] = {}

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any, steered: bool = False) -> int:
        """Queue ``fn(*args)`` (with ``progress`` and ``should_stop`` keywords when
        ``steered``); returns its token. Supersedes earlier jobs of ``kind``."""
        token = next(self._tokens)
        was_busy = self.busy(kind)
        self._latest[kind] = token
        relay = self._relay
        keywords: dict[str, Any] = {}
        superseded = self._stops.pop(kind, None)
        if superseded is not None:
            superseded.set()  # its result would be dropped: let it stop early
        if steered:
            stop = self._stops[kind] = threading.Event()

            def progress(fraction: float, text: str) -> None:
                relay.progressed.emit(kind, token, float(fraction), str(text))

            keywords = {"progress": progress, "should_stop": stop.is_set}

        def job() -> None:
            try:
                result = fn(*args, **keywords)
            except Exception as exc:  # broad on purpose: every failure must reach the user, not kill the thread
                relay.failed.emit(kind, token, str(exc) or type(exc).__name__, traceback.format_exc())
                return
            relay.finished.emit(kind, token, result)

        self._pool.start(job)
        if not was_busy:
            self.started.emit(kind)
        return token

    def busy(self, kind: str | None = None) -> bool:
        """True while the newest job of ``kind`` (of any kind when None) has not reported."""
        return bool(self._latest) if kind is None else kind in self._latest

    def cancel(self, kind: str) -> None:
        """Ask the newest steered job of ``kind`` to stop; ``cancelled(kind)`` follows once it
        has returned. Nothing happens for a pure function or when ``kind`` is idle."""
        stop = self._stops.get(kind)
        if stop is not None and self.busy(kind):
            stop.set()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until every queued job has run (for shutdown and tests); False on timeout."""
        return self._pool.waitForDone(msecs)

    def deliver_results(self) -> None:
        """Emit ``finished`` / ``failed`` now for jobs that have run, instead of when the event
        loop gets to their queued results (start-up, before the loop runs)."""
        QCoreApplication.sendPostedEvents(self)  # the relay's queued signals are posted to this runner

    def _take(self, kind: str, token: int) -> bool:
        if self._latest.get(kind) != token:
            return False  # superseded by a newer job of the same kind
        del self._latest[kind]  # not busy any more when finished / failed is emitted
        return True

    def _on_relay_progressed(self, kind: str, token: int, fraction: float, text: str) -> None:
        if self._latest.get(kind) == token:  # a superseded job's news is old news
            self.progressed.emit(kind, (fraction, text))

    def _on_relay_finished(self, kind: str, token: int, result: object) -> None:
        if not self._take(kind, token):
            return
        stop = self._stops.pop(kind, None)
        if stop is not None and stop.is_set():
            self.cancelled.emit(kind)
        else:
            self.finished.emit(kind, result)

    def _on_relay_failed(self, kind: str, token: int, message: str, details: str) -> None:
        if self._take(kind, token):
            self._stops.pop(kind, None)
            self.failed.emit(kind, message, details)
