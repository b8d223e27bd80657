"""The headless command line: train / evaluate / predict / summary / demo, exit codes, progress."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import cli
from core.cli import Progress, main
from core.cli import progress as cli_progress
from core.data import load_dataset
from core.saving import load_model
from core.training.loop import BatchReport, EpochReport

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str, after_progress: bool = False) -> None:
    """stderr is exactly one error line (or, after training output, ends with one)."""
    lines = err.strip().splitlines()
    if after_progress:
        assert sum("error:" in line for line in lines) == 1, err
        lines = lines[-1:]
    assert len(lines) == 1, err
    assert "error:" in lines[0] and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def accuracy_in(text: str, prefix: str = "accuracy") -> float:
    match = re.search(prefix + r" (\d\.\d+)", text)
    assert match, text
    return float(match.group(1))


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "digits.nnz"
    assert main(["train", "--preset", "digits", "-o", str(path)]) == 0
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """uint8 array (n,) or (n, r, c) -> gzip IDX file (magic 2049 / 2051)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


# ----------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------
def test_train_xor_preset_then_evaluate(tmp_path, capsys):
    model = tmp_path / "xor.nnz"
    code, out, err = run(capsys, "train", "--preset", "xor", "-o", model)
    assert code == 0, err
    assert f"saved {model}" in out and accuracy_in(out) == 1.0
    assert "epoch 1000/1000" in err  # not a TTY: plain epoch lines
    net = load_model(model)
    assert net.epochs_done == 1000
    assert net.metadata["dataset"]["name"] == "xor"
    assert net.metadata["training"] == {"epochs": 1000, "batch_size": 1, "validation_split": 0.0, "shuffle": True}
    assert net.metadata["class_names"] == ["0", "1"]
    assert net.metadata["dataset"]["fingerprint"] == load_dataset("xor").fingerprint()

    code, out, err = run(capsys, "evaluate", model)
    assert code == 0, err
    assert accuracy_in(out) == 1.0 and "precision" in out and "confusion matrix" in out


def test_train_digits_preset_reaches_95_percent(digits_model, capsys):
    net = load_model(digits_model)
    assert net.epochs_done == 100
    assert net.metadata["split"] == {"seed": 2, "validation_fraction": 0.1, "test_fraction": 0.2}
    assert net.metadata["preprocessing"]["scale"] == pytest.approx(1 / 16)
    code, out, err = run(capsys, "evaluate", digits_model)
    assert code == 0, err
    assert accuracy_in(out) >= 0.95
    assert "(test, 359 samples)" in out
    report = load_dataset("digits8x8")
    assert all(name in out for name in report.class_names)
    assert "weighted avg" in out and "rows: true class" in out


def test_evaluate_other_parts_and_dataset(digits_model, capsys):
    code, out, _ = run(capsys, "evaluate", digits_model, "--split", "all")
    assert code == 0 and "(all, 1,797 samples)" in out
    code, out, _ = run(capsys, "evaluate", digits_model, "--split", "train")
    assert code == 0 and accuracy_in(out) > 0.95
    code, out, err = run(capsys, "evaluate", digits_model, "--dataset", "xor")
    assert code == 2
    assert_one_line_error(err, "64", "xor")


def test_train_spec_file_with_overrides_and_dataset_options(tmp_path, capsys):
    spec = {"input_shape": [2], "layers": [
        {"type": "Dense", "units": 16}, {"type": "Activation", "function": "tanh"},
        {"type": "Dense", "units": 2}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.001}, "seed": 5}
    spec_path = tmp_path / "moons.json"
    spec_path.write_text(json.dumps(spec))
    model = tmp_path / "moons.nnz"
    code, out, err = run(capsys, "train", spec_path, "--dataset", "moons", "--dataset-option", "n_samples=300",
                         "--dataset-option", "noise=0.05", "--epochs", "30", "--batch-size", "16",
                         "--validation-split", "0.2", "--test-split", "0.25", "--learning-rate", "0.02",
                         "-o", model)
    assert code == 0, err
    assert accuracy_in(out) > 0.9
    net = load_model(model)
    assert net.optimizer.learning_rate == 0.02 and net.seed == 5
    assert net.metadata["dataset"]["params"] == {"n_samples": 300, "noise": 0.05}
    assert net.metadata["split"] == {"seed": 5, "validation_fraction": 0.2, "test_fraction": 0.25}
    assert net.history.epochs[-1].val_accuracy is not None
    # evaluate rebuilds the same dataset (its stored options) and the same test split
    code, out, err = run(capsys, "evaluate", model)
    assert code == 0 and "note:" not in err
    assert "(test, 75 samples)" in out


