"""Turn a drawing (the canvas) into a network input, exactly as the datasets' samples were made.

NumPy only. Two recipes, chosen by ``mode``:

``"mnist"`` (LeCun et al.'s recipe for MNIST):
    1. find the ink's bounding box (pixels above ``INK_THRESHOLD``);
    2. resize the box so its longer side is 20 px, keeping the aspect ratio (each side is
       rounded to whole pixels), with exact area averaging (a box filter that handles
       fractional ratios: every output pixel is the mean of the input area it covers);
    3. paste it in the middle of a 28×28 field and translate it by whole pixels so the
       centre of mass of the ink lands on (row 14, column 14), pixel centres at integers.
       MNIST's own images have their centre of mass at (14.00, 14.00) on average (measured
       on the training set), so rounding to whole pixels is what MNIST did and keeps strokes
       sharp; the price is that a sub-pixel change of the drawing can move the result by one
       pixel, which networks trained on MNIST tolerate.
    4. quantise to 0..255 (uint8, MNIST's raw range) and scale by 1/255 through
       :func:`core.data.apply_preprocessing`, the same code the MNIST dataset uses.

``"digits8x8"`` (the UCI "Optical Recognition of Handwritten Digits" recipe):
    1. crop the ink's bounding box;
    2. resize it with area averaging so its height is 32 px (the UCI bitmaps always fill all
       32 rows: every bundled sample has ink in all 8 block rows), keeping the aspect ratio;
       a box wider than tall is instead scaled so its width is 32;
    3. centre it horizontally in a 32×32 field and binarise at 0.5 (the NIST program made
       black-and-white bitmaps);
    4. thicken the strokes by one pixel on each side (a 3×3 binary dilation): the NIST
       bitmaps' strokes are thick (ink covers about 30 % of the 32×32 field in the bundled
       set, against about 10-15 % for a 1/10-of-the-height pen), and the networks trained on
       them expect that;
    5. count the ink pixels in each non-overlapping 4×4 block -> (8, 8) integers 0..16,
       exactly what the UCI files hold; then scale by 1/16 through ``apply_preprocessing``
       as the digits8x8 dataset does.

An empty or nearly empty drawing (less ink than :func:`has_enough_ink` asks) gives ``None``:
the user interface shows "Draw a digit" instead of a prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeGuard

import numpy as np

from core.data.errors import DataError
from core.data.preprocessing import apply_preprocessing, image_preprocessing

__all__ = [
    "INK_THRESHOLD",
    "MNIST_INK_MASS",
    "MNIST_INK_MASS_PER_DIGIT",
    "MNIST_STROKE_WIDTH",
    "MODES",
    "DrawingHint",
    "area_resize",
    "area_resize_matrix",
    "bitmap_32",
    "block_counts",
    "center_of_mass",
    "dataset_preprocessing",
    "drawing_hint",
    "drawing_to_raw",
    "has_enough_ink",
    "ink_bounding_box",
    "ink_mass",
    "mode_for_input_shape",
    "normalize_mnist",
    "preprocess_batch",
    "preprocess_drawing",
    "sample_as_image",
    "sample_fits",
    "sample_to_network_input",
    "shift_whole_pixels",
    "stroke_width",
    "to_network_input",
]

#: The recipes :func:`preprocess_drawing` knows.
MODES = ("mnist", "digits8x8")
#: Grey level (0..1) above which a pixel counts as ink for the bounding box.
INK_THRESHOLD = 0.1
#: Least ink (sum of grey levels, as a fraction of the image's area) that is a drawing.
MIN_INK_FRACTION = 0.002
#: Least extent of the ink's bounding box (its longer side, as a fraction of the image's
#: longer side) that is a drawing: a click leaves a dot, not a digit.
MIN_EXTENT_FRACTION = 0.06

MNIST_BOX = 20
MNIST_SIZE = 28
MNIST_CENTRE = 14.0
UCI_BITMAP = 32
UCI_BLOCK = 4


def dataset_preprocessing(mode: str, layout: str = "image") -> dict:
    """The dataset's own preprocessing description for ``mode`` (what ``load_dataset`` uses):
    MNIST: scale 1/255 of (28, 28) raw 0..255; digits8x8: scale 1/16 of (8, 8) raw 0..16."""
    if mode == "mnist":
        return image_preprocessing(1 / 255, (28, 28), (0, 255), layout)
    if mode == "digits8x8":
        return image_preprocessing(1 / 16, (8, 8), (0, 16), layout)
    raise DataError(f"unknown drawing mode {mode!r} (known: {', '.join(MODES)})")


# --------------------------------------------------------------------------- building blocks


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.shape[0] < 1 or image.shape[1] < 1:
        raise DataError(f"a drawing must be a 2-D (height, width) grey image, not shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number):
        raise DataError(f"a drawing must hold numbers, not {image.dtype}")
    image = image.astype(np.float64, copy=False)
    if not np.all(np.isfinite(image)):
        raise DataError("the drawing contains NaN or infinite values")
    return image


def ink_bounding_box(image: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels above ``threshold``, bottom/right exclusive;
    None when no pixel is. image: (H, W)."""
    mask = np.asarray(image) > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def has_enough_ink(image: np.ndarray) -> bool:
    """True when image (H, W) in [0, 1] holds a drawing worth preprocessing: some ink above
    :data:`INK_THRESHOLD`, total ink at least :data:`MIN_INK_FRACTION` of the area, and a
    bounding box whose longer side is at least :data:`MIN_EXTENT_FRACTION` of the image's."""
    image = np.asarray(image)
    box = ink_bounding_box(image)
    if box is None:
        return False
    h, w = image.shape
    if float(image.sum()) < MIN_INK_FRACTION * h * w:
        return False
    extent = max(box[1] - box[0], box[3] - box[2])
    return extent >= MIN_EXTENT_FRACTION * max(h, w)


