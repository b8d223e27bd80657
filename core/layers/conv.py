"""2-D convolution (cross-correlation, as in every deep-learning library), channels-first."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np

from core.initializers import INITIALIZERS, get_initializer
from core.layers import _winograd as winograd
from core.layers._compiled import gather_input_gradient, kernels
from core.layers._im2col import (
    WORKSPACE_LIMIT_BYTES,
    Geometry,
    Workspace,
    channels_last,
    col2im_offsets,
    fill_block,
    im2col_offsets,
    im2col_rows,
    image_shape_fix,
    output_size_and_padding,
    pad_channels_last,
    pair,
    pair_text,
    to_channels_first,
)
from core.layers.base import Layer, Shape, format_shape
from core.params import Param
from core.registry import register_layer

PADDINGS = ("valid", "same")
#: A kernel row of a patch shorter than this (kw * in_c values) is copied offset-major (see
#: ``im2col_offsets``); measured on the 1-channel first layer of an MNIST network.
OFFSET_MAJOR_BELOW = 16
#: Target size of one block's column matrix: about half the L2 cache of one core.
BLOCK_BYTES = 1 << 20
#: Column matrices up to this size are kept from a training forward for backward; larger
#: ones are rebuilt block by block (measured on the shipped model's and README's layers,
#: whole training steps: 2-7 MB kept 5-20% faster; the README CNN's second layer in float64,
#: 14.6 MB, kept 4% faster; the shipped second layer, 14.5 MB, the same either way in
#: float32 and, at 29 MB in float64, rebuilt 6% faster).
KEEP_COLUMNS_BYTES = 16 << 20
#: Offset-major layers (few input channels) with fewer filters than this give a
#: channels-first output (see ``Conv2D._channels_last_output``).
CHANNELS_LAST_FROM = 16
IntOrPair = int | tuple[int, int] | list[int]


@dataclass(frozen=True)
class MatmulForm:
    """The form of one ``np.matmul`` the layer runs: per stack item C = op(A) @ op(B), C (m, n),
    summed over k. ``a_transposed`` / ``b_transposed``: that operand is the transposed view of
    a C-contiguous array; ``stacked``: a broadcast product over that many matrices (0: none)."""

    m: int
    k: int
    n: int
    a_transposed: bool = False
    b_transposed: bool = False
    stacked: int = 0


@dataclass(frozen=True)
class ConvArithmetic:
    """How ``Conv2D.forward`` / ``backward`` computed a batch of ``batch`` samples: which
    formulation, which blocks of samples and which matrix products (``Conv2D.arithmetic``).

    For ``core.analysis.formulas``, which recomputes one number in the engine's own order.
    Every formulation orders a patch (K = kh*kw*C values) by kernel offset, then channel:
    ``patch_index(c, i, j)``, the bias folded in as entry K against a constant 1.

    ``layout``:
      * ``"pixel-major"``: per block, cols (pixels, K [+1]) @ weights (K [+1], filters);
        the weight gradient cols^T @ dy_rows (cols a transposed operand).
      * ``"offset-major"``: cols_t (K [+1], pixels), forward cols_t^T @ weights; the weight
        gradient cols_t @ dy_rows.
      * ``"per-sample"`` (few filters on few channels, e.g. a 1-channel first layer): per sample
        weights^T (filters, K [+1]) @ cols (K [+1], OH*OW); the weight gradient per sample
        cols @ dy^T, summed over the block's samples in order.
      * ``"winograd"`` (3×3, stride 1, 16+ input channels or 8+ in float64, compiled kernels):
        Winograd's F(2×2, 3×3) (``core.layers._winograd``), block by block: per block one
        stacked product (16, tiles, C) @ (16, C, F), tiles ordered (sample, tile row, tile
        column); the bias gradient adds each block's δ pixel after pixel, the blocks in order.
    Blocks' weight-gradient partials are added to a zero total in block order. The input
    gradient (every layout): per block, dy_rows (pixels, filters) @ W_ij^T (filters, C) for
    each kernel offset (stacked), added onto a zero image offset by offset, (i, j) row-major;
    with ``gathered_input_grad`` (stride 1, compiled kernels available) one product
    dy_rows @ [W_ij^T for every (i, j)] (filters, kh*kw*C) instead, whose blocks each input
    pixel sums from zero in the same (i, j) order. Pixels of a block are ordered (sample, r, c).
    """

    layout: str
    batch: int
    block: int
    geometry: Geometry
    filters: int
    use_bias: bool
    gathered_input_grad: bool = False

    @property
    def patch_length(self) -> int:
        """K [+1]: the summed length of the forward product."""
        return self.geometry.k + self.use_bias

    @property
    def bias_index(self) -> int:
        return self.geometry.k

    def patch_index(self, channel: int, i: int, j: int) -> int:
        """Position of input channel ``channel`` at kernel offset (i, j) in a patch."""
        return (i * self.geometry.kernel[1] + j) * self.geometry.channels + channel

    def blocks(self) -> list[tuple[int, int]]:
        """(start, stop) of each block of samples, in the order they are computed."""
        return [(start, min(start + self.block, self.batch)) for start in range(0, self.batch, self.block)]

    def block_of(self, sample: int) -> tuple[int, int]:
        start = sample - sample % self.block
        return start, min(start + self.block, self.batch)

    def _pixel_row(self, sample: int, r: int, c: int) -> int:
        """Row of output pixel (r, c) of ``sample`` among its block's pixels."""
        oh, ow = self.geometry.out_hw
        return (sample - self.block_of(sample)[0]) * oh * ow + r * ow + c

    def output_product(self, sample: int, f: int, r: int, c: int) -> tuple[MatmulForm, int, int]:
        """The product whose entry (i, j) is output (f, r, c) of ``sample`` (summed over the
        patch, K [+1] long), as (form, i, j)."""
        start, stop = self.block_of(sample)
        pixels = self.geometry.out_hw[0] * self.geometry.out_hw[1]
        if self.layout == "per-sample":
            return (MatmulForm(self.filters, self.patch_length, pixels, a_transposed=True, stacked=stop - start),
                    f, r * self.geometry.out_hw[1] + c)
        form = MatmulForm((stop - start) * pixels, self.patch_length, self.filters,
                          a_transposed=self.layout == "offset-major")
        return form, self._pixel_row(sample, r, c), f

    def weight_grad_product(self, start: int, row: int, f: int) -> tuple[MatmulForm, int, int]:
        """The product of the block starting at ``start`` whose entry (i, j) is that block's
        share of gradient entry (row, f) (row: ``patch_index`` or ``bias_index``): summed over
        the block's pixels, or, for ``"per-sample"``, one sample's (then summed over samples)."""
        _, stop = self.block_of(start)
        pixels = self.geometry.out_hw[0] * self.geometry.out_hw[1]
        if self.layout == "per-sample":
            form = MatmulForm(self.patch_length, pixels, self.filters, b_transposed=True, stacked=stop - start)
        else:
            form = MatmulForm(self.patch_length, (stop - start) * pixels, self.filters,
                              a_transposed=self.layout == "pixel-major")
        return form, row, f

    def input_grad_product(self, sample: int, r: int, c: int, channel: int,
                           offset: tuple[int, int] = (0, 0)) -> tuple[MatmulForm, int, int]:
        """The product whose entry (i, j) is what output pixel (r, c) of ``sample`` passes back
        to ``channel`` through kernel offset ``offset`` (summed over the filters): of each
        stack item (one per offset), or of the one gathered product."""
        start, stop = self.block_of(sample)
        g = self.geometry
        pixels = (stop - start) * g.out_hw[0] * g.out_hw[1]
        if self.gathered_input_grad:
            column = (offset[0] * g.kernel[1] + offset[1]) * g.channels + channel
            return MatmulForm(pixels, self.filters, g.k), self._pixel_row(sample, r, c), column
        form = MatmulForm(pixels, self.filters, g.channels, stacked=g.kernel[0] * g.kernel[1])
        return form, self._pixel_row(sample, r, c), channel


