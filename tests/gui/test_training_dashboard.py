"""TrainingDashboard: buttons follow the controller, live plots, hover, log scale, runs to
compare, PNG / CSV export, Space key, menu actions. Driven with real clicks and keys."""

from __future__ import annotations

import csv
import time
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QPushButton, QVBoxLayout, QWidget

from core import Network
from nnstudio.controllers.training_controller import TrainingController
from nnstudio.main_window import wire_training_commands
from nnstudio.state.document import Document, DocumentState
from nnstudio.widgets.train.training_dashboard import REFRESH_MS, TrainingDashboard

RUN_TIMEOUT = 20_000


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture
def controller(qtbot, document):
    c = TrainingController(document)
    yield c
    assert c.shutdown(), "the training thread did not stop"
    assert not c.thread_running


@pytest.fixture
def dash(qtbot, document, controller, dialogs):
    d = TrainingDashboard(document, controller, dialogs)
    wire_training_commands(d, controller)  # as the main window does
    qtbot.addWidget(d)
    d.resize(900, 700)
    d.show()
    qtbot.waitExposed(d)
    return d


def configure(document: Document, **training) -> None:
    document.change("test settings", training=replace(document.training, **training))


def button(dash, name) -> QPushButton:
    b = dash.findChild(QPushButton, name)
    assert b is not None, name
    return b


def click(qtbot, dash, name) -> None:
    b = button(dash, name)
    assert b.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(b, Qt.MouseButton.LeftButton)


def enabled(dash) -> dict[str, bool]:
    names = ("trainButton", "pauseButton", "stepButton", "stepEpochButton", "stopButton", "resetWeightsButton")
    return {n: button(dash, n).isEnabled() for n in names}


def train(qtbot, dash, controller) -> tuple:
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        click(qtbot, dash, "trainButton")
    return done.args[1].status, done.args[1].message


def test_public_object_names(dash):
    assert dash.objectName() == "trainingDashboard"
    for name in ("lossPlot", "accuracyPlot", "logScaleCheck", "hoverLabel", "exportButton", "clearRunsButton",
                 "trainingProgress"):
        assert dash.findChild(QWidget, name) is not None, name


def test_buttons_follow_the_controller_through_a_run(qtbot, dash, controller, document):
    configure(document, epochs=2, batch_size=64)
    assert enabled(dash) == {"trainButton": True, "pauseButton": False, "stepButton": True,
                             "stepEpochButton": True, "stopButton": False, "resetWeightsButton": False}
    assert button(dash, "trainButton").text() == "Train"

    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    assert controller.state == "paused"
    assert enabled(dash) == {"trainButton": False, "pauseButton": True, "stepButton": True,
                             "stepEpochButton": True, "stopButton": True, "resetWeightsButton": False}
    assert button(dash, "pauseButton").text() == "Resume"

    click(qtbot, dash, "pauseButton")  # Resume
    assert controller.state in ("running", "idle")
    if controller.state == "running":
        assert button(dash, "pauseButton").text() == "Pause" and not button(dash, "stepButton").isEnabled()
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=RUN_TIMEOUT)
    assert button(dash, "trainButton").text() == "Continue"
    assert enabled(dash) == {"trainButton": True, "pauseButton": False, "stepButton": True,
                             "stepEpochButton": True, "stopButton": False, "resetWeightsButton": True}
    assert dash.controls.progress.value() == dash.controls.progress.maximum()
    assert dash.controls.progress.text() == "Trained 2 epochs"


def test_stop_button_and_progress_text_while_paused(qtbot, dash, controller, document):
    configure(document, epochs=3, batch_size=100)
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    assert dash.controls.progress.text() == "Paused · Epoch 1 of 3 · batch 1 of 13"
    assert 0 < dash.controls.progress.value() < 30
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        click(qtbot, dash, "stopButton")
        assert not button(dash, "stopButton").isEnabled()  # stopping
    assert done.args[1].status == "stopped" and enabled(dash)["trainButton"]


