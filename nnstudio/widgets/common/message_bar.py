"""A non-modal message strip at the top of the window for errors and notices.

Replaces modal error boxes: the message stays until dismissed or replaced, the details
(for a bug report) are one click away, and nothing blocks the tested paths.

The strip floats over the top of its host widget (``float_over``) instead of taking a
place in a layout: a message appearing or going never moves the window's contents, so a
button stays under the mouse and nothing at the bottom gets cut off.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from nnstudio.theme import style_notice

#: Gap between the floating strip and the host's edges (pixels).
_MARGIN = 6


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
        self._host: QWidget | None = None
        self.hide()

    # -- floating over a host ------------------------------------------------------------------------
    def float_over(self, host: QWidget) -> None:
        """Float over the top of ``host`` (a child of it, outside its layout) and follow its
        size: the host's layout never makes room for the strip."""
        self._host = host
        self.setParent(host)
        self.setAutoFillBackground(True)
        shadow = QGraphicsDropShadowEffect(self)  # lifts the strip off the content it covers
        shadow.setBlurRadius(12)
        shadow.setOffset(0, 2)
        self.setGraphicsEffect(shadow)
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        host = self._host
        if host is None:
            return
        width = max(host.width() - 2 * _MARGIN, 0)
        # As tall as the text needs at this width, no taller: it covers what is under it.
        height = self.heightForWidth(width) if self.hasHeightForWidth() else -1
        if height <= 0:
            height = self.sizeHint().height()
        self.setGeometry(_MARGIN, _MARGIN, width, height)
        self.raise_()

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
        self._place()

    def dismiss(self) -> None:
        self.hide()
        self.closed.emit()

    def _toggle_details(self) -> None:
        self._showing_details = not self._showing_details
        self._label.setText(self._message + ("\n\n" + self._details if self._showing_details else ""))
        self._place()
