"""ONNX export: ``to_onnx(net, path)`` writes a built network as one ``.onnx`` file and checks it.

The file is written with the standard library (``core.export.protobuf``): nnstudio gains
no dependency. ``onnx`` and ``onnxruntime`` are only needed to check the export (the tests
and the self-check); neither is imported before ``to_onnx`` runs its check.

Versions: **opset 13, IR version 7** (ONNX 1.8, 2020). Every operator the export uses has
its current semantics at opset 13 (Softmax over one axis, Gemm with an optional bias), and
onnxruntime has read opset 13 / IR 7 since 1.6 (2020), as has every runtime and converter
released since. A newer IR version is refused outright by older runtimes ("Unsupported
model IR version"), so the export uses the oldest pair whose operators hold the model.

The graph, layer by layer (the engine's conventions, see ``core.layers``):

===============  =========================================================================
engine           ONNX
===============  =========================================================================
Dense            Gemm(x, W, b): W stays (in, out) (transB = 0); no C without a bias
Conv2D           Conv with kernel_shape, strides and explicit pads [top, left, bottom,
                 right] computed from the engine's rule for the network's fixed input size
                 ("same" = TensorFlow's: the extra row/column at the bottom/right)
MaxPool2D        MaxPool, AvgPool2D → AveragePool: kernel_shape, strides (None = pool), no
                 pads, floor (ceil_mode 0)
Flatten          Flatten(axis=1): (C, H, W) in C order, as the engine
Dropout          omitted (identity at inference)
Activation       Relu, LeakyRelu(alpha 0.01), Sigmoid, Tanh, Softmax(axis=-1), Identity
                 (linear), GELU as 0.5·x·(1 + Erf(x / √2)) with plain Mul/Div/Add/Erf (the
                 Gelu operator only exists from opset 20)
===============  =========================================================================

Input ``"input"`` is (batch, *input_shape) float32 with a dynamic ``"batch"`` axis; output
``"probabilities"`` is what ``net.predict_proba`` returns: when the loss folds the final
activation in (a network ending in logits under cross-entropy), that activation is
appended. Weights are written as float32 (a float64 network is exported in float32).
The model's ``metadata_props`` carry what a deployment needs to feed it: the preprocessing,
the input layout, the class names and the dataset (from ``net.metadata``).

A layer type or activation without a converter here is refused with a SpecError naming it
(``tests/core/test_export_onnx.py`` fails when a registered type has none).
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic_write import write_bytes_atomically
from core.data.errors import DataError
from core.errors import SpecError
from core.export import protobuf as pb
from core.export.check import ExportCheck, check_inputs, compare, not_installed
from core.layers._im2col import output_size_and_padding
from core.layers.activations import LEAKY_RELU_SLOPE, Activation
from core.layers.base import Layer
from core.layers.conv import Conv2D
from core.layers.dense import Dense
from core.layers.dropout import Dropout
from core.layers.pooling import AvgPool2D, MaxPool2D
from core.layers.reshape import Flatten
from core.version import __version__

__all__ = ["INPUT_NAME", "IR_VERSION", "OPSET", "OUTPUT_NAME", "onnx_bytes", "supported_activations",
           "supported_layer_types", "to_onnx"]

#: ONNX operator set and IR version written (see the module docstring for why these).
OPSET = 13
IR_VERSION = 7
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
TARGET = "ONNX"


class _Graph:
    """The graph being built: nodes (kept as arguments until the output is named) and
    float32 initializers, each under a unique name."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, list[str], list[str], str, dict[str, pb.AttributeValue]]] = []
        self.initializers: list[bytes] = []

    def add(self, op_type: str, inputs: list[str], output: str, **attributes: pb.AttributeValue) -> str:
        """Append a node computing ``output`` from ``inputs``; return ``output``."""
        self.nodes.append((op_type, inputs, [output], output, attributes))
        return output

    def constant(self, name: str, value: np.ndarray | float) -> str:
        """A float32 initializer ``name`` (a Python float is a scalar); return its name."""
        self.initializers.append(pb.tensor(name, np.asarray(value, dtype=np.float32)))
        return name

    def encoded_nodes(self, result: str) -> list[bytes]:
        """The nodes, with the tensor ``result`` renamed to the graph's output name."""
        nodes = list(self.nodes)
        if result == INPUT_NAME:  # nothing computed (only Dropout): the output is the input
            nodes.append(("Identity", [INPUT_NAME], [OUTPUT_NAME], OUTPUT_NAME, {}))
        encoded = []
        for op_type, inputs, outputs, name, attributes in nodes:
            outputs = [OUTPUT_NAME if o == result else o for o in outputs]
            encoded.append(pb.node(op_type, inputs, outputs, name, **attributes))
        return encoded


