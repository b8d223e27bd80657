"""Gradient check: does backpropagation compute the same gradients as finite differences?

The button runs ``core.check_network`` (float64, on a copy: the user's weights are never
touched) on 4 training samples for the trained network (or a fresh one built from the spec
when nothing is trained), in the background, and lists the relative error of every
parameter and of the input gradient, green below ``DEFAULT_THRESHOLD`` and red above.
Entries whose finite difference would cross a ReLU or max-pool kink are excluded and their
number is shown (see core/analysis/gradcheck.py): they say nothing about the backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import core
from core.analysis.gradcheck import DEFAULT_THRESHOLD, GradCheckResult
from core.analysis.visuals import parameter_title, random_batch
from core.spec.dataset_fit import check_compatibility
from nnstudio.background.task_runner import TaskRunner
from nnstudio.models.item_cells import reset_table, set_cell, set_headers
from nnstudio.theme import is_dark, is_palette_event

BATCH = 4
TASK = "gradcheck"
# The kink count comes last so the verdict stays next to the numbers it is about.
COLUMNS = ["Parameter", "Relative error", "Entries checked", "Result", "At a kink"]
HEADER_TOOLTIPS = ["Which parameter (or the input) was checked",
                   "||analytic − numeric|| / (||analytic|| + ||numeric||) over the compared entries",
                   "Randomly sampled entries whose analytic and numeric gradients were compared",
                   f"Passed: relative error below {DEFAULT_THRESHOLD:.0e}",
                   "Sampled entries whose ±ε nudge crossed a ReLU or max-pool kink: excluded from the comparison"]
# (background, text) per verdict, in a light and a dark theme.
PASS_COLORS = (QColor("#e5f5e0"), QColor("#1b5e20"))
FAIL_COLORS = (QColor("#fde0dd"), QColor("#a50f15"))
INCONCLUSIVE_COLORS = (QColor("#f0f0f0"), QColor("#404040"))
DARK_PASS_COLORS = (QColor("#1e3a23"), QColor("#b9f0bf"))
DARK_FAIL_COLORS = (QColor("#4a1c1f"), QColor("#ffc4c0"))
DARK_INCONCLUSIVE_COLORS = (QColor("#333336"), QColor("#c8c8cc"))

EXPLANATION = (
    "Each parameter's gradient from backpropagation (<i>analytic</i>) is compared with one measured by "
    "nudging it by ±ε (<i>numeric</i>): "
    "<b>relative error = ||analytic − numeric|| / (||analytic|| + ||numeric||)</b>. "
    f"A correct layer gives 1e-8 or less (green: below {DEFAULT_THRESHOLD:.0e}). A real failure looks "
    "different: 1e-3 or more (red) on the faulty layer's weights or bias — and on every layer before it "
    "when the wrong gradient is passed on — whatever samples are used. Where a nudge crosses a "
    "<i>kink</i> — a ReLU input of exactly 0, or a tie in a "
    "max-pool window, common on an image's flat background — the numeric value is meaningless: such "
    "entries are left out and counted. Runs in float64 on a copy: your weights are not changed."
)


@dataclass(frozen=True)
class GradCheckRow:
    """One shown line: a parameter's readable name and its check result."""

    title: str
    result: GradCheckResult


