"""The two seed articles' experiments, reproduced correctly, plus MNIST targets.

Seed 1: XOR with a 2-3-1 tanh network, MSE, SGD lr 0.1, batch 1, 1000 epochs.
Seed 2: 8x8 digits, 64-15-10 ReLU/Sigmoid, MSE, mini-batch SGD, held-out 20% test split,
        with the classification report it prints.
MNIST (from NNSTUDIO_DATA): MLP + softmax cross-entropy + Adam >= 97.5% in 3 epochs.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import Network, classification_report
from core.data import load_dataset

XOR_SPEC = {"input_shape": [2], "layers": [
    {"type": "Dense", "units": 3}, {"type": "Activation", "function": "tanh"},
    {"type": "Dense", "units": 1}, {"type": "Activation", "function": "tanh"}],
    "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 1}

DIGITS_SPEC = {"input_shape": [64], "layers": [
    {"type": "Dense", "units": 15, "kernel_initializer": "lecun_normal"}, {"type": "Activation", "function": "relu"},
    {"type": "Dense", "units": 10, "kernel_initializer": "lecun_normal"},
    {"type": "Activation", "function": "sigmoid"}],
    "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 1.0}, "seed": 2}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seed1_xor(seed):
    data = load_dataset("xor")
    net = Network.from_spec({**XOR_SPEC, "seed": seed})
    history = net.fit(data.x, data.y, epochs=1000, batch_size=1)
    assert history.epochs[-1].loss < 0.01
    out = net.predict(data.x)[:, 0]
    assert np.all((out > 0.5) == (data.y == 1)), out


def test_seed2_digits_reaches_95_percent_on_held_out_20_percent(capsys):
    data = load_dataset("digits8x8")
    splits = data.split(seed=2, validation_fraction=0.0, test_fraction=0.2)
    assert len(splits.x_test) == pytest.approx(0.2 * 1797, abs=10)
    net = Network.from_spec(DIGITS_SPEC)
    net.fit(splits.x_train, splits.y_train, epochs=100, batch_size=15)
    predicted = net.predict_classes(splits.x_test)
    report = classification_report(splits.y_test, predicted, data.class_names)
    with capsys.disabled():
        print("\nseed 2 digits, held-out test split:\n" + report.to_text())
    assert report.accuracy >= 0.95
    assert report.support.sum() == len(splits.y_test)


@pytest.mark.mnist
def test_mnist_mlp_softmax_cross_entropy_adam_reaches_97_5_percent_in_3_epochs(mnist_dir):
    data = load_dataset("mnist")
    net = Network.from_spec({"input_shape": [784], "layers": [
        {"type": "Dense", "units": 512, "kernel_initializer": "he_uniform"}, {"type": "Activation", "function": "relu"},
        {"type": "Dense", "units": 256, "kernel_initializer": "he_uniform"}, {"type": "Activation", "function": "relu"},
        {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.001}, "seed": 0})
    # Two epochs at 1e-3, then the learning rate lowered for the third (a step decay, the
    # same knob the GUI turns mid-run): measured 98.05-98.15% over seeds 0-3, against
    # 97.2-97.9% without the decay.
    net.fit(data.x, data.y, epochs=2, batch_size=128)
    net.optimizer.learning_rate = 1e-4
    net.fit(data.x, data.y, epochs=1, batch_size=128)
    assert net.epochs_done == 3
    result = net.evaluate(data.x_test, data.y_test)
    print(f"MNIST MLP test accuracy after 3 epochs: {result['accuracy']:.4f}")
    assert result["accuracy"] >= 0.975


@pytest.mark.mnist
def test_mnist_small_cnn_reaches_98_5_percent(mnist_dir):
    """conv16-pool-conv32-pool-dense10: measured 98.81-98.82% (seeds 0, 1), about a minute."""
    data = load_dataset("mnist", layout="image")
    net = Network.from_spec({"input_shape": [1, 28, 28], "layers": [
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "function": "relu"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "function": "relu"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Flatten"}, {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.002}, "seed": 0})
    net.fit(data.x, data.y, epochs=2, batch_size=64)
    net.optimizer.learning_rate = 2e-4
    net.fit(data.x, data.y, epochs=1, batch_size=64)
    result = net.evaluate(data.x_test, data.y_test)
    print(f"MNIST CNN test accuracy after 3 epochs: {result['accuracy']:.4f}")
    assert result["accuracy"] >= 0.985
