"""Look inside a network: weights and activations as images, decision regions on a plane,
and the colour maps the views paint them with.

Pure NumPy, no Qt: the GUI turns the uint8 / [0, 1] arrays returned here into pixels and
computes nothing itself. Images are float arrays in [0, 1] unless a function says uint8.
Conventions: a grid over the plane is indexed [row, column] = [y, x], row 0 at ``y_min``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from core.analysis.evaluation import class_probabilities
from core.layers.activations import Activation
from core.layers.conv import Conv2D
from core.layers.dense import Dense
from core.network import Network

__all__ = [
    "CLASS_COLORS",
    "activation_images",
    "activations",
    "class_colors",
    "colormap",
    "conv_filter_images",
    "conv_filters",
    "decision_grid",
    "dense_weight_images",
    "first_dense_weights",
    "grid_cell",
    "image_shape_of",
    "layer_title",
    "minmax_normalize",
    "mix_class_colors",
    "nice_ticks",
    "parameter_title",
    "plane_bounds",
    "plane_points",
    "random_batch",
    "sample_images",
    "symmetric_normalize",
    "thin_indices",
    "tile_images",
    "to_uint8",
]

#: Class colours (RGB): the "tab10" palette, distinguishable and colour-blind friendlier.
CLASS_COLORS = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
], dtype=np.uint8)

# Anchor colours of the colour maps, interpolated linearly (values 0 .. 1).
_MAPS: dict[str, np.ndarray] = {
    # White to dark blue (confusion-matrix counts; scikit-learn's "Blues").
    "blues": np.array([(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)], float),
    # Blue (negative) - white (zero) - red (positive): weights, with 0.5 meaning zero.
    "diverging": np.array([(5, 48, 97), (67, 147, 195), (247, 247, 247), (214, 96, 77), (103, 0, 31)], float),
    # Dark to bright (activations): matplotlib's "viridis" at five points.
    "viridis": np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], float),
}


def class_colors(k: int) -> np.ndarray:
    """uint8 (k, 3) RGB colours, one per class (tab10, then evenly spaced hues)."""
    if k <= len(CLASS_COLORS):
        return CLASS_COLORS[:k].copy()
    # HSV -> RGB with evenly spaced hues at saturation 0.65, value 0.85.
    h6 = np.arange(k) / k * 6
    sector = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    v, s = 0.85, 0.65
    p, q, t = np.full(k, v * (1 - s)), v * (1 - f * s), v * (1 - (1 - f) * s)
    vv = np.full(k, v)
    r = np.choose(sector, [vv, q, p, p, t, vv])
    g = np.choose(sector, [t, vv, vv, q, p, p])
    b = np.choose(sector, [p, p, t, vv, vv, q])
    return np.round(np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


def colormap(values: np.ndarray, name: str = "viridis") -> np.ndarray:
    """values (...) in [0, 1] (clipped; NaN as 0) -> uint8 (..., 3) RGB of colour map ``name``
    ("blues", "diverging", "viridis")."""
    if name not in _MAPS:
        raise ValueError(f"unknown colour map {name!r} (known: {', '.join(_MAPS)})")
    anchors = _MAPS[name]
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    pos = np.clip(v, 0.0, 1.0) * (len(anchors) - 1)
    lo = np.minimum(pos.astype(np.int64), len(anchors) - 2)
    frac = (pos - lo)[..., None]
    rgb = anchors[lo] * (1 - frac) + anchors[lo + 1] * frac
    return np.round(rgb).astype(np.uint8)


def symmetric_normalize(a: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Map values to [0, 1] with 0 -> 0.5 and the largest |value| -> 0 or 1.

    ``axes``: the axes one scale is shared over (e.g. (1, 2) for per-image scaling of an
    (n, h, w) stack); None shares one scale over the whole array. All-zero parts give 0.5.
    """
    a = np.asarray(a, dtype=np.float64)
    scale = np.max(np.abs(a), axis=axes, keepdims=True) if a.size else np.ones(1)
    return 0.5 + 0.5 * np.divide(a, scale, out=np.zeros_like(a), where=scale > 0)


