""""Teach it your handwriting": a guided, non-modal panel of the Draw tab.

Three steps, one page each (``step()``: "ask", "teaching", "result"):

1. **ask**: "Draw a 3" — the digits 0-9 in turn, ``per digit`` rounds (5 by default, up to 10),
   "4 / 50" below. The user draws on the Draw tab's own canvas and presses Enter or Next to
   keep the drawing (the canvas clears for the next one), Skip to leave a digit out, Back to
   redo the previous one. The drawings kept with right-click ("Add this drawing…") can be
   used too (28×28 readers only: they are stored as MNIST-recipe 28×28 images).
2. **teaching**: a progress bar and Cancel while ``HandwritingTuner`` fine-tunes a copy of the
   model off the GUI thread (``core.training.finetune``).
3. **result**: "Your held-back drawings: 70% → 95%" and "Keep the tuned model" / "Discard".
   Keep emits ``keepRequested(result)``: the Draw tab decides what keeping means (see
   ``DrawPanel``); until then nothing but this panel knows the tuned model.

The canvas image becomes the network's input through core
(:func:`core.data.drawing.to_network_input`), exactly as the prediction does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.data import DataError
from core.data.drawing import sample_to_network_input, to_network_input
from nnstudio.controllers.handwriting import HandwritingTuner
from nnstudio.controllers.prediction import Predictor
from nnstudio.state.user_dataset import UserDrawings
from nnstudio.widgets.common.flow_layout import FlowLayout
from nnstudio.widgets.draw.digit_canvas import DigitCanvas

if TYPE_CHECKING:
    from core.training import FineTuneResult

DEFAULT_PER_DIGIT = 5
MAX_PER_DIGIT = 10
N_DIGITS = 10


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


class HandwritingTeacher(QFrame):
    """The guided panel. ``begin(predictor)`` starts asking; ``keepRequested(FineTuneResult)``
    when the user keeps the tuned model; ``closed()`` when the panel is done (kept,
    discarded or closed)."""

    keepRequested = Signal(object)
    closed = Signal()

    def __init__(self, canvas: DigitCanvas, tuner: HandwritingTuner, shortcut_scope: QWidget,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("handwritingTeacher")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.canvas = canvas
        self.tuner = tuner
        self._predictor: Predictor | None = None
        self._index = 0
        #: prompt index -> (network input (*input_shape) float32, label)
        self._drawings: dict[int, tuple[np.ndarray, int]] = {}
        self._result: FineTuneResult | None = None
        self._build()
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), shortcut_scope)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self._on_enter_activated)
        tuner.progressed.connect(self._on_tuner_progressed)
        tuner.finished.connect(self._on_tuner_finished)
        tuner.failed.connect(self._on_tuner_failed)
        tuner.cancelled.connect(self._on_tuner_cancelled)

    # -- construction -------------------------------------------------------------------------
    def _button(self, text: str, name: str, slot, tip: str = "") -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _build(self) -> None:
        title = QLabel("Teach it your handwriting")
        title.setWordWrap(True)  # never forces the Draw tab wider
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        self.close_button = QToolButton()  # a small ✕, not an 80-px push button
        self.close_button.setObjectName("teachCloseButton")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close (the drawings made here are forgotten)")
        self.close_button.setAccessibleName("Close")
        self.close_button.clicked.connect(self._on_close_button_clicked)
        header = QHBoxLayout()
        header.addWidget(title, 1)
        header.addWidget(self.close_button)

        # One page per step, only the current one shown (not a QStackedWidget: its height for a
        # width is the tallest page's, which left a gap under the short ones).
        self._pages = [self._ask_page(), self._teaching_page(), self._result_page()]
        self._page = 0
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        for page in self._pages:
            layout.addWidget(page)
        self._show_page(0)

    def _ask_page(self) -> QWidget:
        page = QWidget()
        self.prompt_label = QLabel("")
        self.prompt_label.setObjectName("teachPrompt")
        self.prompt_label.setWordWrap(True)
        font = QFont(self.prompt_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.prompt_label.setFont(font)
        self.count_label = QLabel("")
        self.count_label.setObjectName("teachCountLabel")
        self.note_label = QLabel("")
        self.note_label.setObjectName("teachNote")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: palette(placeholder-text);")
        self.note_label.hide()

        self.per_digit_spin = QSpinBox()
        self.per_digit_spin.setObjectName("teachPerDigitSpin")
        self.per_digit_spin.setRange(1, MAX_PER_DIGIT)
        self.per_digit_spin.setValue(DEFAULT_PER_DIGIT)
        self.per_digit_spin.setToolTip("How many drawings of each digit to ask for "
                                       "(more teach it better; 10 per digit take under 20 s)")
        self.per_digit_spin.valueChanged.connect(self._on_per_digit_spin_valueChanged)
        per_digit_label = QLabel("&Each digit")
        per_digit_label.setBuddy(self.per_digit_spin)
        self.per_digit_spin.setSuffix(" ×")
        self.use_kept_check = QCheckBox("")
        self.use_kept_check.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.use_kept_check.setObjectName("teachUseKeptCheck")
        self.use_kept_check.setChecked(True)
        self.use_kept_check.toggled.connect(self._update)

        self.back_button = self._button("&Back", "teachBackButton", self._on_back_button_clicked,
                                        "Redo the previous drawing")
        self.skip_button = self._button("S&kip", "teachSkipButton", self._on_skip_button_clicked,
                                        "Leave this one out")
        self.next_button = self._button("&Next", "teachNextButton", self._on_next_button_clicked,
                                        "Keep this drawing and ask for the next (Enter)")
        self.teach_button = self._button("&Teach", "teachButton", self._on_teach_button_clicked,
                                         "Fine-tune a copy of the model on your drawings")

        # Flow layouts: in a narrow Draw tab (the 1024×640 window) the rows wrap instead of
        # forcing the tab wider than the window.
        counts = FlowLayout()
        counts.addWidget(self.count_label)
        counts.addStretch()
        counts.addWidget(per_digit_label)
        counts.addWidget(self.per_digit_spin)
        buttons = FlowLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.next_button)
        buttons.addStretch()
        buttons.addWidget(self.teach_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.prompt_label)
        layout.addLayout(counts)
        layout.addWidget(self.use_kept_check)
        layout.addWidget(self.note_label)
        layout.addLayout(buttons)
        return page

    def _teaching_page(self) -> QWidget:
        page = QWidget()
        self.teaching_label = QLabel("Teaching it your handwriting…")
        self.teaching_label.setObjectName("teachingLabel")
        self.teaching_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("teachProgressBar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = self._button("Cancel", "teachCancelButton", self._on_cancel_button_clicked,
                                          "Stop teaching; the model stays as it was")
        row = QHBoxLayout()
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.teaching_label)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        self.result_label = QLabel("")
        self.result_label.setObjectName("teachResultLabel")
        font = QFont(self.result_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.result_label.setFont(font)
        self.result_label.setWordWrap(True)
        self.details_label = QLabel("")
        self.details_label.setObjectName("teachDetailsLabel")
        self.details_label.setWordWrap(True)
        self.details_label.setStyleSheet("color: palette(placeholder-text);")
        self.keep_button = self._button("&Keep the tuned model", "keepTunedButton", self._on_keep_button_clicked,
                                        "The Draw tab reads with the tuned model; Edit ▸ Undo takes it back")
        self.discard_button = self._button("&Discard", "discardTunedButton", self._on_discard_button_clicked,
                                           "Forget the tuned model; nothing changes")
        buttons = FlowLayout()
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.discard_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.result_label)
        layout.addWidget(self.details_label)
        layout.addLayout(buttons)
        return page

    def _show_page(self, index: int) -> None:
        """Show the page of step ``index`` (0 ask, 1 teaching, 2 result), hide the others."""
        self._page = index
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)

    # -- public API ----------------------------------------------------------------------------
    def step(self) -> str:
        return ("ask", "teaching", "result")[self._page]

    @property
    def per_digit(self) -> int:
        return self.per_digit_spin.value()

    @property
    def total(self) -> int:
        return self.per_digit * N_DIGITS

    @property
    def current_digit(self) -> int | None:
        """The digit asked for now; None when every prompt has been answered."""
        return self._index % N_DIGITS if self._index < self.total else None

    @property
    def drawings_count(self) -> int:
        return len(self._drawings)

    @property
    def result(self) -> FineTuneResult | None:
        return self._result

    @property
    def predictor(self) -> Predictor | None:
        """The model being taught (fixed from Teach to Keep / Discard)."""
        return self._predictor

    def begin(self, predictor: Predictor) -> None:
        """Start asking for drawings, to teach ``predictor``'s network."""
        self._predictor = predictor
        self._index = 0
        self._drawings.clear()
        self._result = None
        self._note("")
        self._show_page(0)
        self.canvas.clear()
        self._update()
        self.show()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_predictor(self, predictor: Predictor | None) -> None:
        """The Draw tab's model changed while asking: teach the new one (drawings made for a
        model of another input size are dropped)."""
        if predictor is None or self._predictor is None or self.step() != "ask":
            return
        if predictor.input_shape != self._predictor.input_shape:
            self._drawings.clear()
            self._index = 0
            self._note("The model changed to one of another input size: please draw again.")
        self._predictor = predictor
        self._update()

    def kept_drawings(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The right-click drawings as network inputs (n, *input_shape) and labels, when the
        model reads 28×28 drawings and some are stored; else None."""
        predictor = self._predictor
        if predictor is None or predictor.mode != "mnist":
            return None
        try:
            images, labels = UserDrawings.load().as_arrays()
        except DataError:
            return None
        if not len(labels):
            return None
        x = np.concatenate([sample_to_network_input(image, predictor.input_shape) for image in images])
        return x, labels

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """(x (n, *input_shape) float32, y (n,) int64): the drawings made here, plus the kept
        ones when ticked."""
        shape = self._predictor.input_shape if self._predictor is not None else (0,)
        xs = [x for x, _ in self._drawings.values()]
        ys = [label for _, label in self._drawings.values()]
        x = np.stack(xs).astype(np.float32) if xs else np.zeros((0, *shape), np.float32)
        y = np.asarray(ys, dtype=np.int64)
        kept = self.kept_drawings() if self.use_kept_check.isChecked() else None
        if kept is not None:
            x, y = np.concatenate([x, kept[0]]), np.concatenate([y, kept[1]])
        return x, y

    # -- asking --------------------------------------------------------------------------------
    def _note(self, text: str) -> None:
        """A line under the prompt (why Next kept nothing, a cancelled run…); hidden when empty."""
        self.note_label.setText(text)
        self.note_label.setVisible(bool(text))

    def _update(self) -> None:
        digit = self.current_digit
        if digit is None:
            self.prompt_label.setText("All done: press Teach")
        else:
            self.prompt_label.setText(f"Draw a {digit}")
        shown = min(self._index + 1, self.total)
        self.count_label.setText(f"{shown} / {self.total}")
        self.count_label.setToolTip(f"{self.drawings_count} drawings kept so far")
        kept = self.kept_drawings()
        self.use_kept_check.setVisible(kept is not None)
        if kept is not None:
            self.use_kept_check.setText(f"Also use the {len(kept[1])} drawings you kept with right-click")
        self.back_button.setEnabled(self._index > 0)
        self.skip_button.setEnabled(digit is not None)
        self.next_button.setEnabled(digit is not None)
        n = self.drawings_count + (len(kept[1]) if kept is not None and self.use_kept_check.isChecked() else 0)
        self.teach_button.setEnabled(n > 0 and not self.tuner.busy())
        self.teach_button.setText(f"&Teach ({n})" if n else "&Teach")

    def next_drawing(self) -> bool:
        """Keep the canvas's drawing as the digit asked for and ask for the next one. False
        (and a note saying why) when there is nothing to keep."""
        digit = self.current_digit
        predictor = self._predictor
        if digit is None or predictor is None:
            return False
        try:
            made = None if self.canvas.showing_sample else to_network_input(
                self.canvas.image_array(), predictor.input_shape, predictor.network.metadata.get("preprocessing"))
        except DataError as exc:
            self._note(f"This drawing cannot be used: {exc}")
            return False
        if made is None:
            self._note(f"Draw a {digit} on the canvas first, then press Enter or Next.")
            return False
        self._drawings[self._index] = (made[0][0], digit)
        self._index += 1
        self._note("")
        self.canvas.clear()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        self._update()
        return True

    def _on_enter_activated(self) -> None:
        if self.isVisible() and self.step() == "ask":
            if self.current_digit is None:
                self._on_teach_button_clicked()
            else:
                self.next_drawing()

    def _on_next_button_clicked(self) -> None:
        self.next_drawing()

    def _on_skip_button_clicked(self) -> None:
        if self.current_digit is not None:
            self._drawings.pop(self._index, None)
            self._index += 1
            self.canvas.clear()
            self._note("")
            self._update()

    def _on_back_button_clicked(self) -> None:
        if self._index > 0:
            self._index -= 1
            self._drawings.pop(self._index, None)  # redo it
            self.canvas.clear()
            self._note("")
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
            self._update()

    def _on_per_digit_spin_valueChanged(self, _value: int) -> None:
        # Fewer rounds: drawings beyond the new end are dropped (the count says so).
        for index in [i for i in self._drawings if i >= self.total]:
            del self._drawings[index]
        self._index = min(self._index, self.total)
        self._update()

    # -- teaching ------------------------------------------------------------------------------
    def _on_teach_button_clicked(self) -> None:
        predictor = self._predictor
        if predictor is None:
            return
        x, y = self.training_set()
        if not len(y):
            self._note("Draw a few digits first.")
            return
        if not self.tuner.start(predictor.network, x, y):
            return
        self.progress_bar.setValue(0)
        whom = "the shipped model" if predictor.shipped else "your network"
        self.teaching_label.setText(f"Teaching {whom} your handwriting ({len(y)} drawings)…")
        self._show_page(1)
        self.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.teaching_label.setText("Stopping…")
        self.tuner.cancel()

    def _on_tuner_progressed(self, _kind: str, payload: tuple[float, str]) -> None:
        fraction, _text = payload
        self.progress_bar.setValue(round(1000 * fraction))

    def _back_to_asking(self, note: str) -> None:
        self.cancel_button.setEnabled(True)
        self._show_page(0)
        self._note(note)
        self._update()

    def _on_tuner_cancelled(self, _kind: str) -> None:
        self._back_to_asking("Teaching was cancelled; the model is unchanged. Your drawings are still here.")

    def _on_tuner_failed(self, _kind: str, message: str, _details: str) -> None:
        self._back_to_asking(f"Teaching failed: {message}")

    def _on_tuner_finished(self, _kind: str, result: FineTuneResult) -> None:
        self.cancel_button.setEnabled(True)
        self._result = result
        if result.before_accuracy is None or result.after_accuracy is None:
            self.result_label.setText("Tuned on your drawings")
            measured = ("None was held back to measure it: draw at least two of a digit to see how much "
                        "it helped.")
        else:
            self.result_label.setText(f"Your held-back drawings: {_percent(result.before_accuracy)} → "
                                      f"{_percent(result.after_accuracy)}")
            worse = [f"{d}" for d, (_n, before, after) in sorted(result.per_digit.items()) if after < before]
            measured = (f"Measured on {result.held_back} drawings it did not train on"
                        + (f"; read worse now: {', '.join(worse)}" if worse else "") + ".")
        stopped = f" Stopped early: {result.stop_reason}." if result.stopped else ""
        self.details_label.setText(f"Trained on {result.trained_on} of your drawings mixed with "
                                   f"{result.replayed:,} familiar samples in {result.seconds:.1f} s.{stopped} "
                                   f"{measured}")
        self._show_page(2)
        self.keep_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_keep_button_clicked(self) -> None:
        result = self._result
        if result is not None:
            self.keepRequested.emit(result)
        self._finish()

    def _on_discard_button_clicked(self) -> None:
        self._finish()

    def _on_close_button_clicked(self) -> None:
        if self.tuner.busy():
            self.tuner.cancel()
        self._finish()

    def _finish(self) -> None:
        self._result = None
        self._drawings.clear()
        self._index = 0
        self._show_page(0)
        self.hide()
        self.closed.emit()
