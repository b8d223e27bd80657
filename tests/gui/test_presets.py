"""Every shipped preset loads, builds and trains (house rule 12)."""

from __future__ import annotations

import numpy as np
import pytest

import core
from nnstudio.state.document import load_choice
from nnstudio.state.presets import load_presets

PRESETS = load_presets()
EXPECTED = {"XOR — seed 1", "8×8 digits — seed 2", "MNIST MLP — seed 1", "MNIST MLP", "MNIST CNN", "Spirals"}


def test_the_issue_presets_are_shipped():
    assert {p.title for p in PRESETS} == EXPECTED


def test_seed_presets_match_the_articles():
    by_title = {p.title: p.state() for p in PRESETS}
    xor = by_title["XOR — seed 1"]
    assert [layer.type for layer in xor.spec.layers] == ["Dense", "Activation", "Dense", "Activation"]
    assert [layer.config.get("units", layer.config.get("function"))
            for layer in xor.spec.layers] == [3, "tanh", 1, "tanh"]
    assert xor.spec.loss == "mse" and dict(xor.spec.optimizer) == core.SGD(0.1).to_dict()
    assert xor.training.batch_size == 1
    digits = by_title["8×8 digits — seed 2"]
    assert [layer.config.get("units", layer.config.get("function"))
            for layer in digits.spec.layers] == [15, "relu", 10, "sigmoid"]
    assert digits.spec.loss == "mse" and digits.spec.optimizer["type"] == "SGD"
    mnist1 = by_title["MNIST MLP — seed 1"]
    assert [layer.config.get("units", layer.config.get("function")) for layer in mnist1.spec.layers] == [
        100, "tanh", 50, "tanh", 10, "tanh"]
    assert mnist1.spec.loss == "mse"


@pytest.mark.parametrize("preset", PRESETS, ids=[p.key for p in PRESETS])
def test_preset_trains_one_epoch_on_its_dataset(preset, request):
    state = preset.state()
    if preset.dataset_name == "mnist":
        request.getfixturevalue("mnist_dir")
    data = load_choice(state.dataset)
    assert tuple(data.input_shape) == state.spec.input_shape
    net = core.Network.from_spec(state.spec)
    n = min(len(data.x), 512)
    history = net.fit(data.x[:n], data.y[:n], epochs=1, batch_size=state.training.batch_size)
    assert np.isfinite(history.epochs[-1].loss)
    assert net.output_shape == (data.n_classes,) or (net.output_shape == (1,) and data.n_classes == 2)
