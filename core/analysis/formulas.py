"""The formula behind one number of a traced training step, with the actual numbers filled in.

``explain(trace, Pick(layer, quantity, index, sample))`` answers "where does this number
come from?" for any number of a ``StepTrace`` (``core.analysis.trace``): a Dense unit's
z = Σ xᵢ·Wᵢⱼ + bⱼ, an activation f(z), a gradient, a convolution window, a pooling winner,
the loss, an optimizer update. The answer is a ``Formula``: a title, the symbolic equation,
the largest terms (the rest summed), the explanation line by line and ``value``, the number
recomputed here from the formula's own arithmetic, next to ``engine_value``, the number in
the trace.

Exactness. Element-wise steps (activations and their derivatives, dropout masks, pooling,
the loss gradient, every optimizer rule) are recomputed with the engine's own expressions,
in its order and dtype, on the one entry; sums over a row (softmax's Σ exp, the loss's
mean) use the same NumPy reduction on the same row. Sums of products (Dense, Conv2D and
their gradients) are computed by the BLAS in the engine, whose order depends on the matrix
shapes and the CPU's kernels: ``core.analysis.exact_sums`` learns that order by calibration
and adds the products in it, term by term. Which products a Conv2D ran (its fast path's
formulation, patch order, blocks of samples) is asked of the layer (``Conv2D.arithmetic``),
not modelled here. All of these give the engine's value to the last
bit (``exact``, ``tolerance`` 0.0). Where the BLAS order is unknown (a one-sample batch,
which the BLAS computes as a matrix-vector product with interleaved accumulators), ``value``
is the exactly rounded sum of the exact products and ``tolerance`` the worst-case rounding
bound of a sum in any order (``exact_sums.sum_bound``); ``exact`` then says whether the bits
happen to agree.

Errors: a pick that names no number of the trace raises ``TrainingError`` with a sentence
(never a bare ValueError or IndexError).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.analysis import winograd_numbers
from core.analysis.exact_sums import Product, blas_sum, exact_dot, sum_bound
from core.analysis.trace import LayerTrace, StepTrace
from core.errors import TrainingError
from core.layers._im2col import output_size_and_padding, pair
from core.layers._winograd import tile_counts
from core.layers.activations import Activation, activation_function
from core.layers.base import Layer
from core.layers.conv import Conv2D, ConvArithmetic, MatmulForm
from core.layers.dense import Dense
from core.layers.dropout import Dropout
from core.layers.pooling import MaxPool2D, Pool2D
from core.layers.reshape import Flatten
from core.losses import Loss

LOSS_LAYER = -1


@dataclass(frozen=True)
class Pick:
    """One number on screen.

    ``layer``: index into ``trace.layers``; -1 is the loss. ``quantity``: "output",
    "grad_output", "grad_input", "grad:<param>" or "update:<param>" (the loss: "output" for
    L itself, index (); "grad_output" for dL/d of one network output, index (k,)).
    ``index``: the position inside that array without the batch axis, e.g. (5,) or
    (c, i, j); for parameters the full parameter index, e.g. (i, j) of W. ``sample``: the
    batch row (ignored for "grad:" and "update:", which sum over the batch, and for L).
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


#: Why an engine number may differ from the sum shown, when it is not the same sum.
OTHER_ORDER = "a sum added in another order"
WINOGRAD_ARITHMETIC = "Winograd's arithmetic"
#: How a Conv2D output computed by Winograd's F(2×2, 3×3) is recomputed when the BLAS order of
#: its products is known (``winograd_numbers.engine_output``).
WINOGRAD_REPLAYED = ("Winograd's F(2×2, 3×3) — the 4×4 input tile around this pixel transformed "
                     "(V = Bᵀ d B) and each 3×3 kernel (U = G g Gᵀ), then 16 sums over the channels of V·U "
                     "for the whole 2×2 output tile (the direct way takes 36 products per channel), each added "
                     "as the BLAS adds it, transformed back (Aᵀ M A) plus the bias; the terms listed are the "
                     "direct products, which add up to the same number in exact arithmetic")
WINOGRAD_WEIGHT_GRAD_REPLAYED = (
    "Winograd's F(2×2, 3×3) backward — for every tile, this channel's input tile transformed (Bᵀ d B) "
    "and this filter's output gradient tile (A δ Aᵀ); per block of samples, 16 sums over the tiles of "
    "their products, each added as the BLAS adds it, the blocks added in order; then the kernel transform "
    "backward (Gᵀ dU G); the terms listed are the direct products, the same sum in exact arithmetic")
WINOGRAD_INPUT_GRAD_REPLAYED = (
    "Winograd's F(2×2, 3×3) backward — for each 2×2 output tile whose 4×4 input tile holds this pixel, "
    "its 16 sums over the filters of A δ Aᵀ times the transformed kernels, each added as the BLAS adds "
    "it, transformed back (B dV Bᵀ), the tiles' shares added in order; the contributions listed are "
    "the direct ones, the same sum in exact arithmetic")
#: How a Conv2D number computed by Winograd's F(2×2, 3×3) is shown (``core.layers._winograd``).
WINOGRAD_HOW = ("the engine computed this number with Winograd's F(2×2, 3×3): it transforms each 4×4 tile "
                "of inputs and each 3×3 kernel, multiplies 16 numbers per tile instead of 36 and transforms "
                "back, which is the same sum in exact arithmetic but rounds differently; shown: the exactly "
                "rounded direct sum")


