"""Private helpers for Conv2D and the pooling layers: padding arithmetic, patches, scratch buffers.

Conventions: the public layout is channels-first, ``(batch, channels, height, width)``; a
kernel offset ``(i, j)`` is a position inside the kernel window. Output pixel ``(r, c)``
reads padded pixel ``(r * sh + i, c * sw + j)``.

Memory order (measured on the shipped model's layers, one thread): convolutions compute in
channels-last memory. The input is copied once into a zero-bordered channels-last buffer
(``pad_channels_last``); a patch row is then kw * C contiguous values, so building the column
matrix (``im2col_rows``) moves long runs, and the product columns @ weights yields the output
directly as (pixels, filters), i.e. channels-last. Layers hand that array on as a transposed
view with the public (batch, C, H, W) shape; NumPy's element-wise operations keep its memory
order, so activations and pooling never transpose it. For one input channel a patch row is
only kw values, and ``im2col_offsets`` copies whole output rows per kernel offset instead.

The input gradient is not "dcols = dy @ W^T, then col2im" (runs of C values): one batched
product gives each kernel offset's contribution as a contiguous block, added onto the image
shifted by that offset (``col2im_offsets``), whole image rows at a time.

The plain reference each fast path is tested against lives in ``core.layers.reference``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

from core.layers.base import Shape, format_shape

#: Scratch buffers larger than this are not kept between calls (e.g. evaluating a whole
#: test set in one batch): they are allocated for that call and released afterwards.
WORKSPACE_LIMIT_BYTES = 64 * 2**20


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` / ``[3, 5]`` -> ``(3, 5)``."""
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def pair_text(value: tuple[int, int]) -> str:
    """``(3, 3)`` -> ``"3×3"``."""
    return f"{value[0]}×{value[1]}"


#: Start of every suggestion ``image_shape_fix`` makes (``core.spec.dataset_fit`` recognises it and
#: names the app's actions instead).
IMAGE_INPUT_FIX_START = "feed it images"


def image_shape_fix(input_shape: Shape) -> str:
    """A suggestion for a layer that needs ``(channels, height, width)`` but got ``input_shape``.

    Worded for every front end (the library, the command line, the app): it says what the
    layer needs, not which control to use; the app's editor adds that (``core.spec.dataset_fit``).
    """
    if len(input_shape) == 2:
        return f"{IMAGE_INPUT_FIX_START} with a channel axis, shaped {format_shape((1, *input_shape))}"
    example = (1, 28, 28)
    if len(input_shape) == 1:
        side = round(float(input_shape[0]) ** 0.5)
        example = (1, side, side) if side * side == input_shape[0] else example
    return (f"{IMAGE_INPUT_FIX_START} shaped (channels, height, width), e.g. {format_shape(example)}, "
            "and keep image layers before Flatten and Dense")


def output_size_and_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """Output length and padding (before, after) along one spatial axis.

    ``"valid"``: no padding, ``out = (size - kernel) // stride + 1`` (may be < 1 when the
    kernel does not fit; callers report that). ``"same"`` follows TensorFlow:
    ``out = ceil(size / stride)``, total padding ``max((out - 1) * stride + kernel - size, 0)``,
    split with the smaller half before (top/left) and the larger half after (bottom/right).
    """
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2, total - total // 2
    raise ValueError(f"unknown padding {padding!r}")


@dataclass(frozen=True)
class Geometry:
    """Where a convolution's windows lie, for one per-sample input shape and layer setting.

    ``pads`` is ``(top, bottom, left, right)``; the zero-padded image is ``padded_hw``
    (height + top + bottom, width + left + right). Output pixel ``(r, c)`` reads padded
    pixel ``(r * sh + i, c * sw + j)`` for kernel offset ``(i, j)``.
    """

    channels: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]

    @classmethod
    def create(cls, input_shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
               padding: str) -> Geometry:
        """``input_shape``: per-sample ``(channels, height, width)``; the output must be non-empty."""
        channels, height, width = input_shape
        oh, top, bottom = output_size_and_padding(height, kernel[0], stride[0], padding)
        ow, left, right = output_size_and_padding(width, kernel[1], stride[1], padding)
        return cls(channels, (height, width), (oh, ow), (kernel[0], kernel[1]), (stride[0], stride[1]),
                   (top, bottom, left, right))

    @property
    def padded_hw(self) -> tuple[int, int]:
        top, bottom, left, right = self.pads
        return self.in_hw[0] + top + bottom, self.in_hw[1] + left + right

    @property
    def padded(self) -> bool:
        return any(self.pads)

    @cached_property
    def padding_as_input(self) -> Geometry:
        """The same windows over the zero-padded image taken as the input (no padding): for
        sums into a padded buffer, where nothing needs clipping."""
        return replace(self, in_hw=self.padded_hw, pads=(0, 0, 0, 0))

    @cached_property
    def offset_targets(self) -> tuple[tuple[int, slice, slice, slice, slice], ...]:
        """For each kernel offset (row-major) that reads any real pixel: (offset index
        i * kw + j, output rows, output columns, input rows, input columns) — the output
        pixels whose window puts that offset on a real pixel, and those pixels
        (``clipped_offset_range``). Computed once: a backward pass walks it per block."""
        (kh, kw), (sh, sw), (oh, ow) = self.kernel, self.stride, self.out_hw
        (height, width), (top, _, left, _) = self.in_hw, self.pads
        targets = []
        for i in range(kh):
            rows = clipped_offset_range(i, top, sh, oh, height)
            for j in range(kw):
                cols = clipped_offset_range(j, left, sw, ow, width)
                if rows is not None and cols is not None:
                    targets.append((i * kw + j, rows[0], cols[0], rows[1], cols[1]))
        return tuple(targets)

    @property
    def k(self) -> int:
        """Length of one patch: kh * kw * channels."""
        return self.kernel[0] * self.kernel[1] * self.channels

    @property
    def patch_run(self) -> int:
        """Contiguous values one kernel row copies in channels-last memory: kw * channels."""
        return self.kernel[1] * self.channels