#: x name, layer, "layers.<i>" prefix, graph -> output name.
LayerConverter = Callable[[str, Any, str, _Graph], str]
#: x name, prefix, graph -> output name.
ActivationConverter = Callable[[str, str, _Graph], str]

_LAYER_CONVERTERS: dict[type[Layer], LayerConverter] = {}
_ACTIVATION_CONVERTERS: dict[str, ActivationConverter] = {}


def _converts(layer_type: type[Layer]) -> Callable[[LayerConverter], LayerConverter]:
    def register(converter: LayerConverter) -> LayerConverter:
        _LAYER_CONVERTERS[layer_type] = converter
        return converter
    return register


def _converts_activation(name: str) -> Callable[[ActivationConverter], ActivationConverter]:
    def register(converter: ActivationConverter) -> ActivationConverter:
        _ACTIVATION_CONVERTERS[name] = converter
        return converter
    return register


def supported_layer_types() -> tuple[type[Layer], ...]:
    """The layer classes the ONNX export can express."""
    return tuple(_LAYER_CONVERTERS)


def supported_activations() -> tuple[str, ...]:
    """The activation names the ONNX export can express."""
    return tuple(_ACTIVATION_CONVERTERS)


# -- layers -------------------------------------------------------------------------------------

@_converts(Dense)
def _dense(x: str, layer: Dense, prefix: str, g: _Graph) -> str:
    inputs = [x, g.constant(f"{prefix}.W", layer.params["W"])]  # (in, out): Gemm's B as is
    if "b" in layer.params:
        inputs.append(g.constant(f"{prefix}.b", layer.params["b"]))
    return g.add("Gemm", inputs, f"{prefix}.out", alpha=1.0, beta=1.0, transA=0, transB=0)


@_converts(Conv2D)
def _conv(x: str, layer: Conv2D, prefix: str, g: _Graph) -> str:
    _, height, width = layer.built_input_shape()
    (kh, kw), (sh, sw) = layer.kernel, layer.strides
    _, top, bottom = output_size_and_padding(height, kh, sh, layer.config["padding"])
    _, left, right = output_size_and_padding(width, kw, sw, layer.config["padding"])
    inputs = [x, g.constant(f"{prefix}.W", layer.params["W"])]  # (out_c, in_c, kh, kw): ONNX's layout
    if "b" in layer.params:
        inputs.append(g.constant(f"{prefix}.b", layer.params["b"]))
    return g.add("Conv", inputs, f"{prefix}.out", kernel_shape=[kh, kw], strides=[sh, sw],
                 pads=[top, left, bottom, right], dilations=[1, 1], group=1)


def _pool(op_type: str) -> LayerConverter:
    def convert(x: str, layer: Any, prefix: str, g: _Graph) -> str:
        return g.add(op_type, [x], f"{prefix}.out", kernel_shape=list(layer.pool), strides=list(layer.strides),
                     pads=[0, 0, 0, 0], ceil_mode=0)
    return convert


_converts(MaxPool2D)(_pool("MaxPool"))
_converts(AvgPool2D)(_pool("AveragePool"))


@_converts(Flatten)
def _flatten(x: str, layer: Flatten, prefix: str, g: _Graph) -> str:
    return g.add("Flatten", [x], f"{prefix}.out", axis=1)


@_converts(Dropout)
def _dropout(x: str, layer: Dropout, prefix: str, g: _Graph) -> str:
    return x  # identity at inference: no node