def test_plots_show_every_batch_and_epoch_and_refresh_at_most_20_times_a_second(qtbot, dash, controller,
                                                                                 document, monkeypatch):
    configure(document, epochs=8, batch_size=16)
    calls = []
    original = dash.loss_plot.update_series
    monkeypatch.setattr(dash.loss_plot, "update_series", lambda changed: (calls.append(1), original(changed)))
    statuses = []
    dash.statusText.connect(statuses.append)
    batches = []
    controller.batchReport.connect(batches.append)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "trainButton")
    t0 = time.perf_counter()
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        pass
    elapsed = time.perf_counter() - t0
    x, y = dash.loss_plot.curve_data("batch_loss")
    assert len(x) == len(batches) == 8 * 79
    assert np.allclose(x, [b.progress for b in batches]) and np.allclose(y, [b.loss for b in batches])
    ex, ey = dash.loss_plot.curve_data("epoch_loss")
    assert np.array_equal(ex, np.arange(1, 9)) and np.allclose(ey, [e.loss for e in document.network.history.epochs])
    vx, vy = dash.accuracy_plot.curve_data("val_accuracy")
    assert len(vx) == 8 and 0.8 < vy[-1] <= 1.0
    sx, sy = dash.loss_plot.curve_data("batch_loss_smooth")
    assert len(sx) == len(x) and np.std(np.diff(sy)) < np.std(np.diff(y))  # smoother than the raw line
    # redraws are timer-driven: at most one per REFRESH_MS (plus the final catch-up)
    assert len(calls) <= elapsed * 1000 / REFRESH_MS + 3
    assert statuses[-1] == "Training finished after 8 epochs"


def test_hover_reads_out_the_exact_point(qtbot, dash, controller, document):
    configure(document, epochs=4, batch_size=64)
    train(qtbot, dash, controller)
    plot = dash.loss_plot
    vb = plot.getPlotItem().getViewBox()
    # the view follows the data lazily, when it paints
    qtbot.waitUntil(lambda: vb.viewRange()[0][0] < 0.5 and 3.5 < vb.viewRange()[0][1] < 5, timeout=2000)
    target = 2.5
    scene = vb.mapViewToScene(QPointF(target, float(np.mean(vb.viewRange()[1]))))
    qtbot.mouseMove(plot.viewport(), plot.mapFromScene(scene))
    qtbot.waitUntil(lambda: dash.hover_label.text().startswith("At epoch"), timeout=2000)
    xs, ys = plot.curve_data("batch_loss")
    i = int(np.argmin(np.abs(xs - target)))
    # the pixel grid moves the cursor a little: accept the point at or next to the target
    text = dash.hover_label.text()
    candidates = [f"At epoch {xs[j]:.4g} · loss {ys[j]:.4g} (batch)" for j in (i - 1, i, i + 1)]
    assert any(text.startswith(c) for c in candidates), text
    assert "epoch 3: training" in text or "epoch 2: training" in text
    assert "validation" in text


def test_log_scale_toggle(qtbot, dash):
    box = dash.findChild(QWidget, "logScaleCheck")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert dash.loss_plot.log_y and dash.loss_plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert not dash.accuracy_plot.log_y
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert not dash.loss_plot.log_y