def channels_last(x: np.ndarray) -> np.ndarray:
    """(batch, C, H, W) -> the (batch, H, W, C) view of the same values (no copy).

    C-contiguous when ``x`` is a channels-last array seen through ``to_channels_first``
    (what Conv2D and the pooling layers return), or when C == 1.
    """
    return cast(np.ndarray, x.transpose(0, 2, 3, 1))


def to_channels_first(x_cl: np.ndarray) -> np.ndarray:
    """(batch, H, W, C) -> the (batch, C, H, W) view (no copy): the public layout, stored
    channels-last. NumPy's element-wise operations keep that memory order (order='K')."""
    return cast(np.ndarray, x_cl.transpose(0, 3, 1, 2))


def pad_channels_last(x: np.ndarray, geometry: Geometry, workspace: Workspace, name: str) -> np.ndarray:
    """x (batch, C, H, W), any memory order -> (batch, H + top + bottom, W + left + right, C),
    C-contiguous, zero border. Returns ``channels_last(x)`` itself when it already is that
    (no padding, channels-last memory): no copy at all.

    The padded buffer is a reused workspace buffer: its border is zeroed once, when it is
    allocated, and never written, so each call copies only the interior (one pass, which
    also turns a channels-first input channels-last).
    """
    x_cl = channels_last(x)
    if not geometry.padded and x_cl.flags.c_contiguous:
        return x_cl
    batch, dtype = x.shape[0], x.dtype
    top, _, left, _ = geometry.pads
    (h, w), (hp, wp) = geometry.in_hw, geometry.padded_hw
    buffer = workspace.get(name, batch, (hp, wp, geometry.channels), dtype, init=lambda b: None)
    buffer[:, top:top + h, left:left + w, :] = x_cl
    return buffer