@_converts(Activation)
def _activation(x: str, layer: Activation, prefix: str, g: _Graph) -> str:
    return _activation_nodes(layer.function, x, prefix, g)


def _activation_nodes(function: str, x: str, prefix: str, g: _Graph) -> str:
    converter = _ACTIVATION_CONVERTERS.get(function)
    if converter is None:
        raise SpecError(f"the ONNX export cannot express the activation {function!r} (it can: "
                        f"{', '.join(_ACTIVATION_CONVERTERS)})")
    return converter(x, prefix, g)


# -- activations --------------------------------------------------------------------------------

def _simple_activation(name: str, op_type: str, **attributes: pb.AttributeValue) -> None:
    def convert(x: str, prefix: str, g: _Graph) -> str:
        return g.add(op_type, [x], f"{prefix}.{name}", **attributes)
    _converts_activation(name)(convert)


_simple_activation("relu", "Relu")
_simple_activation("leaky_relu", "LeakyRelu", alpha=float(LEAKY_RELU_SLOPE))
_simple_activation("sigmoid", "Sigmoid")
_simple_activation("tanh", "Tanh")
_simple_activation("softmax", "Softmax", axis=-1)  # opset 13: over the last axis alone, per sample
_simple_activation("linear", "Identity")


@_converts_activation("gelu")
def _gelu(x: str, prefix: str, g: _Graph) -> str:
    """x Φ(x) = 0.5 · x · (1 + erf(x / √2)), the engine's exact form, with opset-13 operators."""
    scaled = g.add("Div", [x, g.constant(f"{prefix}.sqrt2", math.sqrt(2.0))], f"{prefix}.gelu_scaled")
    erf = g.add("Erf", [scaled], f"{prefix}.gelu_erf")
    one_plus = g.add("Add", [erf, g.constant(f"{prefix}.one", 1.0)], f"{prefix}.gelu_one_plus")
    half_x = g.add("Mul", [x, g.constant(f"{prefix}.half", 0.5)], f"{prefix}.gelu_half_x")
    return g.add("Mul", [half_x, one_plus], f"{prefix}.gelu")


# -- the model ------------------------------------------------------------------------------------

def _check_exportable(net: Any) -> None:
    """SpecError naming the first thing the export cannot express; nothing is written."""
    if not getattr(net, "built", False) or net.input_shape is None:
        raise SpecError("the network is not built yet: build or train it before exporting it to ONNX")
    if not net.layers:
        raise SpecError("the network has no layers: add at least one layer before exporting it to ONNX")
    for i, layer in enumerate(net.layers):
        if type(layer) not in _LAYER_CONVERTERS:
            known = ", ".join(cls.type_name for cls in _LAYER_CONVERTERS)
            raise SpecError(f"layer {i + 1} ({layer.type_name}) cannot be exported to ONNX: the export knows "
                            f"no {layer.type_name} layer (it can write {known})")
        if isinstance(layer, Activation) and layer.function not in _ACTIVATION_CONVERTERS:
            raise SpecError(f"layer {i + 1} ({layer.function}) cannot be exported to ONNX: the export knows no "
                            f"{layer.function!r} activation (it can write {', '.join(_ACTIVATION_CONVERTERS)})")


def _appended_output_activation(net: Any) -> str | None:
    """The activation ``predict_proba`` applies after the last layer (the loss's fused
    activation when the network ends in logits), or None."""
    fused = net.loss.fused_activation
    last = net.layers[-1]
    if fused is None or (isinstance(last, Activation) and last.function == fused):
        return None
    return str(fused)


