"""The Start tab: one card per preset, so a new user can pick a network and press Train."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from nnstudio.state.presets import Preset, load_presets


class StartPage(QScrollArea):
    """Emits ``presetChosen(Preset)`` when a card's button is clicked."""

    presetChosen = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("startPage")
        self.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        title = QLabel("<h2>Start from a preset</h2>"
                       "<p>Each preset sets the network, the training settings and the dataset. "
                       "Pick one, then press <b>Train</b>. Every setting stays editable.</p>")
        title.setWordWrap(True)
        layout.addWidget(title)
        grid = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        for i, preset in enumerate(load_presets()):
            grid.addWidget(self._card(preset), i // 2, i % 2)
        layout.addLayout(grid)
        layout.addStretch(1)
        self.setWidget(body)

    def _card(self, preset: Preset) -> QWidget:
        card = QWidget()
        card.setObjectName(f"presetCard_{preset.key}")
        v = QVBoxLayout(card)
        button = QPushButton(preset.title)
        button.setObjectName(f"presetButton_{preset.key}")
        button.setToolTip(preset.description)
        button.clicked.connect(lambda _=False, p=preset: self.presetChosen.emit(p))
        self.buttons[preset.key] = button
        text = QLabel(preset.description)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignTop)
        v.addWidget(button)
        v.addWidget(text)
        return card