def area_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix M of an exact 1-D box filter: row i averages the input interval
    [i * n_in / n_out, (i + 1) * n_in / n_out), weighting each input pixel by the length it
    overlaps. Rows sum to 1. Works for shrinking and enlarging, any ratio."""
    if n_in < 1 or n_out < 1:
        raise DataError(f"cannot resize {n_in} pixels to {n_out}")
    edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / (n_in / n_out)


def area_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """image (H, W) -> (out_h, out_w) float64 by exact area averaging (separable box filter,
    two matrix products: no per-pixel loop). Mean brightness is preserved."""
    image = np.asarray(image, dtype=np.float64)
    rows = area_resize_matrix(image.shape[0], out_h)
    cols = area_resize_matrix(image.shape[1], out_w)
    return rows @ image @ cols.T


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the grey-level centre of mass of image (H, W), pixel centres at
    integer coordinates; the middle of the image for an all-zero image."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    h, w = image.shape
    if total <= 0:
        return (h - 1) / 2, (w - 1) / 2
    row = float(image.sum(axis=1) @ np.arange(h)) / total
    col = float(image.sum(axis=0) @ np.arange(w)) / total
    return row, col


def shift_whole_pixels(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """image (H, W) moved down by dy and right by dx whole pixels; what leaves the field is
    lost, what enters is 0. Returns a new array."""
    h, w = image.shape
    out = np.zeros_like(image)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[dst_r, dst_c] = image[src_r, src_c]
    return out


def _fit_box(h: int, w: int, box: int) -> tuple[int, int]:
    """Integer (height, width) of an h×w box scaled so its longer side is ``box`` pixels."""
    scale = box / max(h, w)
    return max(1, min(box, round(h * scale))), max(1, min(box, round(w * scale)))


def _ink_crop(image: np.ndarray) -> np.ndarray | None:
    """Step 1 of both recipes: the (h, w) part of image (H, W) inside the ink's bounding
    box, or None when there is no ink above the threshold."""
    image = _check_image(image)
    box = ink_bounding_box(image)
    if box is None:
        return None
    top, bottom, left, right = box
    return image[top:bottom, left:right]


# --------------------------------------------------------------------------- MNIST recipe


def normalize_mnist(image: np.ndarray) -> np.ndarray | None:
    """Steps 1-3 of the MNIST recipe: image (H, W) in [0, 1] -> (28, 28) float64 in [0, 1]
    (not quantised), or None when there is no ink above the threshold."""
    crop = _ink_crop(image)
    if crop is None:
        return None
    th, tw = _fit_box(crop.shape[0], crop.shape[1], MNIST_BOX)
    small = np.clip(area_resize(crop, th, tw), 0.0, 1.0)
    field = np.zeros((MNIST_SIZE, MNIST_SIZE))
    r0, c0 = (MNIST_SIZE - th) // 2, (MNIST_SIZE - tw) // 2
    field[r0:r0 + th, c0:c0 + tw] = small
    row, col = center_of_mass(field)
    # Whole-pixel move, as MNIST did; clamp so the 20-px box always stays inside the field.
    dy = int(np.clip(round(MNIST_CENTRE - row), -r0, MNIST_SIZE - th - r0))
    dx = int(np.clip(round(MNIST_CENTRE - col), -c0, MNIST_SIZE - tw - c0))
    return shift_whole_pixels(field, dy, dx)


# --------------------------------------------------------------------------- UCI recipe


def bitmap_32(image: np.ndarray) -> np.ndarray | None:
    """Steps 1-4 of the UCI recipe: image (H, W) in [0, 1] -> (32, 32) bool bitmap, or None
    when there is no ink above the threshold."""
    crop = _ink_crop(image)
    if crop is None:
        return None
    h, w = crop.shape
    if h >= w:
        th, tw = UCI_BITMAP, max(1, min(UCI_BITMAP, round(w * UCI_BITMAP / h)))
    else:
        th, tw = max(1, min(UCI_BITMAP, round(h * UCI_BITMAP / w))), UCI_BITMAP
    small = area_resize(crop, th, tw) >= 0.5
    field = np.zeros((UCI_BITMAP, UCI_BITMAP), dtype=bool)
    r0, c0 = (UCI_BITMAP - th) // 2, (UCI_BITMAP - tw) // 2
    field[r0:r0 + th, c0:c0 + tw] = small
    return _dilate3(field)


def _dilate3(bitmap: np.ndarray) -> np.ndarray:
    """Binary dilation of (H, W) bool by a 3×3 square (field edges act as background)."""
    padded = np.pad(bitmap, 1)
    h, w = bitmap.shape
    out = np.zeros_like(bitmap)
    for dy in range(3):
        for dx in range(3):
            out |= padded[dy:dy + h, dx:dx + w]
    return out


def block_counts(bitmap: np.ndarray, block: int = UCI_BLOCK) -> np.ndarray:
    """(H, W) bool/0-1 bitmap -> (H/block, W/block) int64 counts of ink pixels per
    non-overlapping block (UCI: 32×32 -> 8×8, values 0..16). H and W must be multiples."""
    bitmap = np.asarray(bitmap)
    h, w = bitmap.shape
    if h % block or w % block:
        raise DataError(f"a {h}×{w} bitmap does not divide into {block}×{block} blocks")
    return bitmap.astype(np.int64).reshape(h // block, block, w // block, block).sum(axis=(1, 3))


# --------------------------------------------------------------------------- entry points


def drawing_to_raw(image: np.ndarray, mode: str = "mnist") -> np.ndarray | None:
    """image (H, W) grey levels in [0, 1], white ink on black -> the dataset's raw sample:
    mode "mnist": (28, 28) uint8 0..255; mode "digits8x8": (8, 8) int64 0..16.
    None when the drawing is empty or nearly so (see :func:`has_enough_ink`)."""
    if mode not in MODES:
        raise DataError(f"unknown drawing mode {mode!r} (known: {', '.join(MODES)})")
    image = _check_image(image)
    image = np.clip(image, 0.0, 1.0)
    if not has_enough_ink(image):
        return None
    if mode == "mnist":
        field = normalize_mnist(image)
        return None if field is None else np.round(field * 255).astype(np.uint8)
    bitmap = bitmap_32(image)
    return None if bitmap is None else block_counts(bitmap)


def preprocess_drawing(image: np.ndarray, mode: str = "mnist") -> np.ndarray | None:
    """image (H, W) float in [0, 1], white ink on black, any size -> the network's input as an
    image: mode "mnist" (28, 28) float32 in [0, 1]; mode "digits8x8" (8, 8) float32 in [0, 1]
    (block counts / 16). None for an empty or nearly empty drawing."""
    raw = drawing_to_raw(image, mode)
    if raw is None:
        return None
    return apply_preprocessing(raw[None], dataset_preprocessing(mode, "image"))[0, 0]


def preprocess_batch(images: np.ndarray, mode: str = "mnist") -> np.ndarray:
    """images (n, H, W) in [0, 1] -> (n, s, s) float32 as :func:`preprocess_drawing` (s = 28
    or 8); an image without ink comes back all zeros. Used to give training data exactly the
    canvas's preprocessing."""
    images = np.asarray(images)
    size = MNIST_SIZE if mode == "mnist" else UCI_BITMAP // UCI_BLOCK
    out = np.zeros((len(images), size, size), dtype=np.float32)
    for i, image in enumerate(images):  # per image: each has its own box and shift
        result = preprocess_drawing(image, mode)
        if result is not None:
            out[i] = result
    return out


