"""The formula behind one number of a traced training step, with the actual numbers filled in.

``explain(trace, Pick(layer, quantity, index, sample))`` answers "where does this number
come from?" for any number of a ``StepTrace`` (``core.analysis.trace``): a Dense unit's
z = Σ xᵢ·Wᵢⱼ + bⱼ, an activation f(z), a gradient, a convolution window, the loss, an
optimizer update. The answer is a ``Formula``: a title, the symbolic equation, the largest
terms (the rest summed), the explanation line by line and ``value``, the number recomputed
here from the formula's own arithmetic, next to ``engine_value``, the number in the trace.

Exactness. Element-wise steps (activations, masks, pooling, the loss gradient, every
optimizer rule) are recomputed with the engine's own expression order in the network's
dtype, so ``value`` equals ``engine_value`` to the last bit (``exact``). Sums of products
(Dense, Conv2D, their gradients) are computed by BLAS in the engine, whose summation order
depends on the matrix shapes and the CPU's kernel; here they are recomputed as the exactly
rounded sum of the exact products (``_exact_dot``) and the engine's value must lie within
``tolerance``, the worst-case rounding bound of a K-term sum in any order (Higham's
γ_K = K·u / (1 − K·u) times Σ|terms|, for the engine's and for this sum). ``exact`` says
whether the bits agree; ``tolerance`` is 0.0 where they must.

Errors: a pick that names no number of the trace raises ``TrainingError`` with a sentence
(never a bare ValueError or IndexError).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.analysis.trace import LayerTrace, StepTrace
from core.errors import TrainingError

LOSS_LAYER = -1


@dataclass(frozen=True)
class Pick:
    """One number on screen.

    ``layer``: index into ``trace.layers``; -1 is the loss. ``quantity``: "output",
    "grad_output", "grad_input", "grad:<param>" or "update:<param>" (the loss: "output" for
    L itself, "grad_output" for dL/d of one network output). ``index``: the position inside
    that array without the batch axis, e.g. (5,) or (c, i, j); for parameters the full
    parameter index, e.g. (i, j) of W; () for the loss value. ``sample``: the batch row
    (ignored for "grad:" and "update:", which sum over the batch, and for the loss value).
    """

    layer: int
    quantity: str
    index: tuple[int, ...]
    sample: int = 0


@dataclass(frozen=True)
class Term:
    """One addend of a formula, e.g. ``Term("x₃·W₃,₅ = 0.512 × −0.310", -0.1587)``."""

    text: str
    value: float


@dataclass(frozen=True)
class Formula:
    """The explanation of one number (see the module docstring on ``exact`` and ``tolerance``).

    ``terms``: the largest |terms| first (at most ``max_terms``); ``rest``: the other terms
    summed, or None when every term is listed (or the formula is no sum). ``lines``: the whole
    explanation with the numbers filled in. ``window``: for Conv2D and pooling, the arrays the
    view draws, e.g. {"input": (C, kh, kw), "kernel": (C, kh, kw)}; None otherwise.
    """

    title: str
    equation: str
    terms: tuple[Term, ...]
    rest: Term | None
    lines: tuple[str, ...]
    value: float
    engine_value: float
    exact: bool
    tolerance: float
    window: dict[str, np.ndarray] | None = field(default=None, compare=False)


# -- text helpers ------------------------------------------------------------------------------

_SUBSCRIPTS = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def sub(*index: int) -> str:
    """Subscript of an index: ``sub(3, 5)`` -> ``"₃,₅"``."""
    return ",".join(str(i).translate(_SUBSCRIPTS) for i in index)


def sup(n: int) -> str:
    """Superscript of an integer: ``sup(12)`` -> ``"¹²"``."""
    return str(n).translate(_SUPERSCRIPTS)


def num(value: float, digits: int = 4) -> str:
    """A number for a term, with a true minus sign: ``num(-0.31)`` -> ``"−0.31"``."""
    text = f"{float(value):.{digits}g}"
    return text.replace("-", "−")


def full(value: float) -> str:
    """A number to the last bit (the shortest text that round-trips), true minus sign."""
    return repr(float(value)).replace("-", "−")


# -- exact arithmetic ----------------------------------------------------------------------------

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a float64 into two 26-bit halves


def _two_products(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a·b as (p, e) with p + e == a·b exactly (Dekker), element-wise, float64 arrays."""
    p = a * b
    c = _SPLITTER * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def exact_dot(a: np.ndarray, b: np.ndarray, *extra: float) -> float:
    """Σ aᵢ·bᵢ (+ extra) correctly rounded to float64: every product exact, one rounding.

    a, b: 1-D arrays of one length (float32 or float64). Products of float32 values are exact
    in float64; float64 products are split exactly into two float64 numbers (Dekker's
    two-product), and ``math.fsum`` adds everything with a single rounding.
    """
    a64 = np.asarray(a, dtype=np.float64).ravel()
    b64 = np.asarray(b, dtype=np.float64).ravel()
    p, e = _two_products(a64, b64)
    return math.fsum([*p.tolist(), *e.tolist(), *extra])