@dataclass(frozen=True)
class Formula:
    """The explanation of one number (see the module docstring on ``exact`` and ``tolerance``).

    ``terms``: the largest |terms| first (at most ``max_terms``); ``rest``: the other terms
    summed, or None when every term is listed (or the formula is no sum). ``lines``: the whole
    explanation with the numbers filled in. ``window``: for Conv2D and pooling, the arrays the
    view draws: Conv2D output {"input": (C, kh, kw) the window (zeros in the padding),
    "kernel": (C, kh, kw), "products": (C, kh, kw), "origin": (2,) the window's top-left input
    row and column (negative in the padding)}; pooling output {"input": (ph, pw), "origin",
    and for MaxPool2D "winner": (2,) the winner's row and column inside the window}; None
    otherwise.
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
    #: Why ``value`` and ``engine_value`` may differ within ``tolerance`` when not ``exact``.
    tolerance_reason: str = OTHER_ORDER


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
    return f"{float(value):.{digits}g}".replace("-", "−")


def full(value: float) -> str:
    """A number to the last bit (the shortest text that round-trips), true minus sign."""
    return repr(float(value)).replace("-", "−")


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
    if isinstance(max_terms, bool) or not isinstance(max_terms, int) or max_terms < 1:
        raise TrainingError(f"max_terms must be a whole number of at least 1, not {max_terms!r}")
    quantities = available_quantities(trace, pick.layer)
    if pick.quantity not in quantities:
        where = "the loss" if pick.layer == LOSS_LAYER else f"layer {pick.layer} ({trace.layers[pick.layer].type})"
        raise TrainingError(f"{where} has no quantity {pick.quantity!r}: choose one of {', '.join(quantities)}")
    if pick.layer == LOSS_LAYER:
        return _explain_loss(trace, pick, max_terms)
    record = trace.layers[pick.layer]
    kind, _, name = pick.quantity.partition(":")
    if kind in ("grad", "update"):
        index = _check_index(record.params[name].shape, pick.index, f"{record.type} parameter {name}")
        if kind == "update":
            return _explain_update(record, name, index)
        return _explainer(trace, record)(trace, record, pick.quantity, index, None, max_terms)
    array = getattr(record, kind)
    index = _check_index(array.shape[1:], pick.index, f"the {kind.replace('_', ' ')} of {record.type}")
    sample = _check_sample(array.shape[0], pick.sample)
    if kind == "grad_output":
        return _explain_grad_output(trace, record, index, sample, max_terms)
    return _explainer(trace, record)(trace, record, kind, index, sample, max_terms)


# -- pick checks -------------------------------------------------------------------------------------


def _record(trace: StepTrace, layer: int) -> LayerTrace:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(trace.layers):
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


def _same(value: float, engine: float) -> bool:
    return bool(np.float64(value) == np.float64(engine)) or (math.isnan(value) and math.isnan(engine))


def _verdict(exact: bool, engine: float, value: float, tolerance: float, reason: str = OTHER_ORDER) -> str:
    if exact:
        return f"engine: {full(engine)}, identical to the last bit"
    return (f"engine: {full(engine)}, {num(abs(value - engine), 3)} apart, within the bound "
            f"{num(tolerance, 3)} for {reason}")


def _formula(title: str, equation: str, lines: Sequence[str], value: float, engine: float,
             terms: tuple[Term, ...] = (), rest: Term | None = None,
             window: dict[str, np.ndarray] | None = None, tolerance: float = 0.0,
             reason: str = OTHER_ORDER) -> Formula:
    """A Formula whose last line compares ``value`` with the engine's number (``reason``: why
    they may differ, within ``tolerance``)."""
    exact = _same(value, engine)
    lines = [*lines, f"= {full(value)}   ({_verdict(exact, engine, value, tolerance, reason)})"]
    return Formula(title, equation, terms, rest, tuple(lines), float(value), float(engine), exact,
                   0.0 if exact else tolerance, window, reason)


def _sum_terms(labels: Sequence[str], a: np.ndarray, b: np.ndarray,
               max_terms: int) -> tuple[tuple[Term, ...], Term | None]:
    """The products aᵢ·bᵢ as Terms, the largest |product| first, the rest summed."""
    a64 = np.asarray(a, dtype=np.float64).ravel()
    b64 = np.asarray(b, dtype=np.float64).ravel()
    products = a64 * b64
    order = np.argsort(-np.abs(products), kind="stable")
    terms = tuple(Term(f"{labels[i]} = {num(a64[i])} × {num(b64[i])}", float(products[i]))
                  for i in order[:max_terms])
    rest = None
    if len(order) > max_terms:
        hidden = order[max_terms:]
        rest = Term(f"the other {len(hidden):,} terms", math.fsum(products[hidden].tolist()))
    return terms, rest


def _listed(terms: tuple[Term, ...], rest: Term | None) -> list[str]:
    lines = [f"  {t.text} = {num(t.value, 6)}" for t in terms]
    if rest is not None:
        lines.append(f"  + {rest.text}, summed: {num(rest.value, 6)}")
    return lines


def _product_sum(a: np.ndarray, b: np.ndarray, product: Product, i: int, j: int) -> tuple[float, float, str]:
    """Σ aₖ·bₖ as entry (i, j) of an engine matrix product: (value, bound, how).

    In the BLAS's own order when calibration found it, else exactly rounded. ``bound``: the
    any-order rounding bound (``sum_bound``), the tolerance shown should the bits differ."""
    dtype = np.dtype(product.dtype)
    abs_sum = exact_dot(np.abs(np.asarray(a, np.float64)), np.abs(np.asarray(b, np.float64)))
    bound = sum_bound(abs_sum, int(np.size(a)), dtype)
    found = blas_sum(a, b, product, i, j)
    if found is not None:
        value, order = found
        return value, bound, f"added as the BLAS adds them: {order.describe()}"
    return float(dtype.type(exact_dot(a, b))), bound, "the exactly rounded sum of the exact products"


def _dtype(record: LayerTrace) -> np.dtype:
    return record.output.dtype


def _name(record: LayerTrace) -> str:
    """The layer as the editor and the step-through's stages number it (from 1)."""
    return f"{record.description} (layer {record.index + 1})"


def _at(sample: int | None, index: tuple[int, ...]) -> tuple[int, ...]:
    return index if sample is None else (sample, *index)


def _one(value: float, dtype: np.dtype) -> np.ndarray:
    """A one-element array of ``dtype``: the engine's element-wise expressions on one entry."""
    return np.array([value], dtype=dtype)


# -- Dense --------------------------------------------------------------------------------------------


def _explain_dense(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                   sample: int | None, max_terms: int) -> Formula:
    dtype = _dtype(record)
    w, b = record.params["W"], record.params.get("b")
    x, dy = record.input, record.grad_output
    batch, n_in = x.shape
    units = w.shape[1]
    if quantity == "output":
        assert sample is not None
        (j,) = index
        labels = [f"x{sub(i)}·W{sub(i, j)}" for i in range(n_in)]
        total, tolerance, how = _product_sum(x[sample], w[:, j], Product(batch, n_in, units, dtype.name), sample, j)
        value = dtype.type(total) if b is None else dtype.type(total) + b[j]
        equation = f"z{sub(j)} = Σᵢ xᵢ·Wᵢ,{sub(j)}" + ("" if b is None else f" + b{sub(j)}")
        terms, rest = _sum_terms(labels, x[sample], w[:, j], max_terms)
        lines = [equation, *_listed(terms, rest), f"Σ of the {n_in:,} products = {full(total)} ({how})"]
        if b is not None:
            lines.append(f"+ b{sub(j)} = {full(b[j])}")
        return _formula(f"{_name(record)} · unit {j} · sample {sample} — pre-activation", equation, lines,
                        float(value), float(record.output[sample, j]), terms, rest, tolerance=tolerance)
    if quantity == "grad_input":
        assert sample is not None
        (i,) = index
        labels = [f"δ{sub(j)}·W{sub(i, j)}" for j in range(units)]
        value, tolerance, how = _product_sum(dy[sample], w[i, :],
                                             Product(batch, units, n_in, dtype.name, b_transposed=True), sample, i)
        equation = f"dL/dx{sub(i)} = Σⱼ δⱼ·W{sub(i)},ⱼ   (δ = dL/dz, the gradient arriving at this layer)"
        terms, rest = _sum_terms(labels, dy[sample], w[i, :], max_terms)
        lines = [equation, *_listed(terms, rest), f"Σ of the {units:,} products ({how})"]
        return _formula(f"{_name(record)} · input {i} · sample {sample} — gradient passed back", equation,
                        lines, value, float(record.grad_input[sample, i]), terms, rest, tolerance=tolerance)
    if quantity == "grad:W":
        i, j = index
        labels = [f"x{sub(i)}·δ{sub(j)} (sample {s})" for s in range(batch)]
        value, tolerance, how = _product_sum(x[:, i], dy[:, j],
                                             Product(n_in, batch, units, dtype.name, a_transposed=True), i, j)
        equation = f"dL/dW{sub(i, j)} = Σ over the batch of x{sub(i)}·δ{sub(j)}   (dE/dW = Xᵀ·dE/dY)"
        terms, rest = _sum_terms(labels, x[:, i], dy[:, j], max_terms)
        lines = [equation, *_listed(terms, rest), f"Σ over the {batch:,} samples ({how})"]
        return _formula(f"{_name(record)} · weight W[{i}, {j}] — gradient", equation, lines, value,
                        float(record.grads["W"][i, j]), terms, rest, tolerance=tolerance)
    if quantity == "grad:b":
        (j,) = index
        column = dy[:, j]
        total = column[0]
        for s in range(1, batch):  # np.sum over axis 0 adds the rows in order
            total = total + column[s]
        labels = [f"δ{sub(j)} (sample {s})" for s in range(batch)]
        terms, rest = _sum_terms(labels, column, np.ones(batch), max_terms)
        equation = f"dL/db{sub(j)} = Σ over the batch of δ{sub(j)}   (dE/dB = dE/dY)"
        lines = [equation, *_listed(terms, rest), f"Σ over the {batch:,} samples, added in batch order"]
        return _formula(f"{_name(record)} · bias b[{j}] — gradient", equation, lines, float(total),
                        float(record.grads["b"][j]), terms, rest)
    raise AssertionError(quantity)