class GradCheckView(QWidget):
    """Button, explanation and result table (objectName ``gradCheckView``).

    ``checkFinished(rows)`` (tuple of GradCheckRow) after each check, on the GUI thread.
    """

    checkFinished = Signal(object)

    def __init__(self, document, data_source: Callable[[], tuple | None], runner: TaskRunner,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("gradCheckView")
        self._document = document
        self._data_source = data_source
        self._runner = runner
        self._network = None
        self._source = ""
        self.rows: tuple[GradCheckRow, ...] = ()

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.button = QPushButton("Check gradients")
        self.button.setObjectName("gradCheckButton")
        self.button.setToolTip("Compare backpropagation's gradients with finite differences, layer by layer")
        self.button.clicked.connect(self._on_button_clicked)
        # Wide enough for both texts, so the button does not jump while checking.
        width = max(self.button.fontMetrics().horizontalAdvance(t) for t in ("Check gradients", "Checking…")) + 32
        self.button.setMinimumWidth(width)
        top.addWidget(self.button)
        top.addStretch(1)
        layout.addLayout(top)
        # On its own full-width row: a verdict naming several layers wraps without squeezing the button.
        self.status = QLabel("Checks that every layer's backward pass computes the right gradient.")
        self.status.setObjectName("gradCheckStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.explanation = QLabel(EXPLANATION)
        self.explanation.setObjectName("gradCheckExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.explanation)
        self.table = QTableView()
        self.table.setObjectName("gradCheckTable")
        self.model = QStandardItemModel(0, len(COLUMNS), self.table)
        set_headers(self.model, Qt.Orientation.Horizontal, COLUMNS, HEADER_TOOLTIPS)
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table, 1)

        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)

    @property
    def running(self) -> bool:
        return self._runner.busy(TASK)

    def run_check(self) -> bool:
        """Start a check; False (with the reason shown) when there is nothing to check."""
        network = self._document.snapshot
        try:
            network = network.inference_copy() if network is not None else core.Network.from_spec(self._document.spec)
        except core.SpecError as exc:
            self.status.setText(f"The network cannot be built, so there is nothing to check: {exc}")
            return False
        x, y, source = self._batch(network)
        self._network = network
        self.button.setEnabled(False)
        self.button.setText("Checking…")
        trained = self._document.snapshot is not None
        which = "the trained network" if trained else "the untrained network (fresh weights)"
        self.status.setText(f"Checking {which} on {source}…")
        self._source = f"{which} on {source}"
        self._runner.submit(TASK, core.check_network, network, x, y)
        return True

    def _batch(self, network) -> tuple[np.ndarray, np.ndarray, str]:
        data = self._data_source()
        if data is not None:
            dataset, splits = data
            if (not check_compatibility(network.to_spec(), dataset.input_shape, dataset.n_classes, trained=True)
                    and len(splits.y_train) >= 1):
                n = min(BATCH, len(splits.y_train))
                return np.array(splits.x_train[:n]), np.array(splits.y_train[:n]), f"{n} training samples"
        x, y = random_batch(network, BATCH, seed=0)
        return x, y, f"{BATCH} random inputs (the dataset does not fit this network)"

    def _on_button_clicked(self) -> None:
        self.run_check()

    def _on_runner_finished(self, kind: str, results: object) -> None:
        if kind != TASK:
            return
        self._restore_button()
        network = self._network
        self.rows = tuple(GradCheckRow(parameter_title(network, r.key), r) for r in results)
        self._fill_table()
        self.status.setText(self._verdict())
        self.checkFinished.emit(self.rows)

    def _verdict(self) -> str:
        """The status line: the verdict, what was excluded at kinks, and what was checked."""
        failed = [row for row in self.rows if not row.result.passed]
        unchecked = [row for row in self.rows if not row.result.conclusive]
        compared = [row for row in self.rows if row.result.conclusive]
        worst = max((row.result.relative_error for row in compared), default=0.0)
        kinks = sum(row.result.kinks for row in self.rows)
        if failed:
            names = "; ".join(row.title for row in failed)
            text = (f"✗ {len(failed)} of {len(self.rows)} gradients disagree (red rows: {names}). "
                    "The backward pass feeding them is wrong.")
        elif unchecked:
            text = (f"✓ {len(compared)} of {len(self.rows)} gradients agree (largest relative error {worst:.1e}, "
                    f"threshold {DEFAULT_THRESHOLD:.0e}); {len(unchecked)} could not be compared because every "
                    "sampled entry sat at a kink (grey rows).")
        else:
            text = (f"✓ All {len(self.rows)} gradients agree (largest relative error {worst:.1e}, "
                    f"threshold {DEFAULT_THRESHOLD:.0e}).")
        if kinks:
            text += (f" {kinks} sampled {'entry' if kinks == 1 else 'entries'} at a ReLU or max-pool kink "
                     "excluded (a finite difference there is meaningless).")
        return f"{text} Checked {self._source}."

    def _on_runner_failed(self, kind: str, message: str, details: str) -> None:
        if kind != TASK:
            return
        self._restore_button()
        self.status.setText(f"The gradient check could not run: {message}")
        self._document.notify(f"The gradient check could not run: {message}", "error", details)

    def _restore_button(self) -> None:
        self.button.setEnabled(True)
        self.button.setText("Check gradients")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if is_palette_event(event) and getattr(self, "rows", ()):  # theme switched: row colours follow
            self._fill_table()

    def _fill_table(self) -> None:
        reset_table(self.model, len(self.rows), len(COLUMNS))
        set_headers(self.model, Qt.Orientation.Horizontal, COLUMNS, HEADER_TOOLTIPS)
        dark = is_dark(self.palette())
        passed, failed, inconclusive = ((DARK_PASS_COLORS, DARK_FAIL_COLORS, DARK_INCONCLUSIVE_COLORS) if dark
                                        else (PASS_COLORS, FAIL_COLORS, INCONCLUSIVE_COLORS))
        for r, row in enumerate(self.rows):
            res = row.result
            if not res.conclusive:
                background, foreground = inconclusive
                error, verdict = "—", "– not compared"
                tooltip = (f"{res.key}: all {res.kinks} sampled entries sat at a ReLU or max-pool kink, where a "
                           "finite difference is meaningless; nothing could be compared")
            else:
                background, foreground = passed if res.passed else failed
                error, verdict = f"{res.relative_error:.2e}", "✓ passed" if res.passed else "✗ failed"
                tooltip = (f"{res.key}: relative error {res.relative_error:.3e} "
                           f"({'below' if res.passed else 'above'} the threshold {DEFAULT_THRESHOLD:.0e})")
                if res.kinks:
                    tooltip += f"; {res.kinks} further sampled entries sat at a kink and were excluded"
            cells = (row.title, error, str(res.checked), verdict, str(res.kinks))
            for c, text in enumerate(cells):
                roles = dict(background=QBrush(background), foreground=QBrush(foreground), user=res.key,
                             tooltip=tooltip)
                if c:
                    roles["alignment"] = Qt.AlignmentFlag.AlignCenter
                set_cell(self.model, r, c, text, **roles)
