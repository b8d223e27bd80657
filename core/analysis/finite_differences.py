"""'Check with finite differences' for one layer on screen: backprop against central differences.

``finite_difference_check(net, x, y, layer)`` takes the entries of ``layer``'s parameters
with the largest |gradient| (or, for a layer without parameters, of its input), nudges each
by ±ε and compares the slope measured with the gradient backpropagation computed. It works
in float64 on a copy of the network (``gradcheck.float64_copy``): the network, its
optimizer and its generator are never touched.

It is ``core.analysis.gradcheck`` applied to one layer, and inherits its two choices (see
that module's docstring): what is differentiated is the loss linearised at the network's
outputs, L̃(θ) = Σ g·f(θ) with g = ∂loss/∂f held fixed, whose slope equals the loss's slope
exactly but is not drowned by the rounding of a near-zero cross-entropy; and entries whose
±ε step crosses a ReLU or max-pool kink are flagged ``at_kink`` (their finite difference
averages two slopes and says nothing about backprop): the next largest entries are taken
instead, as far as they go. Dropout is evaluated in inference mode
so the loss is deterministic; only the layers from ``layer`` on are re-run per nudge (for an
input entry, on its one sample), so checking any layer of the MNIST CNN on a batch of 32
takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.analysis.exact_sums import one_blas_thread
from core.analysis.gradcheck import (
    ATTEMPTS_FACTOR,
    DEFAULT_EPS,
    _loss_gradient,
    float64_copy,
    kink_pattern,
    same_pattern,
)
from core.errors import TrainingError
from core.network import Network

#: Entries tried per entry wanted, for parameters (each try re-runs the batch from the layer on).
PARAMETER_ATTEMPTS_FACTOR = 3


@dataclass(frozen=True)
class FiniteDifference:
    """One entry compared: ``what`` ("W[3, 5]", "b[2]", "input[0, 4]": the sample first),
    ``backprop`` the gradient backpropagation gives, ``numeric`` the central difference
    (L̃(θ + ε) − L̃(θ − ε)) / 2ε, ``relative_error`` |backprop − numeric| / (|backprop| +
    |numeric|) (0 when both are 0), ``at_kink``: the ±ε step crossed a ReLU or max-pool kink,
    so the two are not comparable there."""

    what: str
    backprop: float
    numeric: float
    relative_error: float
    at_kink: bool

    @property
    def agrees(self) -> bool:
        """Backprop and the finite difference agree (relative error < 1e-6), or the entry
        sits at a kink where no agreement is expected."""
        return self.at_kink or self.relative_error < 1e-6


def finite_difference_check(net: Network, x: np.ndarray, y: np.ndarray, layer: int, entries: int = 8,
                            eps: float = DEFAULT_EPS) -> list[FiniteDifference]:
    """Backprop against central differences for the ``entries`` largest-|gradient| entries of
    ``layer``'s parameters (of its input if it has none), largest first. Entries whose ±ε step
    crosses a kink are passed over for the next largest (up to ``PARAMETER_ATTEMPTS_FACTOR`` ×
    ``entries`` parameter entries or ``ATTEMPTS_FACTOR`` × ``entries`` input entries tried) and
    listed, ``at_kink``, only when too few smooth ones were found.

    x: (batch, *input_shape), y: labels (batch,) or targets (batch, k): the batch on screen.
    TrainingError for a layer the network does not have or a batch that does not fit it.
    Runs with one BLAS thread: dozens of batch-sized products in a row would otherwise stall
    at the BLAS's thread barrier whenever the other core is busy (PITFALLS.md).
    """
    with one_blas_thread():
        return _check(net, x, y, layer, entries, eps)


def _check(net: Network, x: np.ndarray, y: np.ndarray, layer: int, entries: int,
           eps: float) -> list[FiniteDifference]:
    """``finite_difference_check`` itself, under whatever BLAS thread limit is in force."""
    net._ensure_built()
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(net.layers):
        raise TrainingError(f"the network has layers 0 to {len(net.layers) - 1}, not {layer!r}")
    if isinstance(entries, bool) or not isinstance(entries, (int, np.integer)) or entries < 1:
        raise TrainingError(f"check at least one entry, not {entries!r}")
    copy = float64_copy(net)
    x = copy._check_input(np.array(x, dtype=np.float64), "the batch")
    if x.shape[0] == 0 or x.shape[0] != len(y):
        raise TrainingError(f"the batch has {x.shape[0]:,} inputs but {len(y):,} labels")
    targets = copy.targets(np.asarray(y))
    split = copy._fused_split()
    layers = copy.layers

    out = x
    for current in layers[:min(layer, split)]:
        out = current.forward(out, False)
    layer_input = out.copy()  # what layer ``layer`` receives; fixed from here on
    tail = layers[layer:split]  # the layers re-run per nudge (empty for a softmax folded into the loss)

    def outputs(start: np.ndarray) -> np.ndarray:
        result = start
        for current in tail:
            result = current.forward(result, False)
        return result

    upstream = _loss_gradient(copy, outputs(layer_input), targets)
    g = upstream
    for current in reversed(tail):
        g = current.backward_input(g)
    target_layer = layers[layer]
    if target_layer.params:
        analytic = {name: grad.copy() for name, grad in target_layer.grads.items()}
    else:
        analytic = {"input": g.copy()}
    ranked = sorted(((abs(float(grad.flat[k])), name, k) for name, grad in analytic.items()
                     for k in range(grad.size)), key=lambda item: -item[0])

    def nudge(values: np.ndarray, k: int, weights: np.ndarray, start: np.ndarray,
              base: list[np.ndarray]) -> tuple[float, bool]:
        """The central difference of L̃ = Σ weights·outputs(start) along values.flat[k]
        (``values`` is a view into the parameters or ``start``), and whether it crossed a kink
        (its kink pattern at ±ε differs from ``base``, the unnudged one)."""
        def linearised() -> tuple[float, list[np.ndarray]]:
            return float(np.vdot(weights, outputs(start))), kink_pattern(list(tail))

        old = values[k]
        values[k] = old + eps
        plus, plus_kinks = linearised()
        values[k] = old - eps
        minus, minus_kinks = linearised()
        values[k] = old
        return (plus - minus) / (2 * eps), not (same_pattern(plus_kinks, base) and same_pattern(minus_kinks, base))

    outputs(layer_input)
    base = kink_pattern(list(tail))  # the whole batch, unnudged: shared by every parameter entry
    smooth: list[FiniteDifference] = []
    kinked: list[FiniteDifference] = []
    # A parameter nudge re-runs the whole batch; an input nudge one sample: fewer tries for the
    # former keep the check of a convolution of the MNIST CNN well under a second.
    attempts = (PARAMETER_ATTEMPTS_FACTOR if target_layer.params else ATTEMPTS_FACTOR) * entries
    for _, name, k in ranked[:attempts]:
        if len(smooth) == entries:
            break
        if name == "input":
            # Samples are independent (dropout off): nudging sample s's input changes only its
            # own outputs, so the one sample is re-run, not the batch.
            shape = layer_input.shape
            index = np.unravel_index(k, shape)
            sample = int(index[0])
            start = layer_input[sample:sample + 1].copy()
            outputs(start)
            numeric, crossed = nudge(start.reshape(-1), k - sample * int(np.prod(shape[1:])),
                                     upstream[sample:sample + 1], start, kink_pattern(list(tail)))
        else:
            index = np.unravel_index(k, target_layer.params[name].shape)
            numeric, crossed = nudge(target_layer.params[name].reshape(-1), k, upstream, layer_input, base)
        backprop = float(analytic[name].flat[k])
        denominator = abs(backprop) + abs(numeric)
        error = abs(backprop - numeric) / denominator if denominator > 0 else 0.0
        what = f"{name}[{', '.join(str(int(i)) for i in index)}]"
        (kinked if crossed else smooth).append(FiniteDifference(what, backprop, numeric, error, crossed))
    results = smooth + kinked[:entries - len(smooth)]
    return sorted(results, key=lambda r: -abs(r.backprop))