# -- activations ----------------------------------------------------------------------------------------

def _explain_activation(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                        sample: int | None, max_terms: int) -> Formula:
    assert sample is not None
    name = record.description
    pair_ = activation_function(name)
    dtype = _dtype(record)
    at = _at(sample, index)
    z, y = record.input[at], record.output[at]
    where = f"{_name(record)} · {'unit ' + str(index[0]) if len(index) == 1 else 'position ' + str(index)}"
    if name == "softmax":
        return _explain_softmax(trace, record, quantity, index[0], sample, max_terms)
    if quantity == "output":
        value = pair_.function(_one(z, dtype))[0]
        equation = f"y = {name}(z)"
        lines = [equation, f"{name}: {pair_.summary}", f"z = {full(z)}   (the input of this layer)",
                 f"y = {name}({num(z, 8)})"]
        return _formula(f"{where} · sample {sample} — activation", equation, lines, float(value), float(y))
    # grad_input: δ·f′(z), by the registered derivative on this one entry (the engine's arithmetic)
    dy = record.grad_output[at]
    value = pair_.derivative(_one(z, dtype), _one(y, dtype), _one(dy, dtype))[0]
    slope = pair_.derivative(_one(z, dtype), _one(y, dtype), _one(1.0, dtype))[0]
    equation = f"dL/dz = δ · f′(z),  f = {name}"
    lines = [equation, f"z = {full(z)},  y = {full(y)}",
             f"f′(z) = {full(slope)}   ({name}'s registered derivative at this z" + (", which has a kink at 0)"
                                                                                    if pair_.kinked else ")"),
             f"δ = dL/dy = {full(dy)}   (the gradient arriving from the next layer)",
             f"δ · f′(z) = {num(dy, 8)} × {num(slope, 8)}"]
    return _formula(f"{where} · sample {sample} — gradient through {name}", equation, lines, float(value),
                    float(record.grad_input[at]))


def _explain_softmax(trace: StepTrace, record: LayerTrace, quantity: str, k: int, sample: int,
                     max_terms: int) -> Formula:
    z = record.input[sample:sample + 1]  # (1, classes): the engine's expressions on this row
    where = f"{_name(record)} · class {k} · sample {sample}"
    if quantity == "output":
        top = z.max(axis=-1, keepdims=True)
        shifted = z - top
        exps = np.exp(shifted)
        total = exps.sum(axis=-1, keepdims=True)
        value = (exps / total)[0, k]
        equation = f"p{sub(k)} = exp(z{sub(k)} − max z) / Σⱼ exp(zⱼ − max z)"
        terms = tuple(Term(f"exp(z{sub(j)} − max z) = exp({num(shifted[0, j], 6)})", float(exps[0, j]))
                      for j in range(z.shape[1]))
        order = sorted(terms, key=lambda t: -abs(t.value))
        shown, hidden = tuple(order[:max_terms]), order[max_terms:]
        rest = Term(f"the other {len(hidden)} exponentials", math.fsum(t.value for t in hidden)) if hidden else None
        lines = [equation, f"max z = {full(top[0, 0])} (subtracted first so no exponential overflows)",
                 *[f"  {t.text} = {num(t.value, 8)}" for t in terms],
                 f"Σⱼ exp(zⱼ − max z) = {full(total[0, 0])}",
                 f"p{sub(k)} = {num(exps[0, k], 8)} / {num(total[0, 0], 8)}"]
        if record.fused:
            lines.insert(1, "(folded into the loss during training: the engine computes these probabilities from "
                            "the logits in the loss)")
        return _formula(f"{where} — softmax", equation, lines, float(value), float(record.output[sample, k]),
                        shown, rest)
    p = record.output[sample:sample + 1]
    if record.fused:
        return _explain_fused_input(trace, record, k, sample)
    dy = record.grad_output[sample:sample + 1]
    inner = np.sum(dy * p, axis=-1, keepdims=True)
    value = (p * (dy - inner))[0, k]
    equation = f"dL/dz{sub(k)} = p{sub(k)} · (δ{sub(k)} − Σⱼ δⱼ·pⱼ)   (softmax's Jacobian times δ)"
    labels = [f"δ{sub(j)}·p{sub(j)}" for j in range(p.shape[1])]
    terms, rest = _sum_terms(labels, dy[0], p[0], max_terms)
    lines = [equation, *_listed(terms, rest), f"Σⱼ δⱼ·pⱼ = {full(inner[0, 0])}",
             f"p{sub(k)} = {full(p[0, k])},  δ{sub(k)} = {full(dy[0, k])}",
             f"p{sub(k)} · (δ{sub(k)} − Σ) = {num(p[0, k], 8)} × {num(dy[0, k] - inner[0, 0], 8)}"]
    return _formula(f"{where} — gradient through softmax", equation, lines, float(value),
                    float(record.grad_input[sample, k]), terms, rest)


def _explain_fused_input(trace: StepTrace, record: LayerTrace, k: int, sample: int) -> Formula:
    """The fused (p − y) / n at the input of a softmax/sigmoid folded into the loss."""
    name = record.description
    dtype = _dtype(record)
    logits = record.input
    targets = trace.targets
    p = record.output[sample, k]
    t = targets[sample, k]
    divisor = logits.shape[0] if name == "softmax" else logits.size
    # The engine: g = f(logits); g -= targets; g *= 1 / n  (core.losses … gradient_from_logits)
    g = _one(p, dtype)
    g -= _one(t, dtype)
    g *= dtype.type(1.0 / divisor)
    what = "the batch size" if name == "softmax" else "the number of outputs in the batch"
    equation = f"dL/dz{sub(k)} = (p{sub(k)} − y{sub(k)}) / n   (n = {what}: the loss is a mean)"
    lines = [equation, "the activation is folded into the loss (the stable fused path): its gradient at the "
                       "logits is simply p − y, divided as the loss divides",
             f"p{sub(k)} = {full(p)},  y{sub(k)} = {full(t)},  n = {divisor}",
             f"({num(p, 8)} − {num(t, 8)}) × (1/{divisor})"]
    return _formula(f"{_name(record)} · output {k} · sample {sample} — fused gradient (p − y) / n", equation,
                    lines, float(g[0]), float(record.grad_input[sample, k]))


