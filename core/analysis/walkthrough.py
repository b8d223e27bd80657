"""Seed 1's article, one sample through your own network: every number in its notation.

The article ("Neural Network from scratch in Python") builds the XOR network Dense 2→3,
tanh, Dense 3→1, tanh, with mean squared error and gradient descent at α = 0.1, and explains
backpropagation layer by layer: each layer receives dE/dY, the derivative of the error with
respect to its output, and returns dE/dX, the one with respect to its input, which is the
previous layer's dE/dY. For a fully connected layer Y = XW + B:
dE/dX = dE/dY·Wᵀ, dE/dW = Xᵀ·dE/dY, dE/dB = dE/dY, then W ← W − α·dE/dW and
B ← B − α·dE/dB; for an activation Y = f(X): dE/dX = f′(X) ⊙ dE/dY.

``seed_walkthrough(trace)`` writes those steps out with the actual numbers of a traced step
(``core.trace_step``) of any network of Dense and Activation layers. Why one sample: the
article trains sample by sample (its ``fit`` loops over the samples and updates after each),
so X is a single row and every matrix in its formulas has the sizes it shows; a batch would
add a batch axis the article never has (and turn dE/dW = Xᵀ·dE/dY into a sum over samples).
The numbers are the engine's own (the trace's), so they are exactly what training does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.analysis.trace import LayerTrace, StepTrace
from core.errors import TrainingError
from core.layers.activations import Activation, activation_function
from core.layers.dense import Dense

#: Matrices with more entries than this are summarised (shape, range) instead of printed.
MAX_PRINTED = 40


@dataclass(frozen=True)
class WalkStep:
    """One step of the walk-through: ``title``, ``lines`` in the article's notation with the
    numbers filled in, and ``values``: the arrays named in the lines (e.g. "X", "W", "B",
    "Y", "dE/dY", "dE/dX", "dE/dW", "dE/dB", "W after", "B after"), without a batch axis
    beyond the article's single row: X and Y are (1, n) as in the article."""

    title: str
    lines: tuple[str, ...]
    values: dict[str, np.ndarray] = field(default_factory=dict, compare=False)


def matrix_text(a: np.ndarray) -> str:
    """A small matrix as the article prints it, ``[[0.5, −0.25]]``; a large one summarised."""
    a = np.asarray(a, dtype=np.float64)
    if a.size > MAX_PRINTED:
        return f"({' × '.join(map(str, a.shape))} matrix, from {_n(a.min())} to {_n(a.max())})"
    if a.ndim == 1:
        return "[" + ", ".join(_n(v) for v in a) + "]"
    return "[" + ", ".join(matrix_text(row) for row in a) + "]"


def _n(v: float) -> str:
    return f"{float(v):.6g}".replace("-", "−")


def seed_walkthrough(trace: StepTrace) -> list[WalkStep]:
    """The article's walk-through of one traced sample: the input, each layer forward, the
    error, each layer backward with its update. TrainingError if the trace holds more than
    one sample or a layer other than Dense and Activation (the article has no other)."""
    batch = trace.layers[0].input.shape[0] if trace.layers else 0
    if batch != 1:
        raise TrainingError(f"the article's walk-through follows one sample at a time (it trains sample by sample), "
                            f"but this step traced {batch} samples: trace a single sample")
    for record in trace.layers:
        if record.type not in (Dense.type_name, Activation.type_name):
            raise TrainingError(f"the article's walk-through covers Dense and Activation layers only; layer "
                                f"{record.index} is {record.type}: use a network of Dense and Activation layers")
    net = trace._net
    config = net.optimizer.to_dict() if net is not None else {}
    steps = [_sample_step(trace)]
    steps += [_forward_step(record) for record in trace.layers]
    steps.append(_error_step(trace, net.loss.name if net is not None else ""))
    steps += [_backward_step(record, config) for record in reversed(trace.layers)]
    return steps


def _sample_step(trace: StepTrace) -> WalkStep:
    x = trace.layers[0].input
    lines = ("The article trains sample by sample: one input row X goes forward, the error E of that one "
             "sample comes back, every layer updates, then the next sample.",
             f"X = {matrix_text(x)}   (1 × {x.shape[1]})",
             f"Y* = {matrix_text(trace.targets)}   (the desired output)")
    return WalkStep("The sample", lines, {"X": x.copy(), "Y*": trace.targets.copy()})


