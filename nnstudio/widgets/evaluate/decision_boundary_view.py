"""Decision regions of a 2-input network over the plane, with the data points on top.

The background colours each point of the plane by the network's class probabilities (class
colours mixed by probability, paler where it is unsure, as in TensorFlow Playground);
training points are circles, test points squares, coloured by their true class. Refreshed
on ``document.snapshotChanged`` through a throttle (≤ 5 Hz, nothing while hidden). For
datasets whose inputs are not 2 numbers the view says why it is empty.

Grid and colours come from ``core.analysis.visuals``; ``PlanePlot`` paints them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.analysis.visuals import class_colors, decision_grid, mix_class_colors, plane_bounds
from nnstudio.controllers.eval_throttle import RefreshThrottle
from nnstudio.widgets.evaluate.plane_plot import PlanePlot, PointSet

#: ≤ 5 Hz: a 100×100 grid costs a few ms, but snapshots of tiny sets can come much faster.
REFRESH_INTERVAL_MS = 200
RESOLUTION = 100


class DecisionBoundaryView(QWidget):
    """The decision-boundary plot (objectName ``decisionBoundary``).

    After a refresh: ``probabilities`` (res, res, k) and ``rgb`` (res, res, 3) hold what is
    drawn ([row, column] = [y, x], row 0 at the bottom), ``bounds`` the plane
    (x_min, x_max, y_min, y_max), ``last_refresh_seconds`` the time it took.
    """

    def __init__(self, document, data_source: Callable[[], tuple | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("decisionBoundary")
        self._document = document
        self._data_source = data_source
        self.resolution = RESOLUTION
        self.bounds: tuple[float, float, float, float] | None = None
        self.probabilities: np.ndarray | None = None
        self.rgb: np.ndarray | None = None
        self.last_refresh_seconds = 0.0
        self.refresh_count = 0
        self._points_key = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)

        plot_page = QWidget()
        plot_layout = QVBoxLayout(plot_page)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        self.plot = PlanePlot()
        self.plot.setObjectName("decisionBoundaryPlot")
        self.plot.setAccessibleName("Decision regions of the network over the input plane")
        plot_layout.addWidget(self.plot, 1)
        self.caption = QLabel("● training points   ■ test points   colour = class. Background: the class the "
                              "network predicts there, paler where it is less sure.")
        self.caption.setObjectName("decisionBoundaryCaption")
        self.caption.setWordWrap(True)
        plot_layout.addWidget(self.caption)
        self.stack.addWidget(plot_page)

        self.note = QLabel()
        self.note.setObjectName("decisionBoundaryNote")
        self.note.setWordWrap(True)
        self.note.setMargin(16)
        self.note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.stack.addWidget(self.note)

        # Nothing is loaded or drawn until the view is first shown (the throttle waits for it).
        self._throttle = RefreshThrottle(self, self.refresh, REFRESH_INTERVAL_MS)
        document.snapshotChanged.connect(self._on_document_changed)
        document.datasetChanged.connect(self._on_document_dataset_changed)
        document.trainingConfigChanged.connect(self._on_document_dataset_changed)  # validation split moves points
        document.specChanged.connect(self._on_document_dataset_changed)  # the seed moves points
        self._throttle.request()

    @property
    def showing_plot(self) -> bool:
        return self.stack.currentIndex() == 0

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._throttle.widget_shown()

    def _on_document_changed(self) -> None:
        self._throttle.request()

    def _on_document_dataset_changed(self) -> None:
        self._points_key = None
        self._throttle.request()

    def _explain(self, text: str) -> None:
        self.stack.setCurrentIndex(1)
        self.note.setText(text)
        self.probabilities = self.rgb = None

    def refresh(self) -> None:
        """Recompute the grid for the current snapshot and redraw (normally via the throttle)."""
        start = time.perf_counter()
        try:
            self._draw()
        finally:
            self.last_refresh_seconds = time.perf_counter() - start
            self.refresh_count += 1

    def _draw(self) -> None:
        data = self._data_source()
        if data is None:
            self._explain("The dataset could not be loaded, so there is nothing to draw.")
            return
        dataset, splits = data
        if tuple(dataset.input_shape) != (2,):
            shape = "×".join(str(d) for d in dataset.input_shape)
            self._explain(
                "The decision boundary is drawn for datasets whose samples are 2 numbers (points on a plane), "
                "such as XOR, circles, moons, spirals or blobs: every point of the plane is coloured by the "
                f"class the network predicts there. This dataset's samples have shape {shape} "
                f"({int(np.prod(dataset.input_shape))} numbers), which cannot be laid out on a plane. "
                "Choose a 2-D dataset in the data panel to see it.")
            return
        self.stack.setCurrentIndex(0)
        # The objects themselves (not their ids, which can be reused): the document replaces
        # them when the dataset, seed or validation fraction changes.
        if self._points_key is None or self._points_key[0] is not dataset or self._points_key[1] is not splits:
            self._set_points(dataset, splits)
            self._points_key = (dataset, splits)
        network = self._document.snapshot
        if network is None or tuple(network.input_shape or ()) != (2,):
            self.plot.set_image(None)
            self.probabilities = self.rgb = None
            self.caption.setText("Train the network to see how it divides the plane between the classes. "
                                 "● training points   ■ test points   colour = class.")
        else:
            self.probabilities = decision_grid(network, *self.bounds, self.resolution)
            k = self.probabilities.shape[2]
            self.rgb = mix_class_colors(self.probabilities, class_colors(k))
            self.plot.set_image(self.rgb)
            epoch = getattr(network, "epochs_done", 0)
            self.caption.setText(f"After {epoch} epoch{'s' * (epoch != 1)}.  ● training points   ■ test points   "
                                 "colour = class. Background: the class the network predicts there, paler where "
                                 "it is less sure.")

    def _set_points(self, dataset, splits) -> None:
        everything = np.concatenate([dataset.x] + ([dataset.x_test] if dataset.x_test is not None else []))
        self.bounds = plane_bounds(everything, margin=0.1)
        self.plot.set_bounds(self.bounds)
        colors = [tuple(int(v) for v in c) for c in class_colors(dataset.n_classes)]
        sets = []
        # Circles larger than squares, squares on top: where a point is in both splits (XOR)
        # both stay visible.
        for x, y, symbol, size in ((splits.x_train, splits.y_train, "circle", 11),
                                   (splits.x_test, splits.y_test, "square", 6)):
            for c in range(dataset.n_classes):
                members = np.asarray(x[y == c])
                if len(members):
                    sets.append(PointSet(members, colors[c], symbol, size))
        self.plot.set_points(sets)
        self.plot.set_legend([(str(name), colors[c]) for c, name in enumerate(dataset.class_names)])

    def view_to_widget(self, x: float, y: float) -> QPointF:
        """Position in ``self.plot``'s widget coordinates of the plane point (x, y)."""
        return self.plot.view_to_widget(x, y)
