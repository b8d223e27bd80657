"""TaskRunner (background jobs with GUI-thread results) and RefreshThrottle."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QWidget

from nnstudio.background.task_runner import TaskRunner
from nnstudio.controllers.eval_throttle import RefreshThrottle

WAIT = 10_000


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.wait(WAIT)


def gui_thread():
    return QApplication.instance().thread()


def test_result_arrives_on_the_gui_thread(qtbot, runner):
    seen = {}

    def job(a, b):
        seen["thread"] = threading.current_thread()
        return a + b

    def on_finished(kind, result):
        seen["receiver_thread"] = QThread.currentThread()
        seen["result"] = (kind, result)

    runner.finished.connect(on_finished)
    with qtbot.waitSignal(runner.finished, timeout=WAIT):
        runner.submit("add", job, 2, 3)
        assert runner.busy("add")
    assert seen["result"] == ("add", 5)
    assert seen["thread"] is not threading.main_thread()  # ran in the background
    assert seen["receiver_thread"] is gui_thread()
    assert not runner.busy("add")


def test_only_the_newest_job_of_a_kind_reports(qtbot, runner):
    gate = threading.Event()
    results = []
    runner.finished.connect(lambda kind, result: results.append(result))

    def slow(value):
        gate.wait(WAIT / 1000)
        return value

    runner.submit("eval", slow, "old")
    runner.submit("eval", slow, "new")
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy("eval"), timeout=WAIT)
    assert runner.wait(WAIT)
    qtbot.waitUntil(lambda: results == ["new"], timeout=WAIT)


def test_a_steered_job_reports_progress_on_the_gui_thread_then_its_result(qtbot, runner):
    news = []

    def job(n, *, progress, should_stop):
        for i in range(n):
            progress((i + 1) / n, f"step {i + 1}")
        return "done"

    runner.progressed.connect(lambda kind, payload: news.append((kind, payload, QThread.currentThread())))
    with qtbot.waitSignal(runner.finished, timeout=WAIT) as finished:
        runner.submit("tune", job, 3, steered=True)
    assert finished.args == ["tune", "done"]
    assert [payload for _, payload, _ in news] == [(1 / 3, "step 1"), (2 / 3, "step 2"), (1.0, "step 3")]
    assert all(kind == "tune" and thread is gui_thread() for kind, _, thread in news)


def test_cancel_stops_a_steered_job_which_then_reports_cancelled_not_its_result(qtbot, runner):
    running, asked = threading.Event(), []
    finished = []
    runner.finished.connect(lambda kind, result: finished.append(result))

    def job(*, progress, should_stop):
        running.set()
        while not should_stop():  # a fine-tune polls before every step
            running.wait(0.001)
        asked.append(True)
        return "partial result"

    runner.submit("tune", job, steered=True)
    assert running.wait(WAIT / 1000)
    with qtbot.waitSignal(runner.cancelled, timeout=WAIT) as cancelled:
        runner.cancel("tune")
    assert cancelled.args == ["tune"] and asked == [True]
    assert finished == [] and not runner.busy("tune")


def test_a_superseded_steered_job_is_asked_to_stop_and_its_news_is_dropped(qtbot, runner):
    first_running, release = threading.Event(), threading.Event()
    stopped_early, news = [], []
    runner.progressed.connect(lambda kind, payload: news.append(payload))

    def first(*, progress, should_stop):
        first_running.set()
        release.wait(WAIT / 1000)
        stopped_early.append(should_stop())
        progress(0.5, "old news")
        return "old"

    def second(*, progress, should_stop):
        progress(1.0, "new news")
        return "new"

    runner.submit("tune", first, steered=True)
    assert first_running.wait(WAIT / 1000)
    with qtbot.waitSignal(runner.finished, timeout=WAIT) as finished:
        runner.submit("tune", second, steered=True)
        release.set()
    assert finished.args == ["tune", "new"]
    assert stopped_early == [True] and news == [(1.0, "new news")]


def test_cancel_leaves_a_pure_job_alone(qtbot, runner):
    with qtbot.waitSignal(runner.finished, timeout=WAIT) as finished:
        runner.submit("eval", lambda: 42)
        runner.cancel("eval")
    assert finished.args == ["eval", 42]


def test_busy_without_a_kind_covers_every_kind(qtbot, runner):
    gate = threading.Event()
    assert not runner.busy()
    runner.submit("slow", gate.wait, WAIT / 1000)
    assert runner.busy()
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy("slow"), timeout=WAIT)
    assert not runner.busy()
    with qtbot.waitSignal(runner.finished, timeout=WAIT):
        runner.submit("quick", lambda: 1)
        assert runner.busy() and not runner.busy("slow")
    assert not runner.busy()


def test_failures_are_relayed_with_details(qtbot, runner):
    def boom():
        raise ValueError("the data do not fit")

    with qtbot.waitSignal(runner.failed, timeout=WAIT) as blocker:
        runner.submit("x", boom)
    kind, message, details = blocker.args
    assert (kind, message) == ("x", "the data do not fit")
    assert "Traceback" in details and "ValueError" in details


def test_started_then_finished_bracket_the_busy_time(qtbot, runner):
    # The BackgroundWork vocabulary (was busyChanged(kind, True/False)): started(kind) when
    # the kind becomes busy, finished(kind, result) when it is no longer busy.
    states = []
    runner.started.connect(lambda kind: states.append((kind, "started", runner.busy(kind))))
    runner.finished.connect(lambda kind, result: states.append((kind, "finished", runner.busy(kind))))
    with qtbot.waitSignal(runner.finished, timeout=WAIT):
        runner.submit("k", lambda: 1)
    assert states == [("k", "started", True), ("k", "finished", False)]


def test_a_superseding_job_starts_nothing_new_and_failure_ends_the_busy_time(qtbot, runner):
    gate = threading.Event()
    events = []
    runner.started.connect(lambda kind: events.append(("started", kind)))
    runner.failed.connect(lambda kind, message, details: events.append(("failed", kind, runner.busy(kind))))

    def fail_after_gate():
        gate.wait(WAIT / 1000)
        raise ValueError("no")

    runner.submit("k", gate.wait, WAIT / 1000)
    runner.submit("k", fail_after_gate)
    assert events == [("started", "k")]  # one busy time for the kind, not two
    with qtbot.waitSignal(runner.failed, timeout=WAIT):
        gate.set()
    assert events == [("started", "k"), ("failed", "k", False)]


def test_throttle_runs_at_once_then_collapses_requests(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    calls = []
    throttle = RefreshThrottle(widget, lambda: calls.append(1), 100)
    throttle.request()
    assert len(calls) == 1
    for _ in range(10):
        throttle.request()
    assert len(calls) == 1 and throttle.pending
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=WAIT)
    assert not throttle.pending


class _View(QWidget):
    """Wires the throttle as the real views do."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.throttle = RefreshThrottle(self, lambda: self.calls.append(1), 100)

    def showEvent(self, event):
        super().showEvent(event)
        self.throttle.widget_shown()


def test_throttle_waits_while_hidden(qtbot):
    view = _View()
    qtbot.addWidget(view)
    view.throttle.request()
    view.throttle.request()
    assert view.calls == [] and view.throttle.pending
    view.show()
    qtbot.waitUntil(lambda: view.calls == [1], timeout=WAIT)
    assert not view.throttle.pending
    view.hide()
    view.show()  # nothing owed: no refresh
    qtbot.waitUntil(lambda: not view.throttle._timer.isActive(), timeout=WAIT)
    assert view.calls == [1]
