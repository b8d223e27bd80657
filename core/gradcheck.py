"""Numerical (central-difference) versus analytic gradients: a self-test and a teaching tool.

Checks run in float64 on a copy of the network so the user's model is untouched. The loss
checked is the network's own training loss (including the fused softmax path), so the
comparison covers exactly the gradients training uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network

DEFAULT_THRESHOLD = 1e-6


@dataclass(frozen=True)
class GradCheckResult:
    """One parameter's comparison: ``relative_error`` = ||a - n|| / (||a|| + ||n||)."""

    key: str
    relative_error: float
    checked: int
    passed: bool


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


def check_network(network: Network, x: np.ndarray, y: np.ndarray, eps: float = 1e-6,
                  max_entries: int = 64, threshold: float = DEFAULT_THRESHOLD,
                  seed: int = 0) -> list[GradCheckResult]:
    """Compare gradients of every parameter plus the input (key ``input``).

    x: (batch, *input_shape) small batch; y: labels or targets. At most ``max_entries``
    randomly chosen entries per parameter are perturbed (all when fewer). Dropout is
    evaluated in inference mode so the loss is deterministic.
    """
    net = float64_copy(network)
    x = np.array(x, dtype=np.float64)  # a private copy: entries are perturbed in place
    targets = net.targets(y)

    def loss_fn() -> float:
        return net.loss_value(x, targets)

    net.compute_gradients(x, targets, training=False)
    analytic = {key: g.copy() for key, _, g in net.parameters()}
    analytic["input"] = _input_gradient(net, x, targets)
    rng = np.random.default_rng(seed)
    results = []
    for key, values in [(key, param) for key, param, _ in net.parameters()] + [("input", x)]:
        idx, numeric = _numeric_gradient(loss_fn, values, eps, max_entries, rng)
        err = relative_error(analytic[key].reshape(-1)[idx], numeric)
        results.append(GradCheckResult(key, err, len(idx), err < threshold))
    return results


def _numeric_gradient(loss_fn, values: np.ndarray, eps: float, max_entries: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``loss_fn`` at up to ``max_entries`` random entries of
    ``values`` (perturbed in place and restored). Returns (flat indices, gradients)."""
    flat = values.reshape(-1)
    idx = rng.choice(flat.size, size=min(max_entries, flat.size), replace=False)
    numeric = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        plus = loss_fn()
        flat[i] = old - eps
        minus = loss_fn()
        flat[i] = old
        numeric[j] = (plus - minus) / (2 * eps)
    return idx, numeric


def _input_gradient(net: Network, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    split = net._fused_split()
    out = x
    for layer in net.layers[:split]:
        out = layer.forward(out, False)
    if net.loss.fused_activation is not None:
        g = net.loss.gradient_from_logits(out, targets)
    else:
        g = net.loss.gradient(out, targets)
    for layer in reversed(net.layers[:split]):
        g = layer.backward(g)
    return g
