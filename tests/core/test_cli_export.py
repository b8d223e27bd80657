"""``nnstudio-cli export`` (ONNX, PyTorch project, NumPy script, several at once, each with its
check line) and ``nnstudio-cli import-weights``: output, files, exit codes, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import Network, load_model, save_model
from core.cli import main
from core.export.check import ExportCheck
from core.resource_files import resource_path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _digits_model(path, seed: int = 2, dataset: bool = True):
    """The digits preset's network (64 inputs, 10 classes), saved with its dataset named."""
    with resource_path("presets/02-digits-seed2.json").open(encoding="utf-8") as f:
        spec = json.load(f)["spec"]
    spec["seed"] = seed
    net = Network.from_spec(spec)
    if dataset:
        net.metadata["dataset"] = {"name": "digits8x8", "params": {}}
    save_model(net, path)
    return net


def _check_line_ok(line: str) -> bool:
    """A green line, or a "not checked" line saying how to install the runtime."""
    return line.startswith("✓") or (line.startswith("not checked:") and "pip install" in line)


def test_export_numpy_prints_a_green_check_line_on_the_models_dataset(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    code, out, err = run(capsys, "export", tmp_path / "m.nnz", "--numpy", tmp_path / "np")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"NumPy script written to {tmp_path / 'np'}"
    assert lines[1].strip().startswith("✓ NumPy script (float64) matches the engine: largest probability difference")
    assert lines[1].endswith("same class for 200 of 200 samples")
    assert err == ""  # the digits are at hand: no "random inputs" note
    assert (tmp_path / "np" / "predict.py").is_file() and (tmp_path / "np" / "weights.npz").is_file()


def test_export_of_a_model_without_a_dataset_checks_on_random_inputs_and_says_so(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz", dataset=False)
    code, out, err = run(capsys, "export", tmp_path / "m.nnz", "--numpy", tmp_path / "np")
    assert code == 0
    assert "random inputs" in err
    assert "✓ NumPy script" in out


def test_export_onnx_pytorch_and_numpy_at_once(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    code, out, err = run(capsys, "export", tmp_path / "m.nnz", "--onnx", tmp_path / "m.onnx",
                         "--pytorch", tmp_path / "torch", "--numpy", tmp_path / "np")
    assert code == 0, err
    lines = out.splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [
        f"ONNX model written to {tmp_path / 'm.onnx'}", f"PyTorch project written to {tmp_path / 'torch'}",
        f"NumPy script written to {tmp_path / 'np'}"]
    checks = [line.strip() for line in lines if line.startswith("  ")]
    assert len(checks) == 3 and all(_check_line_ok(c) for c in checks), checks
    assert (tmp_path / "m.onnx").stat().st_size > 0
    for name in ("model.py", "train.py", "weights.npz"):
        assert (tmp_path / "torch" / name).is_file()
    # the project bundles the samples the model may train on: the digits without their test part
    with np.load(tmp_path / "torch" / "data.npz") as bundled:
        assert bundled["x"].shape[1:] == (64,) and len(bundled["x"]) == len(bundled["y"])
        assert 1_300 < len(bundled["x"]) < 1_797


def test_export_onnx_alone(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    code, out, err = run(capsys, "export", tmp_path / "m.nnz", "--onnx", tmp_path / "m.onnx")
    assert code == 0, err
    assert out.splitlines()[0] == f"ONNX model written to {tmp_path / 'm.onnx'}"
    assert _check_line_ok(out.splitlines()[1].strip())


def test_export_with_nothing_to_export_is_a_usage_error(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    code, out, err = run(capsys, "export", tmp_path / "m.nnz")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "say what to export: --onnx OUT.onnx, --pytorch DIR and/or --numpy DIR" in err


def test_export_to_a_folder_that_is_a_file_fails_in_one_line_and_keeps_the_file(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    (tmp_path / "taken").write_text("keep")
    code, _, err = run(capsys, "export", tmp_path / "m.nnz", "--numpy", tmp_path / "taken")
    assert code == 2
    assert err.count("\n") == 1 and "taken" in err and "Traceback" not in err
    assert (tmp_path / "taken").read_text() == "keep"


def test_export_with_an_unknown_dataset_is_refused(tmp_path, capsys):
    _digits_model(tmp_path / "m.nnz")
    code, _, err = run(capsys, "export", tmp_path / "m.nnz", "--numpy", tmp_path / "np", "--dataset", "nope")
    assert code == 2 and err.count("\n") == 1 and "nope" in err
    assert not (tmp_path / "np").exists()


def test_an_export_that_differs_from_the_engine_exits_1(tmp_path, capsys, monkeypatch):
    import core.export.numpy_script as numpy_script

    red = ExportCheck("NumPy script (float64)", True, 200, 0.3, 0.5, "✗ NumPy script (float64) differs from the engine")
    monkeypatch.setattr(numpy_script, "to_numpy", lambda net, folder, x=None: red)
    _digits_model(tmp_path / "m.nnz")
    code, out, _ = run(capsys, "export", tmp_path / "m.nnz", "--numpy", tmp_path / "np")
    assert code == 1
    assert "✗ NumPy script (float64) differs from the engine" in out


def test_import_weights_round_trip_through_the_pytorch_project(tmp_path, capsys):
    """Weights exported from model A and imported into model B (same layers, other seed): B's
    weights become A's, B's spec is kept, and B's own file is untouched."""
    a = _digits_model(tmp_path / "a.nnz", seed=2)
    b = _digits_model(tmp_path / "b.nnz", seed=9)
    assert run(capsys, "export", tmp_path / "a.nnz", "--pytorch", tmp_path / "torch")[0] == 0
    code, out, err = run(capsys, "import-weights", tmp_path / "b.nnz", tmp_path / "torch" / "weights.npz",
                         "-o", tmp_path / "b2.nnz")
    assert code == 0, err
    assert f"saved as {tmp_path / 'b2.nnz'}" in out
    imported = load_model(tmp_path / "b2.nnz")
    for key, value in a.get_weights().items():
        np.testing.assert_allclose(imported.get_weights()[key], value, rtol=0, atol=1e-7)
    assert imported.to_spec().layers == b.to_spec().layers
    unchanged = load_model(tmp_path / "b.nnz")
    for key, value in b.get_weights().items():
        np.testing.assert_array_equal(unchanged.get_weights()[key], value)


def test_import_weights_of_another_network_is_refused_and_writes_nothing(tmp_path, capsys):
    _digits_model(tmp_path / "a.nnz")
    other = Network.from_spec({"input_shape": [2], "layers": [{"type": "Dense", "units": 3}], "loss": "mse",
                               "optimizer": {"type": "SGD", "learning_rate": 0.1}})
    np.savez(tmp_path / "other.npz", **other.get_weights())
    code, out, err = run(capsys, "import-weights", tmp_path / "a.nnz", tmp_path / "other.npz", "-o", tmp_path / "x.nnz")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.nnz").exists()


@pytest.mark.parametrize("argv", [["import-weights"], ["import-weights", "m.nnz", "w.npz"]])
def test_import_weights_needs_model_weights_and_output(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and "error" in err and err.count("\n") == 1
