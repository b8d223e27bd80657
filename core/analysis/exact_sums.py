"""Sums of products recomputed term by term in the order the BLAS sums them (for ``explain``).

The engine computes Dense and Conv2D layers and their gradients with matrix products
(``np.matmul``, i.e. the BLAS's gemm). A formula that adds the same products in another
order gets another last bit. What was measured (OpenBLAS 0.3.31, SkylakeX kernels, the
NumPy wheel's build):

* ``np.dot(x[s], W[:, j]) + b[j]``, one matrix row times W, and ``math.fsum`` (the exactly
  rounded sum) all differ from ``(x @ W + b)[s, j]`` in most entries once K (the summed
  length) is a few dozen: e.g. 3758 of 4096 entries of a (32, 784) @ (784, 128) product.
* gemm keeps one accumulator per output entry and adds the products with fused
  multiply-adds, k = 0, 1, 2, … in order, over blocks of K: OpenBLAS's level-3 driver cuts
  K into blocks of GEMM_Q (384 for double on SkylakeX), except that a remainder between Q
  and 2Q is cut in two halves (rounded up to the kernel's unroll), e.g. 784 = 384 + 200 +
  200; each block starts from 0 and is added to the output. Reproduced this way, every
  checked entry is identical to the last bit.

Those block sizes belong to one library on one CPU, so they are not hard-coded:
``blas_order`` learns them per product shape by *calibration*: it runs a product of the
same shape, dtype and operand layout on seeded random numbers and keeps the first candidate
order (one chain, or OpenBLAS's block cut for a range of Q and unroll values) that
reproduces every checked entry of that product bit for bit. The order is learned from
independent data, never from the number being explained; when no candidate fits (another
BLAS, a matrix-vector product that the BLAS computes with several interleaved accumulators),
``blas_order`` returns None and the caller falls back to the exactly rounded sum
(``exact_dot``) with a documented error bound.

The BLAS's thread count changes the cut (one thread: 784 = 384 + 208 + 192), so orders are
learned per thread count in force when ``explain`` runs: call it under the same
``threadpool_limits`` as the ``trace_step`` it explains (the app's worker limits BLAS threads
while training). Under another limit the sums are still shown, flagged not exact, within
the rounding bound.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a float64 into two 26-bit halves

#: OpenBLAS GEMM_Q and unroll values tried by the calibration (all architectures' defaults
#: lie in this range); "one chain" is tried first.
_CANDIDATE_Q = (128, 192, 224, 240, 256, 320, 384, 448, 512, 640, 768, 1024)
_CANDIDATE_UNROLL = (1, 2, 4, 8, 16, 24, 32, 48, 64)
#: Random products a candidate order must reproduce (one entry each) to be accepted.
_CALIBRATION_RUNS = 12
#: Sums shorter than this get up to ``_SHORT_SUM_RUNS`` runs: orders of a few terms often
#: round alike (of 3 terms, two orders agree on ~80% of random sums, so 12 runs let a wrong
#: order through for ~5% of entries; 96 runs for ~1e-7), within ``_SHORT_SUM_BUDGET`` numbers.
_SHORT_SUM = 32
_SHORT_SUM_RUNS = 96
_SHORT_SUM_BUDGET = 1 << 22
#: Longest sum reproduced term by term (a Python loop: ~0.5 µs per term). Covers the weight
#: gradient of a 3×3 first Conv2D in float32, summed over a block's pixels in one product
#: (the shipped MNIST CNN: 33 samples × 784 pixels = 25,872 terms; calibrated in ~0.5 s).
MAX_CHAIN = 32_768


def two_products(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a·b as (p, e) with p + e == a·b exactly (Dekker), element-wise on float64 arrays."""
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

    a, b: arrays of one size (float32 or float64), flattened. Products of float32 values are
    exact in float64; float64 products are split exactly into two float64 numbers (Dekker's
    two-product), and ``math.fsum`` adds everything with a single rounding.
    """
    a64 = np.asarray(a, dtype=np.float64).ravel()
    b64 = np.asarray(b, dtype=np.float64).ravel()
    p, e = two_products(a64, b64)
    return math.fsum([*p.tolist(), *e.tolist(), *extra])


def sum_bound(abs_sum: float, count: int, dtype: np.dtype) -> float:
    """Worst-case distance between two roundings of a ``count``-term sum of products in
    ``dtype``, whatever their orders: 2·γₙ·Σ|terms| with γₙ = n·u / (1 − n·u), n = count + 1
    (the products' own rounding and one more addend), u the unit roundoff (Higham, Accuracy
    and Stability of Numerical Algorithms, §3.1). Each of the two sums lies within γₙ·Σ|terms|
    of the true value."""
    u = float(np.finfo(dtype).eps) / 2
    n = count + 1
    return 2 * (n * u / (1 - n * u)) * abs_sum


def _round_f32(s: float, e: float) -> float:
    """The float32 nearest to the exact s + e (s = fl64(s + e), |e| ≤ half an ulp of s)."""
    r = np.float32(s)
    if e == 0.0 or float(r) == s:
        return float(r)
    up = np.nextafter(r, np.float32(np.inf))
    down = np.nextafter(r, np.float32(-np.inf))
    other = up if float(r) < s else down
    if 2 * s == float(r) + float(other):  # s is a midpoint: e decides the direction
        return float(other) if (e > 0) == (float(other) > float(r)) else float(r)
    return float(r)


def _add(x: float, y: float, single: bool) -> float:
    """x + y rounded once to float64, or to float32 when ``single`` (x, y float32 values)."""
    s = x + y
    return _round_f32(s, math.fsum((x, y, -s))) if single else s


def _fma(p: float, e: float, acc: float, single: bool) -> float:
    """fma(a, b, acc) = a·b + acc rounded once, from a·b = p + e exactly (e = 0 for float32)."""
    if single:  # a product of float32 values is exact in float64 (e == 0)
        s = p + acc
        return _round_f32(s, math.fsum((p, acc, -s)))
    return math.fsum((p, e, acc))


@dataclass(frozen=True)
class Order:
    """An order of adding K products the way a BLAS kernel does.

    ``blocks``: K cut into consecutive blocks (OpenBLAS's level-3 driver), each summed from 0
    and added to the running total in turn. ``lanes``: within a block, products k = l, l + L,
    l + 2L, … go to accumulator l (a SIMD register's lanes) by fused multiply-adds; the
    lanes are then added pairwise, neighbours first ((0+1)+(2+3)) …; the last K mod L
    products (``tail``) are added afterwards one by one, by "fma" or as rounded products
    ("add"), or go to the lanes like the others ("wrap": a masked last load, e.g. OpenBLAS's
    SkylakeX sgemm for fewer than 16 output columns). One lane is a plain fused multiply-add
    chain.

    ``second_first``: the chain starts with product 1 (rounded), then fuses product 0 onto it,
    then 2, 3, … in order: how a compiler contracts the C expression a₀·b₀ + a₁·b₁ + a₂·b₂
    (OpenBLAS's dgemv_t tail for fewer than 4 summed terms, e.g. a matrix times a vector of
    3 filters' gradients).
    """

    blocks: tuple[int, ...]
    lanes: int = 1
    tail: str = "fma"
    second_first: bool = False
    #: How the lanes are added at the end: "neighbours" ((0+1)+(2+3)), "halves" ((0+2)+(1+3):
    #: the upper half of the register onto the lower one, as a horizontal reduction does) or
    #: "halves-then-neighbours" (one halving, then neighbours: an AVX extract, then hadds).
    pairing: str = "neighbours"

    def describe(self) -> str:
        text = ("one chain of fused multiply-adds" if self.lanes == 1 else
                f"{self.lanes} interleaved chains of fused multiply-adds added pairwise")
        if self.lanes > 1 and self.pairing != "neighbours":
            text = text.replace("added pairwise", "added half onto half" if self.pairing == "halves"
                                else "added half onto half, then pairwise")
        if self.tail == "wrap" and self.lanes > 1:
            text += " (the last products in the first chains)"
        if self.second_first:
            text += " starting from the second product (as compiled C evaluates a₀·b₀ + a₁·b₁ + …)"
        if len(self.blocks) > 1:
            text += f" over blocks of {' + '.join(map(str, self.blocks))} terms, the blocks then added"
        return text


def ordered_sum(a: np.ndarray, b: np.ndarray, order: Order, dtype: np.dtype | str) -> float:
    """Σ aₖ·bₖ added in ``order``, every operation rounded as the hardware rounds it in
    ``dtype`` (exact emulation of the fused multiply-add: Dekker's two-product and fsum)."""
    a64 = np.asarray(a, dtype=np.float64).ravel()
    b64 = np.asarray(b, dtype=np.float64).ravel()
    if order.second_first and a64.size >= 2:
        swap = np.r_[1, 0, 2:a64.size]
        a64, b64 = a64[swap], b64[swap]
    p_all, e_all = two_products(a64, b64)
    single = np.dtype(dtype) == np.float32
    total: float | None = None
    k0 = 0
    for size in order.blocks:
        p = p_all[k0:k0 + size].tolist()
        e = e_all[k0:k0 + size].tolist()
        k0 += size
        lanes = order.lanes
        body = size - size % lanes if lanes > 1 and order.tail != "wrap" else size
        acc = [0.0] * lanes
        for k in range(body):
            acc[k % lanes] = _fma(p[k], e[k], acc[k % lanes], single)
        while len(acc) > 1:
            half = len(acc) // 2
            if order.pairing == "halves" or (order.pairing == "halves-then-neighbours" and len(acc) == lanes):
                acc = [_add(acc[i], acc[i + half], single) for i in range(half)]
            else:
                acc = [_add(acc[2 * i], acc[2 * i + 1], single) for i in range(half)]
        result = acc[0]
        for k in range(body, size):
            if order.tail == "fma":
                result = _fma(p[k], e[k], result, single)
            else:
                prod = float(np.float32(p[k])) if single else p[k]
                result = _add(result, prod, single)
        total = result if total is None else _add(total, result, single)
    return 0.0 if total is None else float(total)


def openblas_blocks(k: int, q: int, unroll: int) -> tuple[int, ...]:
    """How OpenBLAS's level-3 driver cuts a K-long sum: blocks of ``q``, except that a
    remainder between q and 2q is cut in two (its half rounded up to ``unroll``)."""
    blocks = []
    done = 0
    while done < k:
        left = k - done
        if left >= 2 * q:
            left = q
        elif left > q:
            left = ((left // 2 + unroll - 1) // unroll) * unroll
        blocks.append(left)
        done += left
    return tuple(blocks)


def _candidates(k: int) -> list[Order]:
    cuts: dict[tuple[int, ...], None] = {(k,): None}
    for q in _CANDIDATE_Q:
        for unroll in _CANDIDATE_UNROLL:
            cuts.setdefault(openblas_blocks(k, q, unroll), None)
    orders = [Order(blocks) for blocks in cuts]
    for lanes in (8, 4, 16, 2):
        if k >= lanes:
            orders += [Order(blocks, lanes, tail) for blocks in cuts for tail in ("fma", "add")
                       if all(b >= lanes for b in blocks)]
    # Tried last: an order found before these is never displaced.
    orders += [Order(blocks, lanes, "wrap") for lanes in (16, 8, 4) for blocks in cuts if k > lanes]
    orders += [Order(blocks, lanes, tail, pairing="halves") for lanes in (4, 8, 16, 2)
               for tail in ("wrap", "fma", "add") for blocks in cuts if k >= lanes]
    orders += [Order(blocks, lanes, tail, pairing="halves-then-neighbours") for lanes in (8, 16)
               for tail in ("wrap", "fma", "add") for blocks in cuts if k >= lanes]
    if k >= 2:
        orders.append(Order((k,), second_first=True))
    return orders


@dataclass(frozen=True)
class Product:
    """The form of one engine matrix product, C = op(A) @ op(B) (per sample when stacked).

    m, k, n: C is (m, n) and k the summed length; ``a_transposed`` / ``b_transposed``: the
    operand is passed as the transpose of a C-contiguous array (``x.T @ dy``, ``dy @ W.T``);
    ``stacked``: a broadcast matmul over a leading batch axis of this many matrices.
    """

    m: int
    k: int
    n: int
    dtype: str
    a_transposed: bool = False
    b_transposed: bool = False
    stacked: int = 0

    def run(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A, B, C) of this form on random numbers: A (…, m, k), B (…, k, n), C = A @ B."""
        lead = (self.stacked,) if self.stacked else ()
        a_shape = (*lead, self.k, self.m) if self.a_transposed else (*lead, self.m, self.k)
        b_shape = (*lead, self.n, self.k) if self.b_transposed else (*lead, self.k, self.n)
        a = rng.normal(size=a_shape).astype(self.dtype)
        b = rng.normal(size=b_shape).astype(self.dtype)
        a_op = np.swapaxes(a, -1, -2) if self.a_transposed else a
        b_op = np.swapaxes(b, -1, -2) if self.b_transposed else b
        return a_op, b_op, np.matmul(a_op, b_op)


#: (Matrix-vector product form, BLAS threads) pairs no candidate order reproduces.
_UNREPRODUCIBLE: set[tuple[Product, int]] = set()
_CONTROLLER: ThreadpoolController | None = None


def _controller() -> ThreadpoolController:
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def one_blas_thread() -> Any:
    """A context in which the BLAS uses one thread (PITFALLS.md, "BLAS threads": on a busy
    2-core machine a 2-thread product waits at a barrier and runs up to 50x slower)."""
    return _controller().limit(limits=1, user_api="blas")


def blas_threads() -> int:
    """How many threads the BLAS would use now (under any ``threadpool_limits`` in force).

    The block cut depends on it: OpenBLAS splits a product's K differently with one thread
    (784 = 384 + 208 + 192 in float64) than with two (384 + 200 + 200), so an order learned
    under one setting is never used under another."""
    counts = [info["num_threads"] for info in _controller().select(user_api="blas").info()]
    return max(counts, default=1)


@functools.lru_cache(maxsize=8)
def _calibration_runs(product: Product, threads: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [product.run(np.random.default_rng(20261206 + seed)) for seed in range(_run_count(product))]


def _run_count(product: Product) -> int:
    """How many random products calibrate ``product``'s orders (more for short sums)."""
    if product.k >= _SHORT_SUM:
        return _CALIBRATION_RUNS
    per_run = max(product.stacked, 1) * (product.m * product.k + product.k * product.n + product.m * product.n)
    return max(_CALIBRATION_RUNS, min(_SHORT_SUM_RUNS, _SHORT_SUM_BUDGET // per_run))


def blas_order(product: Product, i: int, j: int) -> Order | None:
    """The order in which the BLAS adds entry (i, j) of a product of this form, learned by
    calibration: the first candidate ``Order`` that reproduces entry (i, j) bit for bit in
    each of ``_CALIBRATION_RUNS`` (short sums: more) products of this form on seeded random numbers (the kernel
    used depends on where the entry lies in the BLAS's tiles), computed with the BLAS thread
    count in force now (``blas_threads``). None when no candidate does or the sum is too long
    to reproduce term by term."""
    return _blas_order(product, i, j, blas_threads())


@functools.lru_cache(maxsize=1024)
def _blas_order(product: Product, i: int, j: int, threads: int) -> Order | None:
    if product.k > MAX_CHAIN or product.k < 1 or (product, threads) in _UNREPRODUCIBLE:
        return None
    runs = _calibration_runs(product, threads)
    lead: tuple[int, ...] = (0,) if product.stacked else ()
    dtype = np.dtype(product.dtype)
    row, entry = (*lead, i), (*lead, i, j)
    column: tuple[int | slice, ...] = (*lead, slice(None), j)
    for order in _candidates(product.k):
        if all(  # generator: stops at the first run the order fails, so wrong orders cost little
               ordered_sum(a[row], b[column], order, dtype) == float(c[entry]) for a, b, c in runs):
            return order
    if product.m == 1 or product.n == 1:
        # A matrix-vector product: one kernel for every entry, so one failure is final (and
        # the next click on this layer does not try every candidate again).
        _UNREPRODUCIBLE.add((product, threads))
    return None


def blas_sum(a: np.ndarray, b: np.ndarray, product: Product, i: int, j: int) -> tuple[float, Order] | None:
    """Σ aₖ·bₖ (a, b: the k-long row and column of entry (i, j) of ``product``) added in the
    BLAS's order, and that order; None when the order is unknown (``blas_order``)."""
    order = blas_order(product, i, j)
    if order is None:
        return None
    return ordered_sum(a, b, order, np.dtype(product.dtype)), order
