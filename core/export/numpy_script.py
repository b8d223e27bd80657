"""Export a network as one readable NumPy-only script: ``predict.py`` + ``weights.npz``.

``predict.py`` is written for THIS network: its forward pass layer by layer, one or two lines
per layer with a comment giving the layer and its output shape, and only the helpers the
network needs (convolution, pooling, softmax, erf). It needs nothing but NumPy. It computes
in float64 (inputs and weights are cast on use), so it reproduces the engine's float32
probabilities to about 1e-7 and a float64 network's to about 1e-15.

``weights.npz`` holds ``net.get_weights()`` under the same keys (``layers.0.W`` …) and in the
engine's layouts (Dense W (in, out), Conv2D W (out_c, in_c, kh, kw)), so
``core.export.weights.import_weights`` reads it back too.

After writing, ``to_numpy`` imports the script from the folder (in-process, under a fresh
module name) and compares it with ``net.predict_proba`` on the check inputs.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import uuid
from pathlib import Path

import numpy as np

from core.atomic_write import export_folder, write_bytes_atomically
from core.errors import SpecError
from core.export.check import ExportCheck, check_inputs, compare
from core.layers.activations import LEAKY_RELU_SLOPE, Activation
from core.layers.base import format_shape
from core.layers.conv import Conv2D
from core.layers.dense import Dense
from core.layers.dropout import Dropout
from core.layers.pooling import AvgPool2D, MaxPool2D, Pool2D
from core.layers.reshape import Flatten
from core.network import Network
from core.version import __version__

SCRIPT_NAME = "predict.py"
WEIGHTS_NAME = "weights.npz"
TARGET = "NumPy script (float64)"

_HELPERS = {
    "conv2d": '''def conv2d(x, w, b, stride):
    """x (n, C, H, W), already padded; w (F, C, kh, kw); b (F,) or None -> (n, F, OH, OW)."""
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    return y if b is None else y + b[:, None, None]
''',
    "pool2d": '''def pool2d(x, size, stride, reduce):
    """x (n, C, H, W) -> (n, C, (H - ph) // sh + 1, (W - pw) // sw + 1); no padding."""
    win = sliding_window_view(x, size, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return reduce(win, axis=(4, 5))
''',
    "softmax": '''def softmax(x):
    """Softmax over the last axis (the largest value is subtracted first: no overflow)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
    "erf": '''erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; math.erf is exact
''',
}


def to_numpy(net: Network, folder: str | Path, x: np.ndarray | None = None) -> ExportCheck:
    """Write ``folder/predict.py`` and ``folder/weights.npz`` for ``net``, then check them.

    x: optional check inputs (n, *input_shape); without it ``check_inputs`` draws random ones.
    Returns the ExportCheck of the script (run in-process) against ``net.predict_proba``.
    SpecError (nothing written) for an unbuilt network or a layer the script cannot express;
    ModelFileError when the folder cannot be written.
    """
    source = script_source(net)
    weights = net.get_weights()
    folder = export_folder(folder)
    buffer = io.BytesIO()
    np.savez(buffer, **weights)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    for name, data in ((WEIGHTS_NAME, buffer.getvalue()), (SCRIPT_NAME, source.encode("utf-8"))):
        write_bytes_atomically(folder / name, data, action=f"write the NumPy export's {name} to")
    return _check(net, folder, x)


def _check(net: Network, folder: Path, x: np.ndarray | None) -> ExportCheck:
    assert net.input_shape is not None
    inputs = check_inputs(net.input_shape, x)
    name = f"_nnstudio_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / SCRIPT_NAME)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        exported = module.predict(inputs)
    except Exception as exc:  # broad on purpose: a failing script is a red check line, not a crash
        return ExportCheck(TARGET, True, len(inputs), float("inf"), 0.0,
                           f"✗ {TARGET} failed to run: {type(exc).__name__}: {exc}")
    finally:
        sys.modules.pop(name, None)
    return compare(TARGET, net.predict_proba(inputs), exported)


def script_source(net: Network) -> str:
    """The text of ``predict.py`` for ``net``; SpecError for what it cannot express."""
    if not net.built or net.input_shape is None:
        raise SpecError("cannot export the network as a NumPy script: it is not built yet; build it "
                        "(give it an input shape) or train it first")
    helpers: list[str] = []
    lines: list[str] = []
    shape = tuple(net.input_shape)
    for index, layer in enumerate(net.layers):
        out_shape = tuple(layer.built_shape())
        step, needs = _layer_lines(net, index, shape)
        helpers += [h for h in needs if h not in helpers]
        lines.append(f"    # {index}: {layer.describe()} -> (n, {', '.join(map(str, out_shape))})")
        lines += [f"    {line}" for line in step]
        shape = out_shape
    if _logit_outputs(net):
        final = net.loss.fused_activation
        assert final is not None
        if final == "softmax" and "softmax" not in helpers:
            helpers.append("softmax")
        lines.append(f"    # the loss reads the last outputs as logits: {final} turns them into probabilities")
        lines.append(f"    x = {_activation_expression(final)}")
    return _template(net, helpers, lines, shape)


def _logit_outputs(net: Network) -> bool:
    """True when ``predict_proba`` applies the loss's activation to the network's outputs."""
    return net._fused_split() == len(net.layers) and net.loss.fused_activation is not None


def _layer_lines(net: Network, index: int, in_shape: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """The script lines for layer ``index`` (input ``x`` of shape (n, *in_shape)) and the helpers it needs."""
    layer = net.layers[index]
    kind, key = layer.type_name, f"layers.{index}"
    if layer.state:
        raise SpecError(f"cannot export layer {index} ({kind}) as a NumPy script: layers with state "
                        "(running statistics) are not supported yet")
    bias = f'w["{key}.b"]' if "b" in layer.params else None
    # One branch per layer type: a type added to the engine without one is refused below
    # (and tests/core/test_export_numpy.py, which exports every LAYER_CASES entry, fails).
    if isinstance(layer, Dense):
        return [f'x = x @ w["{key}.W"]' + (f" + {bias}" if bias else "")], []
    if isinstance(layer, Conv2D):
        from core.layers._im2col import output_size_and_padding

        (kh, kw), (sh, sw) = layer.kernel, layer.strides
        _, top, bottom = output_size_and_padding(in_shape[1], kh, sh, layer.config["padding"])
        _, left, right = output_size_and_padding(in_shape[2], kw, sw, layer.config["padding"])
        step = []
        if top or bottom or left or right:
            step.append(f"x = np.pad(x, ((0, 0), (0, 0), ({top}, {bottom}), ({left}, {right})))  "
                        "# 'same': extra row/column at the bottom/right")
        step.append(f'x = conv2d(x, w["{key}.W"], {bias}, stride=({sh}, {sw}))')
        return step, ["conv2d"]
    if isinstance(layer, (MaxPool2D, AvgPool2D)):
        pool: Pool2D = layer
        reduce = "np.max" if isinstance(layer, MaxPool2D) else "np.mean"
        return [f"x = pool2d(x, {tuple(pool.pool)}, {tuple(pool.strides)}, {reduce})"], ["pool2d"]
    if isinstance(layer, Flatten):
        return ["x = x.reshape(len(x), -1)  # (C, H, W) flattened in C order"], []
    if isinstance(layer, Dropout):
        return ["pass  # Dropout: does nothing at inference"], []
    if isinstance(layer, Activation):
        function = layer.config["function"]
        if function == "linear":
            return ["pass  # linear: output = input"], []
        expression = _activation_expression(function)
        if expression is None:
            raise SpecError(f"cannot export layer {index} as a NumPy script: the activation {function!r} "
                            "has no NumPy form in the exporter yet")
        return [f"x = {expression}"], [h for h in ("softmax", "erf") if h in expression]
    raise SpecError(f"cannot export layer {index} as a NumPy script: the layer type {kind!r} has no NumPy "
                    "form in the exporter yet")


def _activation_expression(name: str) -> str | None:
    """The NumPy expression of activation ``name`` on ``x`` (helpers from ``_HELPERS``), or None."""
    if name == "relu":
        return "np.maximum(x, 0.0)"
    if name == "leaky_relu":
        return f"np.where(x > 0, x, {LEAKY_RELU_SLOPE!r} * x)"
    if name == "sigmoid":
        return "0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow"
    if name == "tanh":
        return "np.tanh(x)"
    if name == "softmax":
        return "softmax(x)"
    if name == "gelu":
        return "x * 0.5 * (1.0 + erf(x / np.sqrt(2.0)))  # exact GELU: x * Phi(x)"
    return None


def _template(net: Network, helpers: list[str], lines: list[str], out_shape: tuple[int, ...]) -> str:
    assert net.input_shape is not None
    in_text = f"(n, {', '.join(map(str, net.input_shape))})"
    out_text = f"(n, {', '.join(map(str, out_shape))})"
    imports = ["import math"] if "erf" in helpers else []
    imports += ["from pathlib import Path", "", "import numpy as np"]
    if {"conv2d", "pool2d"} & set(helpers):
        imports.append("from numpy.lib.stride_tricks import sliding_window_view")
    about = _metadata_lines(net.metadata or {})
    about_text = "".join(f"{_wrap(line)}\n" for line in about)
    helper_text = "\n\n".join(_HELPERS[h] for h in helpers)
    return f'''"""A {len(net.layers)}-layer network exported by nnstudio {__version__}: inference with NumPy only.

Input: x of shape {in_text} ({format_shape(net.input_shape)} per sample). Output: {out_text} class
probabilities. Computes in float64. Weights (engine layout: Dense W (in, out), Conv W (out, in,
kh, kw)) are in weights.npz beside this file.
{about_text}
Use: `from predict import predict; p = predict(x)`, or `python predict.py` for a smoke test.
"""

{chr(10).join(imports)}

_npz = np.load(Path(__file__).with_name("weights.npz"), allow_pickle=False)
w = {{key: _npz[key].astype(np.float64) for key in _npz.files}}

{helper_text}

def predict(x):
    """x {in_text} -> {out_text} probabilities, layer by layer."""
    x = np.asarray(x, dtype=np.float64)
{chr(10).join(lines)}
    return x


if __name__ == "__main__":
    sample = np.random.default_rng(0).random((2, {', '.join(map(str, net.input_shape))}))
    print(predict(sample).round(4))
'''


def _metadata_lines(meta: dict) -> list[str]:
    """What a user must know to feed the script: dataset, input scaling, class names."""
    about = []
    dataset = meta.get("dataset")
    if isinstance(dataset, dict) and dataset.get("name"):
        about.append(f"Trained on the dataset {dataset['name']!r}.")
    prep = meta.get("preprocessing")
    if isinstance(prep, dict) and prep:
        text = f"Scale raw inputs as in training: x = raw * {prep.get('scale', 1.0)!r}"
        if prep.get("source_range"):
            text += f" (raw values {prep['source_range'][0]}..{prep['source_range'][1]})"
        if prep.get("layout") == "image" and prep.get("image_shape"):
            text += f", shaped (n, 1, {', '.join(map(str, prep['image_shape']))})"
        elif prep.get("layout") == "flat" and prep.get("image_shape"):
            text += f", flattened row by row to (n, {int(np.prod(prep['image_shape']))})"
        about.append(text + ".")
    if meta.get("class_names"):
        about.append(f"Classes: {', '.join(map(str, meta['class_names']))}.")
    return about


def _wrap(text: str, width: int = 96) -> str:
    words, out, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return "\n".join(out)