def test_train_reshapes_image_layout_for_an_mlp(tmp_path, capsys):
    code, _out, err = run(capsys, "train", "--preset", "digits", "--dataset-option", "layout=image",
                         "--epochs", "2", "-o", tmp_path / "m.nnz")
    assert code == 0, err


def test_train_divergence_exits_1(tmp_path, capsys):
    spec = {"input_shape": [2], "layers": [{"type": "Dense", "units": 1}], "loss": "mse",
            "optimizer": {"type": "SGD", "learning_rate": 10.0}, "seed": 0}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    code, _out, err = run(capsys, "train", tmp_path / "s.json", "--dataset", "xor", "--epochs", "200",
                         "--batch-size", "1", "-o", tmp_path / "m.nnz")
    assert code == 1
    assert_one_line_error(err, "training diverged", "learning rate", after_progress=True)
    assert not (tmp_path / "m.nnz").exists()


# ----------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------
def digits_raw(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n bundled digits as raw 0..16 uint8 (n, 8, 8) and their labels (n,)."""
    ds = load_dataset("digits8x8")
    raw = np.rint(ds.x[:n] * 16).astype(np.uint8).reshape(n, 8, 8)
    return raw, ds.y[:n]


def test_predict_idx_with_and_without_labels(digits_model, tmp_path, capsys):
    raw, labels = digits_raw(40)
    images = write_idx(tmp_path / "img.idx.gz", raw)
    label_file = write_idx(tmp_path / "lab.idx.gz", labels)
    code, out, err = run(capsys, "predict", digits_model, "--idx", images, label_file)
    assert code == 0, err
    assert "(40 samples)" in out and accuracy_in(out) >= 0.9
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == 40 and all(len(r) == 3 for r in rows)
    predicted = np.array([int(r[1]) for r in rows])
    expected = load_model(digits_model).predict_classes(load_dataset("digits8x8").x[:40])
    assert np.array_equal(predicted, expected)

    code, out, err = run(capsys, "predict", digits_model, "--idx", images, "--limit", "3")
    assert code == 0, err
    assert "37 more" in out and "accuracy" not in out


def test_predict_csv_with_labels_features_only_and_named_column(digits_model, tmp_path, capsys):
    raw, labels = digits_raw(25)
    rows = [",".join(map(str, r.ravel())) for r in raw]
    (tmp_path / "labelled.csv").write_text("\n".join(f"{r},{y}" for r, y in zip(rows, labels, strict=True)) + "\n")
    (tmp_path / "features.csv").write_text("\n".join(rows) + "\n")
    header = ",".join(["digit"] + [f"p{i}" for i in range(64)])
    named = "\n".join(f"{y},{r}" for r, y in zip(rows, labels, strict=True))
    (tmp_path / "named.csv").write_text(header + "\n" + named + "\n")

    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "labelled.csv")
    assert code == 0, err
    assert accuracy_in(out) >= 0.9
    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "features.csv", "--no-labels")
    assert code == 0, err
    assert "(25 samples)" in out and "accuracy" not in out
    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "named.csv", "--label-column", "digit")
    assert code == 0, err
    assert accuracy_in(out) >= 0.9
    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "features.csv")
    assert code == 2
    assert_one_line_error(err, "63 values per sample", "--no-labels")


# ----------------------------------------------------------------------------------------------
# summary and demo
# ----------------------------------------------------------------------------------------------
def test_summary_of_model_and_spec(digits_model, tmp_path, capsys):
    code, out, err = run(capsys, "summary", digits_model)
    assert code == 0, err
    assert "Total params: 1,135" in out and "Epochs trained: 100" in out and "Dataset: digits8x8" in out
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(cli.PRESETS["digits"]["spec"]))
    code, out, err = run(capsys, "summary", spec)
    assert code == 0, err
    assert "Total params: 1,135" in out and "Epochs trained" not in out


def test_demo_trains_quickly_and_reports(tmp_path, capsys):
    import time

    start = time.perf_counter()
    code, out, err = run(capsys, "demo", "-o", tmp_path / "demo.nnz")
    assert code == 0, err
    assert time.perf_counter() - start < 20
    assert accuracy_in(out) >= 0.93
    assert "precision" in out and "confusion matrix" in out and "epoch 20/20" in err
    assert load_model(tmp_path / "demo.nnz").epochs_done == 20


# ----------------------------------------------------------------------------------------------
# bad input: exit 2 with one line, no traceback
# ----------------------------------------------------------------------------------------------
def test_missing_spec_file(tmp_path, capsys):
    code, _, err = run(capsys, "train", tmp_path / "nope.json", "--dataset", "xor", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "nope.json", "no such spec file")


def test_invalid_spec_json_and_invalid_spec(tmp_path, capsys):
    (tmp_path / "a.json").write_text("{oops")
    code, _, err = run(capsys, "train", tmp_path / "a.json", "--dataset", "xor", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "a.json", "not valid JSON")
    (tmp_path / "b.json").write_text(json.dumps({"input_shape": [2], "layers": [{"type": "Magic"}]}))
    code, _, err = run(capsys, "train", tmp_path / "b.json", "--dataset", "xor", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "unknown layer type 'Magic'")


def test_unknown_dataset(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "imagenet", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "unknown dataset 'imagenet'", "digits8x8")


def test_dataset_that_does_not_fit_the_network(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "digits8x8", "-o", tmp_path / "m.nnz")
    assert code == 2
    # the sentence of the one network↔dataset check (core.spec.dataset_fit), as the app shows it
    assert_one_line_error(err, "the network expects 2 inputs but dataset digits8x8 has 64 inputs")
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "blobs", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "the network has 1 output but dataset blobs has 3 classes")


def test_one_output_with_softmax_cross_entropy_is_refused_as_in_the_app(tmp_path, capsys):
    """A softmax over one unit is always 1: such a network learns nothing on two classes. The
    CLI used to train it (its own check let 1 output fit 2 classes with any loss); the one
    network↔dataset check refuses it here as the app does."""
    spec = {"input_shape": [2], "layers": [{"type": "Dense", "units": 1}], "loss": "cross_entropy"}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    code, _, err = run(capsys, "train", tmp_path / "s.json", "--dataset", "moons", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "the network has 1 output but dataset moons has 2 classes",
                          "set the last Dense layer's units to 2")
    assert not (tmp_path / "m.nnz").exists()


def test_bad_dataset_option_and_training_setting(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "moons", "--dataset-option", "noise",
                       "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "KEY=VALUE")
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "moons", "--dataset-option", "colour=red",
                       "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "colour")
    code, _, err = run(capsys, "train", "--preset", "xor", "--epochs", "0", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "epochs")


def test_output_folder_missing_is_refused_before_training(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--preset", "digits", "-o", tmp_path / "no" / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "does not exist")


@pytest.mark.parametrize("command", ["evaluate", "summary", "predict"])
def test_missing_and_corrupt_model(tmp_path, capsys, command, digits_model):
    extra = ["--csv", str(tmp_path / "x.csv")] if command == "predict" else []
    code, _, err = run(capsys, command, tmp_path / "missing.nnz", *extra)
    assert code == 2
    assert_one_line_error(err, "missing.nnz")
    corrupt = tmp_path / "corrupt.nnz"
    corrupt.write_bytes(digits_model.read_bytes()[:700])
    code, _, err = run(capsys, command, corrupt, *extra)
    assert code == 2
    assert_one_line_error(err, "corrupt.nnz", "not an nnstudio model file")


def test_missing_idx_file(digits_model, tmp_path, capsys):
    code, _, err = run(capsys, "predict", digits_model, "--idx", tmp_path / "none.idx")
    assert code == 2
    assert_one_line_error(err, "none.idx")


@pytest.mark.parametrize("argv", [[], ["bogus"], ["train"], ["train", "--preset", "xor"], ["predict", "m.nnz"],
                                  ["train", "--preset", "xor", "--epochs", "many", "-o", "m.nnz"]])
def test_usage_errors_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    if argv:
        assert_one_line_error(err)


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "train" in out and "demo" in out


def test_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    monkeypatch.setattr(cli_progress, "run_training", interrupted)
    code, _, err = run(capsys, "train", "--preset", "xor", "-o", tmp_path / "m.nnz")
    assert code == 130 and "interrupted" in err
    assert not (tmp_path / "m.nnz").exists()


def test_unexpected_error_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.delenv("NNSTUDIO_DEBUG", raising=False)
    monkeypatch.setattr(cli_progress, "run_training", broken)
    code, _, err = run(capsys, "train", "--preset", "xor", "-o", tmp_path / "m.nnz")
    assert code == 1
    assert_one_line_error(err, "unexpected ZeroDivisionError: boom", after_progress=True)


# ----------------------------------------------------------------------------------------------
# the real entry point
# ----------------------------------------------------------------------------------------------
def test_python_m_core_subprocess(tmp_path):
    model = tmp_path / "xor.nnz"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "core", "train", "--preset", "xor", "-o", str(model)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "saved" in done.stdout and model.exists()
    done = subprocess.run([sys.executable, "-m", "core", "evaluate", str(tmp_path / "nope.nnz")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"python -m core: error: {tmp_path / 'nope.nnz'}: no such model file"


# ----------------------------------------------------------------------------------------------
# progress display
# ----------------------------------------------------------------------------------------------
def batch(epoch: int, i: int, n: int = 10, loss: float = 0.5) -> BatchReport:
    return BatchReport(epoch, i, n, epoch + (i + 1) / n, loss, 0.5, 0.1, 4, 4 * (i + 1))


def epoch_report(epoch: int) -> EpochReport:
    return EpochReport(epoch, 0.25, 0.9, 0.3, 0.85, 0.1, 0.5, 100.0)


def test_progress_on_a_terminal_is_throttled_and_ends_with_epoch_lines():
    stream = io.StringIO()
    now = [0.0]
    progress = Progress(stream, total_epochs=3, interactive=True, clock=lambda: now[0])
    for i in range(10):
        now[0] += 0.03  # 10 batches in 0.3 s -> about 3 redraws
        progress.update(batch(0, i))
    progress.update(epoch_report(0))
    progress.close()
    text = stream.getvalue()
    redraws = text.count("\repoch 1/3 [")
    assert 2 <= redraws <= 4
    assert "epoch 1/3 [##" in text and "% loss 0.5" in text
    assert text.endswith("epoch 1/3  loss 0.25  acc 0.9000  val_loss 0.3  val_acc 0.8500  (0.50 s)        \n")


def test_progress_in_a_log_has_one_line_per_epoch_and_no_bars():
    stream = io.StringIO()
    progress = Progress(stream, total_epochs=3, interactive=False)
    for e in range(3):
        for i in range(10):
            progress.update(batch(e, i))
        progress.update(epoch_report(e))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert "[" not in stream.getvalue() and "\r" not in stream.getvalue()


def test_progress_in_a_log_of_a_long_run_is_limited_to_about_100_lines():
    stream = io.StringIO()
    progress = Progress(stream, total_epochs=1000, interactive=False)
    for e in range(1000):
        progress.update(epoch_report(e))
    lines = stream.getvalue().splitlines()
    assert 100 <= len(lines) <= 102 and lines[-1].startswith("epoch 1000/1000")


@pytest.mark.parametrize("option, fragment", [
    (["--seed", "-1"], "'seed'"),
    (["--learning-rate", "-1"], "learning_rate"),
    (["--batch-size", "0"], "batch_size"),
    (["--validation-split", "0.95"], "validation_split"),
    (["--test-split", "1.5"], "test_fraction"),
])
def test_bad_training_overrides_exit_2(tmp_path, capsys, option, fragment):
    code, _, err = run(capsys, "train", "--preset", "digits", *option, "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, fragment)
    assert not (tmp_path / "m.nnz").exists()


# ----------------------------------------------------------------------------------------------
# issue 14 / 15: hostile and careless input to the command line gets one clear line
# ----------------------------------------------------------------------------------------------
def model_with_metadata(source: Path, target: Path, **changes) -> Path:
    """A copy of the model ``source`` whose metadata.json has ``changes`` applied.

    The member is written straight into the zip (as a hostile user or a broken script would),
    not through save_model, which refuses metadata that load_model would refuse."""
    with zipfile.ZipFile(source) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.update(changes)
                data = json.dumps(metadata).encode("utf-8")
            zf.writestr(info, data)
    return target


def assert_metadata_refused(err: str, model: Path, fragment: str) -> None:
    """stderr is one line naming the model file, its metadata.json and the damaged field."""
    assert_one_line_error(err, f"{model.name}: metadata.json: {fragment}")
    assert "unexpected" not in err


def csv_rows(raw: np.ndarray, labels=None) -> str:
    rows = [",".join(map(str, r.ravel())) for r in raw]
    if labels is not None:
        rows = [f"{r},{y}" for r, y in zip(rows, labels, strict=True)]
    return "\n".join(rows) + "\n"


def test_deep_json_spec_is_refused_in_one_line_by_the_real_entry_point(tmp_path):
    """100,000 nested lists once raised RecursionError: 'unexpected ... please report it', exit 1."""
    spec = tmp_path / "deep.json"
    spec.write_text("[" * 100_000 + "]" * 100_000)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "core", "summary", str(spec)], check=False, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"python -m core: error: {spec}: the JSON nests lists or objects too deeply "
                                   "to be a network spec (at most 32 levels)")


@pytest.mark.parametrize("spec, fragment", [
    ({"input_shape": [2], "layers": [{"type": "Dense", "units": 2}], "loss": ["mse"]}, "spec.json"),
    ({"input_shape": [2], "layers": [{"type": "Dense", "units": 2}], "optimizer": {"type": "SGD", "foo": 1}},
     "foo"),
    ({"input_shape": [2], "layers": [{"type": "Dense", "units": 1e300}]}, "(301 digits)"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": json.loads("[" * 33 + "2" + "]" * 33)}]},
     "more than 32 levels"),
])
@pytest.mark.parametrize("command", ["summary", "train"])
def test_hostile_spec_is_one_line_not_unexpected(tmp_path, capsys, spec, fragment, command):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    extra = ["--dataset", "xor", "-o", str(tmp_path / "m.nnz")] if command == "train" else []
    code, _, err = run(capsys, command, path, *extra)
    assert code == 2, err
    assert_one_line_error(err, fragment)
    assert "unexpected" not in err.replace("unexpected keyword", "") and "report" not in err
    assert len(err) < 400  # a value of 300 digits or 33 nested lists is not echoed in full
    assert not (tmp_path / "m.nnz").exists()


def test_spec_file_that_never_ends_is_refused_after_a_bounded_read():
    """/dev/zero as a spec file: read until memory ran out. Run with a 1 GiB address-space cap
    so that a regression fails this test instead of exhausting the machine."""
    import resource

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "core", "summary", "/dev/zero"], check=False, capture_output=True,
                          text=True, env=env, timeout=120, preexec_fn=cap_memory)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "python -m core: error: /dev/zero: is larger than 16 MB, too large for a spec file"


@pytest.mark.parametrize("names", [["a", "b", "c"], [str(i) for i in range(20)]])
def test_evaluate_with_class_names_that_do_not_match_the_classes(digits_model, tmp_path, capsys, names):
    """3 names for 10 classes crashed in the report ('cannot reshape array'); 20 printed a 20x20 matrix."""
    model = model_with_metadata(digits_model, tmp_path / "names.nnz", class_names=names)
    code, out, err = run(capsys, "evaluate", model)
    assert code == 0, err
    assert err.strip() == f"note: {model} stores {len(names)} class names for 10 classes; they are not used"
    matrix = out.split("rows: true class, columns: predicted class)\n")[1].splitlines()
    assert matrix[0].split() == [str(i) for i in range(10)] and len(matrix) == 11
    assert accuracy_in(out) >= 0.95

    raw, labels = digits_raw(5)
    (tmp_path / "five.csv").write_text(csv_rows(raw, labels))
    code, out, err = run(capsys, "predict", model, "--csv", tmp_path / "five.csv")
    assert code == 0 and "not used" in err
    assert accuracy_in(out) == 1.0  # labels 0..4 map onto class numbers, not onto the stray names


@pytest.mark.parametrize("preprocessing, fragment", [
    ({"scale": "x"}, "'preprocessing' › 'scale' must be a finite, non-zero number, not 'x'"),
    ({"scale": [1, 2]}, "'preprocessing' › 'scale' must be a finite, non-zero number, not [1, 2]"),
    ({"scale": 0}, "'preprocessing' › 'scale' must be a finite, non-zero number, not 0"),
    ({"scale": 1e300}, "'preprocessing' › 'scale' must be a finite, non-zero number, not 1e+300"),
    ({"scale": 1e38, "layout": "flat", "image_shape": [8, 8]},
     "'preprocessing' › 'scale' must be a finite, non-zero number, not 1e+38"),
    ({"scale": 0.0625, "layout": 3}, "'preprocessing' › 'layout' must be a string, not an integer"),
    ({"scale": 0.0625, "layout": "flat", "image_shape": [8, "8"]},
     "'preprocessing' › 'image_shape' must be a list of up to 3 numbers, not [8, '8']"),
    ({"scale": 0.0625, "layout": "flat", "image_shape": [8, 8, 8, 8]},
     "'preprocessing' › 'image_shape' must be a list of up to 3 numbers, not [8, 8, 8, 8]"),
])
def test_predict_with_damaged_preprocessing_metadata(digits_model, tmp_path, capsys, preprocessing, fragment):
    """Since the model file checks its metadata, load_model refuses such a file before predict
    reads the preprocessing: one line naming the file, metadata.json and the field, whatever
    the options (--no-preprocessing cannot rescue a damaged file)."""
    model = model_with_metadata(digits_model, tmp_path / "pre.nnz", preprocessing=preprocessing)
    raw, _ = digits_raw(3)
    (tmp_path / "f.csv").write_text(csv_rows(raw))
    for extra in ((), ("--no-preprocessing",)):
        code, out, err = run(capsys, "predict", model, "--csv", tmp_path / "f.csv", "--no-labels", *extra)
        assert code == 2 and out == "", err
        assert_metadata_refused(err, model, fragment)


@pytest.mark.parametrize("preprocessing, fragment", [
    ({"scale": -0.0625}, "'scale' must be a positive number, not -0.0625"),
    ({"scale": 1e-40}, "'scale' must be a positive number, not 1e-40"),
    ({"scale": 0.0625, "layout": "flat", "image_shape": [8, 200_000]},
     "'image_shape' must be a list of up to 3 whole numbers from 1 to 100,000, not [8, 200000]"),
])
def test_predict_with_stored_preprocessing_that_loads_but_cannot_be_applied(digits_model, tmp_path, capsys,
                                                                             preprocessing, fragment):
    """Values the model file accepts but predict cannot use: refused by predict, with the way out."""
    model = model_with_metadata(digits_model, tmp_path / "pre.nnz", preprocessing=preprocessing)
    load_model(model)  # the file itself is fine
    raw, _ = digits_raw(3)
    (tmp_path / "f.csv").write_text(csv_rows(raw))
    code, _, err = run(capsys, "predict", model, "--csv", tmp_path / "f.csv", "--no-labels")
    assert code == 2
    assert_one_line_error(err, "pre.nnz", "stored preprocessing cannot be used", fragment, "--no-preprocessing")
    assert "unexpected" not in err
    code, _, err = run(capsys, "predict", model, "--csv", tmp_path / "f.csv", "--no-labels", "--no-preprocessing")
    assert code == 0, err  # the way out the message names works


def test_predict_refuses_inputs_that_preprocessing_makes_infinite(digits_model, tmp_path, capsys):
    """The largest scale a model file accepts (1e30) times a large but finite input overflows float32."""
    model = model_with_metadata(digits_model, tmp_path / "huge.nnz",
                                preprocessing={"scale": 1e30, "layout": "flat", "image_shape": [8, 8]})
    load_model(model)  # the file itself is fine
    raw, _ = digits_raw(4)
    raw = raw.reshape(4, 64).astype(np.float64)
    raw[0, 10] = 1e9  # finite in float32; 1e39 after scaling is not
    (tmp_path / "f.csv").write_text(csv_rows(raw))
    code, _, err = run(capsys, "predict", model, "--csv", tmp_path / "f.csv", "--no-labels")
    assert code == 2
    assert_one_line_error(err, "f.csv: sample 0 holds NaN or infinite values after the model's preprocessing",
                          "(1 sample(s) affected)")


def test_predict_csv_whose_rows_all_share_one_label(digits_model, tmp_path, capsys):
    """A file of sevens is a normal thing to predict; it was refused as 'a classifier needs two classes'."""
    ds = load_dataset("digits8x8")
    sevens = np.flatnonzero(ds.y == 7)[:12]
    raw = np.rint(ds.x[sevens] * 16).astype(np.uint8)
    (tmp_path / "sevens.csv").write_text(csv_rows(raw, [7] * len(raw)))
    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "sevens.csv")
    assert code == 0, err
    assert "(12 samples)" in out and accuracy_in(out) >= 0.9
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == 12 and all(r[2] == "7" for r in rows)


def test_predict_csv_unlabelled_suggests_no_labels_whatever_the_last_column_holds(digits_model, tmp_path, capsys):
    raw, _ = digits_raw(30)
    raw = raw.reshape(30, 64).astype(np.float64)
    one_value = raw.copy()
    one_value[:, -1] = 0  # a blank corner pixel: looked like a label column with a single class
    many_values = raw.copy()
    many_values[:, -1] = np.arange(30) / 7  # fractions: not labels
    for name, table in (("blank_corner.csv", one_value), ("fractions.csv", many_values)):
        (tmp_path / name).write_text("\n".join(",".join(f"{v:g}" for v in row) for row in table) + "\n")
        code, _, err = run(capsys, "predict", digits_model, "--csv", tmp_path / name)
        assert code == 2, err
        assert_one_line_error(err, name, "--no-labels")
        code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / name, "--no-labels")
        assert code == 0 and "(30 samples)" in out, err


def test_predict_csv_with_too_many_label_values_and_the_network_input_count_suggests_no_labels(
        digits_model, tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = rng.random((1100, 64))  # the last column has 1,100 different values: refused as labels
    (tmp_path / "noise.csv").write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in table) + "\n")
    code, _, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "noise.csv")
    assert code == 2
    assert_one_line_error(err, "noise.csv", "too many classes", "64 columns", "pass --no-labels")


def test_predict_proba_prints_each_class_probability(digits_model, tmp_path, capsys):
    from core.analysis.evaluation import class_probabilities

    raw, labels = digits_raw(6)
    (tmp_path / "six.csv").write_text(csv_rows(raw, labels))
    code, out, err = run(capsys, "predict", digits_model, "--csv", tmp_path / "six.csv", "--proba")
    assert code == 0, err
    lines = out.splitlines()
    header = lines[1].split()
    assert header == ["sample", "predicted", "label"] + [f"P({i})" for i in range(10)]
    rows = [line.split() for line in lines[2:8]]
    printed = np.array([[float(v) for v in r[3:]] for r in rows])
    expected = class_probabilities(load_model(digits_model), load_dataset("digits8x8").x[:6])
    assert printed.shape == (6, 10)
    assert np.allclose(printed, expected, atol=0.0006)
    assert np.allclose(printed.sum(axis=1), 1, atol=0.006)
    assert [int(r[1]) for r in rows] == list(expected.argmax(axis=1))
    code, out, _ = run(capsys, "predict", digits_model, "--csv", tmp_path / "six.csv")
    assert "P(0)" not in out  # only on request
    code, out, _ = run(capsys, "predict", "--help")
    assert "--proba" in out and "probabilit" in out


def test_missing_mnist_names_download_and_nnstudio_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("core.data.find_mnist", lambda *a, **k: None)
    spec = tmp_path / "mlp.json"
    spec.write_text(json.dumps({"input_shape": [784], "layers": [{"type": "Dense", "units": 10}]}))
    code, _, err = run(capsys, "train", spec, "--dataset", "mnist", "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "MNIST was not found", str(tmp_path / "empty"), "--download", "NNSTUDIO_DATA",
                          "train-images-idx3-ubyte.gz")


def test_evaluate_with_damaged_stored_dataset_name_or_split_names_the_model(digits_model, tmp_path, capsys):
    # values the model file refuses: load_model names the file, metadata.json and the field,
    # and no option gets past a damaged file
    model = model_with_metadata(digits_model, tmp_path / "name.nnz", dataset={"name": 5, "params": {}})
    for extra in ((), ("--dataset", "digits8x8")):
        code, out, err = run(capsys, "evaluate", model, *extra)
        assert code == 2 and out == "", err
        assert_metadata_refused(err, model, "'dataset' › 'name' must be a non-empty string, not 5")
    model = model_with_metadata(digits_model, tmp_path / "split.nnz",
                                split={"seed": "x", "validation_fraction": 0.1, "test_fraction": 0.2})
    for extra in ((), ("--split", "all")):
        code, out, err = run(capsys, "evaluate", model, *extra)
        assert code == 2 and out == "", err
        assert_metadata_refused(err, model, "'split' › 'seed' must be a non-negative integer, not 'x'")

    # a split whose values the file accepts but which leaves nothing to train on: evaluate names
    # the model and the way out
    model = model_with_metadata(digits_model, tmp_path / "fractions.nnz",
                                split={"seed": 0, "validation_fraction": 0.6, "test_fraction": 0.5})
    load_model(model)  # the file itself is fine
    code, _, err = run(capsys, "evaluate", model)
    assert code == 2
    assert_one_line_error(err, f"{model}: the model's stored split cannot be used", "their sum must be below 1",
                          "--split all")
    assert "unexpected" not in err
    code, out, err = run(capsys, "evaluate", model, "--split", "all")
    assert code == 0 and "(all, 1,797 samples)" in out, err


def test_output_cut_off_by_the_reader_is_not_reported_as_a_bug(digits_model, tmp_path):
    """``nnstudio-cli predict ... | head -1`` printed 'unexpected BrokenPipeError ... please report it'."""
    raw = np.rint(load_dataset("digits8x8").x * 16).astype(np.uint8).reshape(-1, 8, 8)
    images = write_idx(tmp_path / "all.idx.gz", raw)  # 1,797 lines with --proba: more than a pipe holds
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-m", "core", "predict", str(digits_model), "--idx", str(images),
                                "--proba"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert first.startswith(b"predictions of digits.nnz")
    assert stderr == "" and process.returncode == 141


def test_output_that_is_a_pipe_or_empty_is_refused_before_training(tmp_path, capsys):
    """An atomic save replaces what -o names: a FIFO (or, run as root, /dev/null itself) was
    replaced by a regular file. Tested on a FIFO of our own, never on a real device."""
    import stat

    fifo = tmp_path / "pipe.nnz"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "train", "--preset", "xor", "-o", fifo)
    assert code == 2
    assert_one_line_error(err, "cannot save to", "pipe.nnz", "a device or a pipe, not a file")
    assert "epoch" not in err  # refused before training
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    code, _, err = run(capsys, "demo", "--epochs", "1", "-o", fifo)
    assert code == 2 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    code, _, err = run(capsys, "train", "--preset", "xor", "-o", "")
    assert code == 2
    assert_one_line_error(err, "-o needs a file name")


@pytest.mark.parametrize("value", ["9" * 5000, "[" * 3000 + "]" * 3000])
def test_dataset_option_far_too_large_or_deep(tmp_path, capsys, value):
    code, _, err = run(capsys, "train", "--preset", "xor", "--dataset", "moons", "--dataset-option", f"noise={value}",
                       "-o", tmp_path / "m.nnz")
    assert code == 2
    assert_one_line_error(err, "--dataset-option noise", "far too large or too deeply nested")