def sum_bound(abs_sum: float, count: int, dtype: np.dtype) -> float:
    """Worst-case rounding error of a ``count``-term sum of products in ``dtype``, in any
    order: γ_n · Σ|terms| with γ_n = n·u / (1 − n·u), n = count + 1 (the products' own
    rounding and the bias), u the unit roundoff. Doubled: the engine's sum and the sum
    recomputed here each lie within it of the true value."""
    u = float(np.finfo(dtype).eps) / 2
    n = count + 1
    gamma = n * u / (1 - n * u)
    return 2 * gamma * abs_sum


# -- the public entry points --------------------------------------------------------------------


def available_quantities(trace: StepTrace, layer: int) -> list[str]:
    """The quantities ``explain`` can explain for ``layer`` (-1: the loss), in display order.

    Every layer: "output", "grad_output", "grad_input"; a layer with parameters adds
    "grad:<name>" and "update:<name>" for each. The loss: "output" (L) and "grad_output"
    (dL/d of one network output). TrainingError for a layer the trace does not have.
    """
    if layer == LOSS_LAYER:
        return ["output", "grad_output"]
    record = _record(trace, layer)
    quantities = ["output", "grad_output", "grad_input"]
    quantities += [f"grad:{name}" for name in record.params]
    quantities += [f"update:{name}" for name in record.params]
    return quantities


def explain(trace: StepTrace, pick: Pick, max_terms: int = 6) -> Formula:
    """The formula behind the number ``pick`` of ``trace``, with the actual numbers.

    ``max_terms``: how many of a sum's terms to list (largest |term| first; the rest is
    summed into ``Formula.rest``). TrainingError with a sentence if the pick names no number
    of the trace (layer, quantity, index or sample out of range).
    """
    if max_terms < 1:
        raise TrainingError(f"max_terms must be at least 1, not {max_terms}")
    if pick.quantity not in available_quantities(trace, pick.layer):
        where = "the loss" if pick.layer == LOSS_LAYER else f"layer {pick.layer} ({trace.layers[pick.layer].type})"
        raise TrainingError(f"{where} has no quantity {pick.quantity!r}: choose one of "
                            f"{', '.join(available_quantities(trace, pick.layer))}")
    if pick.layer == LOSS_LAYER:
        return _explain_loss(trace, pick, max_terms)
    record = trace.layers[pick.layer]
    kind, _, name = pick.quantity.partition(":")
    if kind == "update":
        index = _check_index(record.params[name].shape, pick.index, f"{record.type} parameter {name}")
        return _explain_update(trace, record, name, index)
    if kind == "grad":
        index = _check_index(record.params[name].shape, pick.index, f"{record.type} parameter {name}")
        sample = None
    else:
        array = getattr(record, kind)
        index = _check_index(array.shape[1:], pick.index, f"the {kind.replace('_', ' ')} of {record.type}")
        sample = _check_sample(array.shape[0], pick.sample)
    explainer = _EXPLAINERS.get(record.type)
    if explainer is None:
        raise TrainingError(f"no formula is known for the layer type {record.type}")
    return explainer(trace, record, pick.quantity, index, sample, max_terms)


# -- pick checks -------------------------------------------------------------------------------------


def _record(trace: StepTrace, layer: int) -> LayerTrace:
    if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) or not 0 <= layer < len(trace.layers):
        raise TrainingError(f"the traced network has layers 0 to {len(trace.layers) - 1} (and -1 for the loss), "
                            f"not {layer!r}")
    return trace.layers[int(layer)]


def _check_index(shape: tuple[int, ...], index: Sequence[int], what: str) -> tuple[int, ...]:
    try:
        index = tuple(int(i) for i in index)
    except (TypeError, ValueError):
        raise TrainingError(f"a position in {what} is a tuple of whole numbers, not {index!r}") from None
    if len(index) != len(shape):
        raise TrainingError(f"{what} has shape {tuple(shape)}: give {len(shape)} indices, not {len(index)}")
    for axis, (i, n) in enumerate(zip(index, shape, strict=True)):
        if not 0 <= i < n:
            raise TrainingError(f"index {i} on axis {axis} is outside {what}, shape {tuple(shape)}: "
                                f"use 0 to {n - 1}")
    return index


def _check_sample(batch: int, sample: int) -> int:
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < batch:
        raise TrainingError(f"the traced batch has samples 0 to {batch - 1}, not {sample!r}")
    return int(sample)


