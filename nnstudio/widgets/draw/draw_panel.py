"""The Draw tab: draw a digit and watch a network read it.

Left: the canvas, the brush width, Clear and "Test a random sample". Right (below only in a
tab too narrow for both, smaller than the 1024×640 window gives): the prediction
("7 — 98.6%"), which model predicts, the exact input the network receives, and one bar per
class. The canvas grows and shrinks with the tab (``_arrange``); what the network receives
does not depend on its size (see ``digit_canvas``). Right-click the prediction or the bars
to keep the drawing for training ("Add this drawing to the training set as label k", stored by
:mod:`nnstudio.state.user_dataset`). Under the prediction, a hint when the drawing is hard to
read (drawn small, faint, thick strokes: :func:`core.data.drawing.drawing_hint` decides).

"Teach it your handwriting…" opens the guided :class:`HandwritingTeacher` above the prediction
(non-modal: the canvas stays the place to draw). What Keep does depends on the model taught,
so that the user's own network is never lost:

- the document's network (the Draw tab reads with it): the tuned copy becomes the document's
  network, one undoable edit ("Undo Teach your handwriting" brings the previous weights
  back), saved with the document as usual;
- the shipped model (the document's network cannot read drawings, or is untrained): the
  tuned copy becomes the document's *drawing reader* (``Document.set_drawing_reader``, also
  undoable), which the Draw tab reads with instead of the shipped model and which is saved
  beside the model file ("name.handwriting.nnz"); the document's own network is not touched.

The model is the document's snapshot when it can read a drawing, else the document's drawing
reader, else the shipped MNIST CNN (:mod:`nnstudio.controllers.prediction`); the panel
re-predicts whenever the snapshot changes (each epoch while training). All preprocessing and
shapes are core's; this widget only shows.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.data import DataError, load_dataset
from core.data.drawing import (
    drawing_hint,
    mode_for_input_shape,
    preprocess_drawing,
    sample_as_image,
    sample_fits,
    sample_to_network_input,
)
from nnstudio.controllers.handwriting import HandwritingTuner
from nnstudio.controllers.prediction import (
    Prediction,
    Predictor,
    choose_predictor,
    predict_drawing,
    predict_sample,
    predictor_for,
    shipped_model_error,
)
from nnstudio.state.document import Document
from nnstudio.state.user_dataset import UserDrawings
from nnstudio.widgets.draw.digit_canvas import DEFAULT_BRUSH, MAX_BRUSH, MIN_BRUSH, MIN_SIDE, DigitCanvas
from nnstudio.widgets.draw.handwriting_teacher import HandwritingTeacher
from nnstudio.widgets.draw.input_preview import InputPreview
from nnstudio.widgets.draw.probability_bars import ProbabilityBars

if TYPE_CHECKING:
    from core.training import FineTuneResult

DRAW_PROMPT = "Draw a digit"
READER_DESCRIPTION = "Shipped model, taught your handwriting"
#: Image size (side) of each drawing recipe's network input.
_SIDE = {"mnist": 28, "digits8x8": 8}


class DrawPanel(QWidget):
    """The Draw tab for ``document``. ``seed`` fixes the random test samples (tests).

    ``networkInputChanged(x)``: the input the document's own network gets from the current
    drawing or sample, shaped (1, *input_shape) float32 (ready for its activations view);
    None when the canvas is empty or the shipped model reads instead (its input would not fit
    the document's network).
    """

    networkInputChanged = Signal(object)
    #: A drawing was kept for training; carries the number of drawings now stored.
    drawingAdded = Signal(int)

    def __init__(self, document: Document, parent: QWidget | None = None, seed: int | None = None):
        super().__init__(parent)
        self.setObjectName("drawPanel")
        self.document = document
        self._rng = np.random.default_rng(seed)
        self.tuner = HandwritingTuner(self, seed=seed)
        self._predictor: Predictor | None = None
        self._prediction: Prediction | None = None
        self._sample: tuple[np.ndarray, str] | None = None  # shown dataset sample and its caption
        self._menu: QMenu | None = None
        #: Seconds spent by the last update: preprocessing + prediction, and the display.
        self.last_timing: dict[str, float] = {}
        self._build()
        document.snapshotChanged.connect(self._on_document_snapshotChanged)
        document.pathChanged.connect(self._on_document_pathChanged)
        document.drawingReaderChanged.connect(self._on_document_drawingReaderChanged)
        document.trainingActiveChanged.connect(self._on_document_trainingActiveChanged)
        self._on_document_snapshotChanged()

    # -- construction -------------------------------------------------------------------------
    def _build(self) -> None:
        self.canvas = DigitCanvas()
        self.canvas.imageChanged.connect(self._on_canvas_imageChanged)
        self.canvas.drawingStarted.connect(self._on_canvas_drawingStarted)

        self.brush_spin = QSpinBox()
        self.brush_spin.setObjectName("brushWidthSpin")
        self.brush_spin.setRange(MIN_BRUSH, MAX_BRUSH)
        self.brush_spin.setValue(DEFAULT_BRUSH)
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setToolTip("Pen width for new strokes")
        self.brush_spin.valueChanged.connect(self._on_brush_spin_valueChanged)
        brush_label = QLabel("&Brush")
        brush_label.setBuddy(self.brush_spin)

        self.clear_button = QPushButton("&Clear")
        self.clear_button.setObjectName("clearCanvasButton")
        self.clear_button.setToolTip("Erase the canvas (Esc or Delete on the canvas)")
        self.clear_button.clicked.connect(self._on_clear_button_clicked)

        self.random_button = QPushButton("Test a random &sample")
        self.random_button.setObjectName("randomSampleButton")
        self.random_button.setToolTip("Show a random test-set image and let the network read it")
        self.random_button.clicked.connect(self._on_random_button_clicked)

        self.teach_button = QPushButton("&Teach it your handwriting…")
        self.teach_button.setObjectName("teachHandwritingButton")
        self.teach_button.setToolTip("Draw a few examples of each digit; a copy of the model learns your style, "
                                     "and you decide whether to keep it")
        self.teach_button.clicked.connect(self._on_teach_button_clicked)

        self.sample_label = QLabel("")
        self.sample_label.setObjectName("sampleCaptionLabel")
        self.sample_label.setWordWrap(True)

        hint = QLabel("Draw one digit, large, in the middle. Ctrl+Z takes back a stroke or a clear.\n"
                      "Right-click the prediction to keep the drawing for training.")
        hint.setObjectName("drawHintLabel")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")

        left = QVBoxLayout()
        self._left_column = left
        left.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignHCenter)
        tools = QHBoxLayout()
        tools.addWidget(brush_label)
        tools.addWidget(self.brush_spin)
        tools.addStretch(1)
        tools.addWidget(self.clear_button)
        left.addLayout(tools)
        left.addWidget(self.random_button)
        left.addWidget(self.teach_button)
        left.addWidget(self.sample_label)
        left.addWidget(hint)
        left.addStretch(1)

        self.prediction_label = QLabel(DRAW_PROMPT)
        self.prediction_label.setObjectName("predictionLabel")
        font = QFont(self.prediction_label.font())
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        self.prediction_label.setFont(font)
        self.prediction_label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.prediction_label.customContextMenuRequested.connect(self._on_prediction_label_customContextMenuRequested)
        self.prediction_label.setToolTip("Right-click to add this drawing to your training drawings")

        self.quality_label = QLabel("")
        self.quality_label.setObjectName("drawingQualityHint")
        self.quality_label.setWordWrap(True)
        self.quality_label.hide()

        self.teacher = HandwritingTeacher(self.canvas, self.tuner, self)
        self.teacher.hide()
        self.teacher.keepRequested.connect(self._on_teacher_keepRequested)
        self.teacher.closed.connect(self._on_teacher_closed)

        self.model_label = QLabel("")
        self.model_label.setObjectName("modelLabel")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: palette(placeholder-text);")

        self.preview = InputPreview()
        preview_caption = QLabel("What the network sees")
        preview_caption.setObjectName("inputPreviewCaption")
        preview_caption.setStyleSheet("color: palette(placeholder-text);")
        preview_caption.setFixedWidth(self.preview.width())
        preview_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)

        self.bars = ProbabilityBars()
        self.bars.customContextMenuRequested.connect(self._on_bars_customContextMenuRequested)

        self.drawings_label = QLabel("")
        self.drawings_label.setObjectName("myDrawingsLabel")
        self.drawings_label.setStyleSheet("color: palette(placeholder-text);")

        preview_column = QVBoxLayout()
        preview_column.addWidget(self.preview)
        preview_column.addWidget(preview_caption)
        preview_column.addStretch(1)
        # Preview and bars sit side by side when there is room and stack when the panel is
        # narrow (small windows), so the panel never forces the window wider.
        view_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        view_row.addLayout(preview_column)
        view_row.addWidget(self.bars, 3)
        view_row.addStretch(1)  # past the bars' maximum width, space goes here (left-aligned)
        self._view_row = view_row
        right = QVBoxLayout()
        right.addWidget(self.teacher)
        right.addWidget(self.prediction_label)
        right.addWidget(self.quality_label)
        right.addWidget(self.model_label)
        right.addLayout(view_row)
        right.addWidget(self.drawings_label)
        right.addStretch(1)

        # Canvas column and prediction column side by side, or one above the other in a
        # narrow tab (the smallest window leaves the centre ~350 px); the content scrolls
        # rather than overlapping when the tab is smaller than it.
        content = QWidget()
        content.setObjectName("drawContent")
        self._content = content
        self._main_row = QBoxLayout(QBoxLayout.Direction.LeftToRight, content)
        self._main_row.addLayout(left, 0)
        self._main_row.addLayout(right, 1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("drawScroll")
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._arrange(self.width(), self.height())

    #: Share of the tab's width the canvas takes when both columns fit (the rest: prediction).
    CANVAS_SHARE = 0.5

    def _arrange(self, width: int, height: int) -> None:
        """Lay the tab out for a ``width`` × ``height`` panel: the canvas column beside the
        prediction column whenever the smallest canvas and the narrowest bars fit side by side
        (else one above the other, and the tab scrolls), the preview beside the bars when
        the prediction column has room for both; the canvas as large as the height allows
        and its share of the width."""
        margins = self._main_row.contentsMargins()
        spacing = max(self._main_row.spacing(), 0)
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        room_w = width - margins.left() - margins.right() - bar  # a scroll bar never forces a re-wrap
        room_h = height - margins.top() - margins.bottom()
        bars_min = self.bars.minimumWidth()
        two_columns = room_w >= MIN_SIDE + spacing + bars_min
        # Height of the left column without the canvas: tools, sample button, hint.
        below_canvas = self._left_column.sizeHint().height() - self.canvas.height()
        if two_columns:
            side = min(room_h - below_canvas, room_w * self.CANVAS_SHARE, room_w - spacing - bars_min)
        else:
            side = min(room_w, max(room_h - below_canvas, MIN_SIDE))
        self.canvas.set_side(int(side))
        right_w = room_w - self.canvas.side() - spacing if two_columns else room_w
        preview_beside = right_w >= self.preview.width() + spacing + bars_min
        for row, side_by_side in ((self._view_row, preview_beside), (self._main_row, two_columns)):
            direction = QBoxLayout.Direction.LeftToRight if side_by_side else QBoxLayout.Direction.TopToBottom
            if row.direction() != direction:
                row.setDirection(direction)

    def resizeEvent(self, event) -> None:
        self._arrange(event.size().width(), event.size().height())
        super().resizeEvent(event)

    # -- public API ----------------------------------------------------------------------------
    @property
    def predictor(self) -> Predictor | None:
        """The model that predicts now (None when no model can read drawings)."""
        return self._predictor

    @property
    def prediction(self) -> Prediction | None:
        """The prediction shown (None while the canvas is empty)."""
        return self._prediction

    def show_sample(self, image: np.ndarray, caption: str) -> None:
        """Show a dataset sample ((28, 28) or (8, 8) in [0, 1], already a network input) in
        the canvas area and predict it directly (no canvas preprocessing). A sample that
        does not fit the model (an 8×8 digit for a 28×28 model) is read as a drawing instead,
        and the caption says so."""
        image = sample_as_image(image)
        self.canvas.show_sample(image)
        self._sample = (image, caption)
        self._predict_current()

    def refresh(self) -> None:
        """Predict the current drawing or sample again."""
        self._predict_current()

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Stop a running "Teach it your handwriting" (the window closes); False on timeout."""
        return self.tuner.shutdown(msecs)

    # -- prediction ----------------------------------------------------------------------------
    def _predict_current(self) -> None:
        predictor = self._predictor
        if predictor is None:
            self._show(None, "No model can read drawings")
            return
        note = ""
        try:
            if self._sample is not None:
                image, caption = self._sample
                if sample_fits(image, predictor.input_shape):
                    prediction = predict_sample(predictor, image)
                else:
                    # Enlarged, it is a drawing like any other: the model's recipe reads it.
                    prediction = predict_drawing(predictor, image)
                    note = f" (a {image.shape[0]}×{image.shape[1]} sample, read as a drawing)"
                self.sample_label.setText(caption + note)
            else:
                image = self.canvas.image_array()
                prediction = predict_drawing(predictor, image)
                self._show_hint(drawing_hint(image) if prediction is not None else None)
        except DataError as exc:
            self._show(None, "Cannot read this input")
            self.document.notify(f"The drawing could not be prepared for the network: {exc}", "error")
            return
        self._show(prediction, DRAW_PROMPT)

    def _show_hint(self, hint) -> None:
        """The drawing-quality hint under the prediction (None hides it)."""
        self.quality_label.setText("" if hint is None else f"⚠ {hint.message}")
        self.quality_label.setVisible(hint is not None)

    def _show(self, prediction: Prediction | None, empty_text: str) -> None:
        start = time.perf_counter()
        if prediction is None or self._sample is not None:
            self._show_hint(None)
        self._prediction = prediction
        names = prediction.class_names if prediction is not None else (
            self._predictor.class_names if self._predictor is not None else tuple(str(i) for i in range(10)))
        if prediction is None:
            self.prediction_label.setText(empty_text)
            self.preview.set_input(None)
            self.bars.set_probabilities(None, names)
        else:
            self.prediction_label.setText(prediction.text())
            self.preview.set_input(prediction.network_input)
            self.bars.set_probabilities(prediction.probabilities, names)
        self.last_timing = {"predict": prediction.seconds if prediction is not None else 0.0,
                            "display": time.perf_counter() - start}
        own = prediction is not None and self._predictor is not None and not self._predictor.shipped
        self.networkInputChanged.emit(
            sample_to_network_input(prediction.network_input, self._predictor.input_shape) if own else None)

    # -- slots ---------------------------------------------------------------------------------
    def _choose_predictor(self) -> Predictor | None:
        """The document's snapshot when it reads drawings, else the document's drawing reader
        (the shipped model taught the user's handwriting), else the shipped model."""
        predictor = choose_predictor(self.document.snapshot, self.document.path)
        reader = self.document.drawing_reader
        if (predictor is None or predictor.shipped) and reader is not None:
            return predictor_for(reader, READER_DESCRIPTION, shipped=True) or predictor
        return predictor

    def _on_document_snapshotChanged(self) -> None:
        self._predictor = self._choose_predictor()
        self.model_label.setText(self._model_text())
        self.teacher.set_predictor(self._predictor)
        self._update_teach_button()
        self._predict_current()

    def _on_document_drawingReaderChanged(self) -> None:
        self._on_document_snapshotChanged()

    def _on_document_trainingActiveChanged(self, _active: bool) -> None:
        self._update_teach_button()

    def _on_document_pathChanged(self) -> None:
        self._on_document_snapshotChanged()  # the model's description names the file

    def _model_text(self) -> str:
        predictor = self._predictor
        snapshot = self.document.snapshot
        if predictor is None:
            why = shipped_model_error() or "the shipped model is missing"
            return f"No model can read drawings: {why}"
        text = f"Predicting: {predictor.description}"
        if predictor.shipped and snapshot is not None:
            text += (f"\nYour network's input {tuple(snapshot.input_shape)} cannot take a drawing "
                     "(it needs 28×28 or 8×8 images).")
        return text

    # -- "Teach it your handwriting" -------------------------------------------------------------
    def _update_teach_button(self) -> None:
        predictor = self._predictor
        own_busy = predictor is not None and not predictor.shipped and self.document.training_active
        self.teach_button.setEnabled(predictor is not None and not own_busy and not self.teacher.isVisible())
        self.teach_button.setToolTip(
            "No model can read drawings" if predictor is None else
            "Your network is training: teach it when the run has ended" if own_busy else
            "Draw a few examples of each digit; a copy of the model learns your style, and you decide "
            "whether to keep it")

    def _on_teach_button_clicked(self) -> None:
        if self._predictor is None:
            return
        self._on_clear_button_clicked()
        self.teacher.begin(self._predictor)
        self._update_teach_button()

    def _on_teacher_closed(self) -> None:
        self._update_teach_button()

    def _on_teacher_keepRequested(self, result: FineTuneResult) -> None:
        """Keep the tuned model without ever losing the user's own network (module doc)."""
        base = self.teacher.predictor  # the model that was taught
        if base is None:
            return
        tuned = result.network
        if base.shipped:
            self.document.set_drawing_reader(tuned, "Teach the shipped model your handwriting")
            self.document.notify("The Draw tab now reads with the shipped model taught your handwriting; it is "
                                 "saved beside your model file. Edit ▸ Undo takes it back.", "info")
            return
        own = self.document.network
        if own is None or self.document.snapshot is not base.network or self.document.training_active:
            self.document.notify("Your network changed while it was being taught (it trained or was edited), "
                                 "so the tuned copy was not kept: teach it again.", "warning")
            return
        # Continue like the document's own network: its optimizer settings, its history.
        tuned.compile(optimizer=dict(self.document.spec.optimizer))
        tuned.history = copy.deepcopy(own.history)
        tuned.metadata = {**own.metadata, "fine_tuned": tuned.metadata.get("fine_tuned")}
        tuned.seed = own.seed
        self.document.adopt_network(tuned, "Teach your handwriting")
        self.document.notify("Your network now reads your handwriting (Edit ▸ Undo takes it back; save to keep "
                             "it).", "info")

    def _on_canvas_imageChanged(self) -> None:
        if self.canvas.showing_sample:
            return
        # The canvas dropped the sample (cleared from the keyboard, or drawn over): follow it.
        self._on_canvas_drawingStarted()
        self._predict_current()

    def _on_canvas_drawingStarted(self) -> None:
        self._sample = None
        self.sample_label.setText("")

    def _on_brush_spin_valueChanged(self, value: int) -> None:
        self.canvas.set_brush_width(value)

    def _on_clear_button_clicked(self) -> None:
        self._sample = None
        self.sample_label.setText("")
        self.canvas.clear()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_random_button_clicked(self) -> None:
        try:
            image, caption = self._random_sample()
        except DataError as exc:
            self.document.notify(f"No test sample to show: {exc}", "warning")
            return
        self.show_sample(image, caption)

    def _random_sample(self) -> tuple[np.ndarray, str]:
        """A random test image for the current model: from the document's dataset when it is
        an image set of the model's size, else MNIST (when on this computer and the model
        reads 28×28), else the bundled 8×8 digits (read as a drawing by a 28×28 model)."""
        mode = self._predictor.mode if self._predictor is not None else "mnist"
        order = ["document", "mnist", "digits8x8"] if mode == "mnist" else ["document", "digits8x8"]
        problems = []
        for name in order:
            try:
                found = self._test_set(name)
            except DataError as exc:
                problems.append(str(exc))
                continue
            if found is None:
                continue
            x, y, names, title = found
            if name == "document" and mode_for_input_shape(x.shape[1:]) != mode:
                continue
            i = int(self._rng.integers(len(x)))
            return sample_as_image(x[i]), f"{title} test sample #{i + 1:,} — label {names[int(y[i])]}"
        raise DataError("; ".join(problems) or "no image dataset fits the model")

    def _test_set(self, name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str] | None:
        """(x_test, y_test, class names, title) of a candidate set; None when it is not an
        image set. Raises DataError when it cannot be loaded (MNIST not on this computer)."""
        if name == "document":
            data = self.document.dataset()
            if mode_for_input_shape(data.input_shape) is None or len(self.document.splits().y_test) == 0:
                return None
            splits = self.document.splits()
            return splits.x_test, splits.y_test, data.class_names, data.name
        if name == "mnist":
            data = load_dataset("mnist", layout="image")
            return data.x_test, data.y_test, data.class_names, "MNIST"
        data = load_dataset("digits8x8")
        splits = data.split(0)
        return splits.x_test, splits.y_test, data.class_names, "8×8 digits"

    # -- "add to training set" menu -------------------------------------------------------------
    def _on_prediction_label_customContextMenuRequested(self, pos: QPoint) -> None:
        self._popup_menu(self.prediction_label.mapToGlobal(pos))

    def _on_bars_customContextMenuRequested(self, pos: QPoint) -> None:
        self._popup_menu(self.bars.mapToGlobal(pos))

    def prediction_menu(self) -> QMenu:
        """The right-click menu of the prediction: add the drawing as its predicted label, or
        as any label 0..9 (submenu). Disabled entries explain when there is no drawing."""
        menu = QMenu(self)
        menu.setObjectName("predictionMenu")
        has_drawing = self._prediction is not None and self._sample is None and not self.canvas.is_empty()
        guess = self._prediction.top if has_drawing and self._prediction is not None else None
        if guess is not None and guess < 10:
            default = menu.addAction(f"Add this drawing to the training set as label {guess}")
            default.setObjectName("addDrawingAction")
            default.triggered.connect(lambda _=False, k=guess: self.add_drawing(k))
            menu.setDefaultAction(default)
        sub = menu.addMenu("Add this drawing to the training set as label…")
        sub.setObjectName("addDrawingLabelMenu")
        for k in range(10):
            action = QAction(str(k), sub)
            action.setObjectName(f"addDrawingLabel{k}")
            action.triggered.connect(lambda _=False, k=k: self.add_drawing(k))
            if k == guess:
                sub.setDefaultAction(action)
            sub.addAction(action)
        sub.setEnabled(has_drawing)
        if not has_drawing:
            note = menu.addAction("Draw a digit first to add it to your drawings")
            note.setEnabled(False)
        return menu

    def _popup_menu(self, global_pos: QPoint) -> None:
        self._menu = self.prediction_menu()
        self._menu.popup(global_pos)  # non-blocking: no modal loop on a tested path

    def add_drawing(self, label: int) -> bool:
        """Store the current drawing (MNIST recipe, 28×28) as ``label``; tells the user."""
        image = preprocess_drawing(self.canvas.image_array(), "mnist") if not self.canvas.is_empty() else None
        if image is None or self._sample is not None:
            self.document.notify("Draw a digit first: there is no drawing to add.", "warning")
            return False
        try:
            store = UserDrawings.load()
            store.add(image, label)
        except DataError as exc:
            self.document.notify(f"The drawing was not added: {exc}", "error")
            return False
        self.drawings_label.setText(f"Your drawings: {store.count} (this one as {label})")
        self.document.notify(f"Added this drawing as a {label} to your drawings ({store.count} stored; "
                             "tick “Include my drawings” under MNIST to train on them).", "info")
        self.drawingAdded.emit(store.count)
        return True
