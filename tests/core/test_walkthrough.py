"""core.analysis.walkthrough: seed 1's article, one sample through the network, in its notation.

The numbers must be the ones the article's own code computes on the same weights: an
independent NumPy transcription of its FCLayer / ActivationLayer / mse classes (below) runs
the same sample, and every matrix of the walk-through is compared with it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import Network, TrainingError, trace_step
from core.analysis.walkthrough import seed_walkthrough
from core.resource_files import resource_path

# -- the article's code (Omar Aflak, "Neural Network from scratch in Python"), transcribed ----------

class FCLayer:
    def __init__(self, weights, bias):
        self.weights, self.bias = weights.copy(), bias.copy()

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights) + self.bias
        return self.output

    def backward_propagation(self, output_error, learning_rate):
        input_error = np.dot(output_error, self.weights.T)
        weights_error = np.dot(self.input.T, output_error)
        self.weights_error, self.bias_error = weights_error, output_error
        self.weights -= learning_rate * weights_error
        self.bias -= learning_rate * output_error
        return input_error


class ActivationLayer:
    def __init__(self, activation, activation_prime):
        self.activation, self.activation_prime = activation, activation_prime

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

    def backward_propagation(self, output_error, learning_rate):
        return self.activation_prime(self.input) * output_error


def tanh(x):
    return np.tanh(x)


def tanh_prime(x):
    return 1 - np.tanh(x) ** 2


def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.size


def _article_step(net: Network, x: np.ndarray, y: np.ndarray, learning_rate: float) -> dict:
    """One sample through the article's network with ``net``'s weights: every matrix it makes."""
    layers = []
    for layer in net.layers:
        if layer.type_name == "Dense":
            layers.append(FCLayer(layer.params["W"].astype(np.float64), layer.params["b"][None, :].astype(np.float64)))
        else:
            assert layer.function == "tanh"
            layers.append(ActivationLayer(tanh, tanh_prime))
    out = x
    forward = []
    for layer in layers:
        forward.append(out)
        out = layer.forward_propagation(out)
    record = {"outputs": out, "error": mse(y, out), "dE/dY": mse_prime(y, out), "inputs": forward}
    error = record["dE/dY"]
    backward = {}
    for i in range(len(layers) - 1, -1, -1):
        dy = error
        error = layers[i].backward_propagation(error, learning_rate)
        backward[i] = {"dE/dY": dy, "dE/dX": error}
        if isinstance(layers[i], FCLayer):
            backward[i].update({"dE/dW": layers[i].weights_error, "dE/dB": layers[i].bias_error,
                                "W after": layers[i].weights, "B after": layers[i].bias})
    record["backward"] = backward
    return record


def _xor_net(seed: int = 1) -> Network:
    preset = json.loads((resource_path("presets") / "01-xor-seed1.json").read_text(encoding="utf-8"))
    spec = dict(preset["spec"], dtype="float64", seed=seed)
    return Network.from_spec(spec)


@pytest.mark.parametrize("sample", [0, 1, 2, 3])
def test_every_number_matches_the_articles_code(sample):
    net = _xor_net()
    # Non-zero biases, as the article's (its biases start random): the B terms must show.
    for layer in net.layers:
        if "b" in layer.params:
            layer.params["b"][...] = np.random.default_rng(7).uniform(-0.5, 0.5, layer.params["b"].shape)
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])[sample:sample + 1]
    y = np.array([0.0, 1.0, 1.0, 0.0])[sample:sample + 1].reshape(1, 1)
    article = _article_step(net, x, y, learning_rate=0.1)
    steps = seed_walkthrough(trace_step(net, x, y))
    titles = [s.title for s in steps]
    assert titles == ["The sample", "Forward · layer 1: Dense 3", "Forward · layer 2: tanh",
                      "Forward · layer 3: Dense 1", "Forward · layer 4: tanh", "The error",
                      "Backward · layer 4: tanh", "Backward · layer 3: Dense 1", "Backward · layer 2: tanh",
                      "Backward · layer 1: Dense 3"]
    by_title = {s.title: s.values for s in steps}
    for i in range(4):
        forward = by_title[titles[1 + i]]
        np.testing.assert_array_equal(forward["X"], article["inputs"][i])
    np.testing.assert_array_equal(by_title["Forward · layer 4: tanh"]["Y"], article["outputs"])
    assert float(by_title["The error"]["E"]) == article["error"]
    np.testing.assert_array_equal(by_title["The error"]["dE/dY"], article["dE/dY"])
    for i in range(4):
        step = by_title[titles[9 - i]]
        for name, expected in article["backward"][i].items():
            # Bit for bit: on one sample the engine's matrix products reduce to the article's dot.
            np.testing.assert_array_equal(step[name], expected, err_msg=f"layer {i + 1}: {name}")


def test_the_lines_use_the_articles_notation_with_the_numbers():
    net = _xor_net()
    steps = seed_walkthrough(trace_step(net, np.array([[1.0, 0.0]]), np.array([1])))
    text = "\n".join(line for s in steps for line in s.lines)
    for formula in ("Y = X·W + B", "dE/dX = dE/dY·Wᵀ", "dE/dW = Xᵀ·dE/dY", "dE/dB = dE/dY",
                    "W ← W − α·dE/dW, α = 0.1", "dE/dX = f′(X) ⊙ dE/dY", "E = mse(Y*, Y)"):
        assert formula in text
    first_w = net.layers[0].params["W"]
    assert f"{first_w[0, 0]:.6g}".replace("-", "−") in text
    assert "sample by sample" in steps[0].lines[0]


def test_a_batch_or_another_layer_type_is_a_sentence():
    net = _xor_net()
    with pytest.raises(TrainingError, match=r"one sample at a time.*traced 2 samples"):
        seed_walkthrough(trace_step(net, np.zeros((2, 2)), np.array([0, 1])))
    cnn = Network.from_spec({"input_shape": [1, 4, 4], "loss": "cross_entropy", "dtype": "float64",
                             "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Flatten"},
                                        {"type": "Dense", "units": 2}]})
    with pytest.raises(TrainingError, match="layer 0 is Conv2D"):
        seed_walkthrough(trace_step(cnn, np.zeros((1, 1, 4, 4)), np.array([1])))


def test_the_xor_preset_is_the_articles_network():
    """Seed 1's XOR: 2-3-1, tanh, mse, plain SGD at 0.1, one sample per update, 1000 epochs."""
    preset = json.loads((resource_path("presets") / "01-xor-seed1.json").read_text(encoding="utf-8"))
    layers = [(layer["type"], layer.get("units", layer.get("function"))) for layer in preset["spec"]["layers"]]
    assert layers == [("Dense", 3), ("Activation", "tanh"), ("Dense", 1), ("Activation", "tanh")]
    assert preset["spec"]["input_shape"] == [2] and preset["spec"]["loss"] == "mse"
    assert preset["spec"]["optimizer"] == {"type": "SGD", "learning_rate": 0.1}
    assert preset["training"]["batch_size"] == 1 and preset["training"]["epochs"] == 1000
    assert preset["dataset"]["name"] == "xor"
