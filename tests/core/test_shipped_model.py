"""The shipped digit model: loads through the resource accessor, is what its recipe builds,
stays small, predicts, and reaches 99.4 % on the MNIST test set (the number its README and
metadata record)."""

from __future__ import annotations

import numpy as np
import pytest

from core import load_model
from core.data import load_dataset
from core.data.drawing import dataset_preprocessing
from core.recipes.train_shipped_model import build_network
from core.resource_files import read_resource_bytes, resource_file, resource_path

MODEL = "models/mnist_cnn.nnz"


@pytest.fixture(scope="module")
def model():
    with resource_file(MODEL) as path:
        return load_model(path)


def test_file_is_small_and_documented(model):
    assert len(read_resource_bytes(MODEL)) <= 2 * 1024 * 1024
    readme = read_resource_bytes("models/README.md").decode("utf-8")
    accuracy = model.metadata["test_accuracy"]
    assert f"{100 * accuracy:.2f}%" in readme  # the README states the measured number
    assert "python -m core.recipes.train_shipped_model" in readme
    assert resource_path(MODEL).is_file()


def test_it_is_the_recipes_network_with_its_metadata(model):
    assert model.to_spec().layers == build_network(0, 1e-3).to_spec().layers
    assert model.input_shape == (1, 28, 28) and model.output_shape == (10,)
    meta = model.metadata
    assert meta["class_names"] == [str(i) for i in range(10)]
    assert meta["dataset"]["name"] == "mnist"
    assert meta["preprocessing"] == dataset_preprocessing("mnist", "image")
    assert meta["drawing_preprocessing"]["mode"] == "mnist"
    assert meta["recipe"]["script"] == "python -m core.recipes.train_shipped_model"
    assert meta["test_samples"] == 10_000
    # Stage 1 (MNIST) then stage 2 (MNIST + real pen handwriting, the held-out writers never seen).
    assert model.epochs_done == meta["recipe"]["epochs"] + meta["recipe"]["stage_2"]["epochs"]
    from core.data.pen import HELD_OUT_WRITERS

    assert meta["recipe"]["stage_2"]["pen_held_out_writers"] == sorted(HELD_OUT_WRITERS)
    assert meta["recipe"]["stage_2"]["pen_training_writers"] == 30 - len(HELD_OUT_WRITERS)
    assert meta["pen_held_out_accuracy_rendered"] >= 0.98
    assert "CC BY 4.0" in meta["attribution"]
    assert not model.optimizer.state  # weights only: no optimizer slots shipped


def test_it_predicts_probabilities(model):
    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    x[1, 0, 4:24, 13:15] = 1.0  # a vertical bar: a one
    p = model.predict_proba(x)
    assert p.shape == (2, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert p[1].argmax() == 1


@pytest.mark.mnist
def test_test_set_accuracy_is_at_least_99_4_percent(model, mnist_dir, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(mnist_dir))
    data = load_dataset("mnist", layout="image")
    metrics = model.evaluate(data.x_test, data.y_test)
    assert metrics["accuracy"] >= 0.994
    assert metrics["accuracy"] == pytest.approx(model.metadata["test_accuracy"], abs=1e-6)


def test_it_keeps_training_from_its_weights():
    with resource_file(MODEL) as path:
        net = load_model(path)  # a private copy: the module's model stays untouched
    before = net.get_weights()
    x = np.zeros((16, 1, 28, 28), dtype=np.float32)
    x[:, 0, 4:24, 13:15] = 1.0
    history = net.fit(x, np.ones(16, dtype=np.int64), epochs=1, batch_size=8)
    assert np.isfinite(history.epochs[-1].loss)
    assert any(not np.array_equal(before[k], w) for k, w in net.get_weights().items())