def test_change_events_are_drawn_as_labelled_lines(qtbot, dash, controller, document):
    configure(document, epochs=1, batch_size=32)
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    controller.set_learning_rate(0.01)
    with qtbot.waitSignal(controller.waitingChanged, check_params_cb=bool, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    event = document.network.history.events[-1]
    assert dash.loss_plot.change_lines == [(event.progress, "lr 0.001 → 0.01")]
    assert [x for x, _ in dash.accuracy_plot.change_lines] == [event.progress]
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stopButton")


def test_fresh_runs_keep_earlier_runs_faded_until_clear(qtbot, dash, controller, document, dialogs):
    configure(document, epochs=2, batch_size=64)
    train(qtbot, dash, controller)
    first = dash.loss_plot.curve_data("batch_loss_smooth")[1].copy()

    dialogs.confirm_answer = False
    click(qtbot, dash, "resetWeightsButton")
    assert dialogs.asked[-1] == "confirm" and document.network is not None  # declined: nothing lost

    dialogs.confirm_answer = True
    click(qtbot, dash, "resetWeightsButton")
    assert document.network is None and dash.curves.empty
    for plot in dash.plots:  # the old run moved to the faded comparison curves: nothing current left
        m = plot.metric
        names = [f"batch_{m}_smooth", f"epoch_{m}", f"val_{m}"] + (["batch_loss"] if m == "loss" else [])
        assert all(plot.curve_data(name)[0] is None or len(plot.curve_data(name)[0]) == 0 for name in names)
    assert dash.comparison_labels == ["run 1: Adam lr 0.001, batch 64"]
    assert dash.loss_plot.comparison_count == dash.accuracy_plot.comparison_count == 1
    assert "run 1: Adam lr 0.001, batch 64" in dash.loss_plot.legend_labels()

    spec = document.spec
    document.change("lr", spec=replace(spec, optimizer={"type": "Adam", "learning_rate": 0.01}))
    train(qtbot, dash, controller)
    assert dash.comparison_labels == ["run 1: Adam lr 0.001, batch 64"]
    kept = dash.loss_plot._comparisons[0][0].getData()[1]
    assert np.array_equal(kept, first) and not np.array_equal(dash.loss_plot.curve_data("batch_loss_smooth")[1], first)

    click(qtbot, dash, "keepComparisonButton")
    assert dash.comparison_labels[1].startswith("run 2: Adam lr 0.01, batch 64 (at epoch 2")
    click(qtbot, dash, "clearRunsButton")
    assert dash.comparison_labels == [] and dash.loss_plot.comparison_count == 0
    assert not any(label.startswith("run ") for label in dash.loss_plot.legend_labels())
    assert not button(dash, "clearRunsButton").isEnabled()


def test_continuing_extends_the_same_curves(qtbot, dash, controller, document):
    configure(document, epochs=1, batch_size=128)
    train(qtbot, dash, controller)
    n = len(dash.loss_plot.curve_data("batch_loss")[0])
    train(qtbot, dash, controller)
    assert len(dash.loss_plot.curve_data("batch_loss")[0]) == 2 * n and not dash.comparison_labels
    assert list(dash.loss_plot.curve_data("epoch_loss")[0]) == [1.0, 2.0]


def test_a_loaded_network_shows_its_history(qtbot, document, controller, dialogs):
    s = document.splits()
    net = Network.from_spec(document.spec)
    net.fit(s.x_train, s.y_train, epochs=2, batch_size=200, validation_data=(s.x_val, s.y_val))
    document.reset(DocumentState(document.spec, document.training, document.dataset_choice, net))
    dash = TrainingDashboard(document, controller, dialogs)
    qtbot.addWidget(dash)
    dash.show()
    x, _ = dash.loss_plot.curve_data("batch_loss")
    assert np.allclose(x, net.history.batches["progress"])
    assert button(dash, "trainButton").text() == "Continue"
    assert dash.controls.progress.text() == "Trained 2 epochs"


def test_hidden_dashboard_catches_up_when_shown(qtbot, dash, controller, document):
    configure(document, epochs=2, batch_size=64)
    dash.hide()
    train(qtbot, dash, controller)
    assert len(dash.curves["batch_loss"]) == 2 * 20
    dash.show()
    qtbot.waitExposed(dash)
    assert len(dash.loss_plot.curve_data("batch_loss")[0]) == 2 * 20


def test_export_plots_as_png(qtbot, dash, controller, document, dialogs, tmp_path):
    configure(document, epochs=2, batch_size=64)
    train(qtbot, dash, controller)
    statuses = []
    dash.statusText.connect(statuses.append)
    dialogs.save_path = str(tmp_path / "loss")  # no suffix: .png is added
    dash.export_loss_action.trigger()
    image = QImage(str(tmp_path / "loss.png"))
    assert not image.isNull() and image.width() == 1200 and statuses[-1] == "Saved loss.png"
    dialogs.save_path = str(tmp_path / "acc.png")
    dash.export_accuracy_action.trigger()
    assert not QImage(str(tmp_path / "acc.png")).isNull()
    dialogs.save_path = None  # cancelled
    before = sorted(tmp_path.iterdir())
    dash.export_loss_action.trigger()
    assert sorted(tmp_path.iterdir()) == before and dialogs.asked.count("export") == 3


def test_export_history_as_csv_only_when_the_history_is_still(qtbot, dash, controller, document, dialogs,
                                                              tmp_path):
    configure(document, epochs=3, batch_size=64)
    messages = []
    document.message.connect(lambda text, level, details: messages.append((text, level)))
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    assert not dash.export_epochs_action.isEnabled() or controller.waiting
    qtbot.waitUntil(lambda: controller.waiting, timeout=RUN_TIMEOUT)
    assert dash.export_batches_action.isEnabled()  # paused and waiting: the history is still
    click(qtbot, dash, "pauseButton")  # resume
    assert not dash.export_epochs_action.isEnabled() or controller.state == "idle"
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=RUN_TIMEOUT)

    dialogs.save_path = str(tmp_path / "epochs.csv")
    dash.export_epochs_action.trigger()
    rows = list(csv.reader((tmp_path / "epochs.csv").open(encoding="utf-8")))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert float(rows[3][1]) == document.network.history.epochs[2].loss

    dialogs.save_path = str(tmp_path / "batches")
    dash.export_batches_action.trigger()
    rows = list(csv.reader((tmp_path / "batches.csv").open(encoding="utf-8")))
    assert len(rows) == 1 + 3 * 20

    dialogs.save_path = str(tmp_path / "no-such-folder" / "h.csv")
    dash.export_epochs_action.trigger()
    assert messages[-1][1] == "error" and "h.csv" in messages[-1][0]