def minmax_normalize(a: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Map values to [0, 1] (min -> 0, max -> 1) over ``axes`` (None: the whole array).
    Constant parts give 0 (nothing to see), or 1 when the constant is positive."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return a.copy()
    lo = np.min(a, axis=axes, keepdims=True)
    span = np.max(a, axis=axes, keepdims=True) - lo
    flat = np.broadcast_to(np.where(lo > 0, 1.0, 0.0), a.shape)
    return np.divide(a - lo, span, out=np.array(flat, dtype=np.float64), where=span > 0)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats (any shape) -> uint8 0..255 (clipped, rounded)."""
    return np.round(np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- samples


def image_shape_of(input_shape: Sequence[int], preprocessing: Mapping | None = None) -> tuple[int, int] | None:
    """(h, w) of a dataset's samples seen as grey images, or None when they are not images.

    From ``preprocessing["image_shape"]`` (bundled digits, MNIST, imported IDX) when its size
    fits the input, else from an input shape (1, h, w); flat vectors without an image shape
    (points, CSV features) are not images.
    """
    shape = tuple(int(d) for d in input_shape)
    image_shape = tuple(int(d) for d in (preprocessing or {}).get("image_shape", ()) or ())
    if len(image_shape) == 2 and math.prod(image_shape) == math.prod(shape):
        return image_shape
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    return None


def sample_images(x: np.ndarray, input_shape: Sequence[int], preprocessing: Mapping | None = None) -> np.ndarray | None:
    """Network inputs x (n, *input_shape) -> float64 (n, h, w) grey images in [0, 1], or None
    for datasets that are not images.

    Values are mapped from the dataset's scaled source range (``source_range`` x ``scale``,
    e.g. 0..16 x 1/16 for the 8x8 digits) to [0, 1], so the picture shows the sample exactly
    as a drawing of it would be; without that information each image is min-max scaled.
    """
    hw = image_shape_of(input_shape, preprocessing)
    if hw is None:
        return None
    x = np.asarray(x, dtype=np.float64).reshape(-1, *hw)
    pre = preprocessing or {}
    source = pre.get("source_range")
    if source is not None and len(source) == 2:
        scale = float(pre.get("scale", 1.0))
        lo, hi = float(source[0]) * scale, float(source[1]) * scale
        if hi > lo:
            return np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return minmax_normalize(x, axes=(1, 2))


# --------------------------------------------------------------------------- weights


def layer_title(index: int, layer) -> str:
    """Human name of a layer: 1-based position and its short description, e.g.
    ``layer 1 (Dense 64)``."""
    return f"layer {index + 1} ({layer.describe()})"


def dense_weight_images(w: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Dense weights W (in, units) with in = h * w -> float64 (units, h, w) in [0, 1].

    Each unit's incoming weights become one image, scaled on its own with 0 -> 0.5 (grey /
    white in the diverging map), so the pattern each neuron looks for is visible.
    """
    w = np.asarray(w)
    h, wd = (int(d) for d in image_shape)
    if w.ndim != 2 or w.shape[0] != h * wd:
        raise ValueError(f"weights of shape {w.shape} cannot be shown as {h}×{wd} images: "
                         f"the layer needs {h * wd} inputs")
    images = w.T.reshape(w.shape[1], h, wd)
    return symmetric_normalize(images, axes=(1, 2))


def first_dense_weights(network: Network, image_shape: Sequence[int] | None) -> tuple[str, np.ndarray] | None:
    """(title, (units, h, w) images) of the first Dense layer when it sees the input image
    directly (only Flatten / Dropout / activations before it); None otherwise (no image
    shape, no Dense layer, or convolutions first: its inputs are then feature maps)."""
    if image_shape is None or not network.built:
        return None
    for i, layer in enumerate(network.layers):
        if isinstance(layer, Dense):
            if layer.params["W"].shape[0] != math.prod(image_shape):
                return None
            return layer_title(i, layer), dense_weight_images(layer.params["W"], image_shape)
        if layer.params:  # a layer with weights (Conv2D) transforms the image first
            return None
    return None


