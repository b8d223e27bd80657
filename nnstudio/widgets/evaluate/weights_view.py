"""What the network learned, as pictures: first-layer weights, conv filters, activations.

- The first Dense layer's weights as one image per neuron when the data are images (8×8
  digits, 28×28 MNIST): blue = negative weight, red = positive, white = zero.
- Every Conv2D layer's filters (one row per input channel, one column per filter).
- For a probe input (the Draw tab's drawing, or a sample picked in the gallery): each conv
  layer's feature maps and each dense layer's activations.

Refreshed on ``document.snapshotChanged`` (epoch ends) through a throttle: at most twice a
second, and not at all while hidden. All arrays come from ``core.analysis.visuals``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.analysis.visuals import (
    activation_images,
    activations,
    colormap,
    conv_filters,
    first_dense_weights,
    image_shape_of,
    tile_images,
)
from nnstudio.controllers.eval_throttle import RefreshThrottle
from nnstudio.widgets.evaluate.image_grid import ImageGrid

#: Refresh at most every 500 ms (≤ 2 Hz): snapshots come at epoch ends, which can be fast.
REFRESH_INTERVAL_MS = 500
PAD_GREY = 90  # padding between tiles: dark, so it is never mistaken for a zero weight (white)
MAX_FILTERS = 32
MAX_CHANNELS = 8


def _tiled_rgb(images: np.ndarray, columns: int, cmap: str) -> np.ndarray:
    """[0, 1] images (n, h, w) -> one uint8 RGB grid coloured with ``cmap``."""
    return tile_images(colormap(images, cmap), columns=columns, pad=1, fill=PAD_GREY)


class _Section(QGroupBox):
    """A titled block holding a note and any number of captioned image grids."""

    def __init__(self, title: str, object_name: str, target_width: int = 420):
        super().__init__(title)
        self.setObjectName(object_name)
        self._layout = QVBoxLayout(self)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName(f"{object_name}Note")
        self._layout.addWidget(self.note)
        self._entries: list[tuple[QLabel, ImageGrid]] = []
        self._target_width = target_width

    def set_entries(self, entries: list[tuple[str, np.ndarray]], note: str = "") -> None:
        """Show ``entries`` [(caption, uint8 RGB array)] below ``note``."""
        self.note.setText(note)
        self.note.setVisible(bool(note))
        while len(self._entries) < len(entries):
            caption, grid = QLabel(), ImageGrid(target_width=self._target_width)
            caption.setWordWrap(True)
            self._layout.addWidget(caption)
            self._layout.addWidget(grid, 0, Qt.AlignmentFlag.AlignLeft)
            self._entries.append((caption, grid))
        for i, (caption, grid) in enumerate(self._entries):
            visible = i < len(entries)
            caption.setVisible(visible)
            grid.setVisible(visible)
            if visible:
                caption.setText(entries[i][0])
                grid.set_array(entries[i][1])
                grid.setAccessibleName(entries[i][0])
            else:
                grid.set_array(None)

    def grids(self) -> list[ImageGrid]:
        return [g for _, g in self._entries if g.isVisibleTo(self)]

    def captions(self) -> list[str]:
        return [c.text() for c, _ in self._entries if c.isVisibleTo(self)]


class WeightsView(QScrollArea):
    """Weights and activations (objectName ``weightsView``).

    ``document``: the nnstudio Document (its ``snapshot`` is drawn); ``data_source()``
    returns (Dataset, DataSplits) or None when the data cannot be loaded.
    """

    def __init__(self, document, data_source: Callable[[], tuple | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("weightsView")
        self.setWidgetResizable(True)
        self._document = document
        self._data_source = data_source
        self._probe: np.ndarray | None = None
        #: Seconds the last refresh took (measured for the responsiveness budget).
        self.last_refresh_seconds = 0.0
        self.refresh_count = 0

        body = QWidget()
        layout = QVBoxLayout(body)
        intro = QLabel("Weights drawn as pictures: <span style='color:#4393c3'>blue</span> = negative, "
                       "white = zero, <span style='color:#d6604d'>red</span> = positive, each image scaled "
                       "on its own. Activations: dark = low, yellow = high.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.dense_section = _Section("What each first-layer neuron looks for", "denseWeightsSection")
        self.conv_section = _Section("Convolution filters", "convFiltersSection")
        self.activation_section = _Section("Activations for an input", "activationsSection", target_width=360)
        for section in (self.dense_section, self.conv_section, self.activation_section):
            layout.addWidget(section)
        layout.addStretch(1)
        self.setWidget(body)

        # Nothing is loaded or drawn until the view is first shown (the throttle waits for it).
        self._throttle = RefreshThrottle(self, self.refresh, REFRESH_INTERVAL_MS)
        document.snapshotChanged.connect(self._on_document_snapshot_changed)
        document.datasetChanged.connect(self._on_document_snapshot_changed)
        self._throttle.request()

    # -- inputs ---------------------------------------------------------------------------------
    def set_probe_input(self, x: np.ndarray | None) -> None:
        """The input whose activations are shown: network-input-shaped (*input_shape) or
        (1, *input_shape); None clears. Shown at once when visible (one forward pass)."""
        self._probe = None if x is None else np.array(x, dtype=np.float64)
        if self.isVisible():
            self._refresh_activations(self._document.snapshot)
        else:
            self._throttle.request()

    show_activations_for = set_probe_input

    @property
    def probe(self) -> np.ndarray | None:
        return self._probe

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._throttle.widget_shown()

    def _on_document_snapshot_changed(self) -> None:
        self._throttle.request()

    # -- drawing ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw every section from the current snapshot (normally via the throttle)."""
        start = time.perf_counter()
        network = self._document.snapshot
        self._refresh_weights(network)
        self._refresh_activations(network)
        self.last_refresh_seconds = time.perf_counter() - start
        self.refresh_count += 1

    def _image_shape(self) -> tuple[int, int] | None:
        data = self._data_source()
        if data is None:
            return None
        dataset = data[0]
        return image_shape_of(dataset.input_shape, dataset.preprocessing)

    def _refresh_weights(self, network) -> None:
        if network is None:
            self.dense_section.set_entries([], "No trained network yet: train it on the Train tab and its weights "
                                        "appear here, updated after every epoch.")
            self.conv_section.setVisible(False)
            return
        image_shape = self._image_shape()
        dense = first_dense_weights(network, image_shape)
        if dense is not None:
            title, images = dense
            units, h, w = images.shape
            columns = min(units, max(1, math.ceil(math.sqrt(units * 1.3))))
            self.dense_section.set_entries([(f"{title}: {units} neurons, each a {h}×{w} image of its {h * w} "
                                      "incoming weights", _tiled_rgb(images, columns, "diverging"))])
        elif image_shape is None:
            self.dense_section.set_entries([], "This dataset's inputs are not images, so the first layer's weights "
                                        "cannot be drawn as pictures.")
        else:
            self.dense_section.set_entries([], "The first Dense layer sees feature maps made by convolutions, not "
                                        "the image: see the filters below.")
        filters = conv_filters(network)
        self.conv_section.setVisible(bool(filters))
        entries = []
        for title, images in filters:
            out, in_c, kh, kw = images.shape
            shown_out, shown_in = min(out, MAX_FILTERS), min(in_c, MAX_CHANNELS)
            # One row per input channel, one column per filter.
            grid = images[:shown_out, :shown_in].transpose(1, 0, 2, 3).reshape(-1, kh, kw)
            more = "" if (shown_out, shown_in) == (out, in_c) else f" (first {shown_out} filters × {shown_in} channels)"
            layout_text = "; columns: filters, rows: input channels" if in_c > 1 else ""
            entries.append((f"{title}: {out} filters of {kh}×{kw} over {in_c} input channel"
                            f"{'s' * (in_c != 1)}{more}{layout_text}", _tiled_rgb(grid, shown_out, "diverging")))
        self.conv_section.set_entries(entries)

    def _refresh_activations(self, network) -> None:
        if network is None:
            self.activation_section.set_entries([], "Activations appear once the network is trained.")
            return
        if self._probe is None:
            self.activation_section.set_entries([], "Draw on the Draw tab, or click a sample in the gallery, to see "
                                             "what each layer makes of it.")
            return
        try:
            layers = activations(network, self._probe)
        except ValueError as exc:
            self.activation_section.set_entries([], f"This input cannot go through the network: {exc}.")
            return
        entries = []
        for title, values in layers:
            images = activation_images(values)
            if values.ndim == 3:
                columns = min(images.shape[0], 8)
                caption = f"{title}: {values.shape[0]} feature maps of {values.shape[1]}×{values.shape[2]}"
            else:
                columns = 1
                caption = f"{title}: {values.shape[0]} activations (min {values.min():.3g}, max {values.max():.3g})"
            entries.append((caption, _tiled_rgb(images, columns, "viridis")))
        self.activation_section.set_entries(entries)