def test_space_toggles_pause_inside_the_dashboard_but_never_steals_a_buttons_space(qtbot, dash, controller,
                                                                                   document):
    configure(document, epochs=400, batch_size=8)
    outside = QPushButton("elsewhere")
    host = QWidget()
    QVBoxLayout(host).addWidget(outside)
    qtbot.addWidget(host)
    host.show()
    clicks = []
    outside.clicked.connect(lambda: clicks.append(1))

    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "trainButton")
    dash.loss_plot.setFocus()
    qtbot.keyClick(dash.loss_plot, Qt.Key.Key_Space)
    assert controller.state == "paused"
    qtbot.waitUntil(lambda: controller.waiting, timeout=RUN_TIMEOUT)

    # A focused button inside the dashboard takes Space itself: Step batch steps one batch.
    step = button(dash, "stepButton")
    step.setFocus()
    n = len(document.network.history.batches["loss"])
    with qtbot.waitSignal(controller.waitingChanged, check_params_cb=bool, timeout=RUN_TIMEOUT):
        qtbot.keyClick(step, Qt.Key.Key_Space)
    assert controller.state == "paused" and len(document.network.history.batches["loss"]) == n + 1

    # Space in another widget of the window is that widget's.
    host.activateWindow()
    outside.setFocus()
    qtbot.keyClick(outside, Qt.Key.Key_Space)
    assert clicks == [1] and controller.state == "paused"

    qtbot.keyClick(dash.loss_plot, Qt.Key.Key_Space)
    assert controller.state == "running"
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stopButton")


def test_menu_actions_are_the_training_commands(qtbot, dash, controller, document):
    configure(document, epochs=1, batch_size=128)
    actions = dash.menu_actions()
    assert [a.text() for a in actions] == ["Train", "Pause", "Step batch", "Step epoch", "Stop", "Reset weights"]
    assert [a.isEnabled() for a in actions] == [True, False, True, True, False, False]
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        actions[0].trigger()
    assert actions[0].text() == "Continue" and actions[5].isEnabled()


