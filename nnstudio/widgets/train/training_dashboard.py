"""The Train tab: controls, live loss and accuracy plots, progress, comparison and export.

Data path: the controller relays the worker's packets (``reportsReceived``, ≤ ~10/s); this
widget only queues them. A QTimer at 5 Hz (``REFRESH_MS``) feeds what arrived to the run's
``core.TrainingCurves`` (growable buffers, smoothing in core) and pushes just the changed
series to the plots and the progress bar, all redrawn in one paint pass, so redraw cost does
not grow with the run and never runs per batch. The tick paces itself on the GUI thread's
measured CPU use (``GUI_BUSY_TARGET``): a big window or a slow machine gets fewer redraws
rather than slower training.
While the tab is hidden the curves still grow but the plots are only redrawn when shown.

Runs to compare: when a run starts from fresh weights, or a different network is loaded,
the curves shown so far stay on the axes, faded and named by the settings they really used
(every learning rate and batch size in order: "Adam lr 0.001 → 0.01, batch 32"), until
"Clear runs". "Keep as comparison" copies the current curves the same way at any time. A
run is never listed twice: when undo brings back a network whose run is kept as a
comparison, that run becomes the current one again (and leaves the comparisons), and
keeping the same curves again adds nothing.

Space toggles pause / resume while the focus is inside this tab and the focused widget does
not use Space itself (a focused button still clicks): never a window-wide shortcut.

Commands go out, never straight to the controller: the buttons, the Training menu's actions
and Space emit the ``…Requested`` signals below, and the main window connects them to the
controller (``nnstudio.main_window.wire_training_commands``). The dashboard only observes
the controller it is given (its state, reports and run ends) to show them.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QShowEvent
from PySide6.QtWidgets import QCheckBox, QLabel, QMenu, QPushButton, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from core import BatchReport, Network
from core.monitor.curves import Readout, TrainingCurves, run_label, trained_position, trained_text
from core.monitor.eta import ThroughputMeter, eta_seconds, format_duration, next_refresh_ms, progress_text, run_fraction
from core.monitor.history_csv import batches_csv, epochs_csv
from core.monitor.smoothing import smoothing_span
from nnstudio.controllers.training_controller import IDLE, PAUSED, RUNNING, STOPPING, TrainingController
from nnstudio.controllers.training_worker import RunEnd
from nnstudio.state.document import Document
from nnstudio.widgets.common.flow_layout import FlowLayout
from nnstudio.widgets.train.training_controls import TrainingControls
from nnstudio.widgets.train.training_plot import MetricPlot

__all__ = ["MAX_COMPARISONS", "REFRESH_MS", "TrainingDashboard"]

#: Fastest refresh tick while training: 5 Hz, both plots and the progress bar in one pass
#: (PITFALLS.md, pyqtgraph). It slows down to ``SLOWEST_REFRESH_MS`` when the GUI thread gets
#: busy. Every GUI millisecond in Python costs the training thread one or two (it waits for
#: the GIL, then for its caches), so the dashboard spends few.
#: Measured (benchmarks/bench_gui_training.py, 2-core VM, GUI thread CPU per MNIST epoch):
#: the plots taking turns on a 10 Hz tick, each at 5 Hz, cost 32 ms; one 5 Hz pass, 27 ms.
REFRESH_MS = 200
SLOWEST_REFRESH_MS = 500
#: Share of the GUI thread's time the refresh pacing aims at (``core.monitor.eta.next_refresh_ms``):
#: in Python every GUI millisecond is one the training thread may wait for the GIL.
GUI_BUSY_TARGET = 0.05
#: Status-bar text (samples per second) at most this often.
STATUS_INTERVAL_S = 0.5
#: Earlier runs kept on the axes; the oldest goes first.
MAX_COMPARISONS = 6
#: The hover line's text while it reads out nothing (no run shown, or a new run replaced it).
HOVER_HINT = "Hover over a plot to read exact values."


class TrainingDashboard(QWidget):
    """Train tab for ``document`` driving ``controller``; questions go through ``dialogs``.

    ``statusText(str)``: short status (samples per second, run end) for the window's status bar.
    Commands for the controller (the window connects them): ``trainRequested``,
    ``pauseRequested``, ``resumeRequested``, ``stepBatchRequested``, ``stepEpochRequested``,
    ``stopRequested`` and ``resetWeightsRequested`` (emitted once the user confirmed).
    """

    statusText = Signal(str)
    trainRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stepBatchRequested = Signal()
    stepEpochRequested = Signal()
    stopRequested = Signal()
    resetWeightsRequested = Signal()

    def __init__(self, document: Document, controller: TrainingController, dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingDashboard")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._document = document
        self._controller = controller
        self._dialogs = dialogs

        self.controls = TrainingControls()
        self.loss_plot = MetricPlot("loss", "Loss")
        self.accuracy_plot = MetricPlot("accuracy", "Accuracy")
        self.accuracy_plot.setXLink(self.loss_plot)
        self.plots = (self.loss_plot, self.accuracy_plot)

        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setObjectName("hoverLabel")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hover_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.log_check = QCheckBox("Log scale")
        self.log_check.setObjectName("logScaleCheck")
        self.log_check.setToolTip("Logarithmic loss axis: shows progress when the loss spans several decades")
        self.keep_button = QPushButton("Keep as comparison")
        self.keep_button.setObjectName("keepComparisonButton")
        self.keep_button.setToolTip("Keep the curves drawn so far, faded, to compare with what comes next")
        self.clear_runs_button = QPushButton("Clear runs")
        self.clear_runs_button.setObjectName("clearRunsButton")
        self.clear_runs_button.setToolTip("Remove the faded curves of earlier runs")
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportButton")
        self.export_menu = QMenu(self.export_button)
        self.export_menu.setObjectName("exportMenu")
        self.export_loss_action = self._export_action("Loss plot as PNG…", "exportLossPngAction")
        self.export_accuracy_action = self._export_action("Accuracy plot as PNG…", "exportAccuracyPngAction")
        self.export_menu.addSeparator()
        self.export_epochs_action = self._export_action("History per epoch as CSV…", "exportEpochsCsvAction")
        self.export_batches_action = self._export_action("History per batch as CSV…", "exportBatchesCsvAction")
        self.export_button.setMenu(self.export_menu)

        bottom = FlowLayout()  # wraps in a narrow window rather than clipping the buttons
        bottom.addWidget(self.log_check)
        bottom.addStretch()
        bottom.addWidget(self.keep_button)
        bottom.addWidget(self.clear_runs_button)
        bottom.addWidget(self.export_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("trainingPlotsSplitter")
        splitter.addWidget(self.loss_plot)
        splitter.addWidget(self.accuracy_plot)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.controls)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hover_label)
        layout.addLayout(bottom)

        # Current run and its bookkeeping.
        self._curves = TrainingCurves()
        self._shown_network: Network | None = None
        #: The shown run's optimizer(s) and its settings before its first batch (the curves
        #: record the values its batches used): what its label is made of.
        self._run_optimizers: list[str] = []
        self._run_start: tuple[float, float] | None = None
        self._comparison_curves: list[TrainingCurves] = []
        self._comparison_labels: list[str] = []
        #: Where each comparison came from: (weak reference to its network or None, batch points).
        self._comparison_sources: list[tuple[weakref.ref | None, int]] = []
        self._runs_kept = 0
        #: (name, batch points) of the comparison that undo made the current run again.
        self._restored: tuple[str, int] | None = None
        self._pending: list[tuple] = []
        #: Series changed since each plot last redrew (a hidden tab redraws when shown).
        self._dirty: dict[MetricPlot, set[str]] = {self.loss_plot: set(), self.accuracy_plot: set()}
        self._last_batch: BatchReport | None = None
        self._meter = ThroughputMeter()
        self._last_status = 0.0
        self._run_started_at = 0.0
        self._timer = QTimer(self)
        self._timer.setObjectName("plotRefreshTimer")
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_refresh_timer_timeout)
        self._tick_clock: tuple[float, float] | None = None  # (wall, GUI thread CPU) at the last tick

        c = self.controls
        c.trainRequested.connect(self.trainRequested)
        c.pauseRequested.connect(self.pauseRequested)
        c.resumeRequested.connect(self.resumeRequested)
        c.stepBatchRequested.connect(self.stepBatchRequested)
        c.stepEpochRequested.connect(self.stepEpochRequested)
        c.stopRequested.connect(self.stopRequested)
        c.resetWeightsRequested.connect(self._on_controls_reset_weights_requested)
        self.log_check.toggled.connect(self._on_log_check_toggled)
        self.keep_button.clicked.connect(self.keep_as_comparison)
        self.clear_runs_button.clicked.connect(self.clear_comparisons)
        for plot in self.plots:
            plot.hovered.connect(self._on_plot_hovered)
            # The x axes are linked: the view is the user's, or automatic, in both at once.
            plot.viewChangedByUser.connect(self._on_plot_view_changed_by_user)
            plot.viewResetRequested.connect(self._on_plot_view_reset_requested)

        controller.stateChanged.connect(self._on_controller_state_changed)
        controller.started.connect(self._on_controller_started)
        controller.reportsReceived.connect(self._on_controller_reports_received)
        controller.finished.connect(self._on_controller_finished)
        controller.failed.connect(self._on_controller_failed)
        controller.waitingChanged.connect(self._on_controller_waiting_changed)
        document.networkChanged.connect(self._on_document_network_changed)
        document.trainingConfigChanged.connect(self._sync_controls)

        self._on_document_network_changed()
        self._sync_controls()

    def _export_action(self, text: str, name: str) -> QAction:
        a = self.export_menu.addAction(text)
        a.setObjectName(name)
        a.triggered.connect(self._on_export_action_triggered)
        return a

    def menu_actions(self) -> list[QAction]:
        """Train, Pause/Resume, Step batch, Step epoch, Stop, Reset weights (the Training menu)."""
        return self.controls.actions_for_menu()

    # -- what is shown ---------------------------------------------------------------------------------------
    @property
    def curves(self) -> TrainingCurves:
        """The current run's curves (what the plots draw)."""
        return self._curves

    @property
    def comparison_labels(self) -> list[str]:
        return list(self._comparison_labels)

    def _show_run(self, network: Network | None, span: float | None = None) -> None:
        """Make ``network``'s history the current run; the curves shown so far become a
        comparison when they have points. ``span``: smoothing span (None: from the history).
        A comparison that is exactly this network's run leaves the comparisons (undo brought
        it back: it is the current run again, not listed twice)."""
        if not self._curves.empty:
            self._keep_shown_run()
        if network is not None and (network.history.batches["progress"] or network.history.epochs):
            curves = TrainingCurves.from_history(network.history, span)
        else:
            curves = TrainingCurves(span if span is not None else self._curves.span)
        self._set_curves(curves)
        self._shown_network = network
        self._run_optimizers = [network.optimizer.type_name] if network is not None else []
        self._run_start = None
        if network is not None:
            n = len(network.history.batches["progress"])
            duplicates = [i for i, (ref, points) in enumerate(self._comparison_sources)
                          if ref is not None and ref() is network and points == n]
            if duplicates:
                # Kept again later (redo), it comes back under the same name.
                self._restored = (self._comparison_labels[duplicates[-1]], n)
                self._rebuild_comparisons([i for i in range(len(self._comparison_labels)) if i not in duplicates])

    def _keep_shown_run(self) -> None:
        """Keep the shown run as a comparison: under the name it had when undo made it
        current again from the comparisons (unchanged since), else as a new run."""
        restored, self._restored = self._restored, None
        points = len(self._curves["batch_loss"])
        if restored is not None and restored[1] == points and self._shown_network is not None:
            self._keep(self._curves, "", self._shown_network, name=restored[0])
        else:
            self._keep(self._curves, self._run_name(), self._shown_network)

    def _run_name(self) -> str:
        """The shown run's settings as it really used them: "Adam lr 0.001 → 0.01, batch 32"."""
        curves = self._curves
        if not self._run_optimizers:
            return ""
        start = self._run_start or (float("nan"), float("nan"))
        rates = curves.learning_rates or ([start[0]] if start[0] == start[0] else [])
        sizes = curves.batch_sizes or ([start[1]] if start[1] == start[1] else [])
        if not rates or not sizes:
            return " → ".join(self._run_optimizers)
        return run_label(" → ".join(self._run_optimizers), rates, sizes)

    def _set_curves(self, curves: TrainingCurves) -> None:
        self._curves = curves
        self.hover_label.setText(HOVER_HINT)  # a readout of the curves that were shown is stale
        for dirty in self._dirty.values():
            dirty.clear()
        for plot in self.plots:
            plot.set_run(curves)

    def _keep(self, curves: TrainingCurves, label: str, source: Network | None, name: str | None = None) -> None:
        """Add ``curves`` to the comparisons as "run N: ``label``" (``name``: the whole
        name, for a run kept before); nothing when these very curves are there already."""
        points = len(curves["batch_loss"])
        for ref, kept_points in self._comparison_sources:
            if source is not None and ref is not None and ref() is source and kept_points == points:
                return  # these very curves are on the axes already
        if name is not None:
            label = name
        else:
            self._runs_kept += 1
            number = f"run {self._runs_kept}"
            label = f"{number}: {label}" if label else number
        if len(self._comparison_labels) >= MAX_COMPARISONS:
            self._rebuild_comparisons(list(range(1, len(self._comparison_labels))))  # the oldest goes
        self._add_comparison(curves, label, weakref.ref(source) if source is not None else None, points)
        self._sync_controls()

    def _rebuild_comparisons(self, keep: list[int]) -> None:
        """Keep only the comparisons at indices ``keep`` (rare, a handful of curves: redraw them)."""
        kept = [(self._comparison_curves[i], self._comparison_labels[i], *self._comparison_sources[i]) for i in keep]
        runs_kept = self._runs_kept
        self.clear_comparisons()
        self._runs_kept = runs_kept  # numbers stay: "run 3" is still run 3
        for curves, label, ref, points in kept:
            self._add_comparison(curves, label, ref, points)
        self._sync_controls()

    def _add_comparison(self, curves: TrainingCurves, label: str, ref: weakref.ref | None, points: int) -> None:
        self._comparison_curves.append(curves)
        self._comparison_labels.append(label)
        self._comparison_sources.append((ref, points))
        for plot in self.plots:
            plot.add_comparison(curves, label)

    def keep_as_comparison(self) -> None:
        """Keep a copy of the current curves, faded, while the current run goes on."""
        self._drain()
        if self._curves.empty:
            return
        at = self._curves.last_x
        name = self._run_name()
        self._keep(self._curves.copy(), f"{name} (at epoch {at:.3g})" if at is not None else name, self._shown_network)

    def clear_comparisons(self) -> None:
        for plot in self.plots:
            plot.clear_comparisons()
        self._comparison_curves = []
        self._comparison_labels = []
        self._comparison_sources = []
        self._runs_kept = 0
        self._sync_controls()

    # -- controller ---------------------------------------------------------------------------------------------
    def _on_controller_started(self, _kind: str) -> None:
        info = self._controller.run_info
        network = self._controller.network
        self._pending.clear()
        if network is not self._shown_network or info.fresh:
            self._show_run(network, smoothing_span(info.batches_per_epoch))
        if not self._run_optimizers or self._run_optimizers[-1] != info.optimizer:
            self._run_optimizers.append(info.optimizer)
        self._run_start = self._run_start or (info.learning_rate, float(info.batch_size))
        self._last_batch = None
        self._meter.restart()
        self._run_started_at = time.perf_counter()
        self._last_status = 0.0
        # The whole run's extent; axes stay put while points arrive. Both plots hold: the x
        # axes are linked, and a plot still autoscaling would push its data's x extent onto
        # the other at every refresh (and both x axes would be redrawn each time).
        for plot in self.plots:
            plot.hold_ranges(0.0, float(info.end_epoch))
        self._update_progress()
        self._tick_clock = None
        self._timer.start(REFRESH_MS)

    def _on_controller_reports_received(self, reports: tuple) -> None:
        # Only queue: the timer turns reports into plot points at ≤ 5 Hz.
        self._pending.append(reports)

    def _on_controller_state_changed(self, state: str) -> None:
        if state == RUNNING:
            self._meter.restart()  # time spent paused is not slow training
        self._sync_controls()
        self._update_progress()
        if state == PAUSED:
            self.statusText.emit("Training paused")

    def _on_controller_waiting_changed(self, waiting: bool) -> None:
        if waiting:
            self._drain()  # show exactly where training stands while it waits
            self._update_progress()
            self._sync_controls()

    def _on_controller_finished(self, _kind: str, outcome: RunEnd) -> None:
        self._end_run()
        status, message = outcome.status, outcome.message
        # "Training finished after 8 epochs", "Training stopped during epoch 3",
        # "Training diverged: the loss became NaN at epoch 1, batch 5; …"
        self.statusText.emit(f"Training diverged: {message}" if status == "diverged" else f"Training {message}")

    def _on_controller_failed(self, _kind: str, _message: str, _details: str) -> None:
        self._end_run()
        self.statusText.emit("Training failed")

    def _end_run(self) -> None:
        self._timer.stop()
        self._drain()
        network = self._controller.network
        # Reports dropped by a shutdown (window closing, New/Open) are in the history: the
        # thread has ended, so the history can be read.
        if network is not None and network is self._shown_network and \
                len(self._curves["batch_loss"]) != len(network.history.batches["progress"]):
            self._set_curves(TrainingCurves.from_history(network.history, self._curves.span))
        self.loss_plot.follow_data()
        self.accuracy_plot.follow_data()
        self._update_progress()
        self._sync_controls()

    def _on_document_network_changed(self) -> None:
        if self._controller.state != IDLE:
            return  # the run's own network: its reports already feed the plots
        network = self._document.network
        if network is None:
            # Weights reset or architecture changed: the run shown so far becomes a comparison.
            if not self._curves.empty:
                self._keep_shown_run()
                self._set_curves(TrainingCurves(self._curves.span))
            self._shown_network = None
            self._run_optimizers = []
            self._run_start = None
        elif network is not self._shown_network:
            self._show_run(network)
        self._update_progress()
        self._sync_controls()

    # -- refresh ------------------------------------------------------------------------------------------------
    def _on_refresh_timer_timeout(self) -> None:
        self._pace()
        if self._pending or any(self._dirty.values()):
            self._drain()
            self._update_progress()
            self._maybe_status()

    def _pace(self) -> None:
        """Set the next tick's period from how busy the GUI thread was since the last one."""
        now, cpu = time.perf_counter(), time.thread_time()
        if self._tick_clock is not None and now > self._tick_clock[0]:
            busy = (cpu - self._tick_clock[1]) / (now - self._tick_clock[0])
            self._timer.setInterval(round(next_refresh_ms(self._timer.interval(), busy, GUI_BUSY_TARGET,
                                                          lo_ms=REFRESH_MS, hi_ms=SLOWEST_REFRESH_MS)))
        self._tick_clock = (now, cpu)

    @property
    def refresh_ms(self) -> int:
        """The refresh tick's current period."""
        return self._timer.interval()

    def _drain(self) -> None:
        """Feed queued reports to the curves; redraw the changed series if visible."""
        if self._pending:
            pending, self._pending = self._pending, []
            for reports in pending:
                changed = self._curves.add(reports)
                for dirty in self._dirty.values():
                    dirty |= changed
                for r in reversed(reports):
                    if isinstance(r, BatchReport):
                        self._last_batch = r
                        break
            self._note_throughput()
        if not self.isVisible():
            return  # redrawn when shown again
        for plot in self.plots:
            if self._dirty[plot]:
                changed = frozenset(self._dirty[plot])
                self._dirty[plot].clear()
                plot.update_series(changed)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._drain()

    def _note_throughput(self) -> None:
        info, last = self._controller.run_info, self._last_batch
        if info is not None and last is not None and self._controller.state == RUNNING:
            self._meter.update((last.progress - info.start_epoch) * info.n_train, time.perf_counter())

    def _update_progress(self) -> None:
        state = self._controller.state
        info = self._controller.run_info
        last = self._last_batch
        if state == IDLE or info is None:
            self.controls.set_progress(*self._idle_progress())
            return
        if last is None:
            epoch, batch, batches, progress = info.start_epoch + 1, None, None, float(info.start_epoch)
        else:
            epoch, batch, batches, progress = last.epoch + 1, last.batch + 1, last.batches, last.progress
            if batch == batches and epoch < info.end_epoch:  # an epoch just ended: name the next one
                epoch, batch, batches = epoch + 1, None, None
        left = None
        if state == RUNNING:
            left = eta_seconds((info.end_epoch - progress) * info.n_train, self._meter.rate)
        text = progress_text(epoch, info.end_epoch, batch, batches, left)
        prefix = {PAUSED: "Paused · ", STOPPING: "Stopping · "}.get(state, "")
        self.controls.set_progress(run_fraction(progress, info.start_epoch, info.epochs), prefix + text)

    def _idle_progress(self) -> tuple[float, str]:
        """(fraction, text) of the bar between runs: what the network trained, and how the
        last run ended when it stopped early (the same facts the buttons and the status bar
        show: a network with any trained batch offers Continue)."""
        network = self._document.network
        if network is None:
            return 0.0, "Not trained yet"
        epochs, batches = trained_position(network.history, network.epochs_done)
        trained = trained_text(epochs, batches)
        outcome, info = self._controller.last_outcome, self._controller.run_info
        if outcome is None or info is None or network is not self._controller.network or \
                outcome.status not in ("stopped", "diverged"):
            return (1.0 if epochs or batches else 0.0), trained
        progress = network.history.batches["progress"]
        done = run_fraction(progress[-1] if progress else float(info.start_epoch), info.start_epoch, info.epochs)
        if outcome.status == "stopped":
            where = f"in epoch {epochs + 1:,}" if batches else f"after epoch {epochs:,}" if epochs else "at the start"
            return done, f"Stopped {where} · {trained}"
        # Diverged: the failing batch was not applied; the weights are those of before it.
        return done, f"Diverged at epoch {epochs + 1:,}, batch {batches + 1:,} · {trained}"

    def _maybe_status(self) -> None:
        now = time.perf_counter()
        rate = self._meter.rate
        if rate is None or now - self._last_status < STATUS_INTERVAL_S:
            return
        self._last_status = now
        elapsed = format_duration(now - self._run_started_at)
        self.statusText.emit(f"Training: {rate:,.0f} samples/s · {elapsed} elapsed")

    # -- user actions ---------------------------------------------------------------------------------------------
    def _sync_controls(self) -> None:
        state = self._controller.state
        network = self._document.network
        self.controls.set_state(state, can_continue=self._has_training(), has_weights=network is not None)
        history_ok = network is not None and (state == IDLE or (state == PAUSED and self._controller.waiting))
        self.export_epochs_action.setEnabled(history_ok)
        self.export_batches_action.setEnabled(history_ok)
        self.keep_button.setEnabled(not self._curves.empty or bool(self._pending))
        self.clear_runs_button.setEnabled(bool(self._comparison_labels))

    def _has_training(self) -> bool:
        """The document's network has trained batches (Train reads "Continue"). While a run
        goes the network is the worker's: the answer comes from the run's facts and the
        reports received, never from the live network."""
        network = self._document.network
        if network is None:
            return False
        info = self._controller.run_info
        if self._controller.state != IDLE and info is not None:
            return not info.fresh or self._last_batch is not None or bool(self._pending)
        return network.epochs_done > 0 or bool(network.history.batches["progress"])

    def _on_controls_reset_weights_requested(self) -> None:
        if self._controller.state != IDLE or self._document.network is None:
            return
        if self._dialogs.confirm("Reset weights", "Forget this network's training? The next run starts from "
                                 "new random weights drawn from the seed."):
            self.resetWeightsRequested.emit()

    def _on_log_check_toggled(self, on: bool) -> None:
        self.loss_plot.set_log_y(on)

    def _on_plot_hovered(self, readout: Readout | None) -> None:
        if readout is None or readout.x is None:
            return
        what = readout.metric
        fmt = "{:.4g}" if what == "loss" else "{:.2%}"
        parts = [f"At epoch {readout.x:.4g}"]
        if readout.batch is not None:
            parts.append(f"{what} {fmt.format(readout.batch)} (batch), {fmt.format(readout.smoothed)} (smoothed)")
        if readout.epoch is not None:
            end = f"epoch {readout.epoch}: training {fmt.format(readout.train)}"
            if readout.val is not None:
                end += f", validation {fmt.format(readout.val)}"
            parts.append(end)
        self.hover_label.setText(" · ".join(parts))

    def _on_plot_view_changed_by_user(self) -> None:
        for plot in self.plots:
            if plot is not self.sender():
                plot.keep_user_view()

    def _on_plot_view_reset_requested(self) -> None:
        for plot in self.plots:
            if plot is not self.sender():
                plot.reset_view()

    def _on_export_action_triggered(self) -> None:
        action = self.sender()
        if action is self.export_loss_action:
            self.export_plot(self.loss_plot)
        elif action is self.export_accuracy_action:
            self.export_plot(self.accuracy_plot)
        elif action is self.export_epochs_action:
            self.export_history(per_batch=False)
        elif action is self.export_batches_action:
            self.export_history(per_batch=True)

    def export_plot(self, plot: MetricPlot) -> bool:
        """Ask for a path and save ``plot`` as PNG. True when written."""
        self._drain()
        path = self._dialogs.save_file_path(f"Export {plot.metric} plot", f"{plot.metric}.png", "PNG images (*.png)")
        if not path:
            return False
        path = Path(path) if Path(path).suffix else Path(path).with_suffix(".png")
        try:
            plot.export_png(str(path))
        except Exception as exc:  # broad on purpose: exporter errors vary; the user needs the reason
            self._document.notify(f"Could not export the {plot.metric} plot to {path.name}: {exc}")
            return False
        if not path.is_file():
            self._document.notify(f"Could not export the {plot.metric} plot to {path.name}: the image was not "
                                  "written (is the folder writable?)")
            return False
        self.statusText.emit(f"Saved {path.name}")
        return True

    def export_history(self, per_batch: bool = False) -> bool:
        """Ask for a path and save the network's history as CSV. True when written."""
        network = self._document.network
        state = self._controller.state
        if network is None or not (state == IDLE or (state == PAUSED and self._controller.waiting)):
            return False  # while the worker runs, the history is being appended to
        kind = "batches" if per_batch else "epochs"
        path = self._dialogs.save_file_path(f"Export training history ({kind})", f"training-{kind}.csv",
                                            "CSV files (*.csv)")
        if not path:
            return False
        path = Path(path) if Path(path).suffix else Path(path).with_suffix(".csv")
        text = batches_csv(network.history) if per_batch else epochs_csv(network.history)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self._document.notify(f"Could not export the training history to {path.name}: {exc.strerror or exc}")
            return False
        self.statusText.emit(f"Saved {path.name}")
        return True

    # -- keys ---------------------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Reaches here only when the focused child did not use the key (a focused button
        # takes Space itself), so Space never steals a click.
        if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            state = self._controller.state
            if state == RUNNING:
                self.pauseRequested.emit()
            elif state == PAUSED:
                self.resumeRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)