# --------------------------------------------------------------------------- network inputs


def mode_for_input_shape(input_shape: tuple[int, ...]) -> str | None:
    """The drawing recipe that fits a network's per-sample input shape: (784,) or (1, 28, 28)
    -> "mnist"; (64,) or (1, 8, 8) -> "digits8x8"; anything else -> None."""
    shape = tuple(int(d) for d in input_shape)
    if shape in ((784,), (1, 28, 28), (28, 28)):
        return "mnist"
    if shape in ((64,), (1, 8, 8), (8, 8)):
        return "digits8x8"
    return None


def _layout_for(input_shape: tuple[int, ...]) -> str:
    return "flat" if len(input_shape) == 1 else "image"


def to_network_input(image: np.ndarray, input_shape: tuple[int, ...],
                     preprocessing: dict | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A canvas image (H, W) in [0, 1] -> (x, preview) for a network with per-sample input
    ``input_shape``: x (1, *input_shape) float32 ready for ``predict``; preview (s, s) float32
    in [0, 1], the same values as an image (s = 28 or 8). None for an empty drawing.

    ``preprocessing`` is the model's own description (``metadata["preprocessing"]``, as the
    dataset wrote it); when missing or not an image recipe, the dataset default for the
    input's mode is used. Raises DataError when no recipe fits ``input_shape``.
    """
    input_shape = tuple(int(d) for d in input_shape)
    mode = mode_for_input_shape(input_shape)
    if mode is None:
        raise DataError(f"a drawing cannot feed a network whose input is {input_shape}: it needs "
                        f"(784,) or (1, 28, 28) for MNIST, (64,) or (1, 8, 8) for digits8x8")
    raw = drawing_to_raw(image, mode)
    if raw is None:
        return None
    default = dataset_preprocessing(mode, _layout_for(input_shape))
    pre = preprocessing if _fits(preprocessing, default) else default
    x = apply_preprocessing(raw[None], pre).reshape(1, *input_shape)
    return x, x.reshape(raw.shape).astype(np.float32)


def _fits(preprocessing: dict | None, default: dict) -> TypeGuard[dict]:
    """True when a model's preprocessing describes the same image source as ``default``."""
    return (isinstance(preprocessing, dict) and isinstance(preprocessing.get("scale"), (int, float))
            and list(preprocessing.get("image_shape", [])) == default["image_shape"])