def test_axes_hold_still_while_a_run_feeds_points(qtbot):
    from core import BatchReport
    from core.monitor.curves import TrainingCurves
    from nnstudio.widgets.train.training_plot import MetricPlot

    plot = MetricPlot("loss", "Loss")
    qtbot.addWidget(plot)
    plot.show()
    curves = TrainingCurves(span=5)
    plot.set_run(curves)
    plot.hold_ranges(0.0, 10.0)
    vb = plot.getPlotItem().getViewBox()
    ranges = set()
    for step in range(200):  # a falling loss, 5 batches per refresh
        reports = [BatchReport(0, i, 1000, (5 * step + i + 1) / 100, 2.0 / (1 + 0.05 * (5 * step + i)), 0.5,
                               0.01, 8, 8) for i in range(5)]
        plot.update_series(curves.add(reports))
        ranges.add(tuple(map(tuple, vb.state["targetRange"])))
    assert len(ranges) == 1  # not one per refresh
    (x_range, y_range), = ranges
    assert x_range[0] < 0.0 + 0.2 and x_range[1] > 9.9 and y_range[0] == 0.0 and y_range[1] > 2.0
    spike = [BatchReport(0, 0, 1000, 10.0, 9.0, 0.5, 0.01, 8, 8)]
    plot.update_series(curves.add(spike))  # data leave the range: it grows, once
    assert vb.state["targetRange"][1][1] > 9.0
    plot.follow_data()
    assert vb.state["autoRange"][0] and vb.state["autoRange"][1]


@pytest.mark.parametrize("second_run", ["fresh", "fresh on cleared axes", "continued"])
def test_both_linked_x_axes_hold_still_through_a_second_run(qtbot, dash, controller, document, dialogs,
                                                             second_run):
    """The x axes are linked: if either plot still autoscales x during a run, it drags the
    other along as points arrive (and both axes are redrawn each time). After a finished
    run both plots autoscale again; the next run must switch that off in both, even when
    its x range happens to equal the one shown (pyqtgraph then tells no linked view): after
    Reset weights and Clear runs there is nothing to fit, so the last run's range stays."""
    configure(document, epochs=3, batch_size=64)
    train(qtbot, dash, controller)
    if second_run.startswith("fresh"):
        dialogs.confirm_answer = True
        click(qtbot, dash, "resetWeightsButton")
        assert document.network is None
    if second_run == "fresh on cleared axes":
        click(qtbot, dash, "clearRunsButton")
        QApplication.processEvents()  # repainted: nothing left to fit, the last run's x range stays
    seen = {plot.metric: [] for plot in dash.plots}

    def step_and_look(name: str) -> None:
        with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
            click(qtbot, dash, name)
        QApplication.processEvents()
        for plot in dash.plots:
            plot.repaint()  # pyqtgraph autoscales when it paints
            vb = plot.getPlotItem().getViewBox()
            seen[plot.metric].append((tuple(vb.viewRange()[0]), vb.state["autoRange"][0]))

    for name in ("stepButton", "stepButton", "stepEpochButton", "stepButton", "stepEpochButton"):
        step_and_look(name)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stopButton")
    end = 6.0 if second_run == "continued" else 3.0
    for metric, states in seen.items():
        assert {autoscale for _, autoscale in states} == {False}, metric
        ranges = {x for x, _ in states}
        assert len(ranges) == 1, (metric, ranges)
        (lo, hi), = ranges
        assert lo <= 0.0 and end <= hi < end * 1.05, (metric, lo, hi)
    for plot in dash.plots:  # after the run both fit their data again
        assert plot.getPlotItem().getViewBox().state["autoRange"][0]