def conv_filter_images(w: np.ndarray) -> np.ndarray:
    """Conv2D weights W (out, in, kh, kw) -> float64 (out, in, kh, kw) in [0, 1]: each
    filter (all its input channels) scaled on its own, 0 -> 0.5."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"Conv2D weights must be (out, in, kh, kw), not shape {w.shape}")
    return symmetric_normalize(w, axes=(1, 2, 3))


def conv_filters(network: Network) -> list[tuple[str, np.ndarray]]:
    """[(title, (out, in, kh, kw) images in [0, 1])] for every Conv2D layer, in order."""
    if not network.built:
        return []
    return [(layer_title(i, layer), conv_filter_images(layer.params["W"]))
            for i, layer in enumerate(network.layers) if isinstance(layer, Conv2D)]


def tile_images(images: np.ndarray, columns: int | None = None, pad: int = 1, fill: float | int = 1.0) -> np.ndarray:
    """Images (n, h, w) or (n, h, w, 3) -> one grid (rows*(h+pad)+pad, cols*(w+pad)+pad[, 3]).

    ``columns`` defaults to ceil(sqrt(n)); images fill the grid row by row; ``fill`` is the
    value of the padding and of empty cells (same dtype as ``images``).
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"tile_images needs (n, h, w) or (n, h, w, 3), not shape {images.shape}")
    n, h, w = images.shape[:3]
    cols = max(1, min(columns or math.ceil(math.sqrt(max(n, 1))), max(n, 1)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), fill, dtype=images.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top:top + h, left:left + w] = images[i]
    return out


# --------------------------------------------------------------------------- activations


