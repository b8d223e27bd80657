"""Augmentations that make MNIST digits look like digits drawn with a mouse or a pen.

NumPy only; every random draw comes from the ``numpy.random.Generator`` passed in, so a
seed gives the same images. Images are batches ``(n, H, W)`` of grey levels in [0, 1],
white ink on black.

Why these: a digit drawn on the canvas differs from an MNIST digit by its stroke thickness
(pen width against drawing size), its slant and proportions, wobbly strokes, and the exact
grey-level profile of the stroke edges (a flat anti-aliased brush against MNIST's blurred
scans). :func:`augment_digits` varies each of them:

- stroke thickness: a grey-level dilation (3×3 maximum) or erosion (3×3 minimum), applied
  partially (a random blend between the image and its dilated/eroded version);
- a random affine map: rotation ±15°, scale 0.8-1.2, aspect ratio and shear changes, a
  small shift;
- an elastic distortion (Simard et al. 2003): a random displacement field smoothed by a
  Gaussian, so strokes bend but stay connected;
- contrast: the brightest pixel is rescaled to 1 (a brush stroke is fully white), then a
  random gamma makes strokes flatter (like a brush) or softer;
- sampling: the warped digit is drawn at ``upsample`` times the resolution with bilinear
  interpolation, so the canvas preprocessing can then shrink it with area averaging exactly
  as it shrinks a drawing (see :mod:`core.data.drawing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.data.brush import capsule_coverage
from core.data.errors import DataError

__all__ = [
    "AugmentConfig",
    "add_flags",
    "adjust_thickness",
    "augment_digits",
    "downsample_mean",
    "draw_segments",
    "elastic_field",
    "gaussian_matrix",
    "random_affine",
    "warp_bilinear",
]


@dataclass(frozen=True)
class AugmentConfig:
    """The ranges each augmentation draws from (uniformly unless stated)."""

    #: Rotation in degrees, ± this.
    rotation: float = 15.0
    #: Overall scale range.
    scale: tuple[float, float] = (0.8, 1.2)
    #: Extra horizontal/vertical scale ratio range (aspect changes), applied to the width.
    aspect: tuple[float, float] = (0.85, 1.15)
    #: Horizontal shear (x += shear * y), ± this.
    shear: float = 0.25
    #: Shift in pixels of the source image, ± this.
    shift: float = 2.0
    #: Stroke thickness change: blend amount range; < 0 erodes, > 0 dilates.
    thickness: tuple[float, float] = (-0.6, 0.8)
    #: Elastic distortion strength (pixels of displacement before smoothing) and smoothness.
    elastic_alpha: float = 25.0
    elastic_sigma: float = 4.5
    #: Fraction of images that get an elastic distortion.
    elastic_probability: float = 0.6
    #: Gamma range (x ** gamma): below 1 flattens strokes towards full white.
    gamma: tuple[float, float] = (0.6, 1.2)
    #: Output resolution factor (the output is (upsample*H, upsample*W)).
    upsample: int = 2


def _check_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise DataError(f"augmentation needs a batch of grey images (n, height, width), not shape {images.shape}")
    return images.astype(np.float32, copy=False)


def _max3(images: np.ndarray, op) -> np.ndarray:
    """3×3 grey-level dilation (op=np.maximum) or erosion (op=np.minimum) of (n, H, W);
    pixels outside the field count as background for dilation and as the pixel itself for
    erosion (edge padding), so erosion does not eat strokes touching the border."""
    mode: Literal["constant", "edge"] = "constant" if op is np.maximum else "edge"
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode=mode)
    h, w = images.shape[1:]
    # Separable: a 3×3 maximum is a 1×3 maximum of a 3×1 maximum.
    rows = op(op(padded[:, 0:h, :], padded[:, 1:h + 1, :]), padded[:, 2:h + 2, :])
    return op(op(rows[:, :, 0:w], rows[:, :, 1:w + 1]), rows[:, :, 2:w + 2])


def adjust_thickness(images: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """images (n, H, W) in [0, 1]; amount (n,) in [-1, 1]: > 0 blends towards the 3×3 grey
    dilation (thicker strokes, +2 px at 1), < 0 towards the 3×3 grey erosion (thinner).
    Returns a new (n, H, W) float32 array."""
    images = _check_batch(images)
    amount = np.asarray(amount, dtype=np.float32).reshape(-1, 1, 1)
    if len(amount) != len(images):
        raise DataError(f"{len(images)} images but {len(amount)} thickness amounts")
    grown = _max3(images, np.maximum)
    shrunk = _max3(images, np.minimum)
    target = np.where(amount >= 0, grown, shrunk)
    return images + np.abs(amount) * (target - images)


def random_affine(n: int, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """(n, 2, 3) affine maps from output to source coordinates (row, col) about the image
    centre: [[a, b, t_row], [c, d, t_col]] so source = M[:, :2] @ (out - centre) + centre + t.
    Drawn from the config's rotation, scale, aspect, shear and shift ranges."""
    angle = np.deg2rad(rng.uniform(-config.rotation, config.rotation, n))
    scale = rng.uniform(*config.scale, n)
    aspect = rng.uniform(*config.aspect, n)
    shear = rng.uniform(-config.shear, config.shear, n)
    shift = rng.uniform(-config.shift, config.shift, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # Forward map (source -> output) in (row, col): rotate, shear columns by rows, scale.
    forward = np.empty((n, 2, 2))
    sy, sx = scale, scale * aspect
    forward[:, 0, 0] = sy * cos
    forward[:, 0, 1] = -sy * sin
    forward[:, 1, 0] = sx * (sin + shear * cos)
    forward[:, 1, 1] = sx * (cos - shear * sin)
    inverse = np.linalg.inv(forward)
    out = np.empty((n, 2, 3))
    out[:, :, :2] = inverse
    out[:, :, 2] = shift
    return out


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix G with G @ v = v smoothed by a Gaussian of ``sigma`` pixels
    (zero padding: rows are not renormalised, like a convolution with zeros outside)."""
    i = np.arange(size)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return g / (sigma * np.sqrt(2 * np.pi))


def elastic_field(n: int, h: int, w: int, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """(n, 2, h, w) smooth random displacements in pixels: uniform noise in [-1, 1] smoothed
    by a Gaussian of ``sigma`` (two matrix products) and scaled by ``alpha``."""
    noise = rng.random((n, 2, h, w), dtype=np.float32) * 2 - 1
    gy = gaussian_matrix(h, sigma).astype(np.float32)
    gx = gaussian_matrix(w, sigma).astype(np.float32)
    return np.float32(alpha) * (gy @ noise @ gx.T)


_WARP_CHUNK = 64


def warp_bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample images (n, H, W) at source coordinates rows, cols (n, OH, OW) (pixel centres at
    integers) with bilinear interpolation; outside the image is 0. Returns (n, OH, OW) float32."""
    n, h, w = images.shape
    if n > _WARP_CHUNK:  # chunks keep the gathered images in the CPU cache (3x faster)
        return np.concatenate([warp_bilinear(images[i:i + _WARP_CHUNK], rows[i:i + _WARP_CHUNK],
                                             cols[i:i + _WARP_CHUNK]) for i in range(0, n, _WARP_CHUNK)])
    pw = w + 3
    # A zero border (1 before, 2 after, so both taps of a clipped coordinate exist) makes
    # "outside" a plain gather.
    flat = np.pad(images.astype(np.float32, copy=False), ((0, 0), (1, 2), (1, 2))).reshape(-1)
    r = np.clip(rows.astype(np.float32, copy=False) + 1, 0, h + 1)
    c = np.clip(cols.astype(np.float32, copy=False) + 1, 0, w + 1)
    r0 = r.astype(np.int32)  # floor: r >= 0
    c0 = c.astype(np.int32)
    fr = r - r0
    fc = c - c0
    index = r0 * pw + c0
    index += (np.arange(n, dtype=np.int32) * ((h + 3) * pw))[:, None, None]
    top = flat[index]
    top += (flat[index + 1] - top) * fc
    index += pw
    bottom = flat[index]
    bottom += (flat[index + 1] - bottom) * fc
    top += (bottom - top) * fr
    return top


def downsample_mean(images: np.ndarray, factor: int) -> np.ndarray:
    """(n, H, W) -> (n, H/factor, W/factor) by averaging factor×factor blocks."""
    n, h, w = images.shape
    return images.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def augment_digits(images: np.ndarray, rng: np.random.Generator,
                   config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """images (n, H, W) in [0, 1] -> (n, u*H, u*W) float32 in [0, 1] (u = config.upsample):
    each image with its own random thickness, affine map, elastic distortion (for a fraction)
    and gamma. Feed the result to :func:`core.data.drawing.preprocess_batch` to get canvas-like
    network inputs, or to :func:`downsample_mean` for plain ones."""
    images = _check_batch(images)
    n, h, w = images.shape
    u = int(config.upsample)
    if u < 1:
        raise DataError(f"upsample must be at least 1, not {config.upsample}")
    x = adjust_thickness(images, rng.uniform(*config.thickness, (n,)))
    affine = random_affine(n, rng, config)
    # Output pixel centres in source units: (i + 0.5) / u - 0.5 for i in 0..u*H-1.
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dr = ((np.arange(u * h) + 0.5) / u - 0.5 - cy).astype(np.float32)[None, :, None]
    dc = ((np.arange(u * w) + 0.5) / u - 0.5 - cx).astype(np.float32)[None, None, :]
    a = affine.astype(np.float32)[:, :, :, None, None]
    src_r = a[:, 0, 0] * dr + (a[:, 0, 1] * dc + (np.float32(cy) + a[:, 0, 2]))
    src_c = a[:, 1, 0] * dr + (a[:, 1, 1] * dc + (np.float32(cx) + a[:, 1, 2]))
    elastic = rng.random((n,)) < config.elastic_probability
    if elastic.any() and config.elastic_alpha > 0:
        field = elastic_field(int(elastic.sum()), u * h, u * w, rng, config.elastic_alpha, config.elastic_sigma * u)
        # Smoothing u times more samples per axis (sigma * u) shrinks the field's spread by u;
        # multiplying by u gives the displacement statistics of a field made at source size.
        src_r[elastic] += field[:, 0] * u
        src_c[elastic] += field[:, 1] * u
    out = warp_bilinear(x, src_r, src_c)
    gamma = rng.uniform(*config.gamma, (n,)).astype(np.float32).reshape(-1, 1, 1)
    np.clip(out, 0.0, 1.0, out=out)
    # A canvas stroke is always full white in its middle: rescale each image so its
    # brightest pixel is 1 again (erosion and blur dim thin strokes).
    peak = out.max(axis=(1, 2), keepdims=True)
    out /= np.where(peak > 0.05, peak, np.float32(1))
    return np.power(out, gamma, out=out)


def draw_segments(images: np.ndarray, starts: np.ndarray, ends: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Draw one anti-aliased straight stroke into each image (n, H, W) in [0, 1]: from
    starts (n, 2) to ends (n, 2) (row, col; pixel centres at integers), widths (n,) pixels.
    Returns a new array: the maximum of the image and the stroke."""
    images = _check_batch(images)
    _n, h, w = images.shape
    rows = np.arange(h, dtype=np.float32)[None, :, None]
    cols = np.arange(w, dtype=np.float32)[None, None, :]
    s = starts.astype(np.float32)[:, :, None, None]
    e = ends.astype(np.float32)[:, :, None, None]
    # The canvas's own brush model (core.data.brush), here with pixel centres at integers.
    stroke = capsule_coverage(rows, cols, s[:, 0], s[:, 1], e[:, 0], e[:, 1],
                              widths.astype(np.float32)[:, None, None] / 2)
    return np.maximum(images, stroke)


def add_flags(images: np.ndarray, rng: np.random.Generator, length: tuple[float, float] = (0.18, 0.38),
              angle: tuple[float, float] = (20.0, 55.0), max_slant: float = 0.3) -> np.ndarray:
    """Give each image (n, H, W) of a "1" the flag many writers start it with: a stroke from
    the top of the digit going down to the left, ``length`` × the digit's height long, at
    ``angle`` degrees below the horizontal, as thick as the digit's own stroke (its ink per
    row). MNIST's writers rarely drew it; people drawing on the canvas often do, and without
    it a network reads such a "1" as a "7". Only fairly upright ones (slant below
    ``max_slant`` columns per row) get a flag: on a strongly slanted stem a flag makes a
    real "7". Returns a new (n, H, W) float32 array."""
    images = _check_batch(images)
    n = len(images)
    if n == 0:
        return images.copy()
    ink = np.asarray(images > 0.3)
    has_row = np.asarray(ink.any(axis=2))
    top = has_row.argmax(axis=1)
    bottom = images.shape[1] - 1 - has_row[:, ::-1].argmax(axis=1)
    height = np.maximum(bottom - top + 1, 1).astype(np.float32)
    # Column of the ink in the top 2 rows: where the flag joins the stem.
    band = np.stack([images[i, top[i]:top[i] + 2].sum(axis=0) for i in range(n)])
    cols = np.arange(images.shape[2], dtype=np.float32)
    join_col = (band * cols).sum(axis=1) / np.maximum(band.sum(axis=1), 1e-6)
    low = np.stack([images[i, max(bottom[i] - 1, 0):bottom[i] + 1].sum(axis=0) for i in range(n)])
    foot_col = (low * cols).sum(axis=1) / np.maximum(low.sum(axis=1), 1e-6)
    upright = np.abs(join_col - foot_col) / height <= max_slant
    width = np.clip(images.sum(axis=(1, 2)) / height, 1.5, 4.0)
    size = rng.uniform(*length, n) * height
    theta = np.deg2rad(rng.uniform(*angle, n))
    starts = np.stack([top + 0.3 * width, join_col], axis=1)
    ends = np.stack([starts[:, 0] + size * np.sin(theta), starts[:, 1] - size * np.cos(theta)], axis=1)
    flagged = draw_segments(images, starts, ends, width * 0.8)
    return np.where(upright[:, None, None], flagged, images)