def test_a_runs_first_frame_is_painted_before_the_training_thread_starts(qtbot, dash, controller, document):
    """Painted later, the run's first frame (buttons, progress, axes) would compete
    with the first batches for the GIL; start() flushes it before starting the thread."""
    configure(document, epochs=1, batch_size=64)
    watched = {"progress": dash.controls.progress, "stop": button(dash, "stopButton"),
               "train": button(dash, "trainButton")}
    painted: set[str] = set()

    class PaintSpy(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                painted.update(name for name, w in watched.items() if w is obj)
            return False

    spy = PaintSpy()
    for w in watched.values():
        w.installEventFilter(spy)
    QApplication.processEvents()  # nothing left to paint from before
    painted.clear()
    thread_running_at_paint = []
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        assert controller.start()
        thread_running_at_paint.append(controller.thread_running)
        assert painted == set(watched), painted  # all painted inside start(), before it returned
    assert thread_running_at_paint == [True]


def test_steady_redraws_repaint_only_the_curves(qtbot, monkeypatch):
    """Title, axes, legend and epoch markers come from Qt's item cache while points arrive:
    pyqtgraph's Python paint (which holds the GIL the training thread needs) runs for them
    only when they change."""
    import pyqtgraph as pg
    from pyqtgraph.graphicsItems.AxisItem import AxisItem
    from pyqtgraph.graphicsItems.LegendItem import ItemSample, LegendItem

    from core import BatchReport
    from core.monitor.curves import TrainingCurves
    from nnstudio.widgets.train.training_plot import MetricPlot

    painted: dict[str, int] = {}

    def counting(cls):
        original = cls.paint

        def paint(self, *args):
            painted[cls.__name__] = painted.get(cls.__name__, 0) + 1
            return original(self, *args)
        monkeypatch.setattr(cls, "paint", paint)

    for cls in (AxisItem, LegendItem, ItemSample, pg.ScatterPlotItem, pg.PlotCurveItem):
        counting(cls)
    plot = MetricPlot("loss", "Loss")
    qtbot.addWidget(plot)
    plot.resize(700, 400)
    plot.show()
    qtbot.waitExposed(plot)
    curves = TrainingCurves(span=5)
    plot.set_run(curves)
    plot.add_comparison(TrainingCurves(span=5), "run 1")  # a legend entry added later is cached too
    plot.hold_ranges(0.0, 10.0)
    QApplication.processEvents()  # the window's backing store exists: repaint() paints now

    def feed(step):
        reports = [BatchReport(0, i, 1000, (5 * step + i + 1) / 100, 2.0 / (1 + 0.05 * (5 * step + i)), 0.5,
                               0.01, 8, 8) for i in range(5)]
        plot.update_series(curves.add(reports))
        plot.viewport().repaint()

    for step in range(3):  # first points: the loss axis settles
        feed(step)
    painted.clear()
    for step in range(3, 13):
        feed(step)
    assert painted.get("PlotCurveItem", 0) >= 10  # the curves were redrawn each time
    assert painted.get("AxisItem", 0) == 0 and painted.get("LegendItem", 0) == 0
    assert painted.get("ItemSample", 0) == 0 and painted.get("ScatterPlotItem", 0) == 0
    plot.getPlotItem().setXRange(0.0, 20.0, padding=0)  # a real change still reaches the axis
    plot.viewport().repaint()
    assert painted.get("AxisItem", 0) >= 1


# -- issue 15, item 7: one consistent state after a divergence ----------------------------------

def fail_at_call(monkeypatch, n: int) -> None:
    """Make the n-th training step from now raise like a NaN loss does (core skips the update
    and raises TrainingError; the run ends "diverged" with the weights of before it)."""
    import core
    from core.network import Network as Net

    original = Net.train_step
    calls = []

    def train_step(self, x, targets):
        calls.append(1)
        if len(calls) == n:
            raise core.TrainingError("the loss became NaN")
        return original(self, x, targets)
    monkeypatch.setattr(Net, "train_step", train_step)


def hover_over(qtbot, dash, x: float) -> None:
    plot = dash.loss_plot
    vb = plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(x, float(np.mean(vb.viewRange()[1]))))
    qtbot.mouseMove(plot.viewport(), plot.mapFromScene(scene))