def _metadata(net: Any, appended: str | None) -> dict[str, str]:
    """metadata_props: how to feed the model and read its output (strings; JSON where structured)."""
    meta: dict[str, Any] = dict(net.metadata or {})
    input_shape = tuple(net.input_shape)
    if len(input_shape) == 3:
        layout = (f"(batch, channels, height, width) = (batch, {input_shape[0]}, {input_shape[1]}, "
                  f"{input_shape[2]}), channels first (NCHW), float32")
    else:
        layout = f"(batch, {', '.join(map(str, input_shape))}), float32"
    output = f"{OUTPUT_NAME}: (batch, {', '.join(map(str, net.layers[-1].built_shape()))})"
    output += f", {appended} of the last layer's outputs" if appended else ", the network's last layer"
    props = {"producer": f"nnstudio {__version__}", "input_layout": layout, "output": output}
    if "preprocessing" in meta:
        props["preprocessing"] = json.dumps(meta["preprocessing"], sort_keys=True)
    if "class_names" in meta:
        props["class_names"] = json.dumps([str(c) for c in meta["class_names"]])
    dataset = meta.get("dataset")
    if isinstance(dataset, dict) and "name" in dataset:
        props["dataset"] = str(dataset["name"])
    return props


def onnx_bytes(net: Any) -> bytes:
    """The ONNX ModelProto of a built network, encoded. SpecError if it cannot be expressed."""
    _check_exportable(net)
    g = _Graph()
    x = INPUT_NAME
    for i, layer in enumerate(net.layers):
        x = _LAYER_CONVERTERS[type(layer)](x, layer, f"layers.{i}", g)
    appended = _appended_output_activation(net)
    if appended is not None:
        x = _activation_nodes(appended, x, "output", g)
    output_shape = net.layers[-1].built_shape()
    graph = pb.graph(
        "nnstudio",
        g.encoded_nodes(x),
        g.initializers,
        [pb.value_info(INPUT_NAME, ["batch", *net.input_shape])],
        [pb.value_info(OUTPUT_NAME, ["batch", *output_shape])],
        doc=repr(net),
    )
    return pb.model(graph, IR_VERSION, OPSET, "nnstudio", __version__, _metadata(net, appended),
                    doc=f"{net!r}, exported by nnstudio {__version__}")


def to_onnx(net: Any, path: str | os.PathLike[str], x: np.ndarray | None = None) -> ExportCheck:
    """Write ``net`` (built) to ``path`` as ONNX, atomically, then check it.

    ``x``: optional check inputs (n, *input_shape), e.g. samples of the model's dataset;
    without them, ``check_inputs`` draws random ones. The check runs the file in
    onnxruntime when it is importable and compares with ``net.predict_proba``; otherwise
    the returned check says onnxruntime is needed (``ran`` False).

    Raises, writing nothing: SpecError for what ONNX export cannot express; DataError for
    check inputs of the wrong shape or with NaN/infinite values (``core.data.validate``);
    ModelFileError when the file cannot be written (the previous file stays as it was).
    The file holds the weights inline; the engine's parameter limit (``core.limits``, 50 M
    float32 values = 200 MB) keeps it far below protobuf's 2 GB message limit.
    """
    data = onnx_bytes(net)
    inputs = check_inputs(tuple(net.input_shape), x)
    if inputs.shape[1:] != tuple(net.input_shape):
        raise DataError(f"the check inputs have shape {inputs.shape}, but the network takes "
                        f"(n, {', '.join(map(str, net.input_shape))})")
    expected = net.predict_proba(inputs)  # before writing: inputs it refuses leave no file behind
    target = write_bytes_atomically(path, data, action="write the ONNX file", example="model.onnx")
    return _run_check(target, inputs, expected)


def _run_check(path: Path, inputs: np.ndarray, expected: np.ndarray) -> ExportCheck:
    """Run the written file in onnxruntime on ``inputs`` and compare with the engine's
    ``expected`` probabilities (onnxruntime imported only here)."""
    try:  # through importlib: onnxruntime ships no type information, and is optional
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        return not_installed(TARGET, "onnxruntime")
    target = f"{TARGET} (onnxruntime {onnxruntime.__version__})"
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        exported = session.run([OUTPUT_NAME], {INPUT_NAME: inputs})[0]
    except Exception as exc:  # the runtime refused our file: report it as a failed check, not a crash
        return ExportCheck(target, True, len(inputs), float("inf"), 0.0,
                           f"✗ {target} could not run the export: {' '.join(str(exc).split())[:300]}")
    return compare(target, expected, exported)