# -- building blocks shared by the explainers ----------------------------------------------------------


def _close(value: float, engine: float, tolerance: float) -> tuple[bool, str]:
    exact = bool(np.float64(value) == np.float64(engine)) or (math.isnan(value) and math.isnan(engine))
    if exact:
        return True, f"engine: {full(engine)} (identical to the last bit)"
    return False, (f"engine: {full(engine)} (differs by {num(abs(value - engine), 3)}, within the rounding "
                   f"bound {num(tolerance, 3)} of a sum taken in another order)")


def _sum_terms(labels: Sequence[str], a: np.ndarray, b: np.ndarray,
               max_terms: int) -> tuple[tuple[Term, ...], Term | None]:
    """The products aᵢ·bᵢ as Terms, the largest |product| first, the rest summed."""
    a64 = np.asarray(a, dtype=np.float64).ravel()
    b64 = np.asarray(b, dtype=np.float64).ravel()
    products = a64 * b64
    order = np.argsort(-np.abs(products), kind="stable")
    shown = order[:max_terms]
    terms = tuple(Term(f"{labels[i]} = {num(a64[i])} × {num(b64[i])}", float(products[i])) for i in shown)
    rest = None
    if len(order) > max_terms:
        hidden = order[max_terms:]
        rest = Term(f"the other {len(hidden):,} terms", math.fsum(products[hidden].tolist()))
    return terms, rest


def weighted_sum(title: str, equation: str, labels: Sequence[str], a: np.ndarray, b: np.ndarray,
                 bias: float | None, bias_label: str, dtype: np.dtype, engine_value: float,
                 max_terms: int, window: dict[str, np.ndarray] | None = None,
                 preamble: Sequence[str] = ()) -> Formula:
    """A Formula for Σ aᵢ·bᵢ (+ bias) computed by a matrix product in the engine.

    value: the exactly rounded sum of the exact products in float64, rounded to ``dtype``,
    then plus the bias in ``dtype`` (the engine adds the bias after the product, too).
    """
    dtype = np.dtype(dtype)
    total = exact_dot(a, b)
    value = dtype.type(total)
    if bias is not None:
        value = value + dtype.type(bias)
    value = float(value)
    abs_sum = exact_dot(np.abs(np.asarray(a, np.float64)), np.abs(np.asarray(b, np.float64)))
    abs_sum += abs(bias or 0.0)
    tolerance = sum_bound(abs_sum, int(np.size(a)), dtype)
    terms, rest = _sum_terms(labels, a, b, max_terms)
    exact, verdict = _close(value, engine_value, tolerance)
    lines = [*preamble, equation]
    lines += [f"  {t.text} = {num(t.value, 6)}" for t in terms]
    if rest is not None:
        lines.append(f"  + {rest.text}, summed: {num(rest.value, 6)}")
    lines.append(f"Σ of the {np.size(a):,} products = {full(total)}")
    if bias is not None:
        lines.append(f"+ {bias_label} = {full(bias)}")
    lines.append(f"= {full(value)}   ({verdict})")
    return Formula(title, equation, terms, rest, tuple(lines), value, float(engine_value),
                   exact, 0.0 if exact else tolerance, window)


def _layer_name(record: LayerTrace) -> str:
    return f"{record.description} (layer {record.index})"


# -- Dense --------------------------------------------------------------------------------------------


def _explain_dense(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                   sample: int | None, max_terms: int) -> Formula:
    dtype = record.output.dtype
    w = record.params["W"]
    b = record.params.get("b")
    if quantity == "output":
        assert sample is not None
        (j,) = index
        x = record.input[sample]
        labels = [f"x{sub(i)}·W{sub(i, j)}" for i in range(x.size)]
        equation = f"z{sub(j)} = Σᵢ xᵢ·Wᵢ,{sub(j)}" + (f" + b{sub(j)}" if b is not None else "")
        return weighted_sum(f"{_layer_name(record)} · unit {j} · sample {sample} — pre-activation",
                            equation, labels, x, w[:, j], None if b is None else float(b[j]), f"b{sub(j)}",
                            dtype, float(record.output[sample, j]), max_terms)
    raise TrainingError(f"the formula for {quantity} of a Dense layer is not available yet")


def _explain_loss(trace: StepTrace, pick: Pick, max_terms: int) -> Formula:
    raise TrainingError("the formula of the loss is not available yet")


def _explain_update(trace: StepTrace, record: LayerTrace, name: str, index: tuple[int, ...]) -> Formula:
    raise TrainingError("the formula of an update is not available yet")


_EXPLAINERS: dict[str, Callable[..., Formula]] = {
    "Dense": _explain_dense,
}
