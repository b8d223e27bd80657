"""Thumbnails of the test samples behind one confusion-matrix cell, most confident first.

Each item shows the sample (a grey image for image datasets, its values otherwise) and the
probability the network gave to its predicted class. Clicking an item emits
``sampleChosen(image, caption)`` with the (h, w) float image in [0, 1] (image datasets
only: that is what the Draw tab can show) and ``sampleIndexChosen(index)`` with the
sample's row in the test split.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from core.analysis.visuals import to_uint8
from nnstudio.models.item_cells import reset_table, set_cell
from nnstudio.widgets.evaluate.image_grid import qimage_from_array

THUMB = 56
#: More thumbnails than this are not shown (a diagonal cell of MNIST holds ~1,000 samples).
MAX_ITEMS = 300

INDEX_ROLE = Qt.ItemDataRole.UserRole
PROBABILITY_ROLE = Qt.ItemDataRole.UserRole + 1


class MistakesGallery(QListView):
    """The gallery (objectName ``mistakesGallery``): a list view in icon mode over a
    ``QStandardItemModel`` filled through indexes (see ``eval_cells`` for why)."""

    sampleChosen = Signal(object, str)
    sampleIndexChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mistakesGallery")
        self.gallery_model = QStandardItemModel(self)
        self.setModel(self.gallery_model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAccessibleName("Samples of the chosen confusion-matrix cell")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 26, THUMB + 30))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(True)
        self._images: np.ndarray | None = None
        self._captions: list[str] = []
        self.total = 0
        self.clicked.connect(self._on_self_clicked)

    def show_samples(self, indices: np.ndarray, probabilities: np.ndarray, images: np.ndarray | None,
                     captions: list[str], labels: list[str]) -> None:
        """Fill with samples in the given order.

        indices (m,): rows in the test split; probabilities (m,): of the predicted class;
        images (m, h, w) in [0, 1] or None (not an image dataset); captions (m,): full
        descriptions (tooltip, signal); labels (m,): the short text under each thumbnail.
        Only the first ``MAX_ITEMS`` are shown; ``total`` keeps the full count.
        """
        self.total = len(indices)
        shown = min(len(indices), MAX_ITEMS)
        self._images = None if images is None else np.asarray(images[:shown])
        self._captions = list(captions[:shown])
        pixels = None if images is None else to_uint8(self._images)
        reset_table(self.gallery_model, shown, 1)
        for i in range(shown):
            roles = dict(user=int(indices[i]), user1=float(probabilities[i]), tooltip=captions[i],
                         alignment=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            if pixels is not None:
                thumb = qimage_from_array(pixels[i]).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.FastTransformation)
                roles["decoration"] = QIcon(QPixmap.fromImage(thumb))
            set_cell(self.gallery_model, i, 0, labels[i], **roles)

    def count(self) -> int:
        """Samples shown."""
        return self.gallery_model.rowCount()

    def item_rect(self, row: int) -> QRect:
        """Viewport rectangle of the ``row``-th thumbnail (for tests and automation)."""
        return self.visualRect(self.gallery_model.index(row, 0))

    def sample_indices(self) -> list[int]:
        """Test-split rows of the shown items, in display order."""
        return [int(self.gallery_model.index(i, 0).data(INDEX_ROLE)) for i in range(self.count())]

    def probabilities(self) -> list[float]:
        return [float(self.gallery_model.index(i, 0).data(PROBABILITY_ROLE)) for i in range(self.count())]

    def keyPressEvent(self, event) -> None:
        # Enter chooses the current sample (activated would also fire on double-click,
        # choosing it twice after the click).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._on_self_clicked(self.currentIndex())
            return
        super().keyPressEvent(event)

    def _on_self_clicked(self, index: QModelIndex) -> None:
        row = index.row()
        if not index.isValid() or row >= self.count():
            return
        self.sampleIndexChosen.emit(int(index.data(INDEX_ROLE)))
        if self._images is not None:
            # A copy: the receiver may keep or modify it without touching the gallery's data.
            self.sampleChosen.emit(np.array(self._images[row], dtype=np.float64), self._captions[row])
