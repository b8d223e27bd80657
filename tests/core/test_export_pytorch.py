"""The PyTorch project export and import_weights, without PyTorch (CI has none).

Every export here runs with ``torch`` made unimportable, so the tests behave the same
whether or not it is installed; the runs with PyTorch (the exported model against the
engine on every preset, train.py on one and two processes) are the cross-check script
``benchmarks/check_pytorch_export.py``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from core import Network
from core.data.errors import DataError
from core.errors import ModelFileError, SpecError
from core.export.check import check_inputs
from core.export.pytorch import to_pytorch
from core.export.weights import import_weights, weights_bytes
from core.resource_files import resource_path

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted(resource_path("presets").glob("*.json"))


@pytest.fixture(autouse=True)
def no_torch(monkeypatch):
    """Make ``import torch`` fail (a None entry in sys.modules raises ImportError)."""
    monkeypatch.setitem(sys.modules, "torch", None)


def preset_network(path: Path) -> Network:
    preset = json.loads(path.read_text(encoding="utf-8"))
    net = Network.from_spec(preset["spec"])
    net.metadata["training"] = preset["training"]
    return net


def small_net(seed: int = 0, **optimizer) -> Network:
    return Network.from_spec({
        "input_shape": [1, 5, 5],
        "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 2, "padding": "same"},
                   {"type": "Activation", "function": "gelu"},
                   {"type": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2, "padding": "same"},
                   {"type": "AvgPool2D", "pool_size": 2, "stride": 1},
                   {"type": "Flatten"}, {"type": "Dropout", "rate": 0.5},
                   {"type": "Dense", "units": 4}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": optimizer or {"type": "Adam", "learning_rate": 0.01},
        "seed": seed})


def assignments(source: str) -> dict[str, object]:
    """Module-level NAME = literal assignments of a source file."""
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):  # not a literal (a Path, a call): not a setting
                values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_exports_a_complete_folder(tmp_path, path):
    net = preset_network(path)
    x = check_inputs(net.known_input_shape(), n=7)
    y = np.arange(7) % net.output_shape[0] if net.output_shape[0] > 1 else np.arange(7) % 2
    check = to_pytorch(net, tmp_path, data=(x, y))
    assert {p.name for p in tmp_path.iterdir()} == {"model.py", "train.py", "README.md", "weights.npz", "data.npz"}
    model_py = (tmp_path / "model.py").read_text(encoding="utf-8")
    train_py = (tmp_path / "train.py").read_text(encoding="utf-8")
    compile(model_py, "model.py", "exec")
    compile(train_py, "train.py", "exec")
    # One module per engine layer, in order, with the layer's index: model.layers[i] is layer i.
    for i, layer in enumerate(net.layers):
        assert f"# {i}: {layer.describe()} ->" in model_py
    assert "def build_model(" in model_py and ".eval()" in model_py
    # train.py carries the preset's training settings.
    preset = json.loads(path.read_text(encoding="utf-8"))
    constants = assignments(train_py)
    assert constants["EPOCHS"] == preset["training"]["epochs"]
    assert constants["BATCH_SIZE"] == preset["training"]["batch_size"]
    assert constants["LEARNING_RATE"] == preset["spec"]["optimizer"]["learning_rate"]
    assert constants["LOSS"] == preset["spec"]["loss"]
    assert constants["OPTIMIZER"] == preset["spec"]["optimizer"]["type"]
    assert "DistributedDataParallel" in train_py and "DistributedSampler" in train_py
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "torchrun --nproc_per_node=2 train.py" in readme and "--nnodes=2" in readme
    with np.load(tmp_path / "data.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["x"], x)
        np.testing.assert_array_equal(data["y"], y)
    # Without torch the export says it was not checked, and how to install it.
    assert not check.ran and not check.ok
    assert "pip install torch" in check.message


def test_weights_are_the_engines_names_and_layouts(tmp_path):
    net = small_net()
    to_pytorch(net, tmp_path)
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as saved:
        assert sorted(saved.files) == sorted(net.get_weights())
        for key, value in net.get_weights().items():
            np.testing.assert_array_equal(saved[key], value)
    assert net.get_weights()["layers.6.W"].shape == (12, 4)  # Dense (in, out): the engine's layout


def test_same_padding_becomes_the_engines_asymmetric_padding(tmp_path):
    to_pytorch(small_net(), tmp_path)
    model_py = (tmp_path / "model.py").read_text(encoding="utf-8")
    # kernel 2 on 5x5, stride 1: total padding 1, all of it at the bottom/right.
    assert "PaddedConv2d(1, 2, kernel_size=(2, 2), stride=(1, 1), pad=(0, 1, 0, 1))" in model_py
    # kernel 3 stride 2 on 5x5: output 3, total padding 2, one on each side: nn.Conv2d's own.
    assert "nn.Conv2d(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))" in model_py
    assert "nn.AvgPool2d(kernel_size=(2, 2), stride=(1, 1))" in model_py
    assert "nn.GELU(approximate='none')" in model_py and "nn.Dropout(p=0.5)" in model_py
    assert "nn.Softmax(dim=-1)" in model_py
    assert assignments(model_py)["LOSS_INPUT_LAYERS"] == 7  # the loss takes the logits before softmax


def test_logits_network_returns_logits_like_predict_and_probabilities_like_predict_proba(tmp_path):
    net = Network.from_spec({"input_shape": [3], "layers": [{"type": "Dense", "units": 2}],
                             "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}})
    to_pytorch(net, tmp_path)
    model_py = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert "return torch.softmax(self.layers(x), dim=-1)" in model_py  # probabilities(): as predict_proba
    forward = model_py[model_py.index("def forward(self, x):"):model_py.index("def probabilities(self, x):")]
    assert "return self.layers(x)" in forward  # forward(): as predict, the logits
    assert assignments(model_py)["LOSS_INPUT_LAYERS"] == 1


def test_train_py_has_the_optimizer_settings(tmp_path):
    net = small_net(**{"type": "SGD", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True,
                       "weight_decay": 0.001})
    net.metadata["training"] = {"epochs": 3, "batch_size": 16, "validation_split": 0.2, "shuffle": False}
    to_pytorch(net, tmp_path)
    train_py = (tmp_path / "train.py").read_text(encoding="utf-8")
    assert "torch.optim.SGD(parameters, lr=learning_rate, momentum=0.9, nesterov=True" in train_py
    assert "weight_decay=0.001" in train_py
    assert "F.cross_entropy(outputs, targets)" in train_py
    constants = assignments(train_py)
    assert (constants["EPOCHS"], constants["BATCH_SIZE"], constants["VALIDATION_SPLIT"], constants["SHUFFLE"]) \
        == (3, 16, 0.2, False)
    assert constants["LEARNING_RATE"] == 0.05


def test_import_weights_round_trip_gives_identical_predictions(tmp_path):
    trained = small_net(seed=1)
    to_pytorch(trained, tmp_path)
    other = small_net(seed=2)
    x = check_inputs(other.known_input_shape(), n=20)
    assert not np.array_equal(other.predict_proba(x), trained.predict_proba(x))
    import_weights(other, tmp_path / "weights.npz")
    np.testing.assert_array_equal(other.predict_proba(x), trained.predict_proba(x))


def test_import_weights_casts_float64_files(tmp_path):
    net = small_net()
    weights = {key: value.astype(np.float64) + 1 for key, value in net.get_weights().items()}
    (tmp_path / "w.npz").write_bytes(weights_bytes(weights))
    import_weights(net, tmp_path / "w.npz")
    assert net.get_weights()["layers.0.b"].dtype == np.float32
    np.testing.assert_allclose(net.get_weights()["layers.0.b"], weights["layers.0.b"])


def _refused(net: Network, path: Path, error: type[Exception], *words: str) -> None:
    before = net.get_weights()
    with pytest.raises(error) as info:
        import_weights(net, path)
    for word in words:
        assert word in str(info.value)
    for key, value in net.get_weights().items():
        np.testing.assert_array_equal(value, before[key])  # nothing changed


def test_import_weights_refuses_a_misshapen_weight_with_a_sentence(tmp_path):
    weights = small_net().get_weights()
    weights["layers.6.W"] = weights["layers.6.W"].T.copy()  # the PyTorch layout, not the engine's
    (tmp_path / "w.npz").write_bytes(weights_bytes(weights))
    _refused(small_net(), tmp_path / "w.npz", SpecError, "layers.6.W has shape (4, 12)", "needs (12, 4)")


def test_import_weights_refuses_missing_and_unexpected_names(tmp_path):
    weights = small_net().get_weights()
    del weights["layers.0.b"]
    (tmp_path / "missing.npz").write_bytes(weights_bytes(weights))
    _refused(small_net(), tmp_path / "missing.npz", SpecError, "layers.0.b is missing")
    weights = {**small_net().get_weights(), "layers.9.W": np.zeros(3, np.float32)}
    (tmp_path / "extra.npz").write_bytes(weights_bytes(weights))
    _refused(small_net(), tmp_path / "extra.npz", SpecError, "layers.9.W", "does not")


def test_import_weights_refuses_bad_files(tmp_path):
    net = small_net()
    _refused(net, tmp_path / "nowhere.npz", DataError, "is not a file")
    (tmp_path / "text.npz").write_text("not a zip")
    _refused(net, tmp_path / "text.npz", DataError, "not a readable .npz weight file")
    weights = net.get_weights()
    weights["layers.0.W"] = np.full_like(weights["layers.0.W"], np.nan)
    (tmp_path / "nan.npz").write_bytes(weights_bytes(weights))
    _refused(net, tmp_path / "nan.npz", DataError, "layers.0.W contains NaN")
    objects = {**net.get_weights(), "layers.0.W": np.empty(net.get_weights()["layers.0.W"].shape, dtype=object)}
    np.savez(tmp_path / "pickle.npz", **objects)  # object arrays are pickled: refused unread
    _refused(net, tmp_path / "pickle.npz", DataError, "layers.0.W holds object values")


def test_import_weights_refuses_an_unbuilt_network(tmp_path):
    to_pytorch(small_net(), tmp_path)
    net = Network.from_spec(small_net().to_spec(), build=False)
    with pytest.raises(SpecError, match="not built"):
        import_weights(net, tmp_path / "weights.npz")


def test_refusals_write_nothing(tmp_path):
    unbuilt = Network.from_spec(small_net().to_spec(), build=False)
    with pytest.raises(SpecError, match="not built"):
        to_pytorch(unbuilt, tmp_path / "a")
    net = small_net()
    net.layers[4].type_name = "Mystery"  # a layer type the exporter does not know
    with pytest.raises(SpecError, match="layer 5 is a Mystery"):
        to_pytorch(net, tmp_path / "b")
    with pytest.raises(DataError, match="training inputs to export have shape"):
        to_pytorch(small_net(), tmp_path / "c", data=(np.zeros((3, 25)), np.zeros(3)))
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_file_in_the_way_is_a_sentence(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ModelFileError, match="cannot export to the folder"):
        to_pytorch(small_net(), tmp_path / "taken")


def test_modules_do_not_import_torch():
    code = ("import sys, core.export.pytorch, core.export.weights; "
            "print(sorted(m for m in ('torch', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def test_a_trained_networks_optimizer_state_is_exported_for_train_py(tmp_path):
    net = small_net()
    x = check_inputs(net.known_input_shape(), n=8)
    net.fit(x, np.arange(8) % 4, epochs=2, batch_size=4)
    to_pytorch(net, tmp_path)
    state = net.optimizer.state_dict()
    with np.load(tmp_path / "optimizer.npz", allow_pickle=False) as saved:
        assert saved["iterations"].shape == () and int(saved["iterations"]) == state["iterations"] == 4
        assert sorted(k for k in saved.files if k != "iterations") == sorted(state["slots"])
        np.testing.assert_array_equal(saved["layers.6.W/m"], state["slots"]["layers.6.W/m"])  # engine layout
    constants = assignments((tmp_path / "train.py").read_text(encoding="utf-8"))
    assert constants["SLOT_NAMES"] == {"m": "exp_avg", "v": "exp_avg_sq"} and constants["STEP_NAME"] == "step"
    # An export of an untrained network leaves no optimizer state behind, not even an earlier one.
    to_pytorch(small_net(), tmp_path)
    assert not (tmp_path / "optimizer.npz").exists()


def test_model_py_records_class_names_and_preprocessing(tmp_path):
    net = small_net()
    net.metadata["class_names"] = ["cat", "dog", "bird", "fish"]
    net.metadata["preprocessing"] = {"scale": 1 / 255, "layout": "image", "invert": True, "offset": None}
    to_pytorch(net, tmp_path)
    constants = assignments((tmp_path / "model.py").read_text(encoding="utf-8"))
    assert constants["CLASS_NAMES"] == ["cat", "dog", "bird", "fish"]
    assert constants["PREPROCESSING"] == net.metadata["preprocessing"]
    assert constants["INPUT_SHAPE"] == (1, 5, 5)


def test_an_exported_model_that_fails_to_run_is_a_red_line_not_an_exception(tmp_path, monkeypatch):
    # A torch that imports but cannot run model.py (it has no torch.nn).
    fake = types.ModuleType("torch")
    fake.__version__ = "0.0+fake"
    monkeypatch.setitem(sys.modules, "torch", fake)
    for name in [name for name in sys.modules if name.startswith("torch.")]:  # a real torch imported earlier
        monkeypatch.delitem(sys.modules, name)
    check = to_pytorch(small_net(), tmp_path)
    assert check.ran and not check.ok
    assert check.message.startswith("✗ PyTorch 0.0 failed to run the exported model: ModuleNotFoundError")
    assert (tmp_path / "model.py").is_file()  # the files stay written
