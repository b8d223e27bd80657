"""Export a network as a runnable PyTorch project folder, then check it.

The folder (``to_pytorch(net, folder, x=None, data=None)``):

- ``model.py``: ``build_model()`` returns an ``nn.Module`` mirroring the network layer by
  layer (``model.layers[i]`` is the engine's layer i), weights loaded from ``weights.npz``
  beside it, in evaluation mode, taking inputs in the engine's layout (batch, *input_shape)
  and returning what ``net.predict_proba`` returns (batch, k);
- ``weights.npz``: the engine's weights in the engine's layout (``core.export.weights``);
  ``model.py`` converts on load (Dense W transposed to nn.Linear's (out, in)) and back on save;
- ``data.npz`` (when ``data=(x, y)`` is given): the training inputs and labels as the engine
  trains on them (preprocessed), ``x`` (n, *input_shape) float32 and ``y`` (n,) or (n, k);
- ``optimizer.npz`` (when the optimizer has state, i.e. after training): the engine's
  optimizer slots (``layers.0.W/m`` …, engine layouts) and step count, so ``train.py``
  continues the optimizer, not only the weights;
- ``train.py``: continues training with the engine's loss, optimizer, hyperparameters and
  training settings, on CUDA when present, distributed under ``torchrun``; writes ``--out``;
- ``README.md``: the commands (one machine, several GPUs, several machines) and what is kept.

Each layer type has one translator here (``@_translator("Dense")``): the source of its
module. A network with a layer type without one is refused with a SpecError, as is an
unbuilt network, before anything is written. The templates live in
``core/export/pytorch_templates.py``. torch is imported only inside the self-check.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic_write import export_folder, write_bytes_atomically
from core.data.errors import DataError
from core.errors import ModelFileError, SpecError
from core.export import pytorch_templates as templates
from core.export.check import ExportCheck, check_inputs, compare, not_installed
from core.export.weights import WEIGHTS_FILE, weights_bytes
from core.layers.activations import LEAKY_RELU_SLOPE
from core.layers.base import Layer, format_shape
from core.network import Network
from core.spec.model import TrainingConfig
from core.version import __version__

__all__ = ["DATA_FILE", "MODEL_FILE", "OPTIMIZER_FILE", "README_FILE", "TRAIN_FILE", "model_source", "to_pytorch",
           "train_source"]

MODEL_FILE = "model.py"
TRAIN_FILE = "train.py"
README_FILE = "README.md"
DATA_FILE = "data.npz"
OPTIMIZER_FILE = "optimizer.npz"


# -- per-layer translators --------------------------------------------------------------------------
class _Module:
    """One layer's PyTorch source: ``code`` (an expression building the module) and the
    helper classes it needs (names of ``templates.HELPERS`` entries)."""

    def __init__(self, code: str, helpers: tuple[str, ...] = ()):
        self.code = code
        self.helpers = helpers


Translator = Callable[[Layer, tuple[int, ...]], _Module]
_TRANSLATORS: dict[str, Translator] = {}


def _translator(type_name: str) -> Callable[[Translator], Translator]:
    def register(fn: Translator) -> Translator:
        _TRANSLATORS[type_name] = fn
        return fn
    return register


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


@_translator("Dense")
def _dense(layer: Layer, input_shape: tuple[int, ...]) -> _Module:
    bias = "" if layer.config["use_bias"] else ", bias=False"
    return _Module(f"nn.Linear({input_shape[0]}, {layer.config['units']}{bias})")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of the engine's "same" (TensorFlow's): the odd one extra after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@_translator("Conv2D")
def _conv2d(layer: Layer, input_shape: tuple[int, ...]) -> _Module:
    in_c, height, width = input_shape
    kernel, stride = _pair(layer.config["kernel_size"]), _pair(layer.config["stride"])
    args = f"{in_c}, {layer.config['filters']}, kernel_size={kernel}, stride={stride}"
    if not layer.config["use_bias"]:
        args += ", bias=False"
    if layer.config["padding"] != "same":
        return _Module(f"nn.Conv2d({args})")
    top, bottom = _same_padding(height, kernel[0], stride[0])
    left, right = _same_padding(width, kernel[1], stride[1])
    if (top, left) == (bottom, right):
        return _Module(f"nn.Conv2d({args}, padding={(top, left)})")
    return _Module(f"PaddedConv2d({args}, pad={(left, right, top, bottom)})", ("PaddedConv2d",))


def _pool(torch_name: str) -> Translator:
    def translate(layer: Layer, input_shape: tuple[int, ...]) -> _Module:
        size = _pair(layer.config["pool_size"])
        stride = size if layer.config["stride"] is None else _pair(layer.config["stride"])
        return _Module(f"nn.{torch_name}(kernel_size={size}, stride={stride})")
    return translate


_translator("MaxPool2D")(_pool("MaxPool2d"))
_translator("AvgPool2D")(_pool("AvgPool2d"))
_translator("Flatten")(lambda layer, input_shape: _Module("nn.Flatten()"))
_translator("Dropout")(lambda layer, input_shape: _Module(f"nn.Dropout(p={layer.config['rate']!r})"))


@_translator("Activation")
def _activation(layer: Layer, input_shape: tuple[int, ...]) -> _Module:
    return _Module(_activation_module(layer.config["function"]))


def _activation_module(function: str) -> str:
    """nn module of one engine activation (same formula; GELU in its exact erf form)."""
    if function == "relu":
        return "nn.ReLU()"
    if function == "leaky_relu":
        return f"nn.LeakyReLU({LEAKY_RELU_SLOPE!r})"
    if function == "sigmoid":
        return "nn.Sigmoid()"
    if function == "tanh":
        return "nn.Tanh()"
    if function == "softmax":
        return "nn.Softmax(dim=-1)"
    if function == "linear":
        return "nn.Identity()"
    if function == "gelu":
        return "nn.GELU(approximate='none')"
    raise SpecError(f"cannot export the network to PyTorch: the activation {function!r} has no PyTorch "
                    "counterpart in the exporter yet")


# -- sources ------------------------------------------------------------------------------------------
def _check_exportable(net: Network) -> tuple[int, ...]:
    if not net.built or net.input_shape is None:
        raise SpecError("cannot export the network to PyTorch: it is not built yet; build it (give it an "
                        "input shape) or train it first")
    for i, layer in enumerate(net.layers):
        if layer.type_name not in _TRANSLATORS:
            raise SpecError(f"cannot export the network to PyTorch: layer {i + 1} is a {layer.type_name}, which "
                            f"the exporter cannot express (it knows {', '.join(_TRANSLATORS)})")
        if layer.state:
            raise SpecError(f"cannot export the network to PyTorch: layer {i + 1} ({layer.describe()}) keeps "
                            "state the exporter does not carry")
    return net.input_shape


def _loss_input_layers(net: Network) -> int:
    """How many layers the loss sees the output of (the engine's fused split)."""
    return net._fused_split()


def _probabilities_expression(net: Network) -> str:
    """How ``probabilities`` turns ``self.layers(x)`` (``forward``, = ``predict``) into
    ``predict_proba``'s output."""
    fused = net.loss.fused_activation
    if fused is None or _loss_input_layers(net) < len(net.layers):
        return "self.layers(x)"
    # The network does not end with its loss's activation: its outputs are logits, and
    # predict_proba applies that activation (as the loss does while training).
    return "torch.softmax(self.layers(x), dim=-1)" if fused == "softmax" else f"torch.{fused}(self.layers(x))"


def model_source(net: Network) -> str:
    """The text of ``model.py`` for ``net``; SpecError for what it cannot express."""
    shape = _check_exportable(net)
    lines, helpers = [], []
    for i, layer in enumerate(net.layers):
        module = _TRANSLATORS[layer.type_name](layer, shape)
        helpers += [h for h in module.helpers if h not in helpers]
        out = layer.built_shape()
        lines.append((f"{module.code},", f"# {i}: {layer.describe()} -> {format_shape(out)}"))
        shape = out
    width = max(len(code) for code, _ in lines)
    layer_lines = "\n".join(f"            {code.ljust(width)}  {comment}" for code, comment in lines)
    class_names = net.metadata.get("class_names")
    preprocessing = net.metadata.get("preprocessing")
    return templates.MODEL.format(
        version=__version__,
        input_shape=tuple(net.input_shape or ()),
        input_shape_text=", ".join(map(str, net.input_shape or ())),
        output_shape_text=", ".join(map(str, net.output_shape)),
        dtype="torch.float64" if net.dtype == np.float64 else "torch.float32",
        dtype_name=net.dtype.name,
        class_names=repr(list(class_names)) if isinstance(class_names, list) else "None",
        preprocessing=repr(preprocessing) if isinstance(preprocessing, dict) else "None",
        helpers="".join(templates.HELPERS[h] + "\n\n" for h in helpers),
        layers=layer_lines,
        loss_input_layers=_loss_input_layers(net),
        probabilities=_probabilities_expression(net),
    )


def _loss_source(net: Network) -> str:
    """The body of train.py's ``loss_function(outputs, targets)``, the engine's loss."""
    name = net.loss.name
    if name == "cross_entropy":
        return ("    # nnstudio's cross-entropy on the logits (its final softmax is folded into the loss):\n"
                "    # mean over the batch of -sum_k t_k log softmax(z)_k, targets one-hot.\n"
                "    return F.cross_entropy(outputs, targets)")
    if name == "binary_cross_entropy":
        return ("    # nnstudio's binary cross-entropy on the logits (its final sigmoid is folded into the\n"
                "    # loss), mean over every output value.\n"
                "    return F.binary_cross_entropy_with_logits(outputs, targets)")
    if name == "mse":
        return ("    # nnstudio's mean squared error: mean over every output value, targets one-hot.\n"
                "    return F.mse_loss(outputs, targets)")
    raise SpecError(f"cannot export the network to PyTorch: the loss {name!r} has no PyTorch counterpart in the "
                    "exporter yet")


def _optimizer_source(net: Network) -> str:
    """The body of train.py's ``make_optimizer(parameters, learning_rate)``: the engine's
    optimizer with its settings (weight decay is L2 added to the gradient in both)."""
    c = net.optimizer.get_config()
    kind = net.optimizer.type_name
    if kind == "SGD":
        return (f"    return torch.optim.SGD(parameters, lr=learning_rate, momentum={c['momentum']!r}, "
                f"nesterov={c['nesterov']!r},\n                           weight_decay={c['weight_decay']!r})")
    if kind == "Adam":
        return (f"    return torch.optim.Adam(parameters, lr=learning_rate, betas=({c['beta1']!r}, {c['beta2']!r}), "
                f"eps={c['epsilon']!r},\n                            weight_decay={c['weight_decay']!r})")
    raise SpecError(f"cannot export the network to PyTorch: the optimizer {kind!r} has no PyTorch counterpart in "
                    "the exporter yet")


def _optimizer_slot_names(net: Network) -> tuple[dict[str, str], str | None]:
    """({engine slot: torch state name}, torch's name for the step count or None)."""
    kind = net.optimizer.type_name
    if kind == "SGD":
        return {"velocity": "momentum_buffer"}, None
    if kind == "Adam":
        return {"m": "exp_avg", "v": "exp_avg_sq"}, "step"
    return {}, None


def _optimizer_bytes(net: Network) -> bytes | None:
    """optimizer.npz: the engine's optimizer slots (``layers.0.W/m`` …, engine layouts) and
    ``iterations``, or None when the optimizer has no state yet (an untrained network)."""
    state = net.optimizer.state_dict()
    if not state["slots"]:
        return None
    return weights_bytes({**state["slots"], "iterations": np.asarray(state["iterations"], dtype=np.int64)})


def _training_settings(net: Network) -> dict[str, Any]:
    """The network's training settings (``metadata["training"]``), or the defaults."""
    saved = net.metadata.get("training")
    try:
        config = TrainingConfig.from_dict(saved) if isinstance(saved, dict) else TrainingConfig()
    except SpecError:
        config = TrainingConfig()
    return config.to_dict()


def train_source(net: Network) -> str:
    """The text of ``train.py`` for ``net``; SpecError for what it cannot express."""
    _check_exportable(net)
    settings = _training_settings(net)
    return templates.TRAIN.format(
        version=__version__,
        loss_name=net.loss.name,
        loss_body=_loss_source(net),
        optimizer_name=net.optimizer.type_name,
        optimizer_settings=json.dumps(net.optimizer.get_config()),
        optimizer_body=_optimizer_source(net),
        learning_rate=repr(float(net.optimizer.learning_rate)),
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_split=repr(float(settings["validation_split"])),
        shuffle=repr(bool(settings["shuffle"])),
        seed=net.seed,
        output_units=net.output_shape[0],
        logits=repr(net.loss.fused_activation is not None),
        slot_names=repr(_optimizer_slot_names(net)[0]),
        step_name=repr(_optimizer_slot_names(net)[1]),
    )


def readme_source(net: Network, has_data: bool) -> str:
    """The folder's README.md."""
    settings = _training_settings(net)
    dataset = net.metadata.get("dataset")
    dataset_name = dataset.get("name") if isinstance(dataset, dict) else None
    preprocessing = net.metadata.get("preprocessing")
    if has_data:
        data = (f"`{DATA_FILE}` holds the training data exactly as nnstudio trains on it (already "
                "preprocessed): `x` (n, " + ", ".join(map(str, net.input_shape or ())) + ") float32 and `y` "
                "the labels.")
    else:
        data = (f"No training data was exported. Put a `{DATA_FILE}` with arrays `x` (n, "
                + ", ".join(map(str, net.input_shape or ())) + ") and `y` (labels (n,)) beside `train.py`, "
                "preprocessed as stated above, or pass `--data FILE.npz`.")
    return templates.README.format(
        version=__version__,
        summary="\n".join(f"    {line}" for line in net.summary().splitlines()),
        dataset=f"`{dataset_name}`" if dataset_name else "not recorded",
        preprocessing=f"`{json.dumps(preprocessing)}`" if isinstance(preprocessing, dict) else "none recorded",
        data=data,
        loss=net.loss.name,
        optimizer=json.dumps(net.optimizer.to_dict()),
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_split=settings["validation_split"],
        shuffle=settings["shuffle"],
    )


# -- writing and checking -----------------------------------------------------------------------------
def _data_bytes(net: Network, data: tuple[np.ndarray, np.ndarray]) -> bytes:
    try:
        x, y = data
    except (TypeError, ValueError):
        raise DataError("the training data to export must be a pair (x, y)") from None
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[1:] != tuple(net.input_shape or ()) or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"the training inputs to export have shape {format_shape(x.shape)} but the network takes "
                        f"(n, {', '.join(map(str, net.input_shape or ()))}) numbers")
    if len(y) != len(x) or not np.issubdtype(y.dtype, np.number):
        raise DataError(f"the training labels to export must be {len(x):,} numbers, one per input, not "
                        f"{format_shape(y.shape)} {y.dtype}")
    buffer = io.BytesIO()
    np.savez(buffer, x=np.ascontiguousarray(x, dtype=np.float32 if net.dtype == np.float32 else np.float64), y=y)
    return buffer.getvalue()


