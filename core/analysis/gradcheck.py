"""Numerical (central-difference) versus analytic gradients: a self-test and a teaching tool.

Checks run in float64 on a copy of the network so the user's model is untouched. The
analytic gradients are the ones training uses: the network's own loss gradient (including
the fused softmax path) propagated back through every layer.

What is differentiated numerically. Not the loss itself but its linearisation at the
network's outputs, L̃(θ) = Σ g · f(θ), where f(θ) are the outputs the loss sees (logits on
the fused path), g = ∂loss/∂f at the checked point is held fixed, and θ is one parameter
(or input) entry. By the chain rule ∂L̃/∂θ equals ∂loss/∂θ exactly at that point, so the
comparison tests every layer's backward pass with exactly the upstream gradient training
feeds it. The reason: a well-trained network is confident, its cross-entropy is log(1 + δ)
with δ ~ 1e-7, and float64 rounds that logarithm with an absolute error of ~1e-16 — a
finite difference of the loss itself then carries a relative error of 1e-4 and accuses a
correct engine; L̃ is rounded relative to the size of the gradient instead. The loss
functions' own gradients are checked against finite differences in tests/core/test_losses.py.

Kinks. ReLU (and leaky ReLU) and max-pooling are not differentiable everywhere: at a
pre-activation of exactly 0, or where two entries of a pooling window tie for the maximum,
the loss has a corner. A central difference whose ±ε step crosses such a corner measures an
average of the two slopes and disagrees with a perfectly correct backward pass. On real
images this is common, not rare: a flat background gives identical pre-activations, so whole
pooling windows tie, and nudging one input pixel breaks the tie differently for +ε and −ε.
The check therefore records, for every perturbed entry, which side of every kink the network
is on at −ε, 0 and +ε; when they differ, the entry is *at a kink*: it is excluded from the
comparison and counted in ``GradCheckResult.kinks``. Only entries where the loss is smooth
along the perturbation are compared, so a correct engine passes and a wrong gradient (a
scaled weight gradient, a dropped bias gradient, a wrong mask) still shows as a relative
error of 1e-3 or more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.layers.activations import Activation, activation_function
from core.layers.base import Layer
from core.layers.pooling import MaxPool2D
from core.network import Network

DEFAULT_THRESHOLD = 1e-6
#: Central-difference step. In float64 the rounding error of a finite difference is about
#: 1e-16 · loss / ε and the truncation error about ε²: on the shipped MNIST CNN, ε = 1e-5 gave
#: relative errors of 1e-8 or less (1e-7 with ε = 1e-6, rounding-dominated), while ε = 1e-4
#: already made bias steps cross ReLU kinks. Kinks crossed are detected either way.
DEFAULT_EPS = 1e-5
#: How many entries may be tried per parameter, as a multiple of ``max_entries``, to find
#: enough kink-free ones (on MNIST most input pixels are background and sit at a kink).
ATTEMPTS_FACTOR = 6

KinkPattern = list[np.ndarray]


@dataclass(frozen=True)
class GradCheckResult:
    """One parameter's comparison: ``relative_error`` = ||a - n|| / (||a|| + ||n||).

    ``checked`` entries were compared; ``kinks`` further sampled entries were excluded
    because their ±ε perturbation crossed a ReLU or max-pool kink, where the finite
    difference is meaningless. ``checked == 0`` means nothing could be compared (every
    sampled entry sat at a kink): ``passed`` is then True (no evidence of a wrong gradient)
    and ``conclusive`` False.
    """

    key: str
    relative_error: float
    checked: int
    passed: bool
    kinks: int = 0

    @property
    def conclusive(self) -> bool:
        return self.checked > 0


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are zero.

    Norm-wise rather than entry-wise: an entry near zero has a finite difference dominated
    by rounding, which would fail an entry-wise test on a correct gradient.
    """
    denom = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return float(np.linalg.norm(analytic - numeric)) / denom if denom > 0 else 0.0


def float64_copy(network: Network) -> Network:
    """An independent float64 copy of ``network`` with the same weights."""
    spec = network.to_spec().replace(dtype="float64")
    copy = Network.from_spec(spec)
    copy.set_weights(network.get_weights())
    return copy


