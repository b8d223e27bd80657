"""What the Step-through view shows of a traced step, computed here so the GUI only paints.

A traced step (``core.analysis.trace.StepTrace``) is walked as a list of ``Stage``s: forward
through every layer (its input and output), the loss, then backward from the last layer to
the first (the gradient arriving at its output, the gradient it passes on, its parameter
gradients and the optimizer's update). Each stage holds ``Panel``s of two kinds:

- ``GridPanel``: an array drawn as coloured cells (feature maps, kernels, a first Dense
  layer's weights as images, or a long vector wrapped into a near-square grid); ``rgb``
  (H, W, 3) uint8 is the picture and ``index`` (H, W, k) int32 the position of the number
  each pixel shows (-1 on the gaps between tiles), so a click maps to a ``Pick``;
- ``BarsPanel``: a short vector as bars, or a long one summarised (its largest |values| and
  a histogram of all of them; the full values are in the grid panel next to it).

Per-sample quantities (inputs, outputs, their gradients) are shown for one batch row
(``sample``); parameter gradients and updates sum over the batch, as the engine does.
Colours: signed arrays use the diverging map (0 white, shared scale); non-negative ones the
dark-to-bright map (shared scale), so equal colours mean equal numbers within a panel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from core.analysis.trace import LayerTrace, StepTrace
from core.analysis.visuals import colormap, symmetric_normalize, tile_images
from core.layers.activations import Activation
from core.layers.dense import Dense

__all__ = ["BAR_LIMIT", "TOP_UNITS", "BarsPanel", "GridPanel", "Panel", "Stage", "build_stages", "index_text",
           "number_text", "summary_of", "walkthrough_fits"]

#: Vectors up to this length are drawn as one bar each; longer ones are summarised.
BAR_LIMIT = 32
#: How many units a summary lists (largest |value| first).
TOP_UNITS = 12
#: Bins of a summary's histogram.
HISTOGRAM_BINS = 24


@dataclass(frozen=True)
class GridPanel:
    """An array as coloured cells. ``layer``/``quantity``: what a click picks (quantity None:
    nothing to explain, e.g. the network's input); ``index`` (H, W, k): the pick index of
    each pixel, -1 on gaps; ``values``: the array shown (for tooltips); ``tile``: (h, w) of
    one tile (the view draws tile borders with it) or None."""

    title: str
    layer: int
    quantity: str | None
    rgb: np.ndarray
    index: np.ndarray
    values: np.ndarray
    caption: str
    tile: tuple[int, int] | None = None

    def pick_at(self, row: int, col: int) -> tuple[int, ...] | None:
        """The index of the number drawn at pixel (row, col), None on a gap or outside."""
        h, w = self.rgb.shape[:2]
        if not (0 <= row < h and 0 <= col < w):
            return None
        idx = self.index[row, col]
        if idx[0] < 0:
            return None
        if self.values.ndim == 0:
            return ()  # a single number (the loss)
        return tuple(int(i) for i in idx)

    def pixel_of(self, index: tuple[int, ...]) -> tuple[int, int] | None:
        """(row, col) of the pixel showing ``index`` (the inverse of ``pick_at``)."""
        hits = np.argwhere(np.all(self.index == np.asarray(index, dtype=np.int64), axis=-1))
        return (int(hits[0][0]), int(hits[0][1])) if len(hits) else None


@dataclass(frozen=True)
class BarsPanel:
    """A vector as bars: ``values`` (m,) with ``indices`` (the pick index of each bar) and
    ``labels``; ``total``: the vector's length (m < total when summarised); ``histogram``:
    (counts (bins,), edges (bins + 1,)) of all values when summarised, else None;
    ``targets`` (m,) for the loss stage (what the output should be), else None."""

    title: str
    layer: int
    quantity: str | None
    values: np.ndarray
    indices: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]
    total: int
    caption: str
    histogram: tuple[np.ndarray, np.ndarray] | None = None
    targets: np.ndarray | None = None


Panel = GridPanel | BarsPanel


@dataclass(frozen=True)
class Stage:
    """One step of the walk: ``direction`` "forward", "loss" or "backward"; ``layer`` the
    layer's index (-1 for the loss); ``title`` e.g. "Forward · layer 3 · Dense 120"."""

    direction: str
    layer: int
    title: str
    explanation: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def walkthrough_fits(layer_types: Iterable[str]) -> bool:
    """True when a network of these layer types is one the seed article's walk-through
    (``core.analysis.walkthrough``) covers: Dense and Activation layers only."""
    return all(t in (Dense.type_name, Activation.type_name) for t in layer_types)


def number_text(value: float) -> str:
    """A number for a label: 4 significant digits, a true minus sign."""
    text = f"{value:.4g}"
    return text.replace("-", "−")


def index_text(index: tuple[int, ...]) -> str:
    """(3,) -> "3", (0, 4, 7) -> "0,4,7"."""
    return ",".join(str(i) for i in index)


def summary_of(values: np.ndarray) -> str:
    """"min −0.31 · max 0.52 · mean 0.01" of any array."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return "empty"
    return f"min {number_text(v.min())} · max {number_text(v.max())} · mean {number_text(v.mean())}"


# ------------------------------------------------------------------------------------- colours
#: 256-entry lookup tables of the two colour maps: a refresh colours ~10⁵ numbers per stage
#: (an MLP's first weight matrix twice), and interpolating each one cost tens of milliseconds.
_LUT = {name: colormap(np.linspace(0.0, 1.0, 256), name) for name in ("diverging", "viridis")}


def _colours(values: np.ndarray) -> np.ndarray:
    """values (...) -> uint8 (..., 3): diverging around 0 when any is negative, else bright = large
    (non-finite values as 0)."""
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isfinite(v), v, 0.0)
    if v.size and v.min() < 0:
        name, unit = "diverging", symmetric_normalize(v)
    else:
        top = float(v.max()) if v.size else 0.0
        name, unit = "viridis", (v / top if top > 0 else np.zeros_like(v))
    return _LUT[name][np.rint(np.clip(unit, 0.0, 1.0) * 255).astype(np.intp)]


def _gap_colour(rgb: np.ndarray, index: np.ndarray) -> np.ndarray:
    rgb[index[..., 0] < 0] = (128, 128, 128)
    return rgb


# -------------------------------------------------------------------------------- grid panels
def _tiled(tiles: np.ndarray, index: np.ndarray, columns: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """tiles (n, h, w) values, index (n, h, w, k) -> (rgb, index) grids with 1-px gaps."""
    rgb = _colours(tiles)
    grid = tile_images(rgb, columns=columns, pad=1, fill=0)
    k = index.shape[-1]
    idx = np.stack([tile_images(index[..., j], columns=columns, pad=1, fill=-1) for j in range(k)], axis=-1)
    return _gap_colour(grid, idx), idx


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    """(*shape, len(shape)) int32: each element's own index (a view, not a copy)."""
    return np.moveaxis(np.indices(shape, dtype=np.int32), 0, -1)


def _grid_of_maps(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) feature maps -> tiles, one per channel; index (c, i, j)."""
    c, h, w = a.shape
    index = _positions((c, h, w))
    return _tiled(a, index)


def _grid_of_kernels(w4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Conv2D weights (out, in, kh, kw) -> one row per filter, one tile per input channel."""
    o, i, kh, kw = w4.shape
    index = _positions((o, i, kh, kw))
    return _tiled(w4.reshape(o * i, kh, kw), index.reshape(o * i, kh, kw, 4), columns=i)


def _square_side(n: int) -> int | None:
    side = math.isqrt(n)
    return side if side * side == n and side > 1 else None


def _grid_of_vector(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n,) -> one near-square block (row by row: a 784-vector becomes the 28×28 image)."""
    n = v.shape[0]
    cols = _square_side(n) or min(n, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    values = np.zeros(rows * cols)
    values[:n] = v
    index = np.full(rows * cols, -1, dtype=np.int32)
    index[:n] = np.arange(n)
    rgb = _colours(v)
    cells = np.full((rows * cols, 3), 128, dtype=np.uint8)
    cells[:n] = rgb
    return cells.reshape(rows, cols, 3), index.reshape(rows, cols, 1)


def _grid_of_matrix(w: np.ndarray, image_side: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Dense weights (in, units): as one image per unit when ``in`` is a square image (the
    first layer of an MLP on images), else the matrix itself (see ``_matrix_transposed``)."""
    n_in, units = w.shape
    if image_side is not None and image_side * image_side == n_in:
        tiles = w.T.reshape(units, image_side, image_side)
        ii = np.arange(n_in).reshape(image_side, image_side)
        index = np.stack([np.broadcast_to(ii, (units, image_side, image_side)),
                          np.broadcast_to(np.arange(units)[:, None, None], (units, image_side, image_side))], axis=-1)
        return _tiled(tiles, index)
    index = _positions((n_in, units))
    if _matrix_transposed(w.shape):
        return _colours(w.T), index.transpose(1, 0, 2)
    return _colours(w), index


def _matrix_transposed(shape: tuple[int, ...]) -> bool:
    """A tall weight matrix (many more inputs than units) is drawn with units as rows, so
    it fits the screen; others as the maths writes W: inputs as rows, units as columns."""
    return shape[0] > 64 and shape[0] > 2 * shape[1]


def grid_panel(title: str, layer: int, quantity: str | None, a: np.ndarray, caption: str = "",
               image_side: int | None = None) -> GridPanel:
    """Any array (per-sample, no batch axis; or a parameter) as a GridPanel."""
    a = np.asarray(a, dtype=np.float64)
    tile: tuple[int, int] | None = None
    if a.ndim == 3:
        rgb, index = _grid_of_maps(a)
        tile = (a.shape[1], a.shape[2])
    elif a.ndim == 4:
        rgb, index = _grid_of_kernels(a)
        tile = (a.shape[2], a.shape[3])
    elif a.ndim == 2:
        rgb, index = _grid_of_matrix(a, image_side)
        if image_side is not None and image_side * image_side == a.shape[0]:
            tile = (image_side, image_side)
            caption = caption or f"one {image_side}×{image_side} picture per unit j of W[i, j] · {summary_of(a)}"
        elif _matrix_transposed(a.shape):
            caption = caption or f"rows: units j, columns: inputs i of W[i, j] · {summary_of(a)}"
        else:
            caption = caption or f"rows: inputs i, columns: units j of W[i, j] · {summary_of(a)}"
    elif a.ndim == 1:
        rgb, index = _grid_of_vector(a)
    else:  # a scalar
        rgb, index = _colours(a.reshape(1, 1)), np.zeros((1, 1, 1), dtype=np.int32)
    return GridPanel(title, layer, quantity, np.ascontiguousarray(rgb), index, a, caption or summary_of(a), tile)


def bars_panel(title: str, layer: int, quantity: str | None, v: np.ndarray, names: tuple[str, ...] | None = None,
               targets: np.ndarray | None = None) -> BarsPanel:
    """A vector (n,) as bars; longer than ``BAR_LIMIT``: its ``TOP_UNITS`` largest |values|
    (in unit order) and a histogram of all values."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = v.shape[0]
    if n <= BAR_LIMIT:
        chosen = np.arange(n)
        caption = summary_of(v)
        histogram = None
    else:
        chosen = np.sort(np.argsort(-np.abs(v), kind="stable")[:TOP_UNITS])
        counts, edges = np.histogram(v[np.isfinite(v)], bins=HISTOGRAM_BINS)
        histogram = (counts, edges)
        caption = f"the {TOP_UNITS} largest |values| of {n:,} · {summary_of(v)}"
    labels = tuple(names[i] if names is not None and i < len(names) else str(i) for i in chosen)
    return BarsPanel(title, layer, quantity, v[chosen], tuple((int(i),) for i in chosen), labels, n, caption,
                     histogram, None if targets is None else np.asarray(targets, dtype=np.float64)[chosen])


def vector_panels(title: str, layer: int, quantity: str | None, v: np.ndarray,
                  names: tuple[str, ...] | None = None) -> tuple[Panel, ...]:
    """Bars for a short vector; for a long one the summary bars and every value as a grid."""
    v = np.asarray(v).reshape(-1)
    bars = bars_panel(title, layer, quantity, v, names)
    if v.shape[0] <= BAR_LIMIT:
        return (bars,)
    return bars, grid_panel(f"{title} — all {v.shape[0]:,} values", layer, quantity, v)


def _array_panels(title: str, layer: int, quantity: str | None, a: np.ndarray,
                  names: tuple[str, ...] | None = None, image_side: int | None = None) -> tuple[Panel, ...]:
    a = np.asarray(a)
    if a.ndim <= 1:
        return vector_panels(title, layer, quantity, a.reshape(-1), names)
    return (grid_panel(title, layer, quantity, a, image_side=image_side),)


# ------------------------------------------------------------------------------------- stages
def _input_side(trace: StepTrace, i: int) -> int | None:
    """The side of the square image a Dense layer's input is, when it is the network's input
    (through Flatten/Dropout/activations only): its weights then show as images."""
    for record in trace.layers[:i]:
        if record.params:
            return None
    shape = trace.layers[0].input.shape[1:]
    n = int(np.prod(shape))
    if len(shape) == 3 and shape[0] == 1 and shape[1] == shape[2]:
        return int(shape[1])
    return _square_side(n)


def _name(record: LayerTrace) -> str:
    return f"layer {record.index + 1} · {record.description}"


def build_stages(trace: StepTrace, sample: int = 0, class_names: tuple[str, ...] | None = None) -> list[Stage]:
    """Every stage of the walk for batch row ``sample``: forward per layer, the loss, backward
    per layer (last to first). IndexError-free: ``sample`` is clamped to the batch."""
    layers = trace.layers
    batch = trace.targets.shape[0]
    s = min(max(int(sample), 0), batch - 1)
    last = len(layers) - 1
    stages: list[Stage] = []
    for r in layers:
        names = class_names if r.index == last else None
        forward_panels = (
            *(_array_panels("input x (the network's input)", -1, None, r.input[s]) if r.index == 0
              else _array_panels(f"input (output of layer {r.index})", r.index - 1, "output", r.input[s])),
            *_array_panels("output", r.index, "output", r.output[s], names),
        )
        what = "its output (the fused softmax/sigmoid, computed by the loss)" if r.fused else "its output"
        stages.append(Stage("forward", r.index, f"Forward · {_name(r)}",
                            f"{r.description} turns its input into {what}. Click a number to see how.",
                            forward_panels))
    final = layers[last]
    targets = trace.targets[s]
    outputs = bars_panel("network output vs target", last, "output", trace.outputs[s].reshape(-1), class_names,
                         targets.reshape(-1))
    loss_grad = _array_panels("dL/d output (the gradient the loss sends back)", -1, "grad_output",
                              final.grad_output[s], class_names)
    loss_value = grid_panel(f"loss L = {number_text(trace.loss)}", -1, "output", np.asarray(trace.loss),
                            f"the batch's loss (mean over {batch} sample{'s' if batch != 1 else ''})")
    stages.append(Stage("loss", -1, f"Loss · L = {number_text(trace.loss)}",
                        "The loss compares the output with the target; its gradient starts the backward pass.",
                        (loss_value, outputs, *loss_grad)))
    for r in reversed(layers):
        panels: list[Panel] = [
            *_array_panels("dL/d output (arriving)", r.index, "grad_output", r.grad_output[s],
                           class_names if r.index == last else None),
            *_array_panels("dL/d input (passed on)", r.index, "grad_input", r.grad_input[s]),
        ]
        side = _input_side(trace, r.index) if r.type == "Dense" else None
        for name in r.grads:
            panels.extend(_array_panels(f"dL/d{name} (summed over the batch)", r.index, f"grad:{name}",
                                        r.grads[name], image_side=side))
            panels.extend(_array_panels(f"update Δ{name} (what the optimizer adds)", r.index, f"update:{name}",
                                        r.update[name], image_side=side))
        explanation = ("It receives dL/d output and passes dL/d input on"
                       + (", and computes the gradients of its parameters and their updates." if r.grads else "."))
        stages.append(Stage("backward", r.index, f"Backward · {_name(r)}", explanation, tuple(panels)))
    return stages