def to_pytorch(net: Network, folder: str | os.PathLike[str], x: np.ndarray | None = None,
               data: tuple[np.ndarray, np.ndarray] | None = None) -> ExportCheck:
    """Write the PyTorch project for ``net`` into ``folder`` (created if needed; files of the
    same names are replaced, each atomically), then check it.

    x: optional check inputs (n, *input_shape); without it the first samples of ``data`` or
    random inputs (``check_inputs``). data: optional training data (x (n, *input_shape),
    labels y (n,) or targets (n, k)), written to ``data.npz``.
    Returns the ExportCheck of ``build_model()`` (imported in-process) against
    ``net.predict_proba``, or a not-installed check when torch cannot be imported.
    SpecError (nothing written) for what PyTorch export cannot express; DataError for bad
    ``data``; ModelFileError when the folder cannot be written.
    """
    files = {MODEL_FILE: model_source(net).encode("utf-8"), TRAIN_FILE: train_source(net).encode("utf-8"),
             README_FILE: readme_source(net, data is not None).encode("utf-8"),
             WEIGHTS_FILE: weights_bytes(net.get_weights())}
    if data is not None:
        files[DATA_FILE] = _data_bytes(net, data)
    optimizer_state = _optimizer_bytes(net)
    if optimizer_state is not None:
        files[OPTIMIZER_FILE] = optimizer_state
    target = export_folder(folder)
    try:
        for name, content in files.items():
            write_bytes_atomically(target / name, content, action=f"write the PyTorch project's {name} to")
        if OPTIMIZER_FILE not in files:  # an earlier export's optimizer state would be continued
            (target / OPTIMIZER_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise ModelFileError(f"cannot export to the folder {str(target)!r}: {exc.strerror or exc}") from None
    if x is None and data is not None:
        x = np.asarray(data[0])
    return check_folder(net, target, x)


def check_folder(net: Network, folder: Path, x: np.ndarray | None = None) -> ExportCheck:
    """Import ``folder/model.py`` in-process, run ``build_model()`` on the check inputs and
    compare with ``net.predict_proba``. A failure to run is a red line, never an exception."""
    try:
        import torch
    except ImportError:
        return not_installed("PyTorch", "torch")
    target = f"PyTorch {torch.__version__.split('+')[0]}"
    inputs = check_inputs(tuple(net.input_shape or ()), x)
    name = f"_nnstudio_pytorch_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / MODEL_FILE)
    if spec is None or spec.loader is None:
        return ExportCheck(target, True, len(inputs), float("inf"), 0.0, f"✗ {target}: cannot import {MODEL_FILE}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        model = module.build_model()
        with torch.no_grad():
            exported = model.probabilities(torch.from_numpy(np.array(inputs, dtype=net.dtype))).numpy()
    except Exception as exc:  # broad on purpose: a model that fails to run is a red check line, not a crash
        return ExportCheck(target, True, len(inputs), float("inf"), 0.0,
                           f"✗ {target} failed to run the exported model: {type(exc).__name__}: {exc}")
    finally:
        sys.modules.pop(name, None)
    return compare(target, net.predict_proba(inputs), exported)
