"""A non-modal message strip at the top of the window for errors and notices.

Replaces modal error boxes: the message stays until dismissed or replaced, the details
(for a bug report) are one click away, and nothing blocks the tested paths.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton

from ..theme import style_notice


class MessageBar(QFrame):
    """Shows one message with a level ("error", "warning", "info") and optional actions."""

    closed = Signal()
    actionTriggered = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self._label = QLabel()
        self._label.setObjectName("messageText")
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self._label)
        self._buttons: list[QPushButton] = []
        self._actions_layout = QHBoxLayout()
        layout.addLayout(self._actions_layout)
        self._details_button = QToolButton(text="Details")
        self._details_button.clicked.connect(self._toggle_details)
        layout.addWidget(self._details_button)
        close = QToolButton(text="✕")
        close.setObjectName("messageClose")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self._message = ""
        self._details = ""
        self._showing_details = False
        self.level = ""
        self.hide()

    @property
    def text(self) -> str:
        return self._message

    def show_message(self, text: str, level: str = "error", details: str = "",
                     actions: tuple[str, ...] = ()) -> None:
        """Show ``text``; ``actions`` become buttons that emit ``actionTriggered(name)``."""
        self.level = level
        self._message = text
        self._details = details
        self._showing_details = False
        self._label.setText(text)
        style_notice(self, level, "#messageText")  # light or dark colours, recoloured on a theme switch
        for button in self._buttons:
            button.deleteLater()
        self._buttons = []
        for name in actions:
            button = QPushButton(name)
            button.clicked.connect(lambda _=False, n=name: self.actionTriggered.emit(n))
            self._actions_layout.addWidget(button)
            self._buttons.append(button)
        self._details_button.setVisible(bool(details))
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.closed.emit()

    def _toggle_details(self) -> None:
        self._showing_details = not self._showing_details
        self._label.setText(self._message + ("\n\n" + self._details if self._showing_details else ""))
