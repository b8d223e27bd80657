"""Private helpers for Conv2D and MaxPool2D: padding arithmetic, im2col / col2im, scratch buffers.

Conventions: images are channels-first, ``(batch, channels, height, width)``. A kernel
offset ``(i, j)`` is a position inside the kernel window (``0 <= i < kh``, ``0 <= j < kw``).
Output pixel ``(r, c)`` reads input pixel ``(r * sh + i - top, c * sw + j - left)`` for
offset ``(i, j)``; reads that fall into the padding are zero.

Why no explicit padded copy: ``im2col`` writes each kernel offset's rectangle of valid
input pixels straight into the column matrix, and the entries that would come from the
zero padding are never written (or reset to zero, see ``Geometry.flat_offsets``). The
column matrix lives in a reused scratch buffer (``Workspace``) that is zeroed once when
allocated, so those entries stay zero. Compared to "pad, then one copy from a
``sliding_window_view``", this saves the padded temporary (measured 10-15% faster
forward); the data written is the same single pass over the column matrix.

Layout of the column matrix: per sample, ``(batch, channels*kh*kw, out_h*out_w)``. A
broadcast ``matmul`` then produces the output directly as ``(batch, filters, out_h*out_w)``.
The two single-GEMM layouts ``(batch*out_h*out_w, channels*kh*kw)`` and
``(channels*kh*kw, batch*out_h*out_w)`` need transposing copies of the output and of dy
and measured 2-3.5x slower (``python benchmarks/bench_conv.py --layouts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def offset_slices(offset: int, pad_before: int, in_size: int, stride: int,
                  out_size: int) -> tuple[slice, slice] | None:
    """For one kernel offset along one axis: (output slice, input slice) of the valid reads.

    Output index ``r`` reads input index ``r * stride + offset - pad_before``; only the ``r``
    whose read lands inside ``[0, in_size)`` are returned (the rest read zero padding).
    ``None`` when no output index reads a real input value for this offset.
    """
    shift = offset - pad_before
    first = max(0, -(shift // stride))  # smallest r with r * stride + shift >= 0
    stop = min(out_size, (in_size - 1 - shift) // stride + 1)  # largest r reading < in_size, + 1
    if stop <= first:
        return None
    start_in = first * stride + shift
    return slice(first, stop), slice(start_in, start_in + (stop - first - 1) * stride + 1, stride)


@dataclass(frozen=True)
class Geometry:
    """Where each kernel offset reads from, for one per-sample input shape and layer setting.

    ``offsets`` lists ``(i, j, out_rows, out_cols, in_rows, in_cols)`` for every kernel
    offset that reads at least one real input pixel.

    ``flat_offsets`` is set when the output grid has the input's width and stride 1 (the
    common "same", stride-1 case). Then an output pixel and the input pixel it reads for
    offset (i, j) are a constant distance ``shift`` apart in the flattened (height*width)
    index, so each offset is ONE contiguous 1-D slice per (sample, channel) instead of one
    short row segment per image row: about 1.7x faster im2col / col2im. The price is that
    entries near the left/right border read pixels wrapped around from the neighbouring row;
    those are exactly the columns that should read padding, listed in ``bad_cols`` and reset
    to zero. Entries: ``(i, j, start, stop, shift, bad_cols)`` over the flat output index.
    """

    channels: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    offsets: tuple[tuple[int, int, slice, slice, slice, slice], ...]
    flat_offsets: tuple[tuple[int, int, int, int, int, tuple[slice, ...]], ...] | None = None

    @classmethod
    def create(cls, input_shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
               padding: str) -> Geometry:
        """``input_shape``: per-sample ``(channels, height, width)``; the output must be non-empty."""
        channels, height, width = input_shape
        oh, top, _ = output_size_and_padding(height, kernel[0], stride[0], padding)
        ow, left, _ = output_size_and_padding(width, kernel[1], stride[1], padding)
        offsets = []
        for i in range(kernel[0]):
            rows = offset_slices(i, top, height, stride[0], oh)
            if rows is None:
                continue
            for j in range(kernel[1]):
                cols = offset_slices(j, left, width, stride[1], ow)
                if cols is not None:
                    offsets.append((i, j, rows[0], cols[0], rows[1], cols[1]))
        flat = None
        if tuple(stride) == (1, 1) and (oh, ow) == (height, width):
            flat = tuple(_flat_offset(o, height, width) for o in offsets)
        return cls(channels, (height, width), (oh, ow), (kernel[0], kernel[1]), (stride[0], stride[1]),
                   tuple(offsets), flat)


def _flat_offset(offset: tuple[int, int, slice, slice, slice, slice], height: int,
                 width: int) -> tuple[int, int, int, int, int, tuple[slice, ...]]:
    """The flat-index form of one 2-D offset, for stride 1 and output size == input size."""
    i, j, out_r, out_c, in_r, in_c = offset
    shift = (in_r.start - out_r.start) * width + (in_c.start - out_c.start)
    # Valid rows only, and clipped so the shifted read stays inside the image.
    start = max(out_r.start * width, -shift)
    stop = min(out_r.stop * width, height * width - shift)
    bad = tuple(s for s in (slice(0, out_c.start), slice(out_c.stop, width)) if s.stop > s.start)
    return i, j, start, stop, shift, bad


def im2col(x: np.ndarray, cols: np.ndarray, geometry: Geometry) -> None:
    """Copy the image patches of ``x`` into ``cols``.

    x:    (batch, channels, height, width), any strides and real dtype.
    cols: (batch, channels, kh, kw, out_h * out_w), written in place (converted to its
          dtype). Entries that read padding must already be zero: they are either never
          written or reset to zero after the copy.
    One slice assignment per kernel offset; no loop over samples or pixels.
    """
    batch = x.shape[0]
    c, (h, w), (oh, ow) = geometry.channels, geometry.in_hw, geometry.out_hw
    if geometry.flat_offsets is not None:
        x_flat = x.reshape(batch, c, h * w)
        for i, j, start, stop, shift, bad_cols in geometry.flat_offsets:
            cols[:, :, i, j, start:stop] = x_flat[:, :, start + shift:stop + shift]
            grid = cols[:, :, i, j].reshape(batch, c, oh, ow)  # splitting an axis: a view
            for bad in bad_cols:
                grid[:, :, :, bad] = 0
        return
    grid = cols.reshape(batch, c, *geometry.kernel, oh, ow)  # a view
    for i, j, out_r, out_c, in_r, in_c in geometry.offsets:
        grid[:, :, i, j, out_r, out_c] = x[:, :, in_r, in_c]


def col2im(dcols: np.ndarray, dx: np.ndarray, geometry: Geometry) -> None:
    """Adjoint of ``im2col``: add each patch gradient back onto the pixel it was read from.

    dcols: (batch, channels, kh, kw, out_h * out_w); scratch: entries that read padding may
           be overwritten with zeros.
    dx:    (batch, channels, height, width), C-contiguous, accumulated in place (start from
           zeros).
    Gradients of padding entries are dropped. Within one kernel offset every output pixel
    reads a different input pixel, so each ``+=`` has no repeated targets; overlapping
    windows are summed across the offsets.
    """
    if not dx.flags.c_contiguous:
        raise ValueError("col2im needs a C-contiguous dx")
    batch = dx.shape[0]
    c, (h, w), (oh, ow) = geometry.channels, geometry.in_hw, geometry.out_hw
    if geometry.flat_offsets is not None:
        dx_flat = dx.reshape(batch, c, h * w)
        for i, j, start, stop, shift, bad_cols in geometry.flat_offsets:
            grid = dcols[:, :, i, j].reshape(batch, c, oh, ow)
            for bad in bad_cols:  # would otherwise land on the wrapped-around pixels
                grid[:, :, :, bad] = 0
            dx_flat[:, :, start + shift:stop + shift] += dcols[:, :, i, j, start:stop]
        return
    grid = dcols.reshape(batch, c, *geometry.kernel, oh, ow)
    for i, j, out_r, out_c, in_r, in_c in geometry.offsets:
        dx[:, :, in_r, in_c] += grid[:, :, i, j, out_r, out_c]


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

    def clear(self) -> None:
        """Release every buffer (they are re-created on demand)."""
        self._buffers.clear()

    def __deepcopy__(self, memo: dict[int, Any]) -> Workspace:
        # Scratch content is never state worth copying (e.g. into a prediction snapshot).
        return Workspace()
