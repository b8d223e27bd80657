"""The one signal vocabulary of every piece of background work in nnstudio.

Training (``TrainingWorker``, relayed by ``TrainingController``), the evaluation,
dataset, export, step-through and fine-tuning jobs (``TaskRunner``) and the MNIST download
(``MnistDownloader``) all derive from ``BackgroundWork`` and so speak the same five words,
each signal naming the job (its ``kind``: ``"training"``, ``"mnist"``, ``"evaluation"``…)
first:

- ``started(kind)``: the job began (the object is busy with ``kind`` from now on);
- ``progressed(kind, payload)``: news while it runs (a report packet, bytes downloaded…);
- then exactly one of
  - ``finished(kind, result)``: it ended with a result (a finished *or stopped* training run
    is a result: the network stays usable),
  - ``failed(kind, message, details)``: it ended with an error; ``message`` is a sentence
    for the user, ``details`` a traceback or "" for a report,
  - ``cancelled(kind)``: the user cancelled it and there is no result.

Between ``started`` and its end signal the work counts as busy for ``kind``. Objects that
live in a worker thread emit from there; objects that live in the GUI thread (the
controller, the runner, the downloader) emit in the GUI thread only, so widgets and tests
connect to and wait on those (PITFALLS.md, QThread 5 and 6).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

__all__ = ["BackgroundWork"]


class BackgroundWork(QObject):
    """Declares the five signals; subclasses run the work and emit them (see module doc)."""

    started = Signal(str)
    progressed = Signal(str, object)
    finished = Signal(str, object)
    failed = Signal(str, str, str)
    cancelled = Signal(str)