def patch_view(xp: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Every patch of a padded channels-last image, without copying.

    xp: (batch, Hp, Wp, C), C-contiguous (``pad_channels_last``).
    Returns (batch, OH, OW, kh, kw * C): entry ``[n, r, c, i]`` is kernel row ``i`` of the
    patch of output pixel (r, c), i.e. ``xp[n, r * sh + i, c * sw : c * sw + kw, :]`` flattened,
    which is contiguous in memory (why channels-last: each copy moves kw * C values at once).
    """
    sb, sh_, sw_, sc = xp.strides
    (oh, ow), (kh, _), (sh, sw) = geometry.out_hw, geometry.kernel, geometry.stride
    return as_strided(xp, (xp.shape[0], oh, ow, kh, geometry.patch_run), (sb, sh_ * sh, sw_ * sw, sh_, sc),
                      writeable=False)


def im2col_rows(xp: np.ndarray, cols: np.ndarray, geometry: Geometry) -> None:
    """Patches in pixel-major order: ``cols`` (batch, OH, OW, >= K) gets, in its first K
    entries of each pixel, that pixel's patch ordered (i, j, channel); K = kh * kw * C.

    One copy of kh * batch * OH * OW runs of kw * C contiguous values.
    """
    batch, (oh, ow), (kh, _) = xp.shape[0], geometry.out_hw, geometry.kernel
    target = cols[..., :geometry.k].reshape(batch, oh, ow, kh, geometry.patch_run)  # a view
    np.copyto(target, patch_view(xp, geometry))


def im2col_offsets(xp: np.ndarray, cols_t: np.ndarray, geometry: Geometry) -> None:
    """Patches in offset-major order: ``cols_t`` (>= K, batch, OH, OW); row (i, j, channel)
    holds that input value for every output pixel.

    For few channels (the first layer of an image network: C = 1) a pixel's patch is a
    handful of values, so the pixel-major copy would move runs of 3; here each of the K
    copies moves whole output rows instead.
    """
    c, (oh, ow), (kh, kw), (sh, sw) = geometry.channels, geometry.out_hw, geometry.kernel, geometry.stride
    for i in range(kh):
        for j in range(kw):
            window = xp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :]
            start = (i * kw + j) * c
            np.copyto(cols_t[start:start + c], window.transpose(3, 0, 1, 2))


def clipped_offset_range(offset: int, pad: int, stride: int, out_len: int, in_len: int) -> tuple[slice, slice] | None:
    """Along one axis, the output positions whose kernel offset ``offset`` reads a real input
    pixel (not the zero padding), and those input pixels: (output slice, input slice), or
    None when every read falls in the padding. Output r reads input ``r * stride + offset - pad``."""
    first = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride), at least 0
    last = min(out_len - 1, (in_len - 1 + pad - offset) // stride)
    if last < first:
        return None
    return slice(first, last + 1), slice(first * stride + offset - pad, last * stride + offset - pad + 1, stride)


def col2im_offsets(dy_rows: np.ndarray, offset_weights: np.ndarray, dx: np.ndarray, geometry: Geometry) -> None:
    """The input gradient of a convolution, added onto a channels-last image.

    dy_rows:        (n*OH*OW, filters), the output gradient of n samples, pixel-major.
    offset_weights: (kh*kw, filters, C): W_ij^T for each kernel offset (i, j), row-major.
    dx:             (n, H, W, C) (the unpadded input's size, any strides), accumulated in
                    place (start from zeros), offset by offset in row-major order.

    One batched product gives, per kernel offset, the gradient of every input pixel that
    offset read: (kh*kw, pixels, C), each block contiguous. Adding block (i, j) onto the
    image shifted by (i, j) then moves whole image rows (OW * C values) at a time; what the
    offset read from the zero padding is left out (``clipped_offset_range``), so no padded
    buffer is filled, added to and copied out. The usual "dcols = dy @ W^T, then col2im"
    reads the same numbers but in runs of only C values (one pixel's channels for one
    offset): measured 1.2-1.7x slower for the dx part.
    """
    n, (oh, ow) = dx.shape[0], geometry.out_hw
    blocks = np.matmul(dy_rows, offset_weights)  # (kh*kw, n*OH*OW, C)
    for index, out_rows, out_cols, in_rows, in_cols in geometry.offset_targets:
        target = dx[:, in_rows, in_cols, :]
        target += blocks[index].reshape(n, oh, ow, geometry.channels)[:, out_rows, out_cols, :]


def fill_block(block: np.ndarray, workspace: Workspace, name: str, capacity: int,
               fill: Callable[[np.ndarray], None]) -> None:
    """Run ``fill(target)`` for a compiled loop that needs a C-contiguous array: on ``block``
    itself when it is one, else on a reused workspace buffer (``capacity`` samples) whose
    values are then copied into ``block`` (e.g. a channels-last view of a channels-first dx)."""
    if block.flags.c_contiguous:
        fill(block)
        return
    target = workspace.get(name, capacity, block.shape[1:], block.dtype)[:block.shape[0]]
    fill(target)
    block[...] = target


class Workspace:
    """Named scratch buffers reused from call to call, growing with the batch size.

    Allocating several fresh megabyte-sized arrays per batch makes the C library hand
    memory back to the system and fault it in again; in measurements that doubled or
    tripled the conv time. A buffer is kept per name and reused for any batch up to its
    capacity (a smaller batch uses a leading slice, which stays contiguous). Buffers bigger
    than ``WORKSPACE_LIMIT_BYTES`` are allocated for the call only.

    The content of a kept buffer persists: ``init`` runs only on fresh buffers, so callers
    may rely on entries they never write (zero padding, a row of ones) keeping their
    initial value.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, batch: int, sample_shape: tuple[int, ...], dtype: np.dtype,
            init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        """A C-contiguous ``(batch, *sample_shape)`` array of ``dtype``.

        With ``init``, a newly allocated buffer is zero-filled and then passed to
        ``init(buffer)``; without it the content is undefined (the caller overwrites it all).
        """
        dtype = np.dtype(dtype)
        buffer = self._buffers.get(name)
        if (buffer is None or buffer.dtype != dtype or buffer.shape[1:] != tuple(sample_shape)
                or buffer.shape[0] < batch):
            if init is None:
                buffer = np.empty((batch, *sample_shape), dtype=dtype)
            else:
                buffer = np.zeros((batch, *sample_shape), dtype=dtype)
                init(buffer)
            if buffer.nbytes <= WORKSPACE_LIMIT_BYTES:
                self._buffers[name] = buffer
            else:
                self._buffers.pop(name, None)
        return buffer[:batch]

    def get_exact(self, name: str, shape: tuple[int, ...], dtype: np.dtype,
                  init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        """A C-contiguous array of exactly ``shape`` (for buffers whose batch axis is not the
        first one); re-created, and re-initialised as in ``get``, whenever the shape changes."""
        dtype = np.dtype(dtype)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.shape != tuple(shape):
            buffer = np.zeros(shape, dtype=dtype)
            if init is not None:
                init(buffer)
            if buffer.nbytes <= WORKSPACE_LIMIT_BYTES:
                self._buffers[name] = buffer
            else:
                self._buffers.pop(name, None)
        return buffer

    def clear(self) -> None:
        """Release every buffer (they are re-created on demand)."""
        self._buffers.clear()

    def __deepcopy__(self, memo: dict[int, Any]) -> Workspace:
        # Scratch content is never state worth copying (e.g. into a prediction snapshot).
        return Workspace()
