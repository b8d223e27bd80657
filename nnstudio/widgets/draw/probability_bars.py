"""One bar per class: the network's probability for each, the top class highlighted.

A pyqtgraph ``BarGraphItem`` in a fixed 0..1 plot: the axes never change while drawing, so
an update only rebuilds the bars' picture (no axis relayout, see PITFALLS.md: pyqtgraph).
Right-clicks are left to the owner (``customContextMenuRequested``): pyqtgraph's own menu
and mouse pan/zoom are off.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QWidget

from nnstudio.theme import is_palette_event, plot_colors


class ProbabilityBars(pg.PlotWidget):
    """``set_probabilities(p (k,), class_names)``; ``None`` empties every bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background=plot_colors().background)
        self.setObjectName("probabilityBars")
        self.setAccessibleName("Class probabilities")
        # Ten bars stay readable at 200 px: the Draw tab keeps them beside the canvas down
        # to the smallest window.
        self.setMinimumSize(200, 170)
        # Beyond this the bars only get harder to compare at a glance.
        self.setMaximumSize(720, 360)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=False, y=True, alpha=0.25)
        self._color_axes()
        item.getAxis("left").setTicks([[(v, f"{int(100 * v)}%") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        item.setLabel("left", "probability")
        self._names: tuple[str, ...] = ()
        self._values = np.zeros(0)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.7, x0=None)
        item.addItem(self._bars)
        self.set_probabilities(None, tuple(str(i) for i in range(10)))

    def _color_axes(self) -> None:
        colors = plot_colors(self.palette())
        self.setBackground(colors.background)
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(colors.axis))
            axis.setTextPen(pg.mkPen(colors.text))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if is_palette_event(event) and "_bars" in self.__dict__:
            self._color_axes()
            self.set_probabilities(self._values, self._names)  # bar colours

    @property
    def values(self) -> np.ndarray:
        """The probabilities shown (k,) (zeros when empty)."""
        return self._values.copy()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def highlighted(self) -> int | None:
        """Index of the highlighted (top) class, None when empty."""
        return int(np.argmax(self._values)) if self._values.size and self._values.max() > 0 else None

    def set_probabilities(self, probabilities: np.ndarray | None, class_names: tuple[str, ...]) -> None:
        names = tuple(class_names)
        values = np.zeros(len(names)) if probabilities is None else np.asarray(probabilities, dtype=float)
        if values.shape != (len(names),):
            raise ValueError(f"{values.shape[0] if values.ndim else 0} probabilities for {len(names)} classes")
        item = self.getPlotItem()
        if names != self._names:  # axes change only when the classes do
            self._names = names
            item.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
            item.setXRange(-0.6, len(names) - 0.4, padding=0)
            item.setYRange(0, 1.0, padding=0.02)
        self._values = values
        top = self.highlighted
        colors = plot_colors(self.palette())
        brushes = [pg.mkBrush(*(colors.top_bar if i == top else colors.bar)) for i in range(len(names))]
        self._bars.setOpts(x=np.arange(len(names)), height=values, width=0.7, brushes=brushes,
                           pens=[pg.mkPen(None)] * len(names))
