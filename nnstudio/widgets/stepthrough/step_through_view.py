"""The "Step through" tab: one training step of the user's own network, number by number.

Top: what to trace (the next training batch — of the paused run when there is one —, a
sample of the dataset, or the Draw tab's drawing with a label) and the step's actions
(Apply this step, Next batch, Check with finite differences, Walk through like the article).
Middle: the stage stepper (◀ Back / Forward ▶, or the Left / Right keys): forward through
every layer, the loss, then backward through every layer; each stage's panels (pictures
where the numbers are images, bars where they are vectors, large layers summarised with
every value one click away). Right: the clicked number's formula with the actual numbers,
the finite-difference table, the article's walk-through.

Everything is computed by ``StepThroughController`` off the GUI thread (traces, panels,
formulas, checks); this widget only shows and forwards clicks.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.analysis.trace_views import walkthrough_fits
from nnstudio.controllers.step_through_controller import StepThroughController, TraceRequest, TraceResult
from nnstudio.controllers.training_controller import IDLE, PAUSED, TrainingController
from nnstudio.state.document import Document
from nnstudio.widgets.common.flow_layout import FlowLayout
from nnstudio.widgets.stepthrough.formula_pane import SidePane
from nnstudio.widgets.stepthrough.panels import GridView, PanelBox

#: Source combo entries: (data, text).
SOURCES = (("batch", "Next training batch"), ("sample", "A sample"), ("drawing", "The drawing"))
RUN_BATCH_TEXT = "Next batch of the run"
#: Below this width the formula pane moves under the pictures.
NARROW_WIDTH = 720
EMPTY_TEXT = ("Pick what to trace above and press Trace: the view then walks one training step forward through "
              "every layer, computes the loss, and walks back.")


class StepThroughView(QWidget):
    """The Step-through tab for ``document`` (observing ``training`` for a paused run)."""

    #: The stage shown changed: (stage index, stage count).
    stageChanged = Signal(int, int)

    def __init__(self, document: Document, training: TrainingController, parent: QWidget | None = None,
                 controller: StepThroughController | None = None):
        super().__init__(parent)
        self.setObjectName("stepThroughView")
        self.document = document
        self.training = training
        self.controller = controller or StepThroughController(document, training, self)
        self.result: TraceResult | None = None
        self.stage_index = 0
        self.panel_boxes: list[PanelBox] = []
        self._drawing: np.ndarray | None = None
        self._batch_number = 0
        self._pick = None
        self._sized = False
        #: The document changed since the step on screen was traced: it can no longer be applied.
        self._stale = False
        self._build()
        c = self.controller
        c.traced.connect(self._on_controller_traced)
        c.explained.connect(self._on_controller_explained)
        c.checked.connect(self._on_controller_checked)
        c.applied.connect(self._on_controller_applied)
        c.problem.connect(self._on_controller_problem)
        c.started.connect(self._on_controller_busy)
        c.finished.connect(self._on_controller_busy)
        c.failed.connect(self._on_controller_busy)
        training.stateChanged.connect(self._on_training_stateChanged)
        training.waitingChanged.connect(self._on_training_waitingChanged)
        document.specChanged.connect(self._on_document_changed)
        document.trainingConfigChanged.connect(self._on_document_changed)
        document.networkChanged.connect(self._on_document_network_changed)
        document.datasetChanged.connect(self._on_document_changed)
        self._update_sources()
        self._update_actions()

    # -- construction -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("traceSourceCombo")
        for data, text in SOURCES:
            self.source_combo.addItem(text, data)
        self.source_combo.currentIndexChanged.connect(self._on_source_combo_currentIndexChanged)
        source_label = QLabel("&Trace")
        source_label.setBuddy(self.source_combo)
        self.sample_spin = QSpinBox()
        self.sample_spin.setObjectName("sampleIndexSpin")
        self.sample_spin.setPrefix("sample ")
        self.sample_spin.setRange(0, 0)
        self.sample_spin.setToolTip("Which sample of the dataset (its label comes with it)")
        self.label_spin = QSpinBox()
        self.label_spin.setObjectName("drawingLabelSpin")
        self.label_spin.setPrefix("label ")
        self.label_spin.setRange(0, 9)
        self.label_spin.setToolTip("The digit your drawing shows: the loss compares the output with it")
        self.trace_button = QPushButton("Trace")
        self.trace_button.setObjectName("traceButton")
        self.trace_button.setToolTip("Trace one training step on this input (nothing is trained until Apply)")
        self.trace_button.clicked.connect(self.trace)
        self.apply_button = QPushButton("Apply this step")
        self.apply_button.setObjectName("applyStepButton")
        self.apply_button.setToolTip("Train this batch: add every update shown (exactly what training would do)")
        self.apply_button.clicked.connect(self.controller.apply)
        self.next_button = QPushButton("Next batch")
        self.next_button.setObjectName("nextBatchButton")
        self.next_button.setToolTip("Trace the next training batch")
        self.next_button.clicked.connect(self._on_next_button_clicked)
        self.check_button = QPushButton("Check with finite differences")
        self.check_button.setObjectName("finiteDifferenceButton")
        self.check_button.setToolTip("Compare the gradients of the layer on screen with numeric ones (float64)")
        self.check_button.clicked.connect(self._on_check_button_clicked)
        self.walk_button = QPushButton("Walk through like the article")
        self.walk_button.setObjectName("walkthroughButton")
        self.walk_button.setToolTip("The seed article's notation (dE/dY in, dE/dX out, dE/dW = Xᵀ·dE/dY) on one sample")
        self.walk_button.clicked.connect(self._on_walk_button_clicked)

        # One row of controls that wraps in a narrow window (labels never clipped).
        controls = QWidget()
        controls.setObjectName("stepControls")
        flow = FlowLayout(controls)
        for widget in (source_label, self.source_combo, self.sample_spin, self.label_spin, self.trace_button,
                       self.apply_button, self.next_button, self.check_button, self.walk_button):
            flow.addWidget(widget)

        self.back_button = QPushButton("◀ Back")
        self.back_button.setObjectName("stageBackButton")
        self.back_button.setToolTip("The previous stage (Left)")
        self.back_button.clicked.connect(self.step_back)
        self.forward_button = QPushButton("Forward ▶")
        self.forward_button.setObjectName("stageForwardButton")
        self.forward_button.setToolTip("The next stage (Right)")
        self.forward_button.clicked.connect(self.step_forward)
        self.stage_title = QLabel("")
        self.stage_title.setObjectName("stageTitle")
        bold = QFont(self.stage_title.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.1)
        self.stage_title.setFont(bold)
        self.stage_title.setWordWrap(True)
        self.stage_text = QLabel(EMPTY_TEXT)
        self.stage_text.setObjectName("stageExplanation")
        self.stage_text.setWordWrap(True)
        self.row_spin = QSpinBox()
        self.row_spin.setObjectName("batchRowSpin")
        self.row_spin.setPrefix("showing sample ")
        self.row_spin.setToolTip("Which sample of the batch the pictures show (gradients of the weights sum over all)")
        self.row_spin.valueChanged.connect(self._on_row_spin_valueChanged)
        stepper = QHBoxLayout()
        stepper.addWidget(self.back_button)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.stage_title)
        titles.addWidget(self.stage_text)
        stepper.addLayout(titles, 1)
        stepper.addWidget(self.row_spin)
        stepper.addWidget(self.forward_button)

        self.panels_widget = QWidget()
        self.panels_widget.setObjectName("stagePanels")
        self.panels_layout = QGridLayout(self.panels_widget)
        self.panels_layout.setContentsMargins(0, 0, 0, 0)
        self.panels_scroll = QScrollArea()
        self.panels_scroll.setObjectName("stagePanelsScroll")
        self.panels_scroll.setWidgetResizable(True)
        self.panels_scroll.setWidget(self.panels_widget)
        self.panels_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.side = SidePane()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("stepSplitter")
        self.splitter.addWidget(self.panels_scroll)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.side.setMinimumWidth(240)

        self.status_label = QLabel("")
        self.status_label.setObjectName("stepStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        layout = QVBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(stepper)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status_label)

        # Left / Right walk the stages anywhere in the tab except where a field needs them.
        for key, slot in ((Qt.Key.Key_Left, self.step_back), (Qt.Key.Key_Right, self.step_forward)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def resizeEvent(self, event) -> None:
        # Narrow (the 1024×640 window with both side panels): the formula pane goes below.
        wide = event.size().width() >= NARROW_WIDTH
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
            self._sized = False
            self._size_splitter(event.size().width(), event.size().height())
        super().resizeEvent(event)

    def _size_splitter(self, width: int, height: int) -> None:
        if self.splitter.orientation() == Qt.Orientation.Horizontal:
            width = max(width, 600)
            side = min(max(int(width * 0.38), 300), 560)
            self.splitter.setSizes([width - side, side])
        else:
            height = max(height, 400)
            self.splitter.setSizes([int(height * 0.55), int(height * 0.45)])
        self._sized = True

    def showEvent(self, event) -> None:
        if not self._sized:  # the pictures get the larger share; the formula pane the rest
            self._size_splitter(self.width(), self.height())
        super().showEvent(event)

    # -- public API ---------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.source_combo.currentData())

    @property
    def stages(self):
        return self.result.stages if self.result is not None else []

    def set_drawing(self, image: np.ndarray | None) -> None:
        """The Draw tab's canvas (H, W) in [0, 1] (None: empty); kept for "The drawing"."""
        self._drawing = None if image is None else np.array(image, dtype=np.float32)
        self._update_actions()

    def trace(self) -> None:
        """Trace the chosen input (``controller.traced`` follows)."""
        source = self.source
        image = self._drawing if source == "drawing" else None
        if source == "drawing" and (image is None or not np.any(image > 0)):
            self._on_controller_problem("Draw a digit in the Draw tab first: the canvas is empty.")
            return
        index = self.sample_spin.value() if source == "sample" else self._batch_number
        request = TraceRequest(source, index=index, label=self.label_spin.value(), image=image)
        self.status_label.setText("Tracing…")
        self.controller.trace(request)

    def step_forward(self) -> None:
        self.show_stage(self.stage_index + 1)

    def step_back(self) -> None:
        self.show_stage(self.stage_index - 1)

    def show_stage(self, index: int) -> None:
        stages = self.stages
        if not stages:
            return
        index = min(max(index, 0), len(stages) - 1)
        self.stage_index = index
        stage = stages[index]
        direction = {"forward": "Forward", "loss": "Loss", "backward": "Backward"}[stage.direction]
        self.stage_title.setText(f"{stage.title}   ({index + 1} of {len(stages)}, {direction.lower()} pass)"
                                 if stage.direction != "loss" else f"{stage.title}   ({index + 1} of {len(stages)})")
        self.stage_text.setText(stage.explanation)
        self._fill_panels(stage)
        self.back_button.setEnabled(index > 0)
        self.forward_button.setEnabled(index < len(stages) - 1)
        self.check_button.setEnabled(self._can_check())
        self.stageChanged.emit(index, len(stages))

    def stage_view(self, quantity: str, layer: int | None = None, kind: type | None = None):
        """The GridView/BarsView of the stage on screen showing ``quantity`` (of ``layer``)."""
        for box in self.panel_boxes:
            p = box.panel
            if (p.quantity == quantity and (layer is None or p.layer == layer)
                    and (kind is None or isinstance(box.view, kind))):
                return box.view
        raise KeyError(f"no panel shows {quantity} of layer {layer} on this stage")

    # -- panels -------------------------------------------------------------------------------------
    def _fill_panels(self, stage) -> None:
        for box in self.panel_boxes:
            self.panels_layout.removeWidget(box)
            box.deleteLater()
        self.panel_boxes = []
        columns = 2
        for i, panel in enumerate(stage.panels):
            box = PanelBox(panel)
            box.view.numberClicked.connect(self._on_panel_numberClicked)
            self.panels_layout.addWidget(box, i // columns, i % columns)
            self.panel_boxes.append(box)
        rows = (len(stage.panels) + columns - 1) // columns
        for row in range(max(self.panels_layout.rowCount(), rows)):
            self.panels_layout.setRowStretch(row, 1 if row < rows else 0)  # pictures share the height

    # -- slots --------------------------------------------------------------------------------------
    def _on_panel_numberClicked(self, layer: int, quantity: str, index: tuple) -> None:
        from core.analysis.formulas import Pick

        result = self.result
        if result is None:
            return
        sample = self.row_spin.value()
        self._pick = Pick(layer, quantity, tuple(index), sample)
        for box in self.panel_boxes:
            if box.view is not self.sender():
                box.view.select(None)
        self.side.setCurrentIndex(0)
        self.side.formula.show_message("Working out the formula…")
        self.controller.explain(self._pick)

    def _on_controller_traced(self, result: TraceResult) -> None:
        self._stale = False
        same_walk = self.result is not None and len(self.result.stages) == len(result.stages)
        self.result = result
        batch = result.batch_size
        self.row_spin.blockSignals(True)
        self.row_spin.setRange(0, batch - 1)
        self.row_spin.setSuffix(f" of {batch}")
        self.row_spin.setValue(min(result.request.sample, batch - 1))
        self.row_spin.blockSignals(False)
        self.row_spin.setVisible(batch > 1)
        self.show_stage(self.stage_index if same_walk else 0)
        self.side.walkthrough.show_steps(result.walkthrough)
        applied = " (applied)" if result.trace.applied else ""
        self.status_label.setText(
            f"Traced {result.description}{applied}: loss {result.trace.loss:.6g}, computed in "
            f"{result.seconds * 1000:.0f} ms off the GUI thread. Nothing is trained until “Apply this step”.")
        self._update_actions()

    def _on_controller_explained(self, explanation) -> None:
        if explanation.pick != self._pick:
            return
        self.side.formula.show_explanation(explanation)
        # A convolution's or pooling's output pixel: frame its window in the input panel.
        source = explanation.pick.layer - 1
        for box in self.panel_boxes:
            view = box.view
            if not isinstance(view, GridView):
                continue
            is_input = box.panel.layer == source and (box.panel.quantity == "output" or source < 0)
            if explanation.outline is not None and is_input and box.panel.title.startswith("input"):
                view.outline_window(*explanation.outline)
            elif view.outlines:
                view.outline_window((), (0, 0), (0, 0))

    def _on_controller_checked(self, result) -> None:
        self.side.check.show_result(result)
        self.side.setCurrentIndex(1)

    def _on_controller_applied(self, result: TraceResult) -> None:
        total = sum(int(np.size(u)) for layer in result.trace.layers for u in layer.update.values())
        self.status_label.setText(f"Applied: {total:,} parameters changed by the updates shown (one training "
                                  f"step on {result.description}).")
        self._update_actions()
        if result.origin == "run":
            return  # traced again when the run waits for the next command (_on_training_waitingChanged)
        if result.request.source == "batch":
            self._batch_number += 1
        self.trace()  # show the step that follows, on the changed network

    def _on_controller_problem(self, text: str) -> None:
        self.status_label.setText(text)
        self._update_actions()

    def _on_controller_busy(self, *_args) -> None:
        self._update_actions()

    def _on_next_button_clicked(self) -> None:
        self.source_combo.setCurrentIndex(0)
        if self.result is not None and self.result.origin == "document" and self.result.request.source == "batch":
            self._batch_number += 1
        self.trace()

    def _on_check_button_clicked(self) -> None:
        stage = self._current_stage()
        if stage is None:
            return
        layer = stage.layer if stage.layer >= 0 else len(self.result.trace.layers) - 1  # type: ignore[union-attr]
        self.side.check.show_message("Computing central differences in float64…")
        self.side.setCurrentIndex(1)
        self.controller.check(layer)

    def _on_walk_button_clicked(self) -> None:
        result = self.result
        if result is not None and result.walkthrough:
            self.side.setCurrentIndex(2)
            return
        # One sample of the data, as the article trains (sample by sample).
        self.source_combo.setCurrentIndex(1)
        self.side.setCurrentIndex(2)
        self.trace()

    def _on_row_spin_valueChanged(self, value: int) -> None:
        self.controller.show_sample(value)

    def _on_source_combo_currentIndexChanged(self, _index: int) -> None:
        self._update_actions()

    def _on_training_stateChanged(self, _state: str) -> None:
        self._update_sources()
        self._update_actions()

    def _on_training_waitingChanged(self, waiting: bool) -> None:
        # After "Apply" on a paused run the run trained the batch and waits again: show the next.
        if waiting and self.result is not None and self.result.origin == "run" and self.source == "batch":
            self.trace()

    def _on_document_changed(self) -> None:
        result = self.result
        if result is not None and result.origin == "document" and not self._stale:
            # The step on screen was traced with the old layers, settings or data: it stays
            # readable, but applying it would not be what training now does.
            self._stale = True
            self.status_label.setText("The network, its settings or its data changed since this step was traced: "
                                      "press Trace to see the step training would take now.")
        self._update_sources()
        self._update_actions()

    def _on_document_network_changed(self) -> None:
        self._update_actions()

    # -- helpers ------------------------------------------------------------------------------------
    def _current_stage(self):
        stages = self.stages
        return stages[self.stage_index] if stages else None

    def _can_check(self) -> bool:
        stage = self._current_stage()
        return stage is not None and self.result is not None and not self.result.trace.applied

    def _update_sources(self) -> None:
        self.source_combo.setItemText(0, RUN_BATCH_TEXT if self.training.state == PAUSED else SOURCES[0][1])
        try:
            data = self.document.loaded_dataset()
        except Exception:  # broad on purpose: a dataset problem is shown by the dataset panel
            data = None
        if data is not None:
            self.sample_spin.setRange(0, max(len(data.y) - 1, 0))
            self.label_spin.setRange(0, max(len(data.class_names) - 1, 0))

    def _update_actions(self) -> None:
        state = self.training.state
        can_trace = state in (IDLE, PAUSED)
        source = self.source
        why = self.controller.why_not(source)
        self.sample_spin.setVisible(source == "sample")
        self.label_spin.setVisible(source == "drawing")
        self.trace_button.setEnabled(can_trace and why is None)
        self.trace_button.setToolTip(why[0].upper() + why[1:] if why else "Trace one training step on this input")
        result = self.result
        busy = self.controller.runner.busy("apply")
        self.apply_button.setEnabled(result is not None and not result.trace.applied and not busy and can_trace
                                     and not self._stale and (result.origin == "document" or state == PAUSED))
        self.next_button.setEnabled(can_trace)
        self.check_button.setEnabled(self._can_check())
        self.walk_button.setEnabled(can_trace and walkthrough_fits(layer.type for layer in self.document.spec.layers))