def _explain_activation_layer(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                              sample: int | None, max_terms: int) -> Formula:
    assert sample is not None
    if record.fused and quantity == "grad_input":
        return _explain_fused_input(trace, record, index[0], sample)
    return _explain_activation(trace, record, quantity, index, sample, max_terms)


# -- gradients arriving at a layer --------------------------------------------------------------------------


def _explain_grad_output(trace: StepTrace, record: LayerTrace, index: tuple[int, ...], sample: int,
                         max_terms: int) -> Formula:
    """dL/d(output of layer i): what layer i + 1 passes back, or the loss's gradient."""
    i = record.index
    where = f"{_name(record)} · {index if len(index) > 1 else index[0]} · sample {sample}"
    if i + 1 < len(trace.layers):
        inner = explain(trace, Pick(i + 1, "grad_input", index, sample), max_terms)
        equation = f"dL/d(output of layer {i}) = dL/d(input of layer {i + 1})"
        lines = [equation, f"the gradient layer {i + 1} ({trace.layers[i + 1].description}) passes back:",
                 *[f"  {line}" for line in inner.lines[:-1]]]
        return _formula(f"{where} — gradient arriving", equation, lines, inner.value,
                        float(record.grad_output[_at(sample, index)]), inner.terms, inner.rest,
                        tolerance=inner.tolerance)
    inner = _explain_loss_gradient(trace, index[0], sample)
    lines = ["the last layer's outputs are the network's outputs: the gradient arriving is the loss's",
             *inner.lines[:-1]]
    return _formula(f"{where} — gradient arriving from the loss", inner.equation, lines, inner.value,
                    float(record.grad_output[sample, index[0]]))


# -- Conv2D -------------------------------------------------------------------------------------------------


def _conv_geometry(record: LayerTrace, trace: StepTrace) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """((kh, kw), (sh, sw), top, left) of a Conv2D record."""
    layer = _layer(trace, record)
    assert isinstance(layer, Conv2D)
    kh, kw = layer.kernel
    sh, sw = layer.strides
    _, height, width = record.input.shape[1:]
    top = output_size_and_padding(height, kh, sh, layer.config["padding"])[1]
    left = output_size_and_padding(width, kw, sw, layer.config["padding"])[1]
    return (kh, kw), (sh, sw), top, left


def _conv_window(x: np.ndarray, r: int, c: int, kernel: tuple[int, int], stride: tuple[int, int], top: int,
                 left: int) -> np.ndarray:
    """The input window (C, kh, kw) output pixel (r, c) reads from x (C, H, W); zeros in the padding."""
    channels, height, width = x.shape
    window = np.zeros((channels, *kernel), dtype=x.dtype)
    r0, c0 = r * stride[0] - top, c * stride[1] - left
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            if 0 <= r0 + i < height and 0 <= c0 + j < width:
                window[:, i, j] = x[:, r0 + i, c0 + j]
    return window


def _conv_arithmetic(trace: StepTrace, record: LayerTrace) -> ConvArithmetic:
    """How the layer computed this batch (its formulation, blocks and products), asked of the layer."""
    layer = _layer(trace, record)
    assert isinstance(layer, Conv2D)
    return layer.arithmetic(record.input.shape[0])


def _matmul_product(form: MatmulForm, dtype: np.dtype) -> Product:
    return Product(form.m, form.k, form.n, dtype.name, form.a_transposed, form.b_transposed, form.stacked)


