"""Does a network fit a dataset, how to make it fit, and what to show of a dataset.

Pure NumPy and standard library helpers used by the GUI's dataset panel (the GUI computes
nothing itself):

- ``check_compatibility(spec, input_shape, n_classes, dataset_title)`` lists what stops a
  network spec from training on (or, ``trained=True``, being evaluated on) a dataset: input
  shape, output units, layers that cannot take the dataset's samples, each as a
  :class:`core.Problem` with a readable message and a machine-readable ``code``. It is THE
  network↔dataset check: the GUI (readiness, dataset panel, evaluation, gradient check),
  the CLI (train, evaluate) and ``core.analysis.evaluation.evaluate`` all call it, so one mismatch
  reads the same everywhere;
- ``fit_spec_to_dataset(spec, input_shape, n_classes)`` returns the spec with its input
  shape, first layer (a Flatten in front of a Dense for image input) and last Dense layer's
  units set for the dataset;
- ``app_problems(spec, facts)`` lists what stops a network from training in the app (its
  own problems, then the dataset's) with advice that names the app's actions, and
  ``propose_dataset_fit(spec, facts)`` the one-click repair (layout, input, Flatten, last
  layer units) when one exists;
- ``layout_for_spec(spec)`` picks the sample layout ("flat" or "image") of the image sets
  (digits, MNIST) that suits a network's first layer, ``input_shape_for_layout`` gives the
  per-sample shape of that layout;
- ``dataset_param_schema(name)`` describes the parameters of a named dataset (ranges the
  loader accepts, help text) so a form cannot hold a value the loader refuses;
- preview helpers: ``example_indices`` (one example per class), ``preview_images``
  (samples as 8-bit grey images) and ``scatter_points`` (2-D points scaled into the unit
  square, subsampled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.datasets import DATASETS
from core.errors import Problem, SpecError
from core.params import Param
from core.registry import layer_class, layer_types
from core.spec.analysis import analyze
from core.spec.fixes import quick_fix
from core.spec.model import LayerSpec, NetworkSpec

__all__ = [
    "INPUT_MISMATCH",
    "NEEDS_IMAGE_INPUT",
    "OUTPUT_MISMATCH",
    "DatasetFacts",
    "DatasetFit",
    "app_problems",
    "check_compatibility",
    "dataset_param_schema",
    "describe_input",
    "example_indices",
    "fit_spec_to_dataset",
    "image_input_advice",
    "image_layer_names",
    "image_shape_for",
    "input_shape_for_layout",
    "layout_for_spec",
    "output_units",
    "preview_images",
    "propose_dataset_fit",
    "scatter_points",
]

#: ``Problem.code`` of the dataset's own mismatches (a layer that cannot take the dataset's
#: samples keeps the code its layer gave, e.g. ``needs_flat_input``).
INPUT_MISMATCH = "dataset_input_mismatch"
OUTPUT_MISMATCH = "dataset_output_mismatch"


def _input_rank(type_name: str) -> int | None:
    """The per-sample input rank layer type ``type_name`` needs (its class's ``input_rank``:
    3 for image layers, 1 for flat ones), None for any rank or an unknown type."""
    try:
        return layer_class(type_name).input_rank
    except SpecError:
        return None


def image_layer_names() -> tuple[str, ...]:
    """The palette's layer types that take images (``input_rank == 3``), in palette order."""
    return tuple(cls.type_name for cls in layer_types() if cls.input_rank == 3)


# --------------------------------------------------------------------------- compatibility


