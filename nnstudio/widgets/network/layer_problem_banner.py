"""The red box under the layer list: the first problem of the network (or of the network
against the dataset) in a sentence, and a "Fix: …" button when a one-step repair exists."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class LayerProblemBanner(QFrame):
    """``show_problem(text, fix_label)`` / ``hide()``; ``fix_button`` applies the fix
    (the editor connects it). Object names: ``layerProblemBox``, ``layerProblem``,
    ``layerQuickFix``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerProblemBox")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#layerProblemBox { background: rgba(200, 40, 40, 22); border: 1px solid rgba(200, 40, 40, 110);"
            " border-radius: 4px; }")
        self.label = QLabel()
        self.label.setObjectName("layerProblem")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_button = QPushButton()
        self.fix_button.setObjectName("layerQuickFix")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label)
        fix_row = QHBoxLayout()
        fix_row.addStretch(1)
        fix_row.addWidget(self.fix_button)
        layout.addLayout(fix_row)

    def show_problem(self, text: str, fix_label: str | None, fix_enabled: bool = True) -> None:
        """Show ``text`` (a sentence) and, when ``fix_label`` is given, "Fix: <label>"."""
        self.label.setText("⚠ " + text)
        if fix_label is not None:
            self.fix_button.setText(f"Fix: {fix_label[:1].lower()}{fix_label[1:]}")
            self.fix_button.setToolTip(f"{fix_label} (one step: Undo reverts it)")
        self.fix_button.setVisible(fix_label is not None)
        self.fix_button.setEnabled(fix_enabled)
        self.show()