@register_layer
class Conv2D(Layer):
    """Conv2D(filters, kernel_size): (batch, in_c, H, W) -> (batch, filters, OH, OW).

    Parameters: W (filters, in_c, kh, kw) and, with ``use_bias``, one bias per output
    channel b (filters,). ``kernel_size`` and ``stride`` are an int or a pair (rows, cols).

    Output size per spatial axis (H shown; W likewise):
      * ``padding="valid"``: no padding, OH = (H - kh) // sh + 1; the kernel must fit.
      * ``padding="same"`` (TensorFlow/Keras semantics): OH = ceil(H / sh); the total
        padding max((OH - 1) * sh + kh - H, 0) is split top = total // 2, bottom = the rest,
        so an odd total puts the extra row at the bottom (extra column at the right).
        With stride 1 the output has the input's size.

    Implementation (``core.layers._im2col``): per block of samples sized to stay in the L2
    cache, im2col into a reused buffer (pixels, K [+1]) and one BLAS product with the
    (K [+1], filters) weight matrix, written straight into the output. The bias is folded
    into the product as an extra weight row against a constant column of ones (db falls out
    of the dW product). The output is stored channels-last (what the product yields; the
    next layers read it without transposing), except for a first layer with few filters. The
    backward pass reads the patches kept from forward when they are small, else recomputes
    them block by block from the cached input.

    A 3×3, stride-1 layer on 16+ input channels (8+ in float64; the usual hidden convolution)
    runs Winograd's F(2×2, 3×3) instead when the compiled kernels are available
    (``core.layers._winograd``): 16 multiplications per 2×2 outputs and channel instead of
    36; the same numbers up to rounding. ``core.layers.reference.conv2d_*`` is the plain
    version; tests hold every path to it.
    """

    type_name = "Conv2D"
    summary = "Slides small learned filters over the image; each filter makes one feature map."
    category = "convolution"
    palette_order = 20
    default_settings = MappingProxyType({"filters": 8, "kernel_size": 3, "padding": "same"})
    input_rank = 3
    schema = (
        Param("filters", "int", minimum=1, maximum=4096, help="number of output channels (feature maps)"),
        Param("kernel_size", "int_or_pair", minimum=1, maximum=64,
              help="height and width of each filter, e.g. 3 or [3, 5]"),
        Param("stride", "int_or_pair", default=1, minimum=1, maximum=64,
              help="step between filter positions, e.g. 1 or 2"),
        Param("padding", "choice", default="valid", choices=PADDINGS,
              help="'valid': no padding (output shrinks); 'same': zero-pad so output = ceil(input / stride)"),
        Param("kernel_initializer", "choice", default="glorot_uniform", choices=tuple(INITIALIZERS),
              help="how the weights are drawn before training"),
        Param("use_bias", "bool", default=True, help="add a learned bias to each output channel"),
    )

    def __init__(self, filters: int, kernel_size: IntOrPair, stride: IntOrPair = 1, padding: str = "valid",
                 kernel_initializer: str = "glorot_uniform", use_bias: bool = True):
        super().__init__(filters=filters, kernel_size=kernel_size, stride=stride, padding=padding,
                         kernel_initializer=kernel_initializer, use_bias=use_bias)
        self.kernel: tuple[int, int] = pair(self.config["kernel_size"])
        self.strides: tuple[int, int] = pair(self.config["stride"])
        self._workspace = Workspace()
        self._geometry: Geometry | None = None
        self._x: np.ndarray | None = None
        self._kept_columns = False
        self._forward_winograd = False  # how the last forward computed (backward follows it)
        self._kept_winograd = False

    def describe(self) -> str:
        text = f"Conv2D {self.config['filters']} {pair_text(self.kernel)}"
        sh, sw = self.strides
        if (sh, sw) != (1, 1):
            text += f"/{sh}" if sh == sw else f"/{pair_text(self.strides)}"
        if self.config["padding"] == "same":
            text += " same"
        return text

    # -- shape arithmetic -----------------------------------------------------------------
    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise self.shape_error(
                f"Conv2D needs an image input (channels, height, width) but receives {format_shape(input_shape)}",
                image_shape_fix(input_shape),
                code="needs_image_input",
            )
        _, height, width = (int(d) for d in input_shape)
        (kh, kw), (sh, sw) = self.kernel, self.strides
        padding = self.config["padding"]
        if padding == "valid" and (kh > height or kw > width):
            raise self.shape_error(
                f"kernel {pair_text(self.kernel)} is larger than the input {height}×{width}",
                "use a smaller kernel_size or padding 'same'",
                code="kernel_too_large",
            )
        oh = output_size_and_padding(height, kh, sh, padding)[0]
        ow = output_size_and_padding(width, kw, sw, padding)[0]
        return (self.config["filters"], oh, ow)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        self.output_shape(input_shape)
        shapes: dict[str, Shape] = {"W": (self.config["filters"], int(input_shape[0]), *self.kernel)}
        if self.config["use_bias"]:
            shapes["b"] = (self.config["filters"],)
        return shapes

    def macs(self, input_shape: Shape) -> int:
        _, oh, ow = self.output_shape(input_shape)
        return oh * ow * int(self.config["filters"]) * int(input_shape[0]) * self.kernel[0] * self.kernel[1]

    # -- parameters -------------------------------------------------------------------------
    def initial_value(self, name: str, shape: Shape, input_shape: Shape, rng: np.random.Generator) -> np.ndarray:
        if name == "b":
            return np.zeros(shape)
        out_c, in_c, kh, kw = shape
        return get_initializer(self.config["kernel_initializer"])(shape, in_c * kh * kw, out_c * kh * kw, rng)

    def on_build(self, rng: np.random.Generator) -> None:
        channels, height, width = self.built_input_shape()  # output_shape checked the rank
        self._geometry = Geometry.create((channels, height, width), self.kernel, self.strides, self.config["padding"])
        self._workspace.clear()
        self._x = None
        self._kept_columns = False
        self._forward_winograd = self._kept_winograd = False

    def _built_geometry(self) -> Geometry:
        if self._geometry is None:
            raise self._not_built()
        return self._geometry

    def _weight_matrix(self) -> np.ndarray:
        """(K [+1], filters), K = kh*kw*in_c ordered (i, j, channel) like a patch; b appended
        as the last row. In the layer's dtype even if someone stored parameters of another
        dtype: a float64 weight matrix would silently turn a float32 product into float64."""
        g = self._built_geometry()
        use_bias = "b" in self.params
        matrix = np.empty((g.k + use_bias, self.config["filters"]), dtype=self.dtype)
        matrix[:g.k] = self.params["W"].transpose(2, 3, 1, 0).reshape(g.k, -1)
        if use_bias:
            matrix[g.k] = self.params["b"]
        return matrix

    def _offset_major(self) -> bool:
        """Which patch layout the column matrix has: offset-major when a kernel row of a patch
        is short (few channels, e.g. the first layer's single one), pixel-major otherwise."""
        return self._built_geometry().patch_run < OFFSET_MAJOR_BELOW

    def _chunk(self, batch: int) -> int:
        """Samples per block: a block's column matrix fits in the core's L2 cache, so the
        matrix product reads the patches while they are still cached (measured 1.3-1.5x
        faster than one batch-wide column matrix on the shipped model's second layer)."""
        g = self._built_geometry()
        per_sample = (g.k + 1) * g.out_hw[0] * g.out_hw[1] * self.dtype.itemsize
        return max(1, min(batch, BLOCK_BYTES // per_sample))

    def _columns(self, x: np.ndarray, start: int, stop: int, keep: bool = False,
                 compute: bool = True) -> np.ndarray:
        """The column matrix of samples ``start:stop`` of ``x`` (batch, in_c, H, W), in a
        reused buffer: offset-major (K [+1], n*OH*OW), or (n, K [+1], OH*OW) when the output
        is channels-first, or pixel-major (n*OH*OW, K [+1]); the last row / column is ones
        when the bias is folded into the product.

        ``keep``: in a batch-wide buffer (slice ``start:stop`` of it) that stays untouched
        until the next training forward, so backward can read it again (``compute=False``)
        instead of rebuilding it; otherwise in a one-block buffer.
        """
        g = self._built_geometry()
        n, (oh, ow), k, use_bias = stop - start, g.out_hw, g.k, "b" in self.params
        batch = x.shape[0]
        rows = batch if keep else self._chunk(batch)
        first = start if keep else 0
        if self._offset_major():
            def ones_row(buffer: np.ndarray) -> None:
                if use_bias:
                    buffer[k] = 1

            if not self._channels_last_output():
                # Per sample (n, K [+1], OH*OW): W^T @ columns then is the channels-first output.
                def ones_rows(buffer: np.ndarray) -> None:
                    if use_bias:
                        buffer[:, k] = 1

                name = "kept_cols_s" if keep else "cols_s"
                per_sample = self._workspace.get(name, rows, (k + use_bias, oh * ow), self.dtype, ones_rows)
                cols_s = per_sample[first:first + n]
                if compute:
                    xp = pad_channels_last(x[start:stop], g, self._workspace, "padded")
                    im2col_offsets(xp, cols_s.transpose(1, 0, 2).reshape(k + use_bias, n, oh, ow), g)
                return cols_s
            name = "kept_cols_t" if keep else "cols_t"
            buffer = self._workspace.get_exact(name, (k + use_bias, rows * oh * ow), self.dtype, ones_row)
            cols_t = buffer[:, first * oh * ow:(first + n) * oh * ow]
            if compute:
                xp = pad_channels_last(x[start:stop], g, self._workspace, "padded")
                im2col_offsets(xp, cols_t.reshape(k + use_bias, n, oh, ow), g)
            return cols_t

        def ones_column(buffer: np.ndarray) -> None:
            if use_bias:
                buffer[..., k] = 1

        name = "kept_cols" if keep else "cols"
        cols = self._workspace.get(name, rows, (oh, ow, k + use_bias), self.dtype, ones_column)[first:first + n]
        if compute:
            im2col_rows(pad_channels_last(x[start:stop], g, self._workspace, "padded"), cols, g)
        return cols.reshape(n * oh * ow, k + use_bias)

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (batch, in_c, H, W) -> (batch, filters, OH, OW), in the layer's dtype.

        Block by block (``_chunk`` samples): im2col into a cached buffer, then one matrix
        product (pixels, K [+1]) @ (K [+1], filters) straight into the output. The result is
        stored channels-last (a (batch, OH, OW, filters) array seen through a transposed
        view): that is what the product yields, and the next activation, pooling or
        convolution reads it in that order without a transposing copy.
        """
        self._check_built()
        expected = self.built_input_shape()
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Conv2D was built for inputs {format_shape(expected)} per sample "
                             f"but receives a batch of shape {format_shape(x.shape)}")
        g = self._built_geometry()
        batch, (oh, ow), filters = x.shape[0], g.out_hw, self.config["filters"]
        jit = self._winograd_kernels()
        if jit is not None:
            return self._forward_winograd_path(x, training, jit)
        self._forward_winograd = False
        weights = self._weight_matrix()
        channels_last_out = self._channels_last_output()
        if channels_last_out:
            y = np.empty((batch, oh, ow, filters), dtype=self.dtype)
        else:
            y = np.empty((batch, filters, oh, ow), dtype=self.dtype)
        chunk = self._chunk(batch)
        column_bytes = (g.k + 1) * oh * ow * batch * self.dtype.itemsize
        # Training keeps small column matrices for backward (written block by block, each block
        # multiplied while still cached); rebuilding a big one from x is cheaper than reading
        # it back from memory (measured: keep below KEEP_COLUMNS_BYTES).
        keep = training and column_bytes <= min(KEEP_COLUMNS_BYTES, WORKSPACE_LIMIT_BYTES)
        for start in range(0, batch, chunk):
            stop = min(start + chunk, batch)
            if channels_last_out:  # BLAS reads a transposed operand in place: no copy
                cols_kp = self._columns_kp(x, start, stop, keep)  # (K [+1], pixels)
                np.matmul(cols_kp.T, weights, out=y[start:stop].reshape(-1, filters))
            else:  # one (filters, K [+1]) @ (K [+1], OH*OW) product per sample
                cols_s = self._columns(x, start, stop, keep)
                np.matmul(weights.T, cols_s, out=y[start:stop].reshape(stop - start, filters, -1))
        # Without kept patches, backward rebuilds them from x block by block. A huge inference
        # batch (a whole test set) is not kept alive.
        self._kept_columns = keep
        self._x = x if training or column_bytes <= WORKSPACE_LIMIT_BYTES else None
        return to_channels_first(y) if channels_last_out else y

    def _winograd_kernels(self) -> Any:
        """The compiled kernels when this layer computes by Winograd's F(2×2, 3×3): its shape
        fits (3×3, stride 1, enough input channels for its dtype: ``core.layers._winograd``)
        and numba is available; else None (im2col)."""
        if not winograd.applies(self.kernel, self.strides, self._built_geometry().channels, self.dtype):
            return None
        return kernels()

    def _forward_winograd_path(self, x: np.ndarray, training: bool, jit: Any) -> np.ndarray:
        """``forward`` by Winograd's F(2×2, 3×3); the output stored channels-last. Training keeps
        the transformed input tiles for backward when they are small (as the column matrices)."""
        g = self._built_geometry()
        tiles_h, tiles_w = winograd.tile_counts(g.out_hw)
        tile_bytes = 16 * tiles_h * tiles_w * g.channels * x.shape[0] * self.dtype.itemsize
        keep = training and tile_bytes <= min(KEEP_COLUMNS_BYTES, WORKSPACE_LIMIT_BYTES)
        x = np.asarray(x, dtype=self.dtype)
        y = winograd.forward(x, self.params["W"], self.params.get("b"), g, self._workspace, keep, jit)
        self._forward_winograd, self._kept_winograd, self._kept_columns = True, keep, False
        self._x = x if training or tile_bytes <= WORKSPACE_LIMIT_BYTES else None
        return to_channels_first(y)

    def _channels_last_output(self) -> bool:
        """The memory order of the output: channels-last (batch, OH, OW, filters), what the
        pixel-major product yields, except for few filters on few input channels (the first
        layer of a small network): there (batch, filters, OH, OW), per-sample products whose
        long rows suit the element-wise layers better (measured on the README CNN's first
        layer: 1.6x faster forward than one wide product)."""
        return not (self._offset_major() and int(self.config["filters"]) < CHANNELS_LAST_FROM)

    def arithmetic(self, batch: int) -> ConvArithmetic:
        """How ``forward`` and ``backward`` compute a batch of ``batch`` samples (see
        ``ConvArithmetic``): read by the step-through formulas, so they follow this layer's
        arithmetic instead of guessing it."""
        g, filters = self._built_geometry(), int(self.config["filters"])
        if self._winograd_kernels() is not None:
            block = winograd.block_samples(g, filters, batch, self.dtype.itemsize)
            return ConvArithmetic("winograd", batch, block, g, filters, "b" in self.params, False)
        if self._offset_major():
            layout = "offset-major" if self._channels_last_output() else "per-sample"
        else:
            layout = "pixel-major"
        return ConvArithmetic(layout, batch, self._chunk(batch), g, filters, "b" in self.params,
                              self._gathers_input_grad())

    def _gathers_input_grad(self) -> bool:
        """Whether backward sums the input gradient with the compiled gather (stride 1, numba
        available): one wide product per block instead of one narrow one per kernel offset."""
        return self.strides == (1, 1) and kernels() is not None

    def _columns_kp(self, x: np.ndarray, start: int, stop: int, keep: bool = False,
                    compute: bool = True) -> np.ndarray:
        """``_columns`` as a (K [+1], pixels) matrix (a transposed view when pixel-major)."""
        cols = self._columns(x, start, stop, keep, compute)
        return cols if self._offset_major() else cols.T

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy: (batch, filters, OH, OW) -> dx: (batch, in_c, H, W) (None if not needed).

        Per block of samples, with dy as a (pixels, filters) matrix: [dW; db] += cols^T @ dy
        (the ones row/column of the column matrix yields db; the patches are recomputed from
        the cached input), and dx by ``col2im_offsets``. dx has x's memory order.
        """
        if self._x is None:
            raise RuntimeError("Conv2D.backward needs a forward first (with training=True for very large batches)")
        g, x = self._built_geometry(), self._x
        if self._forward_winograd:
            jit = kernels()
            if jit is not None:
                dw, db, dx_wino = winograd.backward(x, dy, self.params["W"], g, self._workspace, self._kept_winograd,
                                                    need_input_grad, jit)
                self.grads["W"][...] = dw
                if "b" in self.grads:
                    self.grads["b"][...] = db
                return dx_wino
        batch, filters, k = x.shape[0], self.config["filters"], g.k
        gathered = need_input_grad and self._gathers_input_grad()
        if gathered:  # (filters, kh*kw*C): every offset's W_ij^T side by side, (i, j, channel) order
            offset_weights = self.params["W"].transpose(0, 2, 3, 1).reshape(filters, -1).astype(self.dtype)
        else:  # (kh*kw, filters, in_c): one W_ij^T per kernel offset, for dx = sum_ij shift_ij(dy @ W_ij^T)
            offset_weights = self.params["W"].transpose(2, 3, 0, 1).reshape(-1, filters, g.channels).astype(self.dtype)
        grad = np.zeros((k + ("b" in self.params), filters), dtype=self.dtype)
        (height, width), (top, _, left, _) = g.in_hw, g.pads
        # dx in x's memory order, so the layer before reads its gradient as it wrote its output;
        # each block is zeroed just before its sums, while it is in the cache.
        dx = np.empty_like(x, dtype=self.dtype) if need_input_grad else None
        dx_cl = None if dx is None else channels_last(dx)
        chunk = self._chunk(batch)
        for start in range(0, batch, chunk):
            stop = min(start + chunk, batch)
            n = stop - start
            kept = self._kept_columns
            if self._channels_last_output():
                dy_rows = np.ascontiguousarray(channels_last(dy)[start:stop], dtype=self.dtype).reshape(-1, filters)
                grad += self._columns_kp(x, start, stop, keep=kept, compute=not kept) @ dy_rows
            else:
                dy_s = np.ascontiguousarray(dy[start:stop], dtype=self.dtype).reshape(n, filters, -1)
                cols_s = self._columns(x, start, stop, keep=kept, compute=not kept)
                grad += np.matmul(cols_s, dy_s.transpose(0, 2, 1)).sum(axis=0)
                if dx_cl is not None:
                    dy_rows = np.ascontiguousarray(channels_last(dy)[start:stop], dtype=self.dtype).reshape(-1, filters)
            if dx_cl is None:
                continue
            dx_block = dx_cl[start:stop]
            if gathered:
                dcols = (dy_rows @ offset_weights).reshape(n, *g.out_hw, g.kernel[0] * g.kernel[1], g.channels)
                fill_block(dx_block, self._workspace, "dx_gathered", chunk,
                           partial(gather_input_gradient, dcols, kernel=g.kernel, top=top, left=left))
                continue
            if dx_block.flags.c_contiguous:  # channels-last: summed in place
                dx_block.fill(0)
                col2im_offsets(dy_rows, offset_weights, dx_block, g)
                continue
            # Channels-first: summed in a zero-bordered channels-last buffer (whole rows, no
            # clipping: measured 4-10 % faster for few channels), whose interior is copied out.
            dxp = self._workspace.get("dx_padded", chunk, (*g.padded_hw, g.channels), self.dtype)[:n]
            dxp.fill(0)
            col2im_offsets(dy_rows, offset_weights, dxp, g.padding_as_input)
            dx_block[...] = dxp[:, top:top + height, left:left + width]
        self.grads["W"][...] = grad[:k].reshape(*g.kernel, g.channels, filters).transpose(3, 2, 0, 1)
        if "b" in self.grads:
            self.grads["b"][...] = grad[k]
        return dx