def _explain_conv(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                  sample: int | None, max_terms: int) -> Formula:
    dtype = _dtype(record)
    kernel, stride, top, left = _conv_geometry(record, trace)
    arithmetic = _conv_arithmetic(trace, record)
    winograd = arithmetic.layout == "winograd"
    reason = WINOGRAD_ARITHMETIC if winograd else OTHER_ORDER
    w, b = record.params["W"], record.params.get("b")
    channels = w.shape[1]
    x, dy = record.input, record.grad_output
    batch = x.shape[0]
    oh, ow = record.output.shape[2:]
    k_all = arithmetic.patch_length  # the engine folds the bias in as one more weight against a 1
    # A patch as the engine orders it: kernel offset (i, j) row by row, the channels of each offset together.
    offsets = sorted(((ch, i, j) for ch in range(channels) for i in range(kernel[0]) for j in range(kernel[1])),
                     key=lambda o: arithmetic.patch_index(*o))
    if quantity == "output":
        assert sample is not None
        f, r, c = index
        window = _conv_window(x[sample], r, c, kernel, stride, top, left).astype(dtype)
        r0, c0 = r * stride[0] - top, c * stride[1] - left
        patch = window.transpose(1, 2, 0).ravel()
        kernel_patch = np.asarray(w[f], dtype=dtype).transpose(1, 2, 0).ravel()
        weights = kernel_patch if b is None else np.append(kernel_patch, dtype.type(b[f]))
        inputs = patch if b is None else np.append(patch, dtype.type(1))
        winograd_m: list[float] = []
        if winograd:
            start, stop = arithmetic.block_of(sample)
            tiles_h, tiles_w = tile_counts((oh, ow))
            tile = ((sample - start) * tiles_h + r // 2) * tiles_w + c // 2
            replayed = winograd_numbers.engine_output(np.asarray(x[sample], dtype=dtype), w, b, f, r, c, top, left,
                                                      (oh, ow), (tile, (stop - start) * tiles_h * tiles_w,
                                                                 arithmetic.filters), dtype)
            tolerance = winograd_numbers.output_bound(x[sample], w, b, f, r, c, top, left, (oh, ow), dtype)
            if replayed is not None:
                value, winograd_m = replayed
                how = WINOGRAD_REPLAYED
            else:
                value, how = float(dtype.type(exact_dot(weights, inputs))), WINOGRAD_HOW
        else:
            form, i_entry, j_entry = arithmetic.output_product(sample, f, r, c)
            value, tolerance, how = _product_sum(weights, inputs, _matmul_product(form, dtype), i_entry, j_entry)
        labels = [f"x{sub(ch, r0 + i, c0 + j)}·W{sub(f, ch, i, j)}" for ch, i, j in offsets] + [f"b{sub(f)}·1"]
        terms, rest = _sum_terms(labels, inputs, weights, max_terms)
        equation = (f"z{sub(f, r, c)} = Σ over channels c and kernel offsets (i, j) of "
                    f"x[c, {r}·{stride[0]} + i − {top}, {c}·{stride[1]} + j − {left}]·W[{f}, c, i, j]"
                    + ("" if b is None else f" + b{sub(f)}"))
        summed = (f"the engine's own arithmetic, repeated here bit for bit: {how}" if winograd_m else
                  f"Σ of the {k_all:,} products ({how})" if winograd else
                  f"Σ of the {k_all:,} products in the engine's order (kernel offsets row by row, the channels "
                  f"of each offset together; {how}"
                  + ("" if b is None else "; the bias as one more product b·1, as the engine computes it") + ")")
        lines = [equation, f"the window: {channels} channel(s) × {kernel[0]}×{kernel[1]}, rows {r0} to "
                           f"{r0 + kernel[0] - 1}, columns {c0} to {c0 + kernel[1] - 1} of the input "
                           "(outside the image: zero padding)",
                 *_listed(terms, rest), summed]
        if winograd_m:
            lines.append("the 16 sums M (k, l) of its 2×2 output tile, each over the channels: "
                         + ", ".join(num(v, 6) for v in winograd_m))
        drawn = {"input": window, "kernel": np.array(w[f]), "products": window * w[f],
                 "origin": np.array([r0, c0])}
        return _formula(f"{_name(record)} · filter {f} · pixel ({r}, {c}) · sample {sample} — convolution",
                        equation, lines, value, float(record.output[sample, f, r, c]), terms, rest, drawn,
                        tolerance, reason)
    if quantity in ("grad:W", "grad:b"):
        if quantity == "grad:W":
            f, ch, i, j = index
            row = arithmetic.patch_index(ch, i, j)
            cols = np.stack([_conv_window_values(x[s], ch, i, j, (oh, ow), stride, top, left)
                             for s in range(batch)]).astype(dtype)
            what = f"W[{f}, {ch}, {i}, {j}]"
            equation = (f"dL/dW{sub(f, ch, i, j)} = Σ over the batch and the output pixels (r, c) of "
                        f"δ[{f}, r, c]·x[{ch}, r·{stride[0]} + {i} − {top}, c·{stride[1]} + {j} − {left}]")
        else:
            (f,) = index
            row = arithmetic.bias_index
            cols = np.ones((batch, oh * ow), dtype=dtype)
            what = f"b[{f}]"
            equation = f"dL/db{sub(f)} = Σ over the batch and the output pixels of δ[{f}, r, c]"
        deltas = np.asarray(dy[:, f], dtype=dtype).reshape(batch, -1)
        if winograd:
            return _explain_winograd_gradient(record, quantity, index, arithmetic, cols, deltas, what, equation,
                                              top, left, max_terms)
        tolerance = 0.0
        hows = set()
        part_lines = []
        total = dtype.type(0)
        for start, stop in arithmetic.blocks():
            form, i_entry, j_entry = arithmetic.weight_grad_product(start, row, f)
            product = _matmul_product(form, dtype)
            if arithmetic.layout == "per-sample":  # one product per sample, summed over the block in order
                block_sum = None
                for s in range(start, stop):
                    part, tol, how = _product_sum(cols[s], deltas[s], product, i_entry, j_entry)
                    block_sum = dtype.type(part) if block_sum is None else block_sum + dtype.type(part)
                    tolerance += tol
                    hows.add(how)
                    part_lines.append(f"sample {s}: Σ of {oh * ow:,} products = {full(part)}")
            else:  # one product over the block's pixels
                part, tol, how = _product_sum(cols[start:stop].ravel(), deltas[start:stop].ravel(), product,
                                              i_entry, j_entry)
                block_sum = dtype.type(part)
                tolerance += tol
                hows.add(how)
                part_lines.append(f"samples {start} to {stop - 1}: Σ of {(stop - start) * oh * ow:,} products "
                                  f"= {full(part)}")
            total = total + block_sum  # the blocks' shares added to a zero gradient in order
        labels = [f"δ{sub(f, r, c)}·x (sample {s})" for s in range(batch) for r in range(oh) for c in range(ow)]
        terms, rest = _sum_terms(labels, deltas.reshape(-1), cols.reshape(-1), max_terms)
        blocks = len(arithmetic.blocks())
        lines = [equation, *_listed(terms, rest), *part_lines,
                 f"the {'samples' if arithmetic.layout == 'per-sample' else 'blocks of samples'} added in order"
                 + (f", in {blocks} blocks of up to {arithmetic.block} samples" if blocks > 1 else "")
                 + f" ({'; '.join(sorted(hows))})"]
        return _formula(f"{_name(record)} · {what} — gradient", equation, lines, float(total),
                        float(record.grads[quantity[5:]][index]), terms, rest, tolerance=tolerance)
    # grad_input: the sum over the outputs whose window saw this pixel, kernel offset by offset
    assert sample is not None
    ch, yy, xx = index
    total = dtype.type(0)
    tolerance = 0.0
    terms_all: list[Term] = []
    pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (δ, W) of every offset, for Winograd's direct sum
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            r_num, c_num = yy + top - i, xx + left - j
            if r_num % stride[0] or c_num % stride[1]:
                continue
            r, c = r_num // stride[0], c_num // stride[1]
            if not (0 <= r < oh and 0 <= c < ow):
                continue
            deltas_rc = np.asarray(dy[sample, :, r, c], dtype=dtype)
            weights_ij = np.asarray(w[:, ch, i, j], dtype=dtype)
            if winograd:
                part = exact_dot(deltas_rc, weights_ij)
                pairs.append((deltas_rc, weights_ij))
            else:
                form, i_entry, j_entry = arithmetic.input_grad_product(sample, r, c, ch, (i, j))
                part, tol, _ = _product_sum(deltas_rc, weights_ij, _matmul_product(form, dtype), i_entry, j_entry)
                total = total + dtype.type(part)  # the kernel offsets' blocks are added onto the image in order
                tolerance += tol
            terms_all.append(Term(f"output ({r}, {c}) through W[:, {ch}, {i}, {j}]: Σ_f W[f, {ch}, {i}, {j}]·δ[f, "
                                  f"{r}, {c}]", float(part)))
    ranked = sorted(terms_all, key=lambda t: -abs(t.value))
    shown, hidden = tuple(ranked[:max_terms]), ranked[max_terms:]
    rest = Term(f"the other {len(hidden)} contributions", math.fsum(t.value for t in hidden)) if hidden else None
    equation = (f"dL/dx{sub(ch, yy, xx)} = Σ over every output pixel whose window saw this pixel, and every "
                "filter f, of W[f, c, i, j]·δ[f, r, c]")
    lines = [equation, f"{len(terms_all)} output pixel(s) saw input ({yy}, {xx}) of channel {ch}",
             *[f"  {t.text} = {num(t.value, 6)}" for t in shown],
             *([f"  + {rest.text}, summed: {num(rest.value, 6)}"] if rest else [])]
    if winograd:
        start, stop = arithmetic.block_of(sample)
        per_sample = math.prod(tile_counts((oh, ow)))
        replayed_dx = winograd_numbers.engine_input_grad(np.asarray(dy[sample]), w, ch, yy, xx, top, left,
                                                         ((sample - start) * per_sample, (stop - start) * per_sample),
                                                         dtype)
        tolerance = winograd_numbers.input_grad_bound(np.asarray(dy[sample]), w, ch, yy, xx, top, left, dtype)
        if replayed_dx is not None:
            total = dtype.type(replayed_dx)
            lines.append(f"the engine's own arithmetic, repeated here bit for bit: {WINOGRAD_INPUT_GRAD_REPLAYED}")
        else:
            total = dtype.type(exact_dot(np.concatenate([d for d, _ in pairs] or [np.zeros(0)]),
                                         np.concatenate([wt for _, wt in pairs] or [np.zeros(0)])))
            lines.append(f"Σ of the contributions ({WINOGRAD_HOW})")
    return _formula(f"{_name(record)} · input ({ch}, {yy}, {xx}) · sample {sample} — gradient passed back",
                    equation, lines, float(total), float(record.grad_input[sample, ch, yy, xx]), shown, rest,
                    tolerance=tolerance, reason=reason)


def _explain_winograd_gradient(record: LayerTrace, quantity: str, index: tuple[int, ...],
                               arithmetic: ConvArithmetic, cols: np.ndarray, deltas: np.ndarray, what: str,
                               equation: str, top: int, left: int, max_terms: int) -> Formula:
    """A weight or bias gradient of a Conv2D computed by Winograd's F(2×2, 3×3).

    cols (batch, OH*OW): the input value each output pixel multiplied the weight with (ones for
    the bias); deltas (batch, OH*OW): δ of the filter. The bias gradient is a plain sum the
    engine adds pixel after pixel within each block of samples, then block after block: shown
    in that order, to the last bit. A weight gradient goes through the transformed tiles:
    replayed by ``winograd_numbers.engine_weight_grad``, or, should a BLAS order be unknown,
    the exactly rounded direct sum and its bound."""
    dtype = _dtype(record)
    batch, pixels = deltas.shape
    labels = [f"δ{sub(index[0], p // record.output.shape[3], p % record.output.shape[3])}·x (sample {s})"
              for s in range(batch) for p in range(pixels)]
    terms, rest = _sum_terms(labels, deltas.reshape(-1), cols.reshape(-1), max_terms)
    engine = float(record.grads[quantity[5:]][index])
    if quantity == "grad:b":
        total = dtype.type(0)
        for start, stop in arithmetic.blocks():  # each block's pixels added in order, then onto the total
            total = total + np.cumsum(deltas[start:stop].reshape(-1), dtype=dtype)[-1]
        abs_sum = float(np.abs(deltas.astype(np.float64)).sum())
        tolerance = sum_bound(abs_sum, deltas.size, dtype)
        how = (f"the δ added one after another within each block of up to {arithmetic.block} samples, the blocks "
               "added in order, as the engine adds them")
        reason = OTHER_ORDER
    else:
        f, ch, i, j = index
        tolerance = winograd_numbers.weight_grad_bound(record.input, record.grad_output, f, ch, i, j, top, left,
                                                       dtype)
        reason = WINOGRAD_ARITHMETIC
        replayed = winograd_numbers.engine_weight_grad(record.input, record.grad_output, f, ch, i, j, top, left,
                                                       arithmetic.blocks(), dtype)
        if replayed is not None:
            total, how = dtype.type(replayed), WINOGRAD_WEIGHT_GRAD_REPLAYED
        else:
            total, how = dtype.type(exact_dot(deltas.reshape(-1), cols.reshape(-1))), WINOGRAD_HOW
    summed = (f"the engine's own arithmetic, repeated here bit for bit: {how}" if how == WINOGRAD_WEIGHT_GRAD_REPLAYED
              else f"Σ of the {deltas.size:,} products ({how})")
    lines = [equation, *_listed(terms, rest), summed]
    return _formula(f"{_name(record)} · {what} — gradient", equation, lines, float(total), engine, terms, rest,
                    tolerance=tolerance, reason=reason)


def _conv_window_values(x: np.ndarray, ch: int, i: int, j: int, out_hw: tuple[int, int],
                        stride: tuple[int, int], top: int, left: int) -> np.ndarray:
    """For kernel offset (ch, i, j): the input value each output pixel reads, flat (OH*OW,)."""
    oh, ow = out_hw
    _, height, width = x.shape
    values = np.zeros(oh * ow, dtype=x.dtype)
    for r in range(oh):
        row = r * stride[0] + i - top
        if not 0 <= row < height:
            continue
        for c in range(ow):
            col = c * stride[1] + j - left
            if 0 <= col < width:
                values[r * ow + c] = x[ch, row, col]
    return values


# -- pooling, Flatten, Dropout ---------------------------------------------------------------------------


def _pool_geometry(trace: StepTrace, record: LayerTrace) -> tuple[tuple[int, int], tuple[int, int]]:
    layer = _layer(trace, record)
    assert isinstance(layer, Pool2D)
    return pair(layer.pool), pair(layer.strides)


def _explain_pool(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                  sample: int | None, max_terms: int) -> Formula:
    assert sample is not None
    dtype = _dtype(record)
    (ph, pw), (sh, sw) = _pool_geometry(trace, record)
    is_max = isinstance(_layer(trace, record), MaxPool2D)
    x, y = record.input[sample], record.output[sample]
    oh, ow = y.shape[1:]
    if quantity == "output":
        ch, r, c = index
        window = x[ch, r * sh:r * sh + ph, c * sw:c * sw + pw]
        origin = np.array([r * sh, c * sw])
        if is_max:
            flat = window.ravel()
            win = int(np.argmax(flat == flat.max()))  # the first maximum in row-major order, as the engine
            wi, wj = divmod(win, pw)
            value = flat.max()
            ties = int(np.sum(flat == value))
            equation = f"y{sub(ch, r, c)} = max of the {ph}×{pw} window"
            lines = [equation, f"window rows {r * sh} to {r * sh + ph - 1}, columns {c * sw} to {c * sw + pw - 1}:",
                     *[f"  {' '.join(num(v, 6) for v in row)}" for row in window],
                     f"winner: input ({ch}, {r * sh + wi}, {c * sw + wj}) = {full(value)}"
                     + (f" (first of {ties} equal maxima, row by row: it alone gets the gradient)" if ties > 1
                        else " (it alone gets the gradient)")]
            return _formula(f"{_name(record)} · ({ch}, {r}, {c}) · sample {sample} — max pooling", equation, lines,
                            float(value), float(y[ch, r, c]), window={"input": window.copy(), "origin": origin,
                                                                      "winner": np.array([wi, wj])})
        total = window[0, 0]
        for i in range(ph):  # the engine folds the window offsets with np.add, row by row
            for j in range(pw):
                if (i, j) != (0, 0):
                    total = total + window[i, j]
        value = total * dtype.type(1.0 / (ph * pw))
        equation = f"y{sub(ch, r, c)} = (Σ of the {ph}×{pw} window) / {ph * pw}"
        lines = [equation, *[f"  {' '.join(num(v, 6) for v in row)}" for row in window],
                 f"Σ = {full(total)}", f"× 1/{ph * pw}"]
        return _formula(f"{_name(record)} · ({ch}, {r}, {c}) · sample {sample} — average pooling", equation, lines,
                        float(value), float(y[ch, r, c]), window={"input": window.copy(), "origin": origin})
    # grad_input: the windows that contain this pixel, in the engine's window-offset order
    ch, yy, xx = index
    dy = record.grad_output[sample, ch]
    total = dtype.type(0)
    lines = []
    for i in range(ph):
        for j in range(pw):
            if (yy - i) % sh or (xx - j) % sw:
                continue
            r, c = (yy - i) // sh, (xx - j) // sw
            if not (0 <= r < oh and 0 <= c < ow):
                continue
            if is_max:
                window = x[ch, r * sh:r * sh + ph, c * sw:c * sw + pw].ravel()
                winner = int(np.argmax(window == window.max()))
                won = winner == i * pw + j
                share = dy[r, c] * dtype.type(won)
                lines.append(f"  window ({r}, {c}): {'won' if won else 'lost'} → "
                             f"{'δ = ' + num(dy[r, c], 8) if won else '0'}")
            else:
                share = dy[r, c] * dtype.type(1.0 / (ph * pw))
                lines.append(f"  window ({r}, {c}): δ/{ph * pw} = {num(dy[r, c], 8)}/{ph * pw}")
            total = total + share
    if not lines:
        lines.append("  no window covers this pixel (rows and columns that do not fill a window are ignored)")
    equation = ("dL/dx = Σ over the windows containing x of (δ if x won the window else 0)" if is_max
                else f"dL/dx = Σ over the windows containing x of δ/{ph * pw}")
    return _formula(f"{_name(record)} · input ({ch}, {yy}, {xx}) · sample {sample} — gradient passed back",
                    equation, [equation, *lines], float(total), float(record.grad_input[sample, ch, yy, xx]))


def _explain_flatten(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                     sample: int | None, max_terms: int) -> Formula:
    assert sample is not None
    in_shape = record.input.shape[1:]
    if quantity == "output":
        (k,) = index
        source = tuple(int(v) for v in np.unravel_index(k, in_shape))
        equation = f"y{sub(k)} = x{sub(*source)}   (C order: channel, row, column)"
        lines = [equation, f"position {k} of the flat vector is input {source} of shape {in_shape}"]
        return _formula(f"{_name(record)} · {k} · sample {sample} — reshape", equation, lines,
                        float(record.input[_at(sample, source)]), float(record.output[sample, k]))
    k = int(np.ravel_multi_index(index, in_shape))
    equation = f"dL/dx{sub(*index)} = δ{sub(k)}   (the same gradient, reshaped back)"
    return _formula(f"{_name(record)} · input {index} · sample {sample} — gradient passed back", equation,
                    [equation], float(record.grad_output[sample, k]), float(record.grad_input[_at(sample, index)]))


def _explain_dropout(trace: StepTrace, record: LayerTrace, quantity: str, index: tuple[int, ...],
                     sample: int | None, max_terms: int) -> Formula:
    assert sample is not None
    at = _at(sample, index)
    dtype = _dtype(record)
    mask = None if record.mask is None else record.mask[at]
    source = record.input[at] if quantity == "output" else record.grad_output[at]
    symbol = "x" if quantity == "output" else "δ"
    if mask is None:
        value = dtype.type(source)
        lines = [f"rate 0: nothing is dropped, {symbol} passes unchanged"]
    else:
        value = dtype.type(source) * mask
        kept = "kept: scaled by 1/(1 − rate)" if mask != 0 else "dropped this step"
        lines = [f"mask = {full(mask)} ({kept})", f"{symbol} = {full(source)}", f"{symbol} × mask"]
    if quantity == "output":
        equation = "y = x · mask   (mask: 0 with probability rate, else 1/(1 − rate))"
        title = "dropout"
    else:
        equation = "dL/dx = δ · mask   (the same mask as the forward pass)"
        title = "gradient passed back"
    array = record.output if quantity == "output" else record.grad_input
    return _formula(f"{_name(record)} · {index if len(index) > 1 else index[0]} · sample {sample} — {title}",
                    equation, [equation, *lines], float(value), float(array[at]))


#: The explainer of each layer class (the formulas are this module's job; a layer type without
#: an entry gets a sentence, not a crash). Keyed by class, looked up along the class's MRO.
_EXPLAINERS: dict[type[Layer], Callable[..., Formula]] = {
    Dense: _explain_dense,
    Activation: _explain_activation_layer,
    Conv2D: _explain_conv,
    Pool2D: _explain_pool,
    Flatten: _explain_flatten,
    Dropout: _explain_dropout,
}


def _explainer(trace: StepTrace, record: LayerTrace) -> Callable[..., Formula]:
    for cls in type(_layer(trace, record)).__mro__:
        if cls in _EXPLAINERS:
            return _EXPLAINERS[cls]
    raise TrainingError(f"no formula is known for the layer type {record.type}")


def _layer(trace: StepTrace, record: LayerTrace) -> Layer:
    """The layer a record was traced from (for its settings: kernel, stride, pool size)."""
    return trace._net.layers[record.index]


# -- the loss -------------------------------------------------------------------------------------------


def _explain_loss(trace: StepTrace, pick: Pick, max_terms: int) -> Formula:
    if pick.quantity == "grad_output":
        outputs = trace.layers[-1].output
        index = _check_index(outputs.shape[1:], pick.index, "the network's outputs")
        sample = _check_sample(outputs.shape[0], pick.sample)
        return _explain_loss_gradient(trace, index[0], sample)
    _check_index((), pick.index, "the loss (a single number)")
    loss = trace._net.loss
    scores, targets = trace.scores, trace.targets
    n = scores.shape[0]
    fused = loss.fused_activation is not None
    with np.errstate(all="ignore"):
        if fused:
            value = loss.value_from_logits(scores, targets)
            per_sample = _per_sample_loss(loss, scores, targets, logits=True)
        else:
            value = loss.value(scores, targets)
            per_sample = _per_sample_loss(loss, scores, targets, logits=False)
    equation, note = _loss_text(loss, fused)
    ranked = sorted(range(n), key=lambda s: -abs(per_sample[s]))
    terms = tuple(Term(f"sample {s}: {num(per_sample[s], 8)}", float(per_sample[s])) for s in ranked[:max_terms])
    hidden = ranked[max_terms:]
    rest = Term(f"the other {len(hidden)} samples", math.fsum(per_sample[s] for s in hidden)) if hidden else None
    lines = [equation, note, "each sample's share, largest first:", *[f"  {t.text}" for t in terms],
             *([f"  + {rest.text}, summed: {num(rest.value, 8)}"] if rest else []),
             f"mean over the batch of {n}, summed by the same NumPy routine as the engine"]
    return _formula(f"the loss ({loss.title or loss.name}) of the batch", equation, lines, float(value),
                    float(trace.loss), terms, rest)


def _loss_text(loss: Loss, on_logits: bool) -> tuple[str, str]:
    """(equation, note) of a loss as the engine computes it (``core.losses``)."""
    if loss.name == "mse":
        return "L = (1/(n·k)) Σₛ Σₖ (outputₛₖ − yₛₖ)²", "mean over the batch and the output units"
    if loss.name == "cross_entropy" and on_logits:
        return ("L = (1/n) Σₛ (log Σₖ exp(zₛₖ − max zₛ) − Σₖ yₛₖ·(zₛₖ − max zₛ))",
                "cross-entropy on the logits z (softmax folded into the loss): −log pₛ,true, computed without "
                "ever taking log(0)")
    if loss.name == "cross_entropy":
        return "L = −(1/n) Σₛ Σₖ yₛₖ·log pₛₖ", "cross-entropy on the probabilities p"
    if loss.name == "binary_cross_entropy" and on_logits:
        return ("L = mean of max(z, 0) − z·y + log(1 + exp(−|z|))",
                "binary cross-entropy on the logits z (sigmoid folded into the loss)")
    if loss.name == "binary_cross_entropy":
        return "L = −mean of y·log p + (1 − y)·log(1 − p)", "binary cross-entropy on the probabilities p"
    return f"L = {loss.title or loss.name}, a mean over the batch", loss.summary


def _per_sample_loss(loss: Loss, scores: np.ndarray, targets: np.ndarray, logits: bool) -> list[float]:
    """Each sample's share of the loss, for the terms: the loss of that sample alone divided
    by the batch size (every loss is a mean over the batch, ``core.losses``)."""
    n = scores.shape[0]
    value = loss.value_from_logits if logits else loss.value
    return [value(scores[s:s + 1], targets[s:s + 1]) / n for s in range(n)]


def _explain_loss_gradient(trace: StepTrace, k: int, sample: int) -> Formula:
    """dL/d(network output k of one sample), as the loss's ``gradient`` computes it."""
    loss = trace._net.loss
    record = trace.layers[-1]
    dtype = _dtype(record)
    outputs = record.output  # the network's outputs (probabilities on the fused path)
    o, t = outputs[sample, k], trace.targets[sample, k]
    one_o, one_t = _one(o, dtype), _one(t, dtype)
    with np.errstate(all="ignore"):
        if loss.fused_activation is not None and not record.fused:
            # no final softmax/sigmoid layer: the outputs are logits and the loss applies it
            # itself (PyTorch's convention): g = f(logits); g -= y; g *= 1/n, on this row
            if loss.fused_activation == "softmax":
                g = loss.outputs_from_logits(outputs[sample:sample + 1])[:, k]
                divisor = outputs.shape[0]
                what = "p = softmax(z) of this sample's logits"
            else:
                g = loss.outputs_from_logits(one_o)
                divisor = outputs.size
                what = "p = σ(z)"
            p_value = g[0]
            g = g - one_t
            g *= dtype.type(1.0 / divisor)
            equation = "dL/dz = (p − y) / n   (the outputs are logits: the loss applies the activation itself)"
            lines = [equation, f"{what} = {full(p_value)},  y = {full(t)},  n = {divisor}"]
        elif loss.name == "mse":
            # the engine: diff = o − t; diff *= 2 / size
            g = one_o - one_t
            g *= dtype.type(2.0 / outputs.size)
            equation = "dL/d output = 2·(output − y) / (n·k)"
            lines = [equation, f"output = {full(o)},  y = {full(t)},  n·k = {outputs.size}"]
        elif loss.name == "cross_entropy":
            p = np.clip(one_o, 1e-12, 1.0)
            g = -one_t / p / outputs.shape[0]
            equation = "dL/dp = −y / p / n"
            lines = [equation, f"p = {full(o)} (clipped to at least 1e−12),  y = {full(t)},  n = {outputs.shape[0]}"]
        else:
            p = np.clip(one_o, 1e-12, 1 - 1e-7)
            g = (p - one_t) / (p * (1 - p)) / outputs.size
            equation = "dL/dp = (p − y) / (p·(1 − p)) / (n·k)"
            lines = [equation, f"p = {full(o)},  y = {full(t)},  n·k = {outputs.size}"]
    if record.fused:
        lines.append("(training never uses this number: the activation is folded into the loss, which hands "
                     "(p − y)/n straight to the layer before; shown for the record)")
    return _formula(f"the loss ({loss.title or loss.name}) · dL/d output {k} · sample {sample}", equation, lines,
                    float(g[0]), float(record.grad_output[sample, k]))


# -- the optimizer's update ---------------------------------------------------------------------------------


def _explain_update(record: LayerTrace, name: str, index: tuple[int, ...]) -> Formula:
    """The change the optimizer makes to one parameter entry, rule by rule in the engine's
    order (core.optimizers), in the network's dtype; compared with params_after as well."""
    state = record.optimizer_state
    config = state.config
    kind = config["type"]
    p = record.params[name][index]
    dt = p.dtype.type
    g = record.grads[name][index]
    where = f"{_name(record)} · {name}[{', '.join(map(str, index))}]"
    lines: list[str] = []
    wd = config.get("weight_decay", 0.0)
    if wd:
        g_used = g + dt(wd) * p
        lines.append(f"g = dL/d{name} + weight_decay·{name} = {num(g, 8)} + {wd:g} × {num(p, 8)} = {full(g_used)}")
    else:
        g_used = g
        lines.append(f"g = dL/d{name} = {full(g)}")
    lr = config["learning_rate"]
    slots_before = {slot: arr[index] for slot, arr in state.before.get(name, {}).items()}
    slots_after = {slot: arr[index] for slot, arr in state.after.get(name, {}).items()}
    computed: dict[str, np.floating] = {}
    if kind == "SGD" and config.get("momentum", 0.0) == 0.0:
        equation = f"Δ{name} = −lr·g"
        step = dt(lr) * g_used
        lines.append(f"lr·g = {lr:g} × {num(g_used, 8)} = {full(step)}")
    elif kind == "SGD":
        mu = config["momentum"]
        v0 = slots_before["velocity"]
        v = v0 * dt(mu)
        v = v + g_used
        computed["velocity"] = v
        lines.append(f"velocity: v ← μ·v + g = {mu:g} × {num(v0, 8)} + {num(g_used, 8)} = {full(v)}")
        if config.get("nesterov"):
            equation = f"v ← μ·v + g;  Δ{name} = −lr·(g + μ·v)   (Nesterov)"
            step = dt(lr) * (g_used + dt(mu) * v)
            lines.append(f"lr·(g + μ·v) = {lr:g} × ({num(g_used, 8)} + {mu:g} × {num(v, 8)}) = {full(step)}")
        else:
            equation = f"v ← μ·v + g;  Δ{name} = −lr·v"
            step = dt(lr) * v
            lines.append(f"lr·v = {lr:g} × {num(v, 8)} = {full(step)}")
    elif kind == "Adam":
        b1, b2, eps = config["beta1"], config["beta2"], config["epsilon"]
        t = state.iterations_after
        m0, v0 = slots_before["m"], slots_before["v"]
        m = m0 * dt(b1)
        m = m + dt(1 - b1) * g_used
        v = v0 * dt(b2)
        v = v + dt(1 - b2) * (g_used * g_used)
        computed.update(m=m, v=v)
        bias1 = 1 - b1 ** t
        bias2 = 1 - b2 ** t
        denom = np.sqrt(v)
        denom = denom * dt(1.0 / np.sqrt(bias2))
        denom = denom + dt(eps)
        step = m / denom
        step = step * dt(lr / bias1)
        equation = (f"m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  Δ{name} = −lr·m̂ / (√v̂ + ε),  "
                    "m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)")
        lines += [f"t = {t} (this step's number)",
                  f"m ← {b1:g} × {num(m0, 8)} + {1 - b1:g} × {num(g_used, 8)} = {full(m)}",
                  f"v ← {b2:g} × {num(v0, 8)} + {1 - b2:g} × {num(g_used, 8)}² = {full(v)}",
                  f"1 − β₁ᵗ = {full(bias1)},  1 − β₂ᵗ = {full(bias2)}",
                  f"m̂ = m/(1 − β₁ᵗ) = {num(m / bias1, 8)},  v̂ = v/(1 − β₂ᵗ) = {num(v / bias2, 8)}",
                  f"√v̂ + ε = √v·(1/√(1 − β₂ᵗ)) + {eps:g} = {full(denom)}   (the engine's order)",
                  f"lr·m̂/(√v̂ + ε) = (m / {num(denom, 8)}) × (lr/(1 − β₁ᵗ)) = {full(step)}"]
    else:
        raise TrainingError(f"no formula is known for the optimizer {kind}")
    after = p - step
    value = after - p  # the trace's update: value after − value before
    slot_ok = all(_same(float(computed[s]), float(slots_after[s])) for s in computed if s in slots_after)
    lines += [f"{name} before = {full(p)}", f"{name} after = {name} − step = {full(after)}   "
              f"(engine: {full(record.params_after[name][index])})",
              f"Δ{name} = after − before"]
    formula = _formula(f"{where} — {kind} update", equation, lines, float(value), float(record.update[name][index]))
    if formula.exact and not (_same(float(after), float(record.params_after[name][index])) and slot_ok):
        return Formula(formula.title, formula.equation, (), None, formula.lines, formula.value,
                       formula.engine_value, False, 0.0)
    return formula
