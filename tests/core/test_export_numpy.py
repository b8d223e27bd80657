"""The NumPy-script export: predict.py + weights.npz reproduce ``predict_proba`` for every
preset, every layer case and every activation, stand alone (NumPy only), and refuse what they
cannot express."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import Network, load_model
from core.errors import ModelFileError, SpecError
from core.export.numpy_script import SCRIPT_NAME, WEIGHTS_NAME, _check, to_numpy
from core.resource_files import resource_path
from tests.core.layer_cases import LAYER_CASES
from tests.core.stateful_layer import registered

PRESET_NAMES = ["01-xor-seed1", "02-digits-seed2", "03-mnist-mlp-seed1", "04-mnist-mlp", "05-mnist-cnn",
                "06-spirals"]


def _preset_spec(name: str) -> dict:
    with resource_path(f"presets/{name}.json").open(encoding="utf-8") as f:
        return json.load(f)["spec"]


def _case_network(config: dict, input_shape: tuple[int, ...], type_name: str, dtype: str = "float64") -> Network:
    """The layer under test, then Flatten, Dense(3), softmax: class probabilities depend on
    every output value of the layer (random weights, so a wrong pad or stride shows)."""
    layers = [{"type": type_name, **config}]
    if type_name in ("Conv2D", "MaxPool2D", "AvgPool2D") or len(input_shape) == 3:
        layers.append({"type": "Flatten"})
    layers += [{"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}]
    return Network.from_spec({"input_shape": list(input_shape), "layers": layers, "loss": "cross_entropy",
                              "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 3, "dtype": dtype})


def _script_lines(folder) -> list[str]:
    return (folder / SCRIPT_NAME).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_matches_the_engine(tmp_path, name):
    """As shipped (float32 engine vs the float64 script): within the export tolerance (1e-5;
    measured 7e-8 … 8e-7 on random inputs); the same preset as a float64 network: to 1e-6
    and far below (the script computes in float64, so only summation order differs)."""
    net = Network.from_spec(_preset_spec(name))
    check = to_numpy(net, tmp_path / "f32")
    assert check.ran and check.ok, check.message
    assert check.samples == 200
    assert check.agreement == 1.0
    assert check.message.startswith("✓ NumPy script (float64) matches the engine")
    assert len(_script_lines(tmp_path / "f32")) <= 80
    net64 = Network.from_spec({**_preset_spec(name), "dtype": "float64"})
    check64 = to_numpy(net64, tmp_path / "f64")
    assert check64.ok and check64.max_prob_diff <= 1e-6 and check64.max_prob_diff <= 1e-12, check64.message


CASES = [(t, config, shape) for t, cases in LAYER_CASES.items() for config, shape in cases]


@pytest.mark.parametrize(("type_name", "config", "shape"), CASES,
                         ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(CASES)])
def test_every_layer_case_matches_a_float64_engine_exactly(tmp_path, type_name, config, shape):
    """float64 network: the script computes in float64 too, so only rounding differs (≤ 1e-12)."""
    net = _case_network(config, shape, type_name)
    check = to_numpy(net, tmp_path)
    assert check.ok, check.message
    assert check.max_prob_diff <= 1e-12, (type_name, config, check.max_prob_diff)


@pytest.mark.parametrize("function", ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "linear", "gelu"])
def test_every_activation_after_a_dense_layer_matches(tmp_path, function):
    """Inputs centred on 0 (both signs, so relu/leaky_relu/gelu kinks and tails are exercised)."""
    spec = {"input_shape": [4], "layers": [{"type": "Dense", "units": 6},
                                           {"type": "Activation", "function": function},
                                           {"type": "Dense", "units": 3},
                                           {"type": "Activation", "function": "softmax"}],
            "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 1}
    net = Network.from_spec(spec)
    x = np.random.default_rng(5).normal(0, 3, (200, 4)).astype(np.float32)
    check = to_numpy(net, tmp_path, x)
    assert check.ok and check.max_prob_diff <= 1e-6, check.message


def test_conv_same_padding_stride_2_and_avg_pool_in_one_network(tmp_path):
    spec = {"input_shape": [2, 9, 8], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 4, "stride": 2, "padding": "same"},
        {"type": "Activation", "function": "gelu"},
        {"type": "AvgPool2D", "pool_size": 2, "stride": 1},
        {"type": "Conv2D", "filters": 2, "kernel_size": [3, 2], "stride": [2, 1], "padding": "same", "use_bias": False},
        {"type": "MaxPool2D", "pool_size": [2, 1]},
        {"type": "Flatten"}, {"type": "Dropout", "rate": 0.3},
        {"type": "Dense", "units": 4}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 7}
    net = Network.from_spec(spec)
    check = to_numpy(net, tmp_path)
    assert check.ok and check.max_prob_diff <= 1e-6, check.message
    text = "\n".join(_script_lines(tmp_path))
    # TensorFlow "same" for 9 rows, kernel 4, stride 2: total 3 = 1 top + 2 bottom
    assert "np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 1)))" in text
    assert "np.mean" in text and "np.max" in text and "erf" in text


def test_outputs_read_as_logits_get_the_losses_softmax(tmp_path):
    """A network ending in Dense with cross_entropy: predict_proba softmaxes the outputs; the script too."""
    spec = {"input_shape": [3], "layers": [{"type": "Dense", "units": 4}], "loss": "cross_entropy",
            "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 2}
    net = Network.from_spec(spec)
    x = np.random.default_rng(0).normal(0, 4, (50, 3)).astype(np.float32)
    check = to_numpy(net, tmp_path, x)
    assert check.ok, check.message
    assert check.samples == 50
    assert "logits" in "\n".join(_script_lines(tmp_path))


def test_the_shipped_model_script_is_short_readable_and_numpy_only(tmp_path):
    net = load_model(str(resource_path("models/mnist_cnn.nnz")))
    check = to_numpy(net, tmp_path)
    assert check.ok and check.max_prob_diff <= 1e-6, check.message
    lines = _script_lines(tmp_path)
    assert len(lines) <= 80
    text = "\n".join(lines)
    assert "# 0: Conv2D 32 3×3 same -> (n, 32, 28, 28)" in text  # comments give layer and shape
    assert "x = raw * 0.00392156862745098" in text  # the preprocessing a user must apply
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"math", "pathlib", "numpy", "numpy.lib.stride_tricks"}
    with np.load(tmp_path / WEIGHTS_NAME, allow_pickle=False) as saved:
        assert set(saved.files) == set(net.get_weights())


def test_the_script_runs_alone_without_nnstudio_on_the_path(tmp_path):
    net = Network.from_spec(_preset_spec("02-digits-seed2"))
    to_numpy(net, tmp_path)
    x = np.random.default_rng(1).random((5, *net.input_shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import sys, numpy as np; sys.modules['core'] = None; from predict import predict; "
            "np.save('p.npy', predict(np.load('x.npy')))")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=60)
    p = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(p, net.predict_proba(x), atol=1e-6)


def test_a_tampered_weights_file_gives_a_red_line(tmp_path):
    """The check compares for real: transposing a weight matrix is caught."""
    spec = {"input_shape": [4], "layers": [{"type": "Dense", "units": 4},
                                           {"type": "Activation", "function": "softmax"}],
            "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 4}
    net = Network.from_spec(spec)
    assert to_numpy(net, tmp_path).ok
    weights = net.get_weights()
    weights["layers.0.W"] = weights["layers.0.W"].T.copy()
    np.savez(tmp_path / WEIGHTS_NAME, **weights)
    check = _check(net, tmp_path, None)
    assert not check.ok
    assert check.message.startswith("✗ NumPy script (float64) differs from the engine")


def test_an_unbuilt_network_is_refused_and_nothing_is_written(tmp_path):
    net = Network.from_spec({"input_shape": [3], "layers": [{"type": "Dense", "units": 2}], "loss": "mse",
                             "optimizer": {"type": "SGD", "learning_rate": 0.1}}, build=False)
    with pytest.raises(SpecError, match="not built"):
        to_numpy(net, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_layer_with_state_is_refused_with_a_sentence(tmp_path):
    with registered():
        net = Network.from_spec({"input_shape": [3], "layers": [{"type": "TestCenter"}, {"type": "Dense", "units": 2}],
                                 "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 0.1}})
        with pytest.raises(SpecError, match=r"cannot export layer 0 \(TestCenter\).*state"):
            to_numpy(net, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    net = Network.from_spec(_preset_spec("01-xor-seed1"))
    with pytest.raises(ModelFileError, match="taken"):
        to_numpy(net, blocker)
    assert blocker.read_text() == "keep me"


def test_a_file_where_the_folder_should_be_is_named_as_such(tmp_path):
    from core.atomic_write import export_folder

    (tmp_path / "taken").write_text("keep")
    with pytest.raises(ModelFileError, match=r"'.*taken': it is a file, not a folder; choose a new folder name"):
        export_folder(tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "keep"
    assert export_folder(tmp_path / "new" / "deeper").is_dir()
