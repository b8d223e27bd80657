"""One training metric (loss or accuracy) as a live pyqtgraph plot.

Draws a run's ``core.monitor.curves.TrainingCurves``: per-batch values (raw and faint, loss
only), their smoothed line, the per-epoch training value and the validation value, plus
faded curves of earlier runs kept for comparison and dashed vertical lines where the
learning rate or batch size changed. It computes nothing: the curves object holds the
arrays (growable buffers; this widget passes views to ``setData``).

Cost stays flat as runs grow (PITFALLS.md, pyqtgraph): the dashboard calls
``update_series`` from a ≤ 5 Hz timer with only the series that changed; lines are 1 px
and not antialiased; ``setDownsampling(auto=True)`` + ``setClipToView(True)`` bound the
points drawn; the axis widths are fixed so new tick labels do not relayout the plot.
During a run the axes hold still (``hold_ranges``): x spans the whole run and the loss
axis only moves when data leave it (``core.monitor.series.stable_range``), because regenerating an
axis costs more than drawing the curves. No grid: pyqtgraph's grid costs ~15 ms a redraw.
Title, axes, legend and epoch markers are painted from Qt's item cache between their
changes: a steady redraw fell from 1.7 to 0.5-0.7 ms (1100×800 window), all of it time the
GUI holds the GIL.

The view: dragging pans and the wheel zooms; once the user moved the view it stays where
they put it (a run no longer moves it) and a "Reset view" button appears in the top-right
corner; the button or a double-click on the plot go back to the automatic view (the run's
extent while training, the data otherwise). Labels of learning-rate and batch-size change
lines sit at the top of the plot, or just below the legend when they would run into it.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QToolButton, QWidget

from core.monitor.curves import Readout, TrainingCurves
from core.monitor.series import Bounds, finite_bounds, stable_range
from nnstudio.theme import is_palette_event, plot_colors

__all__ = ["MetricPlot"]

#: Hues for runs kept for comparison (faded when drawn).
_COMPARISON_COLORS = ((120, 120, 120), (44, 160, 44), (148, 103, 189), (214, 39, 40), (140, 86, 75),
                      (23, 190, 207))
_MAX_SYMBOLS = 100  # more epoch points than this: draw the line only (symbols cost per point)
_MIN_LEGEND_HEIGHT, _MIN_LEGEND_WIDTH = 240, 480  # pixels
#: Change-line labels: their place along the line (fraction of the view's height from the
#: bottom) when nothing is in the way, and the gap kept below the legend (pixels).
_LABEL_TOP = 0.97
_LABEL_GAP = 4


class MetricPlot(pg.PlotWidget):
    """Live plot of ``metric`` ("loss" or "accuracy"). Emits ``hovered(Readout | None)``
    with the data nearest to the mouse."""

    hovered = Signal(object)
    #: The user asked for the automatic view (Reset view button or double-click).
    viewResetRequested = Signal()
    #: The user moved the view (drag or wheel).
    viewChangedByUser = Signal()

    def __init__(self, metric: str, title: str, parent: QWidget | None = None):
        colors = plot_colors()
        super().__init__(parent, background=colors.background)
        if metric not in ("loss", "accuracy"):
            raise ValueError(f"metric must be 'loss' or 'accuracy', not {metric!r}")
        self.metric = metric
        self.setObjectName(f"{metric}Plot")
        self.setAccessibleName(title)
        item = self.getPlotItem()
        self._title = title
        item.setTitle(title, color=colors.text, size="10pt")
        item.setLabel("bottom", "epochs")
        item.setLabel("left", metric)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.setMenuEnabled(False)
        item.hideButtons()  # pyqtgraph's tiny "A": the visible Reset view button replaces it
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(colors.axis))
            axis.setTextPen(pg.mkPen(colors.text))
        item.getAxis("left").setWidth(52)  # fixed: changing tick labels do not relayout the plot
        if metric == "accuracy":
            item.setYRange(0.0, 1.0, padding=0.04)
            item.enableAutoRange(y=False)
        # Loss falls and accuracy rises: keep each legend where its curves usually are not.
        # An opaque legend: a translucent fill costs ~1.5 ms per redraw (blending).
        self.legend = item.addLegend(offset=(-8, 8) if metric == "loss" else (-8, -36),
                                     labelTextColor=colors.text, brush=pg.mkBrush(colors.legend_fill),
                                     labelTextSize="8pt", verSpacing=-6, pen=pg.mkPen(colors.legend_border))

        def curve(name: str | None, pen, **kw) -> pg.PlotDataItem:
            c = pg.PlotDataItem(name=name, pen=pen, **kw)
            item.addItem(c)
            return c

        batch_name = "per batch" if metric == "loss" else None
        self._curves: dict[str, pg.PlotDataItem] = {}
        if metric == "loss":
            self._curves["batch_loss"] = curve(batch_name, None, skipFiniteCheck=True)
        self._curves[f"batch_{metric}_smooth"] = curve("smoothed", None, skipFiniteCheck=True)
        self._curves[f"epoch_{metric}"] = curve("training (epoch)", None, symbol="o", symbolSize=5, symbolPen=None)
        self._curves[f"val_{metric}"] = curve("validation", None, symbol="s", symbolSize=5, symbolPen=None)
        self._marker = pg.PlotDataItem(pen=None, symbol="o", symbolSize=9, symbolBrush=None)
        item.addItem(self._marker)
        self._color_curves(colors)
        self._run = TrainingCurves()
        self._lines: list[pg.InfiniteLine] = []
        self._comparisons: list[list[pg.PlotDataItem]] = []
        self._log = False
        # y extent of everything drawn (current run + comparisons), kept incrementally, and
        # the held y range while a run goes on (None: pyqtgraph autoscales).
        self._bounds: Bounds | None = None
        self._comparison_bounds: Bounds | None = None
        self._seen: dict[str, int] = {}
        self._holding = False
        self._held_x: tuple[float, float] | None = None
        self._y_range: tuple[float, float] | None = None
        #: The user moved the view (drag, wheel): it stays theirs until Reset view.
        self._user_view = False
        self.reset_view_button = QToolButton(self)
        self.reset_view_button.setObjectName(f"{metric}ResetViewButton")
        self.reset_view_button.setText("Reset view")
        self.reset_view_button.setToolTip("Show the whole run again (or double-click the plot)")
        self.reset_view_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.reset_view_button.hide()
        self.reset_view_button.clicked.connect(self._on_reset_view_button_clicked)
        vb = item.getViewBox()
        vb.sigRangeChangedManually.connect(self._on_view_box_range_changed_manually)
        vb.sigRangeChanged.connect(self._place_change_labels)
        vb.sigResized.connect(self._place_change_labels)
        self.legend.geometryChanged.connect(self._place_change_labels)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self._cache_static_items()

    def _cache_static_items(self) -> None:
        """Paint the parts that rarely change from pixmaps Qt keeps: the title, the axes, the
        legend and the epoch markers. Every redraw otherwise repaints them through pyqtgraph's
        Python ``paint`` while holding the GIL the training thread needs (PITFALLS.md); cached,
        they are only repainted when they change (pyqtgraph calls ``update()`` then)."""
        item = self.getPlotItem()
        roots = [item.titleLabel, item.getAxis("left"), item.getAxis("bottom"), self.legend]
        roots += [c.scatter for name, c in self._curves.items() if name.startswith(("epoch_", "val_"))]
        while roots:  # each item has its own cache: children are not painted into the parent's
            it = roots.pop()
            it.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            roots += it.childItems()

    def _color_curves(self, colors) -> None:
        """Pens of the current run's curves and the hover marker (theme-dependent)."""
        c = self._curves
        if "batch_loss" in c:
            c["batch_loss"].setPen(pg.mkPen(*colors.batch, 55, width=1))
        c[f"batch_{self.metric}_smooth"].setPen(pg.mkPen(*colors.batch, 230, width=1))
        c[f"epoch_{self.metric}"].setPen(pg.mkPen(*colors.epoch, width=2))
        c[f"epoch_{self.metric}"].setSymbolBrush(colors.epoch)
        c[f"val_{self.metric}"].setPen(pg.mkPen(*colors.validation, width=2))
        c[f"val_{self.metric}"].setSymbolBrush(colors.validation)
        self._marker.setSymbolPen(pg.mkPen(*colors.marker, width=1.5))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if is_palette_event(event) and "legend" in self.__dict__:
            self._apply_colors()

    def _apply_colors(self) -> None:
        """Re-read every colour from the palette (after a theme switch)."""
        colors = plot_colors(self.palette())
        self.setBackground(colors.background)
        item = self.getPlotItem()
        item.setTitle(self._title, color=colors.text, size="10pt")
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(colors.axis))
            axis.setTextPen(pg.mkPen(colors.text))
            axis.label.setDefaultTextColor(colors.text)
        self.legend.setBrush(pg.mkBrush(colors.legend_fill))
        self.legend.setPen(pg.mkPen(colors.legend_border))
        self.legend.setLabelTextColor(colors.text)
        for _, label in self.legend.items:  # pyqtgraph stores the colour but keeps the old text
            label.setText(label.text)
        self._color_curves(colors)
        for line in self._lines:
            self._color_change_line(line, colors)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        legend = self.__dict__.get("legend")  # pyqtgraph resizes once before __init__ ends
        # A small plot would be mostly legend: hide it there (hovering still names the values).
        if legend is not None:
            legend.setVisible(self.height() >= _MIN_LEGEND_HEIGHT and self.width() >= _MIN_LEGEND_WIDTH)
            self._place_reset_view_button()
            self._place_change_labels()

    # -- the current run ----------------------------------------------------------------------------------
    @property
    def run(self) -> TrainingCurves:
        return self._run

    def set_run(self, curves: TrainingCurves) -> None:
        """Show ``curves`` as the current run (redraws everything)."""
        self._run = curves
        for line in self._lines:
            self.getPlotItem().removeItem(line)
        self._lines = []
        if not _holds_nothing(self._marker):
            self._marker.setData([], [])
        self._bounds = self._comparison_bounds
        self._seen = {}
        self._y_range = None
        self.update_series(frozenset(curves.series) | {"events"})

    def update_series(self, changed: frozenset[str]) -> None:
        """Push the named series of the current run to their curves (views, no copies)."""
        run = self._run
        for name, c in self._curves.items():
            if name in changed:
                s = run[name]
                if len(s) == 0 and _holds_nothing(c):
                    # Empty stays empty (a fresh run after Reset): pyqtgraph's setData costs
                    # ~0.3 ms of GUI time (and GIL) even for no points.
                    self._seen[name] = 0
                    continue
                if name.startswith(("epoch_", "val_")):
                    self._set_symbols(c, len(s))
                c.setData(s.x, s.y)
                new = finite_bounds(s.y[self._seen.get(name, 0):])
                self._seen[name] = len(s)
                if new is not None:
                    self._bounds = new.merge(self._bounds)
        if self._holding:
            self._hold_y()
        if "events" in changed:
            for event in run.events[len(self._lines):]:
                self._add_change_line(event.progress, event.label())

    def _set_symbols(self, c: pg.PlotDataItem, n: int) -> None:
        want = "o" if c is self._curves[f"epoch_{self.metric}"] else "s"
        symbol = want if n <= _MAX_SYMBOLS else None
        if c.opts["symbol"] != symbol:
            c.setSymbol(symbol)

    def _add_change_line(self, x: float, label: str) -> None:
        colors = plot_colors(self.palette())
        line = pg.InfiniteLine(pos=x, angle=90, movable=False,
                               pen=pg.mkPen(*colors.change_line, width=1, style=Qt.PenStyle.DashLine),
                               label=label if self.metric == "loss" else None,
                               labelOpts={"position": 0.97, "color": colors.line_label_text,
                                          "fill": colors.line_label_fill, "anchors": [(0, 0), (0, 0)]})
        line.setToolTip(label)
        self.getPlotItem().addItem(line)
        self._lines.append(line)
        self._place_change_labels()

    def _place_change_labels(self, *_) -> None:
        """Keep each change line's label readable: to the right of its line (to the left near
        the right edge), at the top of the plot, below the legend when it would run into it,
        and below an earlier label it would cover."""
        item = self.getPlotItem()
        if item is None or not self.__dict__.get("_lines") or self.metric != "loss":
            return  # (pyqtgraph resizes before __init__ ends and while tearing down)
        vb = item.getViewBox()
        width, height = vb.boundingRect().width(), vb.boundingRect().height()
        if height <= 0:
            return
        legend = self.legend
        box = legend.mapRectToParent(legend.boundingRect()) if legend.isVisible() else None
        top = (1.0 - _LABEL_TOP) * height  # pixels from the view's top
        placed: list[tuple[float, float, float, float]] = []  # (left, right, top, bottom) in pixels
        for line in sorted(self._lines, key=lambda ln: float(ln.value())):
            label = getattr(line, "label", None)
            if label is None:
                continue
            x = vb.mapFromView(QPointF(float(line.value()), 0.0)).x()
            rect = label.boundingRect()
            left = x + rect.width() > width - 2  # would be cut off at the right edge
            anchors = [(1, 0), (1, 0)] if left else [(0, 0), (0, 0)]
            lo, hi = (x - rect.width(), x) if left else (x, x + rect.width())
            y = top
            if box is not None and hi >= box.left() and lo <= box.right():
                y = max(y, box.bottom() + _LABEL_GAP)
            for p_lo, p_hi, p_top, p_bottom in placed:  # sorted by x: one pass is enough
                if hi >= p_lo and lo <= p_hi and y < p_bottom and y + rect.height() > p_top:
                    y = p_bottom + 1
            placed.append((lo, hi, y, y + rect.height()))
            place = min(max(1.0 - y / height, 0.05), _LABEL_TOP)
            if label.anchors != anchors or abs(label.orthoPos - place) > 1e-9:
                label.anchors = anchors
                label.setPosition(place)

    @staticmethod
    def _color_change_line(line: pg.InfiniteLine, colors) -> None:
        line.setPen(pg.mkPen(*colors.change_line, width=1, style=Qt.PenStyle.DashLine))
        if line.label is not None:
            line.label.setColor(colors.line_label_text)
            line.label.fill = pg.mkBrush(colors.line_label_fill)
            line.label.update()

    @property
    def change_lines(self) -> list[tuple[float, str]]:
        """(x, label) of every change line drawn for the current run."""
        return [(float(line.value()), line.toolTip()) for line in self._lines]

    def curve_data(self, name: str):
        """(x, y) arrays a current-run curve holds, e.g. "batch_loss" (for tests and export)."""
        c = self._curves[name]
        return c.xData, c.yData  # the data given, not the clipped / downsampled view

    # -- runs kept for comparison --------------------------------------------------------------------------
    def add_comparison(self, curves: TrainingCurves, label: str) -> None:
        """Draw ``curves`` faded, named ``label`` in the legend, until ``clear_comparisons``."""
        color = _COMPARISON_COLORS[len(self._comparisons) % len(_COMPARISON_COLORS)]
        metric = self.metric
        main = curves[f"batch_{metric}_smooth"]
        if len(main) == 0:
            main = curves[f"epoch_{metric}"]
        items = [pg.PlotDataItem(main.x.copy(), main.y.copy(), name=label, pen=pg.mkPen(*color, 110, width=1))]
        val = curves[f"val_{metric}"]
        if len(val):
            items.append(pg.PlotDataItem(val.x.copy(), val.y.copy(),
                                         pen=pg.mkPen(*color, 110, width=1, style=Qt.PenStyle.DashLine)))
        for it in items:
            it.setZValue(-10)  # behind the current run
            self.getPlotItem().addItem(it)
            b = finite_bounds(it.yData)
            if b is not None:
                self._comparison_bounds = b.merge(self._comparison_bounds)
                self._bounds = b.merge(self._bounds)
        self._comparisons.append(items)
        self._cache_static_items()  # the legend has a new entry
        self._place_change_labels()

    def clear_comparisons(self) -> None:
        for items in self._comparisons:
            for it in items:
                self.getPlotItem().removeItem(it)
        self._comparisons = []
        self._comparison_bounds = None
        self._place_change_labels()

    @property
    def comparison_count(self) -> int:
        return len(self._comparisons)

    def legend_labels(self) -> list[str]:
        return [label.text for _, label in self.legend.items]

    # -- view ------------------------------------------------------------------------------------------
    def set_log_y(self, on: bool) -> None:
        """Logarithmic y axis (loss spans decades); accuracy stays linear."""
        self._log = bool(on) and self.metric == "loss"
        self.getPlotItem().setLogMode(y=self._log)
        if self._holding:
            self._y_range = None  # the held range was in the other scale's units
            self._hold_y()

    def hold_ranges(self, x_lo: float, x_hi: float) -> None:
        """While a run goes on: show x in [x_lo, x_hi] (the run's whole extent) and move the
        loss axis only when data leave it, so the axes are not redrawn at every refresh.
        Call it on every plot whose x axis is linked to this one: x autoscaling is each
        view's own state, and pyqtgraph only turns it off in a linked view when the range
        actually changes."""
        self._held_x = (x_lo, x_hi)
        if self.metric == "loss":
            self._holding = True
            self._y_range = None
        if self._user_view:
            return  # the user's view stays; Reset view brings the run's extent back
        self.getPlotItem().setXRange(x_lo, x_hi, padding=0.01)
        if self._holding:
            self._hold_y()

    def follow_data(self) -> None:
        """Fit the view to the data again (after a run), unless the user moved it."""
        self._holding = False
        self._held_x = None
        self._y_range = None
        if not self._user_view:
            self.getPlotItem().enableAutoRange(x=True, y=self.metric == "loss")

    def _hold_y(self) -> None:
        if self._user_view:
            return
        new = stable_range(self._y_range, self._bounds, log=self._log)
        if new is not None:
            self._y_range = new
            self.getPlotItem().setYRange(*new, padding=0)

    # -- the user's view and going back to the automatic one -------------------------------------------
    @property
    def user_view(self) -> bool:
        """The user moved the view (the Reset view button shows)."""
        return self._user_view

    def reset_view(self) -> None:
        """Back to the automatic view: the run's extent while one is held, else the data."""
        self._user_view = False
        self.reset_view_button.hide()
        item = self.getPlotItem()
        if self._held_x is not None:
            item.setXRange(*self._held_x, padding=0.01)
        else:
            item.enableAutoRange(x=True)
        if self.metric == "accuracy":
            item.setYRange(0.0, 1.0, padding=0.04)
        elif self._holding:
            self._y_range = None
            self._hold_y()
        else:
            item.enableAutoRange(y=True)

    def keep_user_view(self) -> None:
        """Treat the view as the user's (e.g. a linked plot was dragged): runs stop moving it
        and the Reset view button shows."""
        self._user_view = True
        self._place_reset_view_button()
        self.reset_view_button.show()
        self.reset_view_button.raise_()

    def _on_view_box_range_changed_manually(self, *_) -> None:
        self.keep_user_view()
        self.viewChangedByUser.emit()

    def _on_reset_view_button_clicked(self) -> None:
        self.reset_view()
        self.viewResetRequested.emit()

    def mouseDoubleClickEvent(self, event) -> None:
        # A double-click in the plot area goes back to the automatic view.
        scene_pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and \
                self.getPlotItem().getViewBox().sceneBoundingRect().contains(scene_pos):
            event.accept()
            self.reset_view()
            self.viewResetRequested.emit()
            return
        super().mouseDoubleClickEvent(event)

    def _place_reset_view_button(self) -> None:
        button = self.__dict__.get("reset_view_button")
        if button is None:
            return
        button.adjustSize()
        button.move(self.width() - button.width() - 4, 2)  # in the title band, right

    @property
    def log_y(self) -> bool:
        return self._log

    def readout_at(self, scene_pos: QPointF) -> Readout | None:
        """The current run's data nearest to a scene position (None outside the plot area)."""
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        x = vb.mapSceneToView(scene_pos).x()
        return self._run.readout(x, self.metric)

    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        readout = self.readout_at(scene_pos)
        if readout is not None and readout.x is not None:
            y = readout.batch if readout.batch is not None else readout.train
            self._marker.setData([readout.x], [y])
        else:
            self._marker.setData([], [])
        self.hovered.emit(readout)

    def export_png(self, path: str, width: int = 1200) -> None:
        """Write the plot as a PNG (works offscreen)."""
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.getPlotItem())
        exporter.parameters()["width"] = int(width)
        exporter.export(str(path))


def _holds_nothing(item: pg.PlotDataItem) -> bool:
    return item.xData is None or len(item.xData) == 0