def describe_input(shape: tuple[int, ...]) -> str:
    """Per-sample shape in words: ``(64,)`` -> "64 inputs", ``(1, 28, 28)`` -> "1×28×28 images"."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 1:
        return f"{shape[0]:,} input" + ("" if shape[0] == 1 else "s")
    return "×".join(str(d) for d in shape) + (" images" if len(shape) == 3 else " arrays")


def output_units(spec: NetworkSpec, input_shape: tuple[int, ...] | None = None) -> int | None:
    """Number of outputs of ``spec`` when fed ``input_shape`` (default: its own input shape).

    Uses shape analysis; when that fails before the end, falls back to the units of the
    last Dense layer (what the user would edit). None when neither is known.
    """
    shape = tuple(spec.input_shape if input_shape is None else input_shape)
    try:
        analysis = analyze(spec.replace(input_shape=shape))
    except SpecError:
        analysis = None
    if analysis is not None and analysis.ok and analysis.output_shape is not None and len(analysis.output_shape) == 1:
        return int(analysis.output_shape[0])
    index = _last_dense(spec.layers)
    if index is None:
        return None
    units = spec.layers[index].config.get("units")
    return int(units) if isinstance(units, int) and not isinstance(units, bool) else None


def _outputs_fit(units: int, n_classes: int, loss: str) -> bool:
    # One output unit can separate two classes (targets are then the labels 0/1), but not
    # with softmax cross-entropy: a softmax over one unit is always 1.
    return units == n_classes or (n_classes == 2 and units == 1 and loss != "cross_entropy")


def _creatable(layer: LayerSpec) -> bool:
    """True when the layer's settings are valid, so a problem it has is about shapes."""
    try:
        layer.create()
    except SpecError:
        return False
    return True