def _forward_step(record: LayerTrace) -> WalkStep:
    x, y = record.input, record.output
    title = f"Forward · layer {record.index + 1}: {record.description}"
    if record.type == Dense.type_name:
        w = record.params["W"]
        b = record.params.get("b", np.zeros(w.shape[1], dtype=w.dtype))[None, :]
        lines: tuple[str, ...] = ("Y = X·W + B",
                 f"X = {matrix_text(x)}", f"W = {matrix_text(w)}", f"B = {matrix_text(b)}",
                 f"Y = {matrix_text(y)}")
        return WalkStep(title, lines, {"X": x.copy(), "W": w.copy(), "B": b.copy(), "Y": y.copy()})
    name = record.description
    lines = (f"Y = f(X), f = {name}, applied to every element",
             f"X = {matrix_text(x)}", f"Y = {matrix_text(y)}")
    if record.fused:
        lines += ("(in training the engine folds this activation into the loss; Y is what it computes there)",)
    return WalkStep(title, lines, {"X": x.copy(), "Y": y.copy()})


def _error_step(trace: StepTrace, loss: str) -> WalkStep:
    y = trace.outputs
    dy = trace.layers[-1].grad_output
    lines: tuple[str, ...]
    if loss == "mse":
        lines = ("E = mse(Y*, Y) = mean((Y* − Y)²)",
                 f"Y = {matrix_text(y)},  Y* = {matrix_text(trace.targets)}",
                 f"E = {_n(trace.loss)}",
                 f"dE/dY = 2·(Y − Y*)/n = {matrix_text(dy)}   (n = {y.size} outputs: the last layer's dE/dY)")
    else:
        lines = (f"E = {loss}(Y*, Y)   (the article uses mse; this network's loss is {loss})",
                 f"Y = {matrix_text(y)},  Y* = {matrix_text(trace.targets)}", f"E = {_n(trace.loss)}",
                 f"dE/dY = {matrix_text(dy)}   (the last layer's dE/dY)")
    return WalkStep("The error", lines, {"Y": y.copy(), "Y*": trace.targets.copy(), "E": np.array(trace.loss),
                                         "dE/dY": dy.copy()})


def _backward_step(record: LayerTrace, config: dict) -> WalkStep:
    dy, dx = record.grad_output, record.grad_input
    title = f"Backward · layer {record.index + 1}: {record.description}"
    if record.type == Activation.type_name:
        lines: tuple[str, ...]
        if record.fused:
            lines = (f"dE/dY = {matrix_text(dy)}",
                     "the engine folds this activation into the loss: together their gradient is simply "
                     "dE/dX = Y − Y* (divided by the batch size, here 1)",
                     f"dE/dX = {matrix_text(dx)}")
        else:
            x, y = record.input, record.output
            slope = activation_function(record.description).derivative(x, y, np.ones_like(dy))
            lines = ("dE/dX = f′(X) ⊙ dE/dY   (element by element)",
                     f"dE/dY = {matrix_text(dy)}   (from the layer after it, or from the error)",
                     f"f′(X) = {matrix_text(slope)}",
                     f"dE/dX = {matrix_text(dx)}   (passed back: the previous layer's dE/dY)")
            return WalkStep(title, lines, {"dE/dY": dy.copy(), "f'(X)": slope, "dE/dX": dx.copy()})
        return WalkStep(title, lines, {"dE/dY": dy.copy(), "dE/dX": dx.copy()})
    w = record.params["W"]
    dw = record.grads["W"]
    has_b = "b" in record.params
    db = record.grads["b"][None, :] if has_b else np.zeros((1, w.shape[1]), dtype=w.dtype)
    steps = [f"dE/dY = {matrix_text(dy)}",
             f"dE/dX = dE/dY·Wᵀ = {matrix_text(dx)}   (passed back: the previous layer's dE/dY)",
             f"dE/dW = Xᵀ·dE/dY = {matrix_text(dw)}",
             f"dE/dB = dE/dY = {matrix_text(db)}"]
    plain_sgd = (config.get("type") == "SGD" and not config.get("momentum") and not config.get("weight_decay"))
    w_after = record.params_after["W"]
    b_after = record.params_after["b"][None, :] if has_b else None
    if plain_sgd:
        alpha = config["learning_rate"]
        steps += [f"W ← W − α·dE/dW, α = {alpha:g}:  W = {matrix_text(w_after)}"]
        if b_after is not None:
            steps += [f"B ← B − α·dE/dB:  B = {matrix_text(b_after)}"]
    else:
        steps += [f"the article uses plain gradient descent (W ← W − α·dE/dW); this network's {config.get('type')} "
                  f"optimizer moves W by {matrix_text(record.update['W'])}:  W = {matrix_text(w_after)}"]
        if b_after is not None:
            steps += [f"and B by {matrix_text(record.update['b'][None, :])}:  B = {matrix_text(b_after)}"]
    values = {"dE/dY": dy.copy(), "dE/dX": dx.copy(), "dE/dW": dw.copy(), "dE/dB": db.copy(),
              "W after": w_after.copy()}
    if b_after is not None:
        values["B after"] = b_after.copy()
    return WalkStep(title, tuple(steps), values)
