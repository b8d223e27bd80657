"""2-D convolution (cross-correlation, as in every deep-learning library), channels-first."""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

import numpy as np

from core.initializers import INITIALIZERS, get_initializer
from core.layers._im2col import (
    WORKSPACE_LIMIT_BYTES,
    Geometry,
    Workspace,
    col2im,
    im2col,
    image_shape_fix,
    output_size_and_padding,
    pair,
    pair_text,
)
from core.layers.base import Layer, Shape, format_shape
from core.params import Param
from core.registry import register_layer

PADDINGS = ("valid", "same")
IntOrPair = int | tuple[int, int] | list[int]


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

    Implementation: im2col into a per-sample column matrix (batch, in_c*kh*kw [+1], OH*OW)
    and one batched matrix product W(filters, in_c*kh*kw [+1]) @ columns, which yields the
    output directly in (batch, filters, OH*OW) order (no transpose copy). The bias is folded
    into the product as an extra weight column against a constant row of ones, so neither
    forward (y += b) nor backward (db = sum dy) needs a separate pass over the output.
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
        self._cols: np.ndarray | None = None

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
        self._cols = None

    def _built_geometry(self) -> Geometry:
        if self._geometry is None:
            raise self._not_built()
        return self._geometry

    def _weight_matrix(self) -> np.ndarray:
        """(filters, in_c*kh*kw [+1]): W flattened, with b appended as the last column."""
        # In the layer's dtype even if someone stored parameters of another dtype: a float64
        # weight matrix would silently turn the whole float32 product into float64.
        w = self.params["W"].reshape(self.config["filters"], -1)
        if "b" not in self.params:
            return w.astype(self.dtype, copy=False)
        return np.concatenate((w, self.params["b"][:, None]), axis=1, dtype=self.dtype)

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (batch, in_c, H, W) -> (batch, filters, OH, OW), in the layer's dtype."""
        self._check_built()
        expected = self.built_input_shape()
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Conv2D was built for inputs {format_shape(expected)} per sample "
                             f"but receives a batch of shape {format_shape(x.shape)}")
        g = self._built_geometry()
        batch, (in_c, kh, kw), (oh, ow) = x.shape[0], (g.channels, *g.kernel), g.out_hw
        k = in_c * kh * kw
        use_bias = "b" in self.params

        def init(buffer: np.ndarray) -> None:
            # The buffer arrives zeroed: padding entries are never written by im2col and so
            # keep reading zero. The bias row (last row of each sample) is constantly one.
            if use_bias:
                buffer[:, k] = 1

        cols = self._workspace.get("cols", batch, (k + use_bias, oh * ow), self.dtype, init)
        im2col(x, cols[:, :k].reshape(batch, in_c, kh, kw, oh * ow), g)
        # Broadcast matmul: one BLAS product per sample, each (filters, k) @ (k, OH*OW).
        y = np.matmul(self._weight_matrix(), cols)
        # The column matrix is what backward needs. A huge inference batch (column matrix
        # beyond the workspace limit, e.g. a whole test set at once) is not kept alive.
        self._cols = cols if training or cols.nbytes <= WORKSPACE_LIMIT_BYTES else None
        return cast(np.ndarray, y.reshape(batch, self.config["filters"], oh, ow))

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy: (batch, filters, OH, OW) -> dx: (batch, in_c, H, W) (None if not needed).

        dW = sum over samples of dy_s (filters, OH*OW) @ cols_s^T, which thanks to the ones
        row also yields db as its last column; dcols = W^T @ dy_s, folded back by col2im.
        """
        if self._cols is None:
            raise RuntimeError("Conv2D.backward needs a forward first (with training=True for very large batches)")
        g, cols = self._built_geometry(), self._cols
        batch, filters = cols.shape[0], self.config["filters"]
        in_c, (kh, kw), (oh, ow) = g.channels, g.kernel, g.out_hw
        k = in_c * kh * kw
        dy3 = dy.astype(self.dtype, copy=False).reshape(batch, filters, oh * ow)

        # (batch, filters, k [+1]) partial products, then summed over the batch: small arrays.
        grad = np.matmul(dy3, cols.transpose(0, 2, 1)).sum(axis=0)
        self.grads["W"][...] = grad[:, :k].reshape(self.grads["W"].shape)
        if "b" in self.grads:
            self.grads["b"][...] = grad[:, k]
        if not need_input_grad:
            return None

        w = self.params["W"].reshape(filters, k)
        dcols = self._workspace.get("dcols", batch, (k, oh * ow), self.dtype)
        np.matmul(w.T, dy3, out=dcols)
        dx = np.zeros((batch, *self.built_input_shape()), dtype=self.dtype)
        col2im(dcols.reshape(batch, in_c, kh, kw, oh * ow), dx, g)
        return dx
