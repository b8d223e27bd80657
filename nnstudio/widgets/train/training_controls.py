"""Train / Pause / Step / Stop / Reset buttons, their menu actions, and the progress bar.

A thin widget: it emits intent signals and shows what ``set_state`` / ``set_progress`` tell
it. Each button triggers a QAction, so the Training menu and the buttons are the same
commands with the same enabled state and text.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QProgressBar, QPushButton, QVBoxLayout, QWidget

from nnstudio.shortcuts import key_sequences, with_shortcut
from nnstudio.widgets.common.flow_layout import FlowLayout

__all__ = ["TrainingControls"]

_PROGRESS_STEPS = 1000


def _button_width(button: QPushButton, label: str) -> int:
    """Width ``button`` needs to show ``label`` in full."""
    text = button.text()
    button.setText(label)
    width = button.sizeHint().width()
    button.setText(text)
    return width


class TrainingControls(QWidget):
    """Buttons ``trainButton``, ``pauseButton``, ``stepButton``, ``stepEpochButton``,
    ``stopButton``, ``resetWeightsButton`` and the progress bar ``trainingProgress``."""

    trainRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stepBatchRequested = Signal()
    stepEpochRequested = Signal()
    stopRequested = Signal()
    resetWeightsRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingControls")
        self._state = "idle"
        self._blocked = ""  # why a new run cannot start ("" when it can)
        self._last_state = ("idle", False, False)

        def action(text: str, name: str, tip: str) -> QAction:
            a = QAction(text, self)
            a.setObjectName(name)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            return a

        self.train_action = action("Train", "trainAction",
                                   "Train for the configured number of epochs (continues from the current weights)")
        self.pause_action = action("Pause", "pauseAction", "Pause after the current batch (Space in the Train tab)")
        self.step_action = action("Step batch", "stepBatchAction", "Train exactly one batch, then pause")
        self.step_epoch_action = action("Step epoch", "stepEpochAction",
                                        "Train to the end of the current epoch, then pause")
        self.stop_action = action("Stop", "stopAction", "Stop after the current batch; the model stays usable")
        self.reset_action = action("Reset weights", "resetWeightsAction",
                                   "Forget the training: the next run starts from new random weights")
        # Window-wide keys (the actions sit in the Training menu). Space stays the Train tab's
        # own pause key (never window-wide: it would steal Space from focused buttons), and
        # none of these is a key an input field uses (PITFALLS: desktop details).
        for a, keys in ((self.train_action, ("Ctrl+Return", "Ctrl+Enter")), (self.step_action, ("F10",)),
                        (self.step_epoch_action, ("Ctrl+F10",)), (self.stop_action, ("Shift+F5",))):
            a.setShortcuts(key_sequences(*keys))
        self.train_action.triggered.connect(self.trainRequested)
        self.pause_action.triggered.connect(self._on_pause_action_triggered)
        self.step_action.triggered.connect(self.stepBatchRequested)
        self.step_epoch_action.triggered.connect(self.stepEpochRequested)
        self.stop_action.triggered.connect(self.stopRequested)
        self.reset_action.triggered.connect(self.resetWeightsRequested)

        self.train_button = self._button("trainButton", self.train_action)
        self.pause_button = self._button("pauseButton", self.pause_action)
        self.step_button = self._button("stepButton", self.step_action)
        self.step_epoch_button = self._button("stepEpochButton", self.step_epoch_action)
        self.stop_button = self._button("stopButton", self.stop_action)
        self.reset_button = self._button("resetWeightsButton", self.reset_action)
        self.train_button.setDefault(True)

        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, _PROGRESS_STEPS)
        self.progress.setTextVisible(True)
        self.progress.setAccessibleName("Training progress")

        # Wide enough for either label: the row keeps its layout when Train becomes Continue
        # or Pause becomes Resume (no relayout as a run starts).
        for button, labels in ((self.train_button, ("Train", "Continue")), (self.pause_button, ("Pause", "Resume"))):
            button.setMinimumWidth(max(_button_width(button, label) for label in labels))
        # A narrow window wraps the buttons onto a second line rather than clipping them.
        buttons = FlowLayout()
        for b in (self.train_button, self.pause_button, self.step_button, self.step_epoch_button,
                  self.stop_button):
            buttons.addWidget(b)
        buttons.addStretch()
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        self.set_state("idle", can_continue=False, has_weights=False)
        self.set_progress(0.0, "Not trained yet")

    def _button(self, name: str, action: QAction) -> QPushButton:
        button = QPushButton(action.text())
        button.setObjectName(name)
        button.setToolTip(with_shortcut(action.toolTip(), action))
        button.clicked.connect(action.trigger)
        return button

    def actions_for_menu(self) -> list[QAction]:
        return [self.train_action, self.pause_action, self.step_action, self.step_epoch_action,
                self.stop_action, self.reset_action]

    # -- state -------------------------------------------------------------------------------------------
    def set_state(self, state: str, can_continue: bool, has_weights: bool) -> None:
        """Enable what makes sense in controller ``state`` ("idle", "running", "paused",
        "stopping"); ``can_continue``: the network has training to continue from;
        ``has_weights``: there are trained weights to reset."""
        self._state = state
        self._last_state = (state, can_continue, has_weights)
        idle, running, paused = state == "idle", state == "running", state == "paused"
        startable = idle and not self._blocked
        self.train_action.setText("Continue" if can_continue else "Train")
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setToolTip("Resume training (Space in the Train tab)" if paused
                                     else "Pause after the current batch (Space in the Train tab)")
        enabled = {self.train_action: startable, self.pause_action: running or paused,
                   self.step_action: startable or paused, self.step_epoch_action: startable or paused,
                   self.stop_action: running or paused, self.reset_action: idle and has_weights}
        for a, on in enabled.items():
            a.setEnabled(on)
        for button, a in self._pairs():
            button.setText(a.text())
            blocked = idle and self._blocked and a in (self.train_action, self.step_action, self.step_epoch_action)
            button.setToolTip(self._blocked if blocked else with_shortcut(a.toolTip(), a))
            button.setEnabled(a.isEnabled())

    def set_blocked(self, reason: str) -> None:
        """``reason`` why no run can start now (the network does not fit the data…), shown
        as the tooltip of the disabled Train and Step buttons; "" when a run can start."""
        if reason != self._blocked:
            self._blocked = reason
            self.set_state(*self._last_state)

    @property
    def blocked_reason(self) -> str:
        return self._blocked

    def _pairs(self):
        return ((self.train_button, self.train_action), (self.pause_button, self.pause_action),
                (self.step_button, self.step_action), (self.step_epoch_button, self.step_epoch_action),
                (self.stop_button, self.stop_action), (self.reset_button, self.reset_action))

    def set_progress(self, fraction: float, text: str) -> None:
        """Bar at ``fraction`` (0..1) of the run, with ``text`` on it."""
        bar = self.progress
        # QProgressBar.setValue repaints synchronously (~2 ms a call); with updates off it
        # only schedules one ordinary repaint, drawn with the plots in the next paint pass.
        bar.setUpdatesEnabled(False)
        try:
            bar.setValue(round(float(min(max(fraction, 0.0), 1.0) * _PROGRESS_STEPS)))
            bar.setFormat(text.replace("%", "%%"))
        finally:
            bar.setUpdatesEnabled(True)
        bar.setToolTip(text)

    def _on_pause_action_triggered(self) -> None:
        if self._state == "paused":
            self.resumeRequested.emit()
        elif self._state == "running":
            self.pauseRequested.emit()
