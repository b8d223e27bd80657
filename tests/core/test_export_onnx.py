"""ONNX export (issue 19, item 1): every layer type, every activation, every preset and the
shipped model are written by ``core.export.onnx.to_onnx`` as files the official checker
accepts and onnxruntime runs to the engine's probabilities (max |Δp| ≤ 1e-5, same class)
on 200 samples; what ONNX export cannot express is refused with a sentence, writing nothing.

``onnx`` and ``onnxruntime`` come with the ``test`` extra; the exporter itself imports
neither (it writes the protobuf with the standard library).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

import core
from core import Network
from core.data.errors import DataError
from core.errors import ModelFileError, SpecError
from core.export import onnx as onnx_export
from core.export import protobuf as pb
from core.export.check import CHECK_SAMPLES, TOLERANCE
from core.export.onnx import (
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAME,
    onnx_bytes,
    supported_activations,
    supported_layer_types,
    to_onnx,
)
from core.registry import ACTIVATION_REGISTRY, LAYER_REGISTRY, layer_from_config
from core.resource_files import resource_file
from core.version import __version__
from tests.core.layer_cases import LAYER_CASES
from tests.core.stateful_layer import registered

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "resources" / "presets").glob("*.json"))


# -- helpers ---------------------------------------------------------------------------------------

def _randomize(net: Network, seed: int = 0, scale: float = 0.5) -> Network:
    """Give every parameter (biases too, which start at zero) random values, so a dropped
    bias, a transposed weight or a misplaced padding row changes the outputs."""
    rng = np.random.default_rng(seed)
    net.set_weights({k: rng.normal(0.0, scale, w.shape) for k, w in net.get_weights().items()})
    return net


def _normal_inputs(net: Network, seed: int = 1, n: int = CHECK_SAMPLES) -> np.ndarray:
    """(n, *input_shape) float32 inputs of both signs (relu, leaky_relu and gelu differ on negatives)."""
    return np.random.default_rng(seed).normal(0.0, 1.5, (n, *net.input_shape)).astype(np.float32)


def _net(input_shape, layers, loss="mse") -> Network:
    return Network.from_spec({"input_shape": list(input_shape), "layers": layers, "loss": loss,
                              "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 3})


def _assert_faithful(net: Network, path: Path, x: np.ndarray | None = None) -> onnx.ModelProto:
    """Export, then check the file independently of the exporter's own check: the official
    checker (full_check: shape inference included) and our own onnxruntime run on 200 samples."""
    check = to_onnx(net, path, x)
    assert check.ran and check.ok, check.message
    assert check.samples == CHECK_SAMPLES
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == IR_VERSION and [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]

    inputs = (np.asarray(x, dtype=np.float32)[:CHECK_SAMPLES] if x is not None
              else np.random.default_rng(0).random((CHECK_SAMPLES, *net.input_shape), dtype=np.float32))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = session.run([OUTPUT_NAME], {INPUT_NAME: inputs})[0]
    expected = net.predict_proba(inputs)
    assert exported.shape == expected.shape
    assert float(np.max(np.abs(exported - expected))) <= TOLERANCE
    if expected.shape[1] > 1:
        assert np.array_equal(exported.argmax(axis=1), expected.argmax(axis=1))
    else:
        assert np.array_equal(exported > 0.5, expected > 0.5)
    return model


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# -- every layer type and activation -------------------------------------------------------------

LAYER_CASE_IDS = [(name, i) for name, cases in LAYER_CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize(("type_name", "case"), LAYER_CASE_IDS, ids=[f"{n}-{i}" for n, i in LAYER_CASE_IDS])
def test_every_layer_case_alone_exports_to_the_engines_outputs(type_name, case, tmp_path):
    # The layer alone (Flatten after it when its output is an image), loss mse: the output
    # is the layer's own output, so every value of it is compared, not only a class.
    config, input_shape = LAYER_CASES[type_name][case]
    layers = [{"type": type_name, **config}]
    if len(layer_from_config(dict(layers[0])).output_shape(input_shape)) != 1:
        layers.append({"type": "Flatten"})
    net = _net(input_shape, layers)
    _randomize(net)
    model = _assert_faithful(net, tmp_path / "layer.onnx", _normal_inputs(net))
    if type_name == "Dropout":
        assert "Dropout" not in _ops(model)  # identity at inference: no node


@pytest.mark.parametrize("function", ACTIVATION_REGISTRY.names())
def test_every_registered_activation_exports(function, tmp_path):
    net = _randomize(_net((6,), [{"type": "Dense", "units": 5}, {"type": "Activation", "function": function},
                                 {"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}],
                          loss="cross_entropy"))
    _assert_faithful(net, tmp_path / f"{function}.onnx", _normal_inputs(net))


def test_every_registered_layer_type_and_activation_has_a_converter():
    # A new layer type or activation fails here until the ONNX export can write it.
    assert {cls.type_name for cls in supported_layer_types()} >= set(LAYER_REGISTRY.names())
    assert set(supported_activations()) >= set(ACTIVATION_REGISTRY.names())


def test_leaky_relu_and_gelu_are_written_with_the_engines_constants(tmp_path):
    net = _randomize(_net((4,), [{"type": "Activation", "function": "leaky_relu"},
                                 {"type": "Activation", "function": "gelu"}]))
    model = _assert_faithful(net, tmp_path / "m.onnx", _normal_inputs(net))
    leaky = next(n for n in model.graph.node if n.op_type == "LeakyRelu")
    assert _attributes(leaky)["alpha"] == pytest.approx(0.01)
    # GELU with plain operators (no Gelu op before opset 20): Div, Erf, Add, Mul, Mul.
    assert _ops(model)[1:] == ["Div", "Erf", "Add", "Mul", "Mul"]
    constants = {t.name: float(onnx.numpy_helper.to_array(t)) for t in model.graph.initializer}
    assert constants["layers.1.sqrt2"] == pytest.approx(math.sqrt(2.0))


# -- convolution geometry: stride 2, "same" with asymmetric padding, pooling stride ≠ pool ----------

def _cnn() -> Network:
    return _randomize(_net((2, 13, 12), [
        {"type": "Conv2D", "filters": 4, "kernel_size": [4, 3], "stride": 2, "padding": "same"},
        {"type": "Activation", "function": "relu"},
        {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "use_bias": False},
        {"type": "Activation", "function": "tanh"},
        {"type": "MaxPool2D", "pool_size": 3, "stride": 2},
        {"type": "AvgPool2D", "pool_size": [2, 1], "stride": 1},
        {"type": "Flatten"},
        {"type": "Dropout", "rate": 0.3},
        {"type": "Dense", "units": 5},
        {"type": "Activation", "function": "gelu"},
        {"type": "Dense", "units": 4},
        {"type": "Activation", "function": "softmax"},
    ], loss="cross_entropy"), scale=0.7)


def test_cnn_with_stride_2_same_padding_and_overlapping_pools_matches(tmp_path):
    net = _cnn()
    assert [layer.built_shape() for layer in net.layers[:6]] == [
        (4, 7, 6), (4, 7, 6), (3, 7, 6), (3, 7, 6), (3, 3, 2), (3, 2, 2)]
    model = _assert_faithful(net, tmp_path / "cnn.onnx", _normal_inputs(net))
    conv1, conv2 = (n for n in model.graph.node if n.op_type == "Conv")
    # 13 rows, kernel 4, stride 2: 7 rows out, 3 rows of padding, the extra one at the bottom;
    # 12 columns, kernel 3, stride 2: 6 out, 1 column of padding, at the right (TensorFlow's "same").
    assert _attributes(conv1)["pads"] == [1, 0, 2, 1]
    assert _attributes(conv1)["strides"] == [2, 2] and _attributes(conv1)["kernel_shape"] == [4, 3]
    assert _attributes(conv2)["pads"] == [1, 1, 1, 1] and list(conv2.input) == ["layers.1.relu", "layers.2.W"]
    maxpool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    avgpool = next(n for n in model.graph.node if n.op_type == "AveragePool")
    assert _attributes(maxpool)["kernel_shape"] == [3, 3] and _attributes(maxpool)["strides"] == [2, 2]
    assert _attributes(avgpool)["kernel_shape"] == [2, 1] and _attributes(avgpool)["strides"] == [1, 1]
    assert "Dropout" not in _ops(model)


def test_symmetric_padding_would_be_caught(tmp_path):
    # The comparison is sharp enough to see one misplaced padding row: the same file with the
    # first convolution padded the PyTorch way (extra row at the top) differs from the engine.
    net = _cnn()
    model = onnx.load_from_string(onnx_bytes(net))
    conv1 = next(n for n in model.graph.node if n.op_type == "Conv")
    pads = next(a for a in conv1.attribute if a.name == "pads")
    pads.ints[:] = [2, 1, 1, 0]
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = _normal_inputs(net)
    wrong = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    assert float(np.max(np.abs(wrong - net.predict_proba(x)))) > 100 * TOLERANCE


# -- presets, the shipped model, the output the loss implies -----------------------------------------

@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_exports(preset, tmp_path):
    spec = json.loads(preset.read_text(encoding="utf-8"))["spec"]
    net = _randomize(Network.from_spec(spec), scale=0.2)
    _assert_faithful(net, tmp_path / "preset.onnx")


def test_the_shipped_model_exports_with_its_preprocessing_and_class_names(tmp_path):
    with resource_file("models/mnist_cnn.nnz") as model_file:
        net = core.load_model(model_file)
    model = _assert_faithful(net, tmp_path / "mnist.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["class_names"]) == [str(d) for d in range(10)]
    assert json.loads(props["preprocessing"]) == net.metadata["preprocessing"]
    assert props["dataset"] == "mnist"
    assert "NCHW" in props["input_layout"] and "(batch, 1, 28, 28)" in props["input_layout"]
    assert model.producer_name == "nnstudio" and model.producer_version == __version__
    (graph_input,), (graph_output,) = model.graph.input, model.graph.output
    assert graph_input.name == INPUT_NAME and graph_output.name == OUTPUT_NAME
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 28, 28]
    assert [d.dim_param or d.dim_value for d in graph_output.type.tensor_type.shape.dim] == ["batch", 10]
    # The batch axis is dynamic: one drawing or a batch of 7 both run.
    session = onnxruntime.InferenceSession(str(tmp_path / "mnist.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        x = np.random.default_rng(n).random((n, 1, 28, 28), dtype=np.float32)
        out = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        assert out.shape == (n, 10) and np.allclose(out, net.predict_proba(x), atol=TOLERANCE)


@pytest.mark.parametrize(("loss", "units", "appended"), [("cross_entropy", 3, "Softmax"),
                                                          ("binary_cross_entropy", 1, "Sigmoid")])
def test_a_network_ending_in_logits_exports_the_probabilities_its_loss_implies(loss, units, appended, tmp_path):
    net = _randomize(_net((4,), [{"type": "Dense", "units": 6}, {"type": "Activation", "function": "tanh"},
                                 {"type": "Dense", "units": units}], loss=loss), scale=1.5)
    x = _normal_inputs(net)
    assert not np.allclose(net.predict(x), net.predict_proba(x), atol=1e-3)  # the activation matters
    model = _assert_faithful(net, tmp_path / "logits.onnx", x)
    assert _ops(model)[-1] == appended and model.graph.node[-1].output[0] == OUTPUT_NAME
    assert appended.lower() in {p.key: p.value for p in model.metadata_props}["output"]


def test_a_float64_network_exports_in_float32_within_tolerance(tmp_path):
    spec = {"input_shape": [5], "loss": "cross_entropy", "dtype": "float64",
            "layers": [{"type": "Dense", "units": 4}, {"type": "Activation", "function": "softmax"}]}
    _assert_faithful(_randomize(Network.from_spec(spec)), tmp_path / "f64.onnx")


# -- refusals, the file on disk, a missing runtime ----------------------------------------------------

def test_an_unbuilt_network_is_refused_and_nothing_is_written(tmp_path):
    net = Network.from_spec(json.loads(PRESETS[0].read_text(encoding="utf-8"))["spec"], build=False)
    with pytest.raises(SpecError, match="not built"):
        to_onnx(net, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_layer_type_the_export_does_not_know_is_refused_by_name(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous export")
    with registered():
        net = _net((3,), [{"type": "Dense", "units": 3}, {"type": "TestCenter"}])
        with pytest.raises(SpecError, match=r"layer 2 \(TestCenter\) cannot be exported to ONNX"):
            to_onnx(net, target)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_an_activation_the_export_cannot_write_is_refused_by_name(tmp_path, monkeypatch):
    # As a newly registered activation would be before the export learns it (the
    # converter-per-registered-type test above fails for it too).
    monkeypatch.delitem(onnx_export._ACTIVATION_CONVERTERS, "gelu")
    net = _net((3,), [{"type": "Dense", "units": 3}, {"type": "Activation", "function": "gelu"}])
    with pytest.raises(SpecError, match=r"layer 2 \(gelu\) cannot be exported to ONNX: .* no 'gelu' activation"):
        to_onnx(net, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_check_inputs_of_the_wrong_shape_are_refused(tmp_path):
    net = _net((4,), [{"type": "Dense", "units": 2}])
    with pytest.raises(DataError, match=r"check inputs have shape \(5, 3\)"):
        to_onnx(net, tmp_path / "m.onnx", np.zeros((5, 3)))


def test_check_inputs_the_engine_refuses_leave_no_file(tmp_path):
    net = _net((4,), [{"type": "Dense", "units": 2}])
    x = np.ones((3, 4), dtype=np.float32)
    x[1, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        to_onnx(net, tmp_path / "m.onnx", x)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_or_a_missing_folder_is_refused_with_a_sentence(tmp_path):
    net = _net((4,), [{"type": "Dense", "units": 2}])
    with pytest.raises(ModelFileError, match="it is a folder"):
        to_onnx(net, tmp_path)
    with pytest.raises(ModelFileError, match=r"cannot write the ONNX file .*No such file or directory"):
        to_onnx(net, tmp_path / "missing" / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_an_export_replaces_the_previous_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"x" * 100_000)
    net = _net((4,), [{"type": "Dense", "units": 2}])
    to_onnx(net, target)
    assert target.read_bytes() == onnx_bytes(net)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_link_is_written_through_and_the_files_permissions_are_kept(tmp_path):
    real = tmp_path / "real.onnx"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "link.onnx"
    link.symlink_to(real)
    net = _net((4,), [{"type": "Dense", "units": 2}])
    to_onnx(net, link)
    assert link.is_symlink() and real.read_bytes() == onnx_bytes(net)
    assert real.stat().st_mode & 0o777 == 0o640


def test_a_runtime_that_cannot_run_the_file_is_a_red_check_not_a_crash(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : something\nwith two lines")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    check = to_onnx(_net((4,), [{"type": "Dense", "units": 2}]), tmp_path / "m.onnx")
    assert check.ran and not check.ok
    assert check.message.startswith("✗ ONNX (onnxruntime")
    assert "INVALID_GRAPH : something with two lines" in check.message


def test_without_onnxruntime_the_file_is_written_and_the_check_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    net = _net((4,), [{"type": "Dense", "units": 2}])
    check = to_onnx(net, tmp_path / "m.onnx")
    assert not check.ran and not check.ok
    assert "pip install onnxruntime" in check.message
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)


def test_the_exporter_imports_neither_onnx_nor_onnxruntime_to_write(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['onnxruntime'] = None\n"
        "import core\n"
        "from core.export.onnx import to_onnx\n"
        "net = core.Network.from_spec({'input_shape': [3], 'layers': [{'type': 'Dense', 'units': 2}]})\n"
        f"check = to_onnx(net, {str(tmp_path / 'm.onnx')!r})\n"
        "assert not check.ran, check\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'torch', 'google'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "m.onnx").stat().st_size > 0


# -- the protobuf writer, against the protobuf documentation's examples -------------------------------

def test_varints_and_fields_are_encoded_as_protobuf_documents():
    assert pb.varint(1) == b"\x01"
    assert pb.varint(150) == b"\x96\x01"  # the encoding guide's example
    assert pb.varint(300) == b"\xac\x02"
    assert pb.varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes, two's complement
    assert pb.int_field(1, 150) == b"\x08\x96\x01"
    assert pb.string_field(2, "testing") == b"\x12\x07testing"
    assert pb.float_field(2, 1.0) == b"\x15\x00\x00\x80\x3f"


def test_an_attribute_with_a_negative_int_reads_back():
    attribute = onnx.AttributeProto.FromString(pb.attribute("axis", -1))
    assert attribute.name == "axis" and attribute.type == onnx.AttributeProto.INT and attribute.i == -1
    ints = onnx.AttributeProto.FromString(pb.attribute("pads", [0, 1, 2, 3]))
    assert list(ints.ints) == [0, 1, 2, 3] and ints.type == onnx.AttributeProto.INTS
