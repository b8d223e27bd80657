"""One signal vocabulary for every piece of background work (nnstudio.background.work).

Training (worker and controller), the task runner and the MNIST download all derive from
``BackgroundWork``; the workers declare no signal of their own beside its five, and the
download emits them in order: started, progressed…, then exactly one end signal, with the
downloader no longer running by then.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Signal

from core.data import MNIST_FILES
from nnstudio.background.task_runner import TaskRunner
from nnstudio.background.work import BackgroundWork
from nnstudio.controllers.mnist_download import DownloadProgress, MnistDownloader
from nnstudio.controllers.training_controller import TrainingController
from nnstudio.controllers.training_worker import TrainingWorker
from tests.loopback_mnist import MnistServer, bypass_proxies, closed_port_url, serving

VOCABULARY = {"started", "progressed", "finished", "failed", "cancelled"}
TOTAL = sum(size for _, size, _ in MNIST_FILES)


def own_signals(cls: type) -> set[str]:
    """Signals ``cls`` and its bases up to BackgroundWork declare themselves."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is BackgroundWork:
            break
        names |= {name for name, value in vars(klass).items() if isinstance(value, Signal)}
    return names


def test_background_work_declares_the_five_signals():
    assert {name for name, value in vars(BackgroundWork).items() if isinstance(value, Signal)} == VOCABULARY


@pytest.mark.parametrize("cls", [TrainingWorker, TaskRunner, MnistDownloader, TrainingController],
                         ids=lambda c: c.__name__)
def test_every_background_object_speaks_the_vocabulary(cls):
    assert issubclass(cls, BackgroundWork)
    assert not own_signals(cls) & {"packetReady", "runEnded", "busyChanged", "succeeded", "progressChanged",
                                   "preparing", "runningChanged", "runStarted", "runFinished", "runFailed"}


@pytest.mark.parametrize("cls", [TrainingWorker, TaskRunner, MnistDownloader], ids=lambda c: c.__name__)
def test_workers_add_no_signal_of_their_own(cls):
    assert own_signals(cls) == set()


def record(work: MnistDownloader) -> list[tuple]:
    events: list[tuple] = []
    work.started.connect(lambda kind: events.append(("started", kind, work.running)))
    work.progressed.connect(lambda kind, p: events.append(("progressed", kind, p)))
    work.finished.connect(lambda kind, result: events.append(("finished", kind, result, work.running)))
    work.failed.connect(lambda kind, message, details: events.append(("failed", kind, message, details,
                                                                       work.running)))
    work.cancelled.connect(lambda kind: events.append(("cancelled", kind, work.running)))
    return events


def test_a_failed_download_says_started_then_failed(qtbot, tmp_path, monkeypatch):
    bypass_proxies(monkeypatch)
    downloader = MnistDownloader(tmp_path / "mnist", mirrors=(closed_port_url(),), timeout=5)
    events = record(downloader)
    with qtbot.waitSignal(downloader.failed, timeout=20_000):
        assert downloader.start()
    assert events[0] == ("started", "mnist", True)
    kind, message, details, running = events[-1][1:]
    assert (kind, details, running) == ("mnist", "", False) and "MNIST" in message
    assert [e[0] for e in events] == ["started"] + ["progressed"] * (len(events) - 2) + ["failed"]
    assert downloader.shutdown()


@pytest.mark.mnist
def test_a_download_says_started_progressed_preparing_finished(qtbot, tmp_path, monkeypatch, mnist_dir):
    bypass_proxies(monkeypatch)
    server = MnistServer({name: (mnist_dir / name).read_bytes() for name, _, _ in MNIST_FILES})
    with serving(server):
        downloader = MnistDownloader(tmp_path / "mnist", mirrors=(server.url,), timeout=10)
        events = record(downloader)
        with qtbot.waitSignal(downloader.finished, timeout=60_000):
            assert downloader.start()
    assert events[0] == ("started", "mnist", True)
    assert events[-1] == ("finished", "mnist", str(tmp_path / "mnist"), False)
    progress = [e[2] for e in events[1:-1]]
    assert all(e[0] == "progressed" and e[1] == "mnist" for e in events[1:-1])
    assert all(isinstance(p, DownloadProgress) for p in progress)
    assert progress[-1].preparing and not any(p.preparing for p in progress[:-1])
    assert progress[-1].done == progress[-1].total == TOTAL
    done = [p.done for p in progress[:-1]]
    assert done == sorted(done) and done[-1] == TOTAL