def _last_dense(layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> int | None:
    for i in range(len(layers) - 1, -1, -1):
        if layers[i].type == "Dense":
            return i
    return None


def check_compatibility(spec: NetworkSpec, input_shape: tuple[int, ...], n_classes: int,
                        dataset_title: str = "the dataset", trained: bool = False) -> list[Problem]:
    """What stops ``spec`` from training on a dataset with samples of ``input_shape`` and
    ``n_classes`` classes. Empty when it fits.

    The one network↔dataset check (GUI, CLI and ``core.analysis.evaluation`` use it). Problems, in
    this order, each with a ``code``:

    - the input: ``spec.input_shape`` differs from ``input_shape`` (:data:`INPUT_MISMATCH`);
    - the first layer that cannot take the shape it receives from the dataset's samples (e.g.
      Conv2D fed flat points), or an output that is not one vector per sample (the layer's
      own code);
    - the outputs: the network's units do not tell ``n_classes`` classes apart
      (:data:`OUTPUT_MISMATCH`). One output unit fits two classes (targets are the labels
      0/1) except with softmax cross-entropy, where a softmax over one unit is always 1.

    ``trained`` is for a network that is already trained (evaluation): its input cannot be
    changed without training again, so the input advice says so. Problems of the spec's
    settings (no layers, a bad setting) are the layer editor's business and are not
    repeated here. A network object is checked through ``network.to_spec()``.
    """
    input_shape = tuple(int(d) for d in input_shape)
    problems: list[Problem] = []
    if tuple(spec.input_shape) != input_shape:
        fix = ("train the network on this dataset first" if trained
               else f"set the network's input to {describe_input(input_shape)}")
        problems.append(Problem(
            f"The network expects {describe_input(spec.input_shape)} but {dataset_title} has "
            f"{describe_input(input_shape)}", None, fix, INPUT_MISMATCH))
    fed = analyze(spec.replace(input_shape=input_shape))
    shape_problems = [p for p in fed.problems if p.layer_index is not None and _creatable(spec.layers[p.layer_index])]
    if shape_problems:
        first = shape_problems[0]
        problems.append(Problem(f"With {dataset_title}'s samples, {first.message}", first.layer_index, first.fix,
                                first.code))
    units = output_units(spec, input_shape if fed.ok else None)
    if units is not None and not _outputs_fit(units, n_classes, spec.loss):
        problems.append(Problem(
            f"The network has {units:,} output" + ("" if units == 1 else "s")
            + f" but {dataset_title} has {n_classes} classes", _last_dense(spec.layers),
            f"set the last Dense layer's units to {n_classes}", OUTPUT_MISMATCH))
    return problems


# --------------------------------------------------------------------------- advice the app can follow


@dataclass(frozen=True)
class DatasetFacts:
    """What the app's editor knows about the chosen dataset, to check a network against it.

    ``input_shape`` is the per-sample shape as loaded now; ``image_shape`` (h, w) when the
    samples are images in any layout; ``has_layout`` when the dataset can be loaded as flat
    rows or as images (its "layout" parameter: the 8×8 digits, MNIST).
    """

    title: str
    input_shape: tuple[int, ...]
    n_classes: int
    image_shape: tuple[int, int] | None = None
    has_layout: bool = False


@dataclass(frozen=True)
class DatasetFit:
    """A one-click repair that makes a network fit the dataset: the repaired ``spec``, and
    the dataset ``layout`` to switch to ("flat" / "image", or None to keep it). ``label``
    names it for a button and for Undo."""

    label: str
    spec: NetworkSpec
    layout: str | None = None


#: The app's actions, named as the user finds them (used in advice sentences).
IMAGE_DATASETS_ADVICE = "choose an image dataset (8×8 digits or MNIST) in the Dataset panel"


def propose_dataset_fit(spec: NetworkSpec, info: DatasetFacts) -> DatasetFit | None:
    """The smallest change that makes ``spec`` train on the dataset, or None when nothing
    needs changing or no such change exists (then :func:`app_problems` says what to do).

    Image datasets switch their layout to what the first layer needs (Conv2D: images,
    Dense: flat rows); then the input shape, a Flatten in front of a first Dense and the last
    Dense layer's units follow the dataset (:func:`fit_spec_to_dataset`). Offered only when
    the result fits completely.
    """
    input_shape = tuple(int(d) for d in info.input_shape)
    layout = None
    if info.has_layout and info.image_shape is not None:
        wanted = layout_for_spec(spec)
        shape = input_shape_for_layout(info.image_shape, wanted)
        if shape != input_shape:
            layout, input_shape = wanted, shape
    fitted = fit_spec_to_dataset(spec, input_shape, info.n_classes)
    # Images now reach the layers: repair what that breaks with the editor's own quick fixes
    # (typically: insert Flatten before the first Dense), a few steps at most.
    for _ in range(4):
        analysis = analyze(fitted)
        if analysis.ok:
            break
        step = quick_fix(fitted, analysis.problems[0], info.n_classes)
        if step is None:
            return None
        fitted = fit_spec_to_dataset(step.spec, input_shape, info.n_classes)
    if fitted == spec and layout is None:
        return None
    if not analyze(fitted).ok or check_compatibility(fitted, input_shape, info.n_classes):
        return None
    if layout == "image" and info.image_shape is not None:
        label = f"Use {info.title} as {info.image_shape[0]}×{info.image_shape[1]} images"
    else:
        label = f"Fit the network to {info.title}"
    return DatasetFit(label, fitted, layout)


#: ``Problem.code`` of an image layer that receives something other than images.
NEEDS_IMAGE_INPUT = "needs_image_input"


def _image_layer_fed_no_images(spec: NetworkSpec, input_shape: tuple[int, ...], problem: Problem) -> bool:
    """True when ``problem`` is an image layer (``input_rank == 3``) receiving samples that are
    not images when ``spec`` is fed ``input_shape``: by its code, or (a layer that gives no
    code) by the layer's class and the shape it receives. Never by the wording."""
    if problem.code == NEEDS_IMAGE_INPUT:
        return True
    i = problem.layer_index
    if i is None or not 0 <= i < len(spec.layers) or _input_rank(spec.layers[i].type) != 3:
        return False
    layers = analyze(spec.replace(input_shape=input_shape)).layers
    received = layers[i].input_shape if i < len(layers) else None
    return received is not None and len(received) != 3


def _image_layers_below_first(spec: NetworkSpec) -> bool:
    """True when an image layer (``input_rank == 3``: Conv2D, MaxPool2D, …) comes after a
    layer that does not pass images on (Dense, Flatten; an Activation or Dropout above it
    does, so the image layer still comes first in effect)."""
    seen_other = False
    for layer in spec.layers:
        image_layer = _input_rank(layer.type) == 3
        if image_layer and seen_other:
            return True
        if not image_layer and not _passes_images_on(layer):
            seen_other = True
    return False


#: A nominal image (channels, height, width) to ask a layer what it makes of images.
_PROBE_IMAGE = (1, 16, 16)


def _passes_images_on(layer: LayerSpec) -> bool:
    """True when ``layer`` turns an image into an image (Activation, Dropout), judged by the
    layer's own shape arithmetic on a nominal image, so a new layer type needs no entry here."""
    try:
        return len(layer.create().output_shape(_PROBE_IMAGE)) == 3
    except SpecError:  # a bad setting, or a layer that refuses images (Dense)
        return False


def image_input_advice(spec: NetworkSpec, info: DatasetFacts | None) -> str:
    """What to do, in the app's own terms, when an image layer receives flat samples."""
    if _image_layers_below_first(spec):
        return (f"move the image layers ({', '.join(image_layer_names())}) to the top, above Flatten and Dense "
                "(Alt+Up or drag the row); image datasets then switch to images")
    if info is None:
        return f"{IMAGE_DATASETS_ADVICE}: its layout follows the first layer"
    if info.image_shape is not None and info.has_layout:
        return f"switch {info.title} to images: the Fix button does it"
    return f"{info.title} has no images: {IMAGE_DATASETS_ADVICE}, or remove this layer"


def app_problems(spec: NetworkSpec, info: DatasetFacts | None) -> list[Problem]:
    """Everything that stops ``spec`` from training in the app, with advice that names the
    app's actions: the spec's own problems (``analyze``), then the dataset's
    (:func:`check_compatibility`, when ``info`` is known). Engine advice about the input
    shape (which follows the dataset in the app, it has no control of its own) becomes
    advice about the dataset or the layer order.
    """
    problems = list(analyze(spec).problems)
    fed = tuple(spec.input_shape)
    if info is not None and not problems:
        problems = check_compatibility(spec, info.input_shape, info.n_classes, info.title)
        fed = tuple(info.input_shape)
    out = []
    for problem in problems:
        if _image_layer_fed_no_images(spec, fed, problem):
            problem = Problem(problem.message, problem.layer_index, image_input_advice(spec, info), problem.code)
        elif problem.code == INPUT_MISMATCH:
            problem = Problem(problem.message, problem.layer_index,
                              "the Fix button adapts it (the input follows the dataset)", problem.code)
        out.append(problem)
    return out


def fit_spec_to_dataset(spec: NetworkSpec, input_shape: tuple[int, ...], n_classes: int) -> NetworkSpec:
    """``spec`` changed as little as possible to fit the dataset.

    - the input shape becomes ``input_shape``;
    - a Dense first layer fed multi-dimensional samples gets a Flatten in front of it;
    - the last Dense layer's units become ``n_classes`` (a single output unit is kept for
      two classes unless the loss is softmax cross-entropy); a network without a Dense layer
      gets (Flatten and) Dense(n_classes) appended.

    Layers that cannot take the samples for other reasons (Conv2D fed flat points, a kernel
    larger than the image) are left alone: ``check_compatibility`` still reports them.
    """
    input_shape = tuple(int(d) for d in input_shape)
    layers = list(spec.layers)
    if len(input_shape) > 1 and layers and layers[0].type == "Dense":
        layers.insert(0, LayerSpec("Flatten"))
    index = _last_dense(layers)
    if index is None:
        fitted = spec.replace(input_shape=input_shape, layers=tuple(layers))
        analysis = analyze(fitted)
        if analysis.output_shape is not None and len(analysis.output_shape) != 1:
            layers.append(LayerSpec("Flatten"))
        layers.append(LayerSpec.of("Dense", units=int(n_classes)))
    else:
        units = layers[index].config.get("units")
        if not (isinstance(units, int) and _outputs_fit(units, n_classes, spec.loss)):
            layers[index] = layers[index].with_config(units=int(n_classes))
    return spec.replace(input_shape=input_shape, layers=tuple(layers))


def layout_for_spec(spec: NetworkSpec) -> str:
    """"image" when the network's first layer needs images (its class's ``input_rank`` is 3:
    Conv2D, MaxPool2D, …; or a Flatten on an image input), else "flat": the layout an image
    dataset should use for it."""
    if not spec.layers:
        return "flat"
    first = spec.layers[0].type
    if _input_rank(first) == 3 or (first == "Flatten" and len(spec.input_shape) == 3):
        return "image"
    return "flat"


def input_shape_for_layout(image_shape: tuple[int, int], layout: str) -> tuple[int, ...]:
    """Per-sample shape of an image set laid out as ``layout``: "flat" -> ``(h*w,)``,
    "image" -> ``(1, h, w)``."""
    h, w = (int(d) for d in image_shape)
    if layout == "flat":
        return (h * w,)
    if layout == "image":
        return (1, h, w)
    raise ValueError(f"layout must be 'flat' or 'image', not {layout!r}")


# --------------------------------------------------------------------------- dataset parameters

def dataset_param_schema(name: str) -> tuple[Param, ...]:
    """Schema of the settings ``core.data.load_dataset(name, ...)`` takes: the entry's own
    ``DATASETS[name].schema`` (defaults, labels, ranges, help), in its order."""
    info = DATASETS.get(name)
    if info is None:
        raise KeyError(f"unknown dataset {name!r}")
    return info.schema


# --------------------------------------------------------------------------- previews


def example_indices(y: np.ndarray, n_classes: int, count: int = 10) -> np.ndarray:
    """Indices of up to ``count`` samples to show: one per class first (in class order, the
    first sample of each), then second examples of each class, and so on.

    y: int ``(n,)`` labels 0..n_classes-1. Returns int64 ``(k,)`` with k = min(count, n).
    """
    y = np.asarray(y).reshape(-1)
    per_class = [np.flatnonzero(y == c) for c in range(int(n_classes))]
    chosen: list[int] = []
    rank = 0
    while len(chosen) < count and any(rank < len(p) for p in per_class):
        for members in per_class:
            if rank < len(members) and len(chosen) < count:
                chosen.append(int(members[rank]))
        rank += 1
    return np.asarray(chosen, dtype=np.int64)


def image_shape_for(input_shape: tuple[int, ...],
                    preprocessing: dict[str, Any] | None = None) -> tuple[int, int] | None:
    """(height, width) when samples of ``input_shape`` are images, else None.

    ``(c, h, w)`` -> ``(h, w)`` (first channel shown); ``(h, w)`` as is; a flat ``(h*w,)``
    when the dataset's preprocessing names its ``image_shape``.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 3:
        return shape[1], shape[2]
    if len(shape) == 2:
        return shape[0], shape[1]
    image = tuple((preprocessing or {}).get("image_shape", ()))
    if len(shape) == 1 and len(image) == 2 and math.prod(image) == shape[0]:
        return int(image[0]), int(image[1])
    return None


def preview_images(x: np.ndarray, indices: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Samples ``x[indices]`` as uint8 ``(k, h, w)`` grey images, 0 = lowest value shown.

    x: ``(n, *input_shape)`` with prod(input_shape) = h*w (or ``(n, c, h, w)``: the first
    channel). Values are stretched to 0..255 over the chosen samples together, so relative
    brightness between them is kept.
    """
    h, w = (int(d) for d in image_shape)
    chosen = np.asarray(x)[np.asarray(indices, dtype=np.int64)]
    k = len(chosen)
    if chosen.ndim == 4:
        chosen = chosen[:, 0]
    chosen = chosen.reshape(k, h, w).astype(np.float64)
    if k == 0:
        return np.zeros((0, h, w), dtype=np.uint8)
    lo, hi = float(chosen.min()), float(chosen.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.zeros((k, h, w), dtype=np.uint8)
    scaled = (chosen - lo) * (255.0 / (hi - lo))
    return np.ascontiguousarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def scatter_points(x: np.ndarray, y: np.ndarray, max_points: int = 1500, seed: int = 0,
                   margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The first two features of ``x`` scaled into the unit square for a scatter plot.

    x: ``(n, features)`` (one feature: plotted against 0); y: ``(n,)`` labels. Both axes use
    the same scale (circles stay round), centred, with ``margin`` left at the edges; y grows
    upwards as in a plot. At most ``max_points`` samples, chosen with a seeded generator.
    Returns float64 ``(m, 2)`` in [0, 1] and the labels int64 ``(m,)``.
    """
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1)
    n = len(x)
    index = np.arange(n)
    if n > max_points:
        index = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    flat = x[index].reshape(len(index), -1).astype(np.float64)
    pts = np.zeros((len(index), 2))
    pts[:, : min(2, flat.shape[1])] = flat[:, :2]
    if len(pts) == 0:
        return pts, y[index].astype(np.int64)
    finite = np.isfinite(pts).all(axis=1)
    pts, labels = pts[finite], y[index][finite].astype(np.int64)
    if len(pts) == 0:
        return pts, labels
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = float((hi - lo).max())
    scale = (1.0 - 2 * margin) / span if span > 0 else 0.0
    out = 0.5 + (pts - (lo + hi) / 2) * scale
    return np.clip(out, 0.0, 1.0), labels
