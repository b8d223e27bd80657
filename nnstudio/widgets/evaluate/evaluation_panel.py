"""The Evaluate tab: see what the network learned.

- Evaluation on the test split (on demand, and by itself in the background whenever new
  weights arrive between runs: after a run, on opening a model, on undo bringing trained
  weights back, on a dataset or seed change, as long as the test data load without asking
  anything; an opened model's data load in the background, and it is evaluated when they
  arrive): accuracy, loss, confusion matrix (click a cell to see its samples, most
  confidently wrong first), per-class report. The summary names the weights evaluated
  ("weights at epoch 18, batch 40" after a stop) and never asks for a click on a disabled
  button.
- Weights and activations (first-layer weights as images, conv filters, feature maps).
- Decision boundary over the plane for 2-D datasets.
- Gradient check.
- Export: confusion matrix and report as CSV, every plot as PNG.

Evaluation and the gradient check run on a copy of ``document.snapshot`` in a background
thread (``TaskRunner``); everything computed comes from ``core.analysis.evaluation`` and
``core.analysis.visuals``. Data come from ``document.dataset()`` / ``document.splits()``; a
``DataError`` becomes one ``document.notify`` per dataset choice.

Wiring for the main window: ``sampleChosen(image, caption)`` (a gallery click on an image
dataset: (h, w) floats in [0, 1]) -> the Draw tab's ``show_sample``; the Draw tab's current
network-shaped input -> ``set_probe_input(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.analysis.evaluation import Evaluation, evaluate, evaluation_csv
from core.analysis.visuals import sample_images
from core.data import DataError
from core.monitor.curves import trained_position, weights_text
from core.spec.dataset_fit import check_compatibility
from nnstudio.background.task_runner import TaskRunner
from nnstudio.models.item_cells import reset_table, set_cell
from nnstudio.widgets.evaluate.confusion_matrix_view import ConfusionMatrixView
from nnstudio.widgets.evaluate.decision_boundary_view import DecisionBoundaryView
from nnstudio.widgets.evaluate.grad_check_view import GradCheckView
from nnstudio.widgets.evaluate.mistakes_gallery import MAX_ITEMS, MistakesGallery
from nnstudio.widgets.evaluate.weights_view import WeightsView

TASK = "evaluate"
CSV_FILTER = "CSV files (*.csv);;All files (*)"
REPORT_COLUMNS = ["Class", "Precision", "Recall", "F1", "Support"]
PNG_FILTER = "PNG images (*.png);;All files (*)"
#: The summary while an opened model's data are still loading in the background.
LOADING_TEXT = "Loading the test data: evaluating as soon as they are here…"
#: The inner tabs' titles, and shorter ones for a tab bar too narrow for them (rather than
#: hiding the last tabs behind scroll arrows).
TAB_TITLES = (("Confusion matrix", "Matrix"), ("Weights && activations", "Weights"),
              ("Decision boundary", "Boundary"), ("Gradient check", "Gradients"))


@dataclass(frozen=True, eq=False)
class ShownEvaluation:
    """An evaluation and what it was computed from (to show samples and detect staleness).

    x: the test inputs (n, *input_shape) (read-only arrays shared with the document's cache).
    """

    evaluation: Evaluation
    snapshot: Any
    x: np.ndarray
    input_shape: tuple[int, ...]
    preprocessing: dict
    dataset_choice: Any
    seed: int
    #: Which weights were evaluated, for the summary: "weights at epoch 18, batch 40".
    weights: str
    official_test: bool


class EvaluationPanel(QWidget):
    """The "Evaluate" tab (objectName ``evaluationPanel``).

    ``controller``: the TrainingController (its ``finished`` triggers an evaluation) or None.
    """

    #: A sample picked in the gallery: (h, w) float image in [0, 1], and a caption.
    sampleChosen = Signal(object, str)
    #: An evaluation finished and is shown (the core.analysis.evaluation.Evaluation).
    evaluationFinished = Signal(object)

    def __init__(self, document, controller=None, dialogs=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("evaluationPanel")
        self._document = document
        self._controller = controller
        self._dialogs = dialogs
        self._failed_choice = None
        self._pending: dict | None = None
        self._auto_scheduled = False
        self.shown: ShownEvaluation | None = None
        self.runner = TaskRunner(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)  # as the Train tab: the room goes to the content
        layout.addLayout(self._build_top_bar())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluationTabs")
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)
        self.tabs.addTab(self._build_confusion_page(), TAB_TITLES[0][0])
        self.weights_view = WeightsView(document, self._data)
        self.tabs.addTab(self._with_export(self.weights_view, "exportWeightsPngButton",
                                           self._on_export_weights_png_button_clicked), TAB_TITLES[1][0])
        self.boundary_view = DecisionBoundaryView(document, self._data)
        self.tabs.addTab(self._with_export(self.boundary_view, "exportBoundaryPngButton",
                                           self._on_export_boundary_png_button_clicked), TAB_TITLES[2][0])
        self.grad_check_view = GradCheckView(document, self._data, self.runner)
        self.tabs.addTab(self.grad_check_view, TAB_TITLES[3][0])
        for i, (title, _short) in enumerate(TAB_TITLES):
            self.tabs.setTabToolTip(i, title.replace("&&", "&"))

        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        document.snapshotChanged.connect(self._on_document_snapshot_changed)
        document.datasetChanged.connect(self._on_document_dataset_changed)
        document.specChanged.connect(self._on_document_spec_changed)
        if controller is not None:
            controller.finished.connect(self._on_controller_finished)
        self._update_summary()

    # -- construction -------------------------------------------------------------------------------
    def _build_top_bar(self) -> QGridLayout:
        # Button, summary, button in one row; in a narrow tab the summary takes a row of its
        # own below the buttons (``_place_summary``) instead of wrapping into a tall column.
        bar = QGridLayout()
        bar.setColumnStretch(1, 1)
        self._top_bar = bar
        self.evaluate_button = QPushButton("Evaluate on test set")
        self.evaluate_button.setObjectName("evaluateButton")
        self.evaluate_button.setToolTip("Run the trained network on the held-out test samples")
        self.evaluate_button.clicked.connect(self._on_evaluate_button_clicked)
        bar.addWidget(self.evaluate_button, 0, 0, Qt.AlignmentFlag.AlignTop)
        self.summary = QLabel()
        self.summary.setObjectName("evaluationSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.summary, 0, 1)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.setToolTip("Save the confusion matrix and the per-class report as a CSV file")
        self.export_csv_button.clicked.connect(self._on_export_csv_button_clicked)
        bar.addWidget(self.export_csv_button, 0, 2, Qt.AlignmentFlag.AlignTop)
        return bar

    def _build_confusion_page(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 6, 0, 0)  # the tab bar above already sets it apart
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("confusionSplitter")
        self._confusion_splitter = splitter
        outer.addWidget(splitter)

        # Matrix and report side by side when the tab has room for both at full size, else the
        # report goes below the matrix and this part scrolls; the cells grow and shrink with
        # the room (``_arrange_confusion``).
        top = QWidget()
        top.setObjectName("confusionContent")
        self.confusion_page = top
        row = QBoxLayout(QBoxLayout.Direction.LeftToRight, top)
        row.setContentsMargins(0, 0, 0, 0)
        self._confusion_row = row
        matrix_box = QWidget()
        self._matrix_box = matrix_box
        left = QVBoxLayout(matrix_box)
        left.setContentsMargins(0, 0, 0, 0)
        # Reading hint and check box on one line (the hint wraps when narrow; the tab's title
        # names the matrix): little height above the matrix, so its cells stay large in a
        # short window.
        title_row = QHBoxLayout()
        caption = QLabel("Rows: true ↓ · columns: predicted →")
        caption.setObjectName("confusionCaption")
        caption.setToolTip("Each row is a true class, each column the class the network predicted; the "
                           "diagonal holds the correct answers. Click a cell to see its samples.")
        caption.setWordWrap(True)  # a narrow window wraps it rather than cutting it off
        self._confusion_caption = caption
        title_row.addWidget(caption, 1)
        # A short label (a check box cannot wrap); the tooltip says what the numbers become.
        self.normalize_check = QCheckBox("Row percentages")
        self.normalize_check.setToolTip("Show each cell as a percentage of its true class (its row), "
                                        "so classes with few samples read as clearly as large ones")
        self.normalize_check.setObjectName("normalizeCheck")
        self.normalize_check.toggled.connect(self._on_normalize_check_toggled)
        title_row.addWidget(self.normalize_check)
        left.addLayout(title_row)
        self._confusion_title_row = title_row
        self.confusion_view = ConfusionMatrixView()
        self.confusion_view.cellChosen.connect(self._on_confusion_view_cell_chosen)
        left.addWidget(self.confusion_view, 0, Qt.AlignmentFlag.AlignLeft)
        left.addStretch(1)
        row.addWidget(matrix_box, 0)

        report_box = QWidget()
        right = QVBoxLayout(report_box)
        right.setContentsMargins(0, 0, 0, 0)
        report_title = QLabel("<b>Per-class report</b> (test set)")
        report_title.setWordWrap(True)
        right.addWidget(report_title)
        self.report_table = QTableView()
        self.report_table.setObjectName("classReport")
        self.report_model = QStandardItemModel(0, 5, self.report_table)
        self.report_model.setHorizontalHeaderLabels(REPORT_COLUMNS)
        self.report_table.setModel(self.report_model)
        self.report_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.report_table.verticalHeader().setVisible(False)
        self.report_table.verticalHeader().setDefaultSectionSize(24)
        # Every column as wide as its title and numbers, the table exactly as large as its
        # columns and rows (``_fit_report``): nothing elided, no scroll bars of its own.
        self.report_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.report_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.report_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.report_table.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.report_table.setToolTip("Precision: of the samples predicted as this class, the share that are it. "
                                     "Recall: of the samples of this class, the share found. F1: their harmonic "
                                     "mean. Support: test samples of the class.")
        right.addWidget(self.report_table)
        export_png = QPushButton("Export PNG…")
        export_png.setObjectName("exportConfusionPngButton")
        export_png.setToolTip("Save the confusion matrix and report as a picture")
        export_png.clicked.connect(self._on_export_confusion_png_button_clicked)
        right.addWidget(export_png, 0, Qt.AlignmentFlag.AlignLeft)  # under the report, not far from it
        right.addStretch(1)
        row.addWidget(report_box, 1)
        self._report_box = report_box

        scroll = QScrollArea()
        scroll.setObjectName("confusionScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setWidget(top)
        scroll.installEventFilter(self)  # its resizes re-arrange matrix and report
        self._confusion_scroll = scroll
        splitter.addWidget(scroll)
        self._fit_report()

        bottom = QWidget()
        gallery_layout = QVBoxLayout(bottom)
        gallery_layout.setContentsMargins(0, 0, 0, 0)
        self.gallery_title = QLabel("Click a cell of the matrix to see its samples here.")
        self.gallery_title.setObjectName("galleryTitle")
        self.gallery_title.setWordWrap(True)
        gallery_layout.addWidget(self.gallery_title)
        self.gallery = MistakesGallery()
        self.gallery.sampleChosen.connect(self.sampleChosen)
        self.gallery.sampleIndexChosen.connect(self._on_gallery_sample_index_chosen)
        gallery_layout.addWidget(self.gallery, 1)
        splitter.addWidget(bottom)
        # The matrix keeps its full size; the gallery takes what is left (and scrolls).
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(1, False)
        self.gallery.setMinimumHeight(self.gallery.gridSize().height() + 8)
        # The split follows the window (the matrix gets the height it can use) until the user
        # moves it; from then on it is theirs.
        self._user_split = False
        splitter.splitterMoved.connect(self._on_confusion_splitter_moved)
        splitter.installEventFilter(self)
        return page

    #: Below this tab width the summary goes below the buttons.
    SUMMARY_ROW_WIDTH = 760

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_tab_titles(event.size().width())
        self._place_summary(event.size().width())

    def _place_summary(self, width: int) -> None:
        below = width < self.SUMMARY_ROW_WIDTH
        bar = self._top_bar
        index = bar.indexOf(self.summary)
        if bar.getItemPosition(index)[0] == int(below):
            return
        bar.removeWidget(self.summary)
        if below:
            bar.addWidget(self.summary, 1, 0, 1, 3)
        else:
            bar.addWidget(self.summary, 0, 1)

    def _fit_tab_titles(self, width: int) -> None:
        """Full tab titles when they all fit ``width``, else the short ones."""
        bar = self.tabs.tabBar()
        for short in (False, True):
            for i, titles in enumerate(TAB_TITLES):
                if self.tabs.tabText(i) != titles[short]:
                    self.tabs.setTabText(i, titles[short])
            if bar.sizeHint().width() <= width - 2 * self.layout().contentsMargins().left():
                return

    # -- confusion page layout ----------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            if watched is self._confusion_scroll:
                self._arrange_confusion()
            elif watched is self._confusion_splitter and not self._user_split:
                QTimer.singleShot(0, self._make_room_for_matrix)  # after the splitter's own relayout
        return super().eventFilter(watched, event)

    def _on_confusion_splitter_moved(self, _pos: int, _index: int) -> None:
        self._user_split = True

    def _confusion_room(self) -> tuple[int, int]:
        """(width, height) the matrix and report may use: the scroll area less the room of a
        vertical scroll bar, kept free so that bar appearing never re-wraps the layout."""
        scroll = self._confusion_scroll
        bar = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return scroll.width() - bar, scroll.height()

    def _arrange_confusion(self) -> None:
        """Report beside the matrix when both fit at their smallest readable size, else below
        it; then the largest cells that show the whole matrix in the room left."""
        width, height = self._confusion_room()
        view = self.confusion_view
        row = self._confusion_row
        spacing = max(row.spacing(), 0)
        report_width = self.report_table.minimumWidth()
        matrix_width = max(view.full_size(view.min_cell_size()).width(),
                           self._confusion_title_row.minimumSize().width())
        side_by_side = width >= matrix_width + spacing + report_width
        direction = QBoxLayout.Direction.LeftToRight if side_by_side else QBoxLayout.Direction.TopToBottom
        if row.direction() != direction:
            row.setDirection(direction)
        room_w = width - (spacing + report_width if side_by_side else 0)
        cell = view.cell_size_to_fit(room_w, height - self._height_above_matrix(room_w))
        # Once more with the caption wrapped to the matrix's own width (it may need fewer lines).
        matrix_w = max(view.full_size(cell).width(), self._confusion_title_row.minimumSize().width())
        cell = view.cell_size_to_fit(room_w, height - self._height_above_matrix(min(room_w, matrix_w)))
        if cell != view.cell_size():
            view.set_cell_size(cell)

    def _height_above_matrix(self, width: int) -> int:
        """The title row above the matrix (its hint wrapped to fit ``width``) and the spacing."""
        row = self._confusion_title_row
        others = row.sizeHint().width() - self._confusion_caption.sizeHint().width()
        caption = self._confusion_caption.heightForWidth(max(width - others, 1))
        return max(row.sizeHint().height(), caption) + max(self._matrix_box.layout().spacing(), 0) + 2

    def _fit_report(self) -> None:
        """Size the report to its content: every title and number whole, every row visible
        (the page scrolls when it must, never the table)."""
        table = self.report_table
        header = table.horizontalHeader()
        width = sum(max(header.sectionSizeHint(c), table.sizeHintForColumn(c)) for c in range(len(REPORT_COLUMNS)))
        frame = 2 * table.frameWidth()
        rows = self.report_model.rowCount()
        table.setFixedSize(width + frame + 2, header.sizeHint().height()
                           + rows * table.verticalHeader().defaultSectionSize() + frame + 2)
        self._arrange_confusion()

    def _with_export(self, view: QWidget, name: str, slot) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view, 1)
        button = QPushButton("Export PNG…")
        button.setObjectName(name)
        button.clicked.connect(slot)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignRight)
        return page

    # -- public ----------------------------------------------------------------------------------------
    @property
    def evaluation(self) -> Evaluation | None:
        """The evaluation shown, or None."""
        return self.shown.evaluation if self.shown is not None else None

    @property
    def evaluating(self) -> bool:
        return self.runner.busy(TASK)

    def set_probe_input(self, x: np.ndarray | None) -> None:
        """Show the activations this network-input-shaped array causes (the Draw tab's input)."""
        self.weights_view.set_probe_input(x)

    show_activations_for = set_probe_input

    def evaluate(self, quiet: bool = False) -> bool:
        """Start evaluating the snapshot on the test split; False (reason shown) if impossible.
        ``quiet``: the evaluation was not asked for (automatic): a reason goes to the summary
        only, never to the message bar."""
        network = self._document.snapshot
        if network is None:
            self.summary.setText("No trained network yet: train it on the Train tab, then evaluate it here.")
            return False
        if self._document.dataset_loading():
            # A model just opened: its data arrive in the background, and their arrival
            # (datasetChanged) evaluates. Not an error, so no message either way.
            self.summary.setText(LOADING_TEXT)
            return False
        data = self._data(quiet)
        if data is None:
            self.summary.setText("Not evaluated: the test data are not available (see the Dataset panel)." if quiet
                                 else "The test data could not be loaded (see the message above).")
            return False
        dataset, splits = data
        problems = check_compatibility(network.to_spec(), dataset.input_shape, dataset.n_classes, trained=True)
        if problems:
            problem = str(problems[0])
            problem = problem[:1].lower() + problem[1:]  # it continues "Cannot evaluate: "
            self.summary.setText(f"Cannot evaluate: {problem}.")
            if not quiet:
                self._document.notify(f"Cannot evaluate on {dataset.name}: {problem}.", "warning")
            return False
        copy = network.inference_copy()  # private to the worker: the snapshot stays the GUI's
        self._pending = dict(snapshot=network, x=splits.x_test, input_shape=tuple(dataset.input_shape),
                             preprocessing=dict(dataset.preprocessing), dataset_choice=self._document.dataset_choice,
                             seed=self._document.spec.seed, weights=self._which_weights(network),
                             official_test=bool(splits.test_is_official))
        self.evaluate_button.setEnabled(False)
        self.summary.setText(f"Evaluating on {len(splits.y_test):,} test samples…")
        self.runner.submit(TASK, evaluate, copy, splits.x_test, splits.y_test, dataset.class_names)
        return True

    def _which_weights(self, snapshot) -> str:
        """Name ``snapshot``'s weights: exact ("weights at epoch 18, batch 40") when the trained
        network's history is still (no run, or a run paused and waiting) and the snapshot is
        its copy; while a run trains, only its whole epochs are known."""
        doc = self._document
        network = doc.network
        controller = self._controller
        still = not doc.training_active or (getattr(controller, "state", None) == "paused"
                                            and bool(getattr(controller, "waiting", False)))
        if network is not None and still and snapshot is doc.snapshot and network.epochs_done == snapshot.epochs_done:
            return weights_text(*trained_position(network.history, network.epochs_done))
        done = snapshot.epochs_done
        return f"weights taken during training, {done:,} epoch{'s' if done != 1 else ''} done"

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Wait for background work (evaluation, gradient check); False on timeout."""
        return self.runner.wait(msecs)

    # -- data ---------------------------------------------------------------------------------------------
    def _data(self, quiet: bool = False):
        """(Dataset, DataSplits) of the document, or None after telling the user why
        (``quiet``: without telling; the dataset panel reports a missing dataset itself)."""
        choice = self._document.dataset_choice
        try:
            return self._document.dataset(), self._document.splits()
        except (DataError, OSError) as exc:
            if not quiet and self._failed_choice != choice:  # once per dataset choice, not at every refresh
                self._failed_choice = choice
                self._document.notify(f"The dataset could not be loaded for evaluation: {exc}", "error")
            return None

    # -- evaluation results ----------------------------------------------------------------------------------
    def _on_runner_finished(self, kind: str, result: object) -> None:
        if kind != TASK or self._pending is None:
            return
        self.evaluate_button.setEnabled(True)
        self.shown = ShownEvaluation(evaluation=result, **self._pending)
        self._pending = None
        ev = self.shown.evaluation
        self.confusion_view.set_matrix(ev.confusion, ev.class_names)
        self.confusion_view.set_normalized(self.normalize_check.isChecked())
        self._fill_report(ev)
        self._make_room_for_matrix()
        self.gallery.show_samples(np.zeros(0, np.int64), np.zeros(0), None, [], [])
        self.gallery_title.setText("Click a cell of the matrix to see its samples here.")
        self._update_summary()
        self.evaluationFinished.emit(ev)
        if self._out_of_date():
            self._schedule_auto_evaluate()  # new weights arrived while this one ran

    def _on_runner_failed(self, kind: str, message: str, details: str) -> None:
        if kind != TASK:
            return
        self.evaluate_button.setEnabled(True)
        self._pending = None
        self._update_summary()
        self._document.notify(f"Evaluation failed: {message}", "error", details)

    def _make_room_for_matrix(self) -> None:
        """Split the page between matrix (and report beside it) and gallery: the matrix gets
        the height of cells as large as the width allows, as far as the gallery keeps its
        minimum; then the cells fit what there is. After the user moved the split, only the
        cells fit."""
        sizes = self._confusion_splitter.sizes()
        if not self._user_split and len(sizes) == 2 and sum(sizes) > 0:
            width, _height = self._confusion_room()
            view = self.confusion_view
            side_by_side = self._confusion_row.direction() == QBoxLayout.Direction.LeftToRight
            room_w = width - (self._confusion_row.spacing() + self.report_table.width() if side_by_side else 0)
            cell = view.cell_size_to_fit(room_w, 1 << 20)  # as large as the width allows
            need = self._height_above_matrix(room_w) + view.full_size(cell).height()
            if side_by_side:
                need = max(need, self._report_box.sizeHint().height())
            most = sum(sizes) - self._confusion_splitter.widget(1).minimumSizeHint().height()
            top = max(min(need, most), 0)
            if top != sizes[0]:
                self._confusion_splitter.setSizes([top, sum(sizes) - top])
        self._arrange_confusion()

    def _fill_report(self, ev: Evaluation | None) -> None:
        """One row per class, then accuracy and the macro / weighted averages (None empties).
        ``Qt.UserRole`` of each number holds its exact value."""
        if ev is None:
            reset_table(self.report_model, 0, len(REPORT_COLUMNS))
            self._fit_report()
            return
        report = ev.report
        total = int(report.support.sum())
        rows = [(name, p, r, f, s) for name, p, r, f, s in report.rows()]
        rows.append(("accuracy", None, None, report.accuracy, total))
        rows.append(("macro avg", *report.macro_avg, total))
        rows.append(("weighted avg", *report.weighted_avg, total))
        reset_table(self.report_model, len(rows), len(REPORT_COLUMNS))
        self.report_model.setHorizontalHeaderLabels(REPORT_COLUMNS)
        bold = QFont()
        bold.setBold(True)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, values in enumerate(rows):
            summary_row = r >= len(report.class_names)
            for c, value in enumerate(values):
                roles = {"font": bold} if summary_row else {}
                if value is None:
                    text = ""
                elif c == 0:
                    text = str(value)
                else:
                    text = f"{int(value):,}" if c == 4 else f"{value:.3f}"
                    roles.update(user=float(value), alignment=right)  # exact number for automation
                set_cell(self.report_model, r, c, text, **roles)
        self._fit_report()

    def _update_summary(self) -> None:
        shown = self.shown
        if self.evaluating:
            return
        has_snapshot = self._document.snapshot is not None
        self.evaluate_button.setEnabled(has_snapshot)
        self.export_csv_button.setEnabled(shown is not None)
        if shown is None and has_snapshot and self._document.dataset_loading():
            self.summary.setText(LOADING_TEXT)  # the data's arrival evaluates (_on_document_dataset_changed)
            return
        if shown is None:
            self.summary.setText("Not evaluated yet: press Evaluate (done automatically after each training run)."
                                 if has_snapshot else
                                 "No trained network yet: train it on the Train tab, then evaluate it here.")
            return
        ev = shown.evaluation
        which = "official test set" if shown.official_test else "held-out test split"
        text = (f"<b>Accuracy {ev.accuracy:.1%}</b> · loss {ev.loss:.4f} · {ev.n_samples:,} samples of the {which} · "
                f"{shown.weights}")
        stale = self._out_of_date()
        if stale:
            # What to do must be something the user can do now: the button only works with weights.
            todo = "press Evaluate to update" if has_snapshot else "train it to evaluate it again"
            text += f"<br><i>Out of date: {' and '.join(stale)} since; {todo}.</i>"
        self.summary.setText(text)

    def _out_of_date(self) -> list[str]:
        """Why the shown results no longer describe the document (empty: they do)."""
        shown = self.shown
        if shown is None:
            return []
        stale = []
        if self._document.snapshot is not shown.snapshot:
            stale.append("the weights have changed" if self._document.snapshot is not None else
                         "the network has changed")
        if self._document.spec.seed != shown.seed:
            stale.append("the seed (and so the test split) has changed")
        return stale

    # -- automatic evaluation ------------------------------------------------------------------------------
    def _schedule_auto_evaluate(self) -> None:
        """Evaluate the current snapshot soon, in the background, once per burst of changes
        (a run's end, a reopened model, undo bringing weights back). Deferred to the event
        loop: the controller hands the finished network to the document after its signal."""
        if not self._auto_scheduled:
            self._auto_scheduled = True
            QTimer.singleShot(0, self._auto_evaluate)

    def _auto_evaluate(self) -> None:
        self._auto_scheduled = False
        doc = self._document
        snapshot = doc.snapshot
        if snapshot is None or doc.training_active:
            return  # nothing to evaluate, or mid-run (the run's end evaluates)
        if self.evaluating:
            return  # when it finishes, _on_runner_finished evaluates again if it is out of date
        if self.shown is not None and not self._out_of_date():
            return  # the results shown are of these weights already
        self.evaluate(quiet=True)

    # -- slots ---------------------------------------------------------------------------------------------------
    def _on_evaluate_button_clicked(self) -> None:
        self.evaluate()

    def _on_controller_finished(self, _kind: str, _outcome: object) -> None:
        # Deferred (the controller may hand the finished network to the document after
        # emitting finished) and merged with the snapshot change the run's end brings.
        self._schedule_auto_evaluate()

    def _on_document_snapshot_changed(self) -> None:
        self._update_summary()
        if not self._document.training_active:
            self._schedule_auto_evaluate()

    def _on_document_spec_changed(self) -> None:
        self._update_summary()
        if self._out_of_date():
            self._schedule_auto_evaluate()  # e.g. a new seed: a new test split

    def _on_document_dataset_changed(self) -> None:
        # Also emitted when a dataset loaded in the background arrives: after opening a model
        # the test data come a moment after the weights, so an automatic evaluation that found
        # them still loading runs now.
        self._failed_choice = None
        if self.shown is not None and self.shown.dataset_choice != self._document.dataset_choice:
            # Results of another dataset: clear rather than show them as this one's.
            self.shown = None
            self.confusion_view.set_matrix(None)
            self._fill_report(None)
            self.gallery.show_samples(np.zeros(0, np.int64), np.zeros(0), None, [], [])
            self.gallery_title.setText("Click a cell of the matrix to see its samples here.")
        if self.shown is None or self._out_of_date():
            self._schedule_auto_evaluate()
        self._update_summary()

    def _on_normalize_check_toggled(self, checked: bool) -> None:
        self.confusion_view.set_normalized(checked)

    def _on_confusion_view_cell_chosen(self, true: int, predicted: int) -> None:
        shown = self.shown
        if shown is None:
            return
        ev = shown.evaluation
        indices = ev.samples_for_cell(true, predicted)
        names = ev.class_names
        shown_idx = indices[:MAX_ITEMS]
        confidence = ev.confidence[shown_idx]
        images = sample_images(shown.x[shown_idx], shown.input_shape, shown.preprocessing)
        captions, labels = [], []
        for i, p in zip(shown_idx, confidence, strict=True):
            captions.append(f"Test sample {int(i)}: true {names[true]}, predicted {names[predicted]} "
                            f"with probability {p:.2f}")
            if images is None:
                values = ", ".join(f"{v:.2f}" for v in np.ravel(shown.x[i])[:4])
                labels.append(f"({values})\np = {p:.2f}")
            else:
                labels.append(f"p = {p:.2f}")
        self.gallery.show_samples(shown_idx, confidence, images, captions, labels)
        count = len(indices)
        what = (f"True {names[true]} correctly predicted" if true == predicted
                else f"True {names[true]} predicted as {names[predicted]}")
        more = f" (showing the {MAX_ITEMS} most confident)" if count > MAX_ITEMS else ""
        order = ("most confidently wrong first" if true != predicted else "most confident first")
        self.gallery_title.setText(f"{what}: {count} sample{'s' * (count != 1)}{more}, {order}; under each, the "
                                   f"probability given to {names[predicted]}."
                                   + (" Click one to open it in the Draw tab." if images is not None else ""))

    def _on_gallery_sample_index_chosen(self, index: int) -> None:
        if self.shown is not None:
            self.weights_view.set_probe_input(np.array(self.shown.x[index]))

    # -- export ----------------------------------------------------------------------------------------------------
    def _ask_path(self, title: str, suggestion: str, file_filter: str, suffix: str) -> Path | None:
        if self._dialogs is None:
            return None
        path = self._dialogs.save_file_path(title, suggestion, file_filter)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix else path.with_suffix(suffix)

    def _on_export_csv_button_clicked(self) -> None:
        if self.shown is None:
            return
        path = self._ask_path("Export confusion matrix and report", "evaluation.csv", CSV_FILTER, ".csv")
        if path is None:
            return
        try:
            path.write_text(evaluation_csv(self.shown.evaluation), encoding="utf-8")
        except OSError as exc:
            self._document.notify(f"Could not save {path.name}: {exc}", "error")
            return
        self._document.notify(f"Saved the confusion matrix and report to {path.name}.", "info")

    def _export_png(self, widget: QWidget, title: str, suggestion: str) -> None:
        path = self._ask_path(title, suggestion, PNG_FILTER, ".png")
        if path is None:
            return
        if not widget.grab().save(str(path), "PNG"):
            self._document.notify(f"Could not save the picture to {path}: check the folder exists and is writable.",
                                  "error")
            return
        self._document.notify(f"Saved {path.name}.", "info")

    def _on_export_confusion_png_button_clicked(self) -> None:
        self._export_png(self.confusion_page, "Export confusion matrix as PNG", "confusion_matrix.png")

    def _on_export_weights_png_button_clicked(self) -> None:
        # The scroll area's content, not just the part scrolled into view.
        self._export_png(self.weights_view.widget(), "Export weights and activations as PNG", "weights.png")

    def _on_export_boundary_png_button_clicked(self) -> None:
        self._export_png(self.boundary_view.plot, "Export decision boundary as PNG", "decision_boundary.png")