def sample_to_network_input(sample: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """A dataset sample that already is a network input (any shape holding the same number
    of values, e.g. (28, 28), (784,) or (1, 28, 28)) -> (1, *input_shape) float32. Raises
    DataError when the sizes differ."""
    sample = np.asarray(sample, dtype=np.float32)
    input_shape = tuple(int(d) for d in input_shape)
    if sample.size != math.prod(input_shape):
        raise DataError(f"a sample of shape {sample.shape} does not fit a network whose input is {input_shape}")
    return sample.reshape(1, *input_shape).copy()


def sample_as_image(sample: np.ndarray) -> np.ndarray:
    """A dataset sample of a square image set ((784,), (1, 28, 28), (28, 28), (64,), ...) ->
    (s, s) float32, the same values. Raises DataError when the size is not a square."""
    sample = np.asarray(sample, dtype=np.float32)
    side = math.isqrt(sample.size)
    if side < 2 or side * side != sample.size:
        raise DataError(f"a sample of shape {sample.shape} is not a square image")
    return sample.reshape(side, side).copy()


def sample_fits(sample: np.ndarray, input_shape: tuple[int, ...]) -> bool:
    """True when a dataset sample holds exactly as many values as a network's per-sample
    input (so :func:`sample_to_network_input` can reshape it)."""
    return int(np.asarray(sample).size) == math.prod(int(d) for d in input_shape)


# --------------------------------------------------------------------------- drawing quality
#
# How a drawing compares with the digits networks learnt from, measured after the MNIST
# recipe (the 28×28 image the network reads). Two measures:
#
# - ink mass: the sum of the grey levels (0..1). MNIST's 60,000 training digits: mean 102.4,
#   percentiles 1/5/50/95/99 = 38.6 / 51.2 / 99.9 / 162.5 / 192.9; it depends on the digit
#   (a 1 has 60 on average, a 0 136), so it compares drawings of the same digit;
# - stroke width: 2 × ink / length of the ink's outline (the pixels above 0.5 and their ink;
#   for a stroke of length L and width w, area ≈ L·w and outline ≈ 2L). Nearly the same for
#   every digit: MNIST's median is 1.74 px (each digit's between 1.59 and 1.95), percentiles
#   1/5/95/99 = 0.86 / 1.07 / 2.79 / 3.38.
#
# Both grow with brush width / digit size, since every digit is scaled to the same 20-px box.

#: MNIST's ink mass (sum of the 28×28 grey levels in [0, 1]) over its training digits.
MNIST_INK_MASS = {"mean": 102.4, "p1": 38.6, "p5": 51.2, "p50": 99.9, "p95": 162.5, "p99": 192.9}
#: MNIST's mean ink mass per digit 0..9 (training set).
MNIST_INK_MASS_PER_DIGIT = (135.9, 59.6, 116.8, 111.0, 95.2, 100.9, 107.6, 89.8, 117.7, 96.1)
#: MNIST's stroke width (:func:`stroke_width`, pixels of the 28×28 image), training set.
MNIST_STROKE_WIDTH = {"p1": 0.86, "p5": 1.07, "p50": 1.74, "p95": 2.79, "p99": 3.38}
#: A drawing whose ink's bounding box is shorter than this share of the canvas is "small":
#: enlarged to the 20-px box, its strokes blur and thicken.
SMALL_EXTENT_FRACTION = 0.25
#: Thinner strokes than (nearly) any MNIST digit: the network sees a faint digit.
FAINT_STROKE_WIDTH = 0.85
#: Thicker strokes than (nearly) any MNIST digit: loops fill in.
THICK_STROKE_WIDTH = 3.4
#: A drawing whose brightest pixel is below this is faint (a light pen pressure).
FAINT_PEAK = 0.5


def _check_image28(image28: np.ndarray) -> np.ndarray:
    image = _check_image(image28)
    if image.shape != (MNIST_SIZE, MNIST_SIZE):
        raise DataError(f"ink is measured on the network's 28×28 input, not on shape {image.shape}")
    return image


def ink_mass(image28: np.ndarray) -> float:
    """Sum of the grey levels of a preprocessed 28×28 digit (values in [0, 1]): how much ink
    the network sees. MNIST's digits: 102 on average (:data:`MNIST_INK_MASS`)."""
    return float(_check_image28(image28).sum())


def stroke_width(image28: np.ndarray) -> float:
    """Average stroke width in pixels of a preprocessed 28×28 digit (values in [0, 1]):
    2 × the ink of the pixels above 0.5 / the length of their outline (horizontal and
    vertical edges counted). 0.0 when no pixel is above 0.5 (nothing but faint ink). MNIST's
    median: 1.74 (:data:`MNIST_STROKE_WIDTH`)."""
    image = _check_image28(image28)
    mask = image > 0.5
    outline = int(np.count_nonzero(np.diff(mask, axis=0, prepend=False, append=False))
                  + np.count_nonzero(np.diff(mask, axis=1, prepend=False, append=False)))
    # Only the ink inside the outline: faint anti-aliased specks of a very thin stroke would
    # otherwise count as width with hardly any outline around them.
    return 2.0 * float(image[mask].sum()) / outline if outline else 0.0


@dataclass(frozen=True)
class DrawingHint:
    """Why a drawing may be read badly: ``code`` ("too_small", "too_faint", "too_thick") for
    programs, ``message`` (a short sentence saying what to do) for the user."""

    code: str
    message: str


def drawing_hint(image: np.ndarray) -> DrawingHint | None:
    """A hint for a canvas image (H, W) in [0, 1] (white ink on black) that the network may
    read badly, else None (also for an empty drawing: the prompt says "Draw a digit").

    Checked in order: drawn small (the ink's box shorter than :data:`SMALL_EXTENT_FRACTION` of
    the canvas), faint (brightest pixel below :data:`FAINT_PEAK`, or strokes thinner than
    :data:`FAINT_STROKE_WIDTH` px once scaled to the network's input), strokes too thick
    (wider than :data:`THICK_STROKE_WIDTH` px there).
    """
    image = np.clip(_check_image(image), 0.0, 1.0)
    if not has_enough_ink(image):
        return None
    box = ink_bounding_box(image)
    assert box is not None  # has_enough_ink found ink
    extent = max(box[1] - box[0], box[3] - box[2]) / max(image.shape)
    if extent < SMALL_EXTENT_FRACTION:
        return DrawingHint("too_small", "Drawn small: enlarged to the network's size, its strokes come out "
                                        "thick. Draw the digit larger.")
    field = normalize_mnist(image)
    if field is None:
        return None
    width = stroke_width(field)
    if float(image.max()) < FAINT_PEAK or width < FAINT_STROKE_WIDTH:
        return DrawingHint("too_faint", "Faint: the strokes are thin for the digit's size. "
                                        "Use a wider brush or press harder.")
    if width > THICK_STROKE_WIDTH:
        return DrawingHint("too_thick", "Thick strokes for the digit's size: loops may fill in. "
                                        "Draw larger or use a thinner brush.")
    return None