def kink_pattern(layers: list[Layer]) -> KinkPattern:
    """Which side of every kink the last forward pass of ``layers`` was on.

    Reads the inputs the layers cached in ``forward``. ReLU-family activations contribute
    the mask ``input > 0`` (same shape as their input); max-pooling contributes, for every
    window offset, the mask of entries equal to their window's maximum,
    (window_offsets, batch, C, OH, OW) — a tie shows as two True entries in one window.
    Two passes with equal patterns lie on the same linear piece of every kinked layer.
    """
    pattern: KinkPattern = []
    for layer in layers:
        if isinstance(layer, Activation) and activation_function(layer.function).kinked:
            if layer._x is None:
                raise RuntimeError("kink_pattern reads the last forward pass: call forward first")
            pattern.append(layer._x > 0)
        elif isinstance(layer, MaxPool2D):
            x, y = layer._x, layer._y
            if x is None or y is None:
                raise RuntimeError("kink_pattern reads the last forward pass: call forward first")
            pattern.append(np.stack([layer._windows(x, i, j) == y
                                     for i in range(layer.pool[0]) for j in range(layer.pool[1])]))
    return pattern


def same_pattern(a: KinkPattern, b: KinkPattern) -> bool:
    """True when two kink patterns agree everywhere (no kink lies between the two passes)."""
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def check_network(network: Network, x: np.ndarray, y: np.ndarray, eps: float = DEFAULT_EPS,
                  max_entries: int = 64, threshold: float = DEFAULT_THRESHOLD,
                  seed: int = 0) -> list[GradCheckResult]:
    """Compare gradients of every parameter plus the input (key ``input``).

    x: (batch, *input_shape) small batch; y: labels or targets. Up to ``max_entries``
    randomly chosen kink-free entries per parameter are compared (all when fewer); entries
    whose ±``eps`` perturbation crosses a ReLU or max-pool kink are skipped and counted
    (see the module docstring), trying at most ``ATTEMPTS_FACTOR * max_entries`` entries.
    Dropout is evaluated in inference mode so the loss is deterministic.
    """
    net = float64_copy(network)
    x = net._check_input(np.array(x, dtype=np.float64))  # a private copy: entries are perturbed in place
    targets = net.targets(y)
    body = net.layers[:net._fused_split()]  # the layers before the (possibly fused) loss

    def outputs() -> np.ndarray:
        out = x
        for layer in body:
            out = layer.forward(out, False)
        return out

    upstream = _loss_gradient(net, outputs(), targets)  # g, same shape as the outputs

    def linearised_loss_and_pattern() -> tuple[float, KinkPattern]:
        return float(np.vdot(upstream, outputs())), kink_pattern(body)

    net.compute_gradients(x, targets, training=False)
    analytic = {key: g.copy() for key, _, g in net.parameters()}
    analytic["input"] = _input_gradient(net, x, targets)
    _, base_pattern = linearised_loss_and_pattern()
    rng = np.random.default_rng(seed)
    results = []
    for key, values in [(key, param) for key, param, _ in net.parameters()] + [("input", x)]:
        idx, numeric, kinks = _numeric_gradient(linearised_loss_and_pattern, base_pattern, values, eps,
                                                max_entries, rng)
        err = relative_error(analytic[key].reshape(-1)[idx], numeric)
        results.append(GradCheckResult(key, err, len(idx), err < threshold, kinks))
    return results


def _numeric_gradient(loss_and_pattern: Callable[[], tuple[float, KinkPattern]], base_pattern: KinkPattern,
                      values: np.ndarray, eps: float, max_entries: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Central differences at up to ``max_entries`` kink-free random entries of ``values``
    (perturbed in place and restored).

    Returns (flat indices compared, their numeric gradients, number of entries skipped
    because the perturbation changed the kink pattern).
    """
    flat = values.reshape(-1)
    order = rng.permutation(flat.size)[:ATTEMPTS_FACTOR * max_entries]
    idx: list[int] = []
    numeric: list[float] = []
    kinks = 0
    for i in order:
        if len(idx) == max_entries:
            break
        old = flat[i]
        flat[i] = old + eps
        plus, plus_pattern = loss_and_pattern()
        flat[i] = old - eps
        minus, minus_pattern = loss_and_pattern()
        flat[i] = old
        if not (same_pattern(plus_pattern, base_pattern) and same_pattern(minus_pattern, base_pattern)):
            kinks += 1
            continue
        idx.append(int(i))
        numeric.append((plus - minus) / (2 * eps))
    return np.array(idx, dtype=np.intp), np.array(numeric, dtype=np.float64), kinks


def _loss_gradient(net: Network, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """∂loss/∂outputs as training computes it; outputs are logits on the fused path."""
    if net.loss.fused_activation is not None:
        return net.loss.gradient_from_logits(outputs, targets)
    return net.loss.gradient(outputs, targets)


def _input_gradient(net: Network, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    split = net._fused_split()
    out = x
    for layer in net.layers[:split]:
        out = layer.forward(out, False)
    g = _loss_gradient(net, out, targets)
    for layer in reversed(net.layers[:split]):
        g = layer.backward_input(g)
    return g
