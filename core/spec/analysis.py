"""Shape analysis of a network spec, without allocating a single weight.

``analyze(spec)`` builds each layer object from its settings and asks it for its output
shape, parameter count and multiply-adds; every problem it finds is a ``Problem`` located
at its layer ("layer 4 (Dense) needs a flat input …") that keeps the layer's machine-readable
code, so ``core.spec.fixes.quick_fix`` can repair it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core import limits
from core.errors import Problem, ShapeError, SpecError
from core.layers.base import Layer, format_shape
from core.spec.model import NetworkSpec


@dataclass(frozen=True)
class LayerInfo:
    """Analysis of one layer. Shapes are per-sample; ``None`` when unknown (after a problem)."""

    index: int
    type: str
    description: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    param_count: int
    macs: int
    problem: Problem | None = None


@dataclass(frozen=True)
class SpecAnalysis:
    layers: tuple[LayerInfo, ...]
    problems: tuple[Problem, ...]
    output_shape: tuple[int, ...] | None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_params(self) -> int:
        return sum(layer.param_count for layer in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise SpecError(list(self.problems))


def layer_label(index: int, type_name: str) -> str:
    """Human position of a layer: 1-based, e.g. ``layer 4 (Dense)``."""
    return f"layer {index + 1} ({type_name})"


def _located(problem_text: str, index: int, type_name: str) -> str:
    """Prefix a layer's own message with its position, replacing its leading type name."""
    label = layer_label(index, type_name)
    for prefix in (f"{type_name}: ", f"{type_name} "):
        if problem_text.startswith(prefix):
            return label + (": " if prefix.endswith(": ") else " ") + problem_text[len(prefix):]
    return f"{label}: {problem_text}"


def analyze(spec: NetworkSpec, layers: list[Layer] | None = None) -> SpecAnalysis:
    """Shapes, parameter counts, multiply-adds and problems of every layer, without allocating.

    ``layers`` may pass already-constructed layer objects (the Network does) instead of
    creating them from ``spec.layers``. Analysis continues after a settings problem (the
    layer is skipped for shape purposes only if its shape cannot be known).
    """
    infos: list[LayerInfo] = []
    problems: list[Problem] = []
    input_shape = tuple(spec.input_shape)
    shape: tuple[int, ...] | None = input_shape
    if not spec.layers and not layers:
        problems.append(Problem("the network has no layers", None, "add a Dense layer", "no_layers"))
    count = len(layers) if layers is not None else len(spec.layers)
    too_many = limits.layer_count_problem(count)
    if too_many:  # analysing a million layers would itself take minutes
        too_many_layers = Problem(f"the network cannot be built: {too_many} (limit MAX_LAYERS)", None,
                                  "remove layers", "too_many_layers")
        return SpecAnalysis((), (too_many_layers,), None)
    input_values = limits.sample_size_problem(math.prod(input_shape))
    if input_values:
        problems.append(Problem(f"the input shape {format_shape(input_shape)} has {input_values} (limit "
                                "MAX_VALUES_PER_SAMPLE)", None, "use a smaller input", "input_too_large"))
    for i in range(count):
        type_name = layers[i].type_name if layers is not None else spec.layers[i].type
        layer: Layer | None = None
        problem: Problem | None = None
        try:
            layer = layers[i] if layers is not None else spec.layers[i].create()
        except SpecError as exc:
            p = exc.problems[0]
            problem = Problem(_located(p.message, i, type_name), i, p.fix, p.code)
        in_shape = shape
        out_shape = None
        params = macs = 0
        if layer is not None and shape is not None:
            try:
                out_shape = layer.output_shape(shape)
                params = layer.param_count(shape)
                macs = layer.macs(shape)
            except ShapeError as exc:
                p = exc.problems[0]
                problem = Problem(_located(p.message, i, type_name), i, p.fix, p.code)
        if problem is None and out_shape is not None:
            too_big = limits.sample_size_problem(math.prod(out_shape))
            if too_big:
                problem = Problem(_located(f"its output {format_shape(out_shape)} has {too_big} (limit "
                                           "MAX_VALUES_PER_SAMPLE)", i, type_name), i,
                                  "use fewer units or filters", "output_too_large")
        description = layer.describe() if layer is not None else type_name
        infos.append(LayerInfo(i, type_name, description, in_shape, out_shape, params, macs, problem))
        if problem is not None:
            problems.append(problem)
        shape = out_shape
    problems.extend(_loss_problems(spec, infos))
    too_many = limits.parameter_count_problem(sum(info.param_count for info in infos))
    if too_many:
        problems.append(Problem(f"the network is too large to build: {too_many} (limit MAX_PARAMETERS)", None,
                                "use fewer units or filters", "too_many_parameters"))
    return SpecAnalysis(tuple(infos), tuple(problems), shape)


def _loss_problems(spec: NetworkSpec, infos: list[LayerInfo]) -> list[Problem]:
    if not infos or infos[-1].output_shape is None:
        return []
    out = infos[-1].output_shape
    if len(out) != 1:
        return [Problem(f"the network's output {format_shape(out)} is not flat, so no loss can compare it with targets",
                        len(infos) - 1, "end the network with Flatten and a Dense layer", "output_not_flat")]
    return []