def test_after_a_divergence_bar_buttons_status_and_hover_agree(qtbot, dash, controller, document, dialogs,
                                                              monkeypatch):
    configure(document, epochs=2, batch_size=64)  # 20 batches an epoch
    train(qtbot, dash, controller)
    vb = dash.loss_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] > 1.5, timeout=2000)
    hover_over(qtbot, dash, 1.5)
    qtbot.waitUntil(lambda: dash.hover_label.text().startswith("At epoch"), timeout=2000)

    dialogs.confirm_answer = True
    click(qtbot, dash, "resetWeightsButton")  # a fresh run, which diverges at its 5th batch
    fail_at_call(monkeypatch, 5)
    statuses = []
    dash.statusText.connect(statuses.append)
    status, message = train(qtbot, dash, controller)
    assert status == "diverged"

    assert len(document.network.history.batches["progress"]) == 4  # the failing batch was not applied
    assert button(dash, "trainButton").text() == "Continue"  # there is training to continue from
    bar = dash.controls.progress
    assert bar.text() == "Diverged at epoch 1, batch 5 · Trained 4 batches"
    assert 0 < bar.value() < bar.maximum() * 0.2  # 4 of the run's 40 batches
    assert statuses[-1] == f"Training diverged: {message}" and "batch 5" in message
    # The hover line no longer reads out the run that was replaced.
    assert not dash.hover_label.text().startswith("At epoch")

    monkeypatch.undo()  # Continue trains normally; then the bar says what was trained
    configure(document, epochs=1)
    train(qtbot, dash, controller)
    assert bar.text() == "Trained 1 epoch" and bar.value() == bar.maximum()


def test_stopping_mid_epoch_says_where_training_stands(qtbot, dash, controller, document):
    configure(document, epochs=3, batch_size=64)
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepEpochButton")
    for _ in range(3):
        with qtbot.waitSignal(controller.waitingChanged, check_params_cb=bool, timeout=RUN_TIMEOUT):
            click(qtbot, dash, "stepButton")
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stopButton")
    assert dash.controls.progress.text() == "Stopped in epoch 2 · Trained 1 epoch and 3 batches"
    assert button(dash, "trainButton").text() == "Continue"


# -- issue 15, item 8: change labels clear of the legend, runs named by their real settings,
# -- no run listed twice, a visible Reset view -------------------------------------------------