def activations(network: Network, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What each Conv2D and Dense layer produces for one input x (*input_shape) or (1, *input_shape).

    Returns [(title, array)] in layer order: (channels, h, w) feature maps for Conv2D layers,
    (units,) activations for Dense layers. When the next layer is an Activation its output
    is taken (what the following layers see) and the title says which function it is.
    Raises ValueError when x does not fit the network's input.
    """
    expected = tuple(network.input_shape or ())
    x = np.asarray(x, dtype=network.dtype)
    if x.shape == expected:
        x = x[None]
    elif x.shape[1:] != expected and x.size == math.prod(expected):
        x = x.reshape(1, *expected)  # a flattened or unbatched sample of the right size
    if x.shape != (1, *expected):
        raise ValueError(f"an input of shape {x.shape} does not fit a network expecting {expected} per sample")
    outputs = network.layer_outputs(x)
    result: list[tuple[str, np.ndarray]] = []
    layers = network.layers
    for i, layer in enumerate(layers):
        if not isinstance(layer, (Dense, Conv2D)):
            continue
        title = layer_title(i, layer)
        following = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(following, Activation):
            result.append((f"{title} → {following.function}", np.array(outputs[i + 1][0], dtype=np.float64)))
        else:
            result.append((title, np.array(outputs[i][0], dtype=np.float64)))
    return result


def activation_images(a: np.ndarray) -> np.ndarray:
    """One layer's activations -> float64 images in [0, 1] for display.

    (channels, h, w) feature maps -> (channels, h, w), each map min-max scaled on its own;
    (units,) -> (1, rows, cols) grid of cells (row by row, cols = ceil(sqrt(units)), at most
    32 wide; empty cells 0), scaled over the whole layer.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:
        return minmax_normalize(a, axes=(1, 2))
    if a.ndim == 1:
        n = a.shape[0]
        cols = n if n <= 16 else min(32, math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        grid = np.zeros(rows * cols)
        grid[:n] = minmax_normalize(a)
        return grid.reshape(1, rows, cols)
    raise ValueError(f"activations of shape {a.shape} are neither feature maps (c, h, w) nor units (n,)")


# --------------------------------------------------------------------------- decision regions


def plane_bounds(points: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) around points (n, 2), widened by ``margin`` x the span on
    each side (a span of 0 counts as 1, so a single point still gets a plane)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0:
        raise ValueError(f"plane_bounds needs points of shape (n, 2) with n > 0, not {p.shape}")
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def plane_points(x_min: float, x_max: float, y_min: float, y_max: float, resolution: int) -> np.ndarray:
    """(resolution * resolution, 2) points of a regular grid including the bounds, row by
    row: point r * resolution + c is (x = linspace(x)[c], y = linspace(y)[r])."""
    if int(resolution) < 2:
        raise ValueError(f"resolution must be at least 2, not {resolution}")
    res = int(resolution)
    xs = np.linspace(x_min, x_max, res)
    ys = np.linspace(y_min, y_max, res)
    gx, gy = np.meshgrid(xs, ys)  # (res, res), [row = y, column = x]
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def decision_grid(network: Network, x_min: float, x_max: float, y_min: float, y_max: float,
                  resolution: int = 100) -> np.ndarray:
    """float64 (resolution, resolution, k) class probabilities of a 2-input network over the
    plane; [r, c] is the point (linspace(x_min, x_max)[c], linspace(y_min, y_max)[r])."""
    if tuple(network.input_shape or ()) != (2,):
        raise ValueError(f"a decision grid needs a network with 2 inputs, not input shape {network.input_shape}")
    points = plane_points(x_min, x_max, y_min, y_max, resolution)
    res = int(resolution)
    probs = class_probabilities(network, points.astype(network.dtype), batch_size=res * res)
    return probs.reshape(res, res, -1)


def grid_cell(x: float, y: float, bounds: Sequence[float], resolution: int) -> tuple[int, int]:
    """(row, column) of the grid point nearest to (x, y) for ``bounds`` (x_min, x_max, y_min,
    y_max), clipped to the grid."""
    x_min, x_max, y_min, y_max = (float(b) for b in bounds)
    res = int(resolution)
    col = int(np.clip(round((x - x_min) / (x_max - x_min) * (res - 1)), 0, res - 1))
    row = int(np.clip(round((y - y_min) / (y_max - y_min) * (res - 1)), 0, res - 1))
    return row, col


def mix_class_colors(probabilities: np.ndarray, colors: np.ndarray | None = None, strength: float = 0.65) -> np.ndarray:
    """Probabilities (..., k) -> uint8 (..., 3) RGB, as in TensorFlow Playground.

    The class colours (k, 3) are averaged with the probabilities as weights, then blended
    with white by confidence: where the network is sure (one class near 1) the region shows
    that class's colour at ``strength``, where it hesitates (near uniform) it fades to white.
    ``strength`` < 1 keeps regions light so the data points drawn on top stay visible.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    k = p.shape[-1]
    cols = np.asarray(colors if colors is not None else class_colors(k), dtype=np.float64)
    if cols.shape != (k, 3):
        raise ValueError(f"need one RGB colour per class: colours {cols.shape} for {k} classes")
    mixed = p @ cols
    confidence = (p.max(axis=-1, keepdims=True) - 1.0 / k) / (1.0 - 1.0 / k) if k > 1 else np.ones((*p.shape[:-1], 1))
    weight = np.clip(confidence, 0.0, 1.0) * strength
    return np.round(255.0 + (mixed - 255.0) * weight).astype(np.uint8)


# --------------------------------------------------------------------------- gradient check helpers

_PARAMETER_NAMES = {"W": "weights W", "b": "bias b"}


def parameter_title(network: Network, key: str) -> str:
    """Human name of a parameter key from ``Network.parameters`` / ``check_network``:
    ``layers.2.W`` -> ``layer 3 (Dense 10) · weights W``; ``input`` -> the input gradient."""
    if key == "input":
        return "input (gradient with respect to the input)"
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "layers" and parts[1].isdigit() and int(parts[1]) < len(network.layers):
        i = int(parts[1])
        return f"{layer_title(i, network.layers[i])} · {_PARAMETER_NAMES.get(parts[2], parts[2])}"
    return key


def random_batch(network: Network, n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stand-in batch for checks when no fitting data is at hand: inputs (n,
    *input_shape) uniform in [0, 1) and labels (n,) valid for the network's outputs."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *network.known_input_shape())).astype(network.dtype)
    units = network.output_shape[0] if len(network.output_shape) == 1 else 1
    y = rng.integers(0, max(units, 2), size=n).astype(np.int64)
    return x, y


def nice_ticks(lo: float, hi: float, target: int = 6) -> np.ndarray:
    """float64 (m,) axis tick values in [lo, hi] at a "nice" step (1, 2 or 5 × 10^k) giving
    about ``target`` ticks; empty when the range is empty or not finite."""
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo or target < 1:
        return np.zeros(0)
    raw = (hi - lo) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    ticks = np.arange(first, last + 1) * step
    return np.where(np.abs(ticks) < step * 1e-9, 0.0, ticks)  # no "-0"


def thin_indices(n: int, max_count: int) -> np.ndarray:
    """int64 indices of at most ``max_count`` of ``n`` items, evenly spread and in order
    (all of them when n <= max_count): a deterministic subset for drawing huge point sets."""
    if n <= max_count:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_count).round().astype(np.int64))