def drag_plot(qtbot, plot, dx: int, dy: int) -> None:
    """Press in the middle of the plot area, move in steps, release: a user's pan."""
    vb = plot.getPlotItem().getViewBox()
    start = plot.mapFromScene(vb.sceneBoundingRect().center())
    qtbot.mousePress(plot.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 6):
        qtbot.mouseMove(plot.viewport(), start + QPoint(dx * i // 5, dy * i // 5))
    qtbot.mouseRelease(plot.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(dx, dy))


def test_change_labels_stay_clear_of_the_legend(qtbot):
    from core import BatchReport, ChangeEvent
    from core.monitor.curves import TrainingCurves
    from nnstudio.widgets.train.training_plot import MetricPlot

    plot = MetricPlot("loss", "Loss")
    qtbot.addWidget(plot)
    plot.resize(700, 400)
    plot.show()
    qtbot.waitExposed(plot)
    curves = TrainingCurves(span=5)
    plot.set_run(curves)
    plot.add_comparison(TrainingCurves(span=5), "run 1: Adam lr 0.001, batch 32")
    reports = [BatchReport(0, i, 100, (i + 1) / 100, 2.0 - i / 100, 0.5, 0.001, 32, 32) for i in range(100)]
    plot.update_series(curves.add([*reports, ChangeEvent(0.3, "learning_rate", 0.001, 0.01),
                                   ChangeEvent(0.93, "learning_rate", 0.01, 0.003)]))
    plot.hold_ranges(0.0, 1.0)
    QApplication.processEvents()
    assert plot.legend.isVisible()
    legend = plot.legend.sceneBoundingRect()
    labels = [line.label for line in plot._lines]
    assert len(labels) == 2 and all(label.isVisible() for label in labels)
    for label in labels:
        assert not label.sceneBoundingRect().intersects(legend), label.toPlainText()
        assert plot.getPlotItem().getViewBox().sceneBoundingRect().contains(label.sceneBoundingRect())
    # the one far from the legend stays at the top
    assert labels[0].sceneBoundingRect().top() < legend.bottom()


def test_kept_runs_are_named_by_every_learning_rate_they_used(qtbot, dash, controller, document, dialogs):
    configure(document, epochs=1, batch_size=32)
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    controller.set_learning_rate(0.01)
    with qtbot.waitSignal(controller.waitingChanged, check_params_cb=bool, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stepButton")
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "stopButton")
    dialogs.confirm_answer = True
    click(qtbot, dash, "resetWeightsButton")
    assert dash.comparison_labels == ["run 1: Adam lr 0.001 → 0.01, batch 32"]
    assert "run 1: Adam lr 0.001 → 0.01, batch 32" in dash.loss_plot.legend_labels()


def test_edit_and_undo_never_list_the_same_run_twice(qtbot, dash, controller, document):
    configure(document, epochs=1, batch_size=64)
    train(qtbot, dash, controller)
    shown = dash.loss_plot.curve_data("batch_loss")[1].copy()
    layers = list(document.spec.layers)
    wider = replace(layers[0], config={**layers[0].config, "units": 32})
    document.change("Change units", spec=replace(document.spec, layers=tuple([wider, *layers[1:]])))
    assert document.network is None and dash.comparison_labels == ["run 1: Adam lr 0.001, batch 64"]

    document.undo_stack.undo()  # the trained network is back: its run is the current one again
    assert document.network is not None
    assert np.array_equal(dash.loss_plot.curve_data("batch_loss")[1], shown)
    assert dash.comparison_labels == [] and dash.loss_plot.comparison_count == 0

    document.undo_stack.redo()
    assert dash.comparison_labels == ["run 1: Adam lr 0.001, batch 64"]
    document.undo_stack.undo()
    document.undo_stack.redo()
    assert len(dash.comparison_labels) == 1 and dash.loss_plot.comparison_count == 1
    assert not button(dash, "keepComparisonButton").isEnabled()  # nothing current to keep


def test_a_panned_plot_shows_reset_view_and_goes_back_by_button_or_double_click(qtbot, dash, controller,
                                                                                 document):
    configure(document, epochs=3, batch_size=64)
    train(qtbot, dash, controller)
    plot = dash.loss_plot
    vb = plot.getPlotItem().getViewBox()
    _, ys = plot.curve_data("batch_loss")

    def shows_everything() -> bool:
        plot.repaint()  # pyqtgraph autoscales when it paints
        (x_lo, x_hi), (y_lo, y_hi) = vb.viewRange()
        return x_lo <= 0.02 and 3.0 <= x_hi < 3.2 and y_lo <= float(np.min(ys)) and float(np.max(ys)) <= y_hi

    qtbot.waitUntil(shows_everything, timeout=2000)
    reset = dash.findChild(QWidget, "lossResetViewButton")
    other = dash.findChild(QWidget, "accuracyResetViewButton")
    assert reset is not None and not reset.isVisible() and not other.isVisible()

    before = [tuple(r) for r in vb.viewRange()]
    drag_plot(qtbot, plot, 150, 40)
    moved = [tuple(r) for r in vb.viewRange()]
    assert moved[0][0] < before[0][0] - 0.1  # dragged right: earlier "epochs" come in from the left
    assert not shows_everything()
    assert reset.isVisible() and reset.text() == "Reset view"
    assert other.isVisible()  # the linked accuracy plot moved too
    assert plot.rect().contains(reset.geometry())
    # a run's end does not undo the user's view
    plot.follow_data()
    assert [tuple(r) for r in vb.viewRange()] == moved

    qtbot.mouseClick(reset, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(shows_everything, timeout=2000)
    assert not reset.isVisible() and not other.isVisible()

    drag_plot(qtbot, plot, -120, 0)
    assert reset.isVisible() and not shows_everything()
    centre = plot.mapFromScene(vb.sceneBoundingRect().center())
    qtbot.mouseDClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(shows_everything, timeout=2000)
    assert not reset.isVisible()
