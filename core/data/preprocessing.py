"""How raw values (pixels 0..255, a drawn digit) become network inputs: the JSON-able
``preprocessing`` a dataset stores and :func:`apply_preprocessing`, which applies it to its
own samples and to new inputs alike."""

from __future__ import annotations

import math

import numpy as np

from core.data.errors import DataError


def apply_preprocessing(raw: np.ndarray, preprocessing: dict) -> np.ndarray:
    """Turn raw inputs into network inputs exactly as a dataset's own samples were made.

    ``raw``: ``(n, *source_shape)`` values in the dataset's source range (for MNIST uint8
    ``(n, 28, 28)`` 0..255; for digits8x8 ``(n, 8, 8)`` or ``(n, 64)`` 0..16).
    Returns float32 ``(n, *input_shape)``: ``raw * float32(scale)`` computed in float32, then
    reshaped by ``layout``: ``"flat"`` -> ``(n, prod(image_shape))``, ``"image"`` ->
    ``(n, 1, *image_shape)``; any other layout keeps the shape.
    """
    raw = np.asarray(raw)
    image_shape = tuple(preprocessing.get("image_shape", ()))
    if image_shape and preprocessing.get("layout") in ("flat", "image"):
        accepted = (image_shape, (math.prod(image_shape),), (1, *image_shape))
        if raw.ndim < 2 or raw.shape[1:] not in accepted:
            raise DataError(
                f"inputs of shape {raw.shape} do not fit: expected (n, {', '.join(map(str, image_shape))}) "
                f"or (n, {math.prod(image_shape)}) raw values (a single sample needs n = 1)"
            )
    scale = np.float32(preprocessing.get("scale", 1.0))
    out = raw.astype(np.float32)  # always a new array
    if scale != 1:
        out *= scale
    layout = preprocessing.get("layout")
    if layout == "flat" and image_shape:
        out = out.reshape(len(out), math.prod(image_shape))
    elif layout == "image" and image_shape:
        out = out.reshape(len(out), 1, *image_shape)
    return np.ascontiguousarray(out)


def image_preprocessing(scale: float, image_shape: tuple[int, int], source_range: tuple[int, int],
                         layout: str) -> dict:
    if layout not in ("flat", "image"):
        raise DataError(f"layout must be 'flat' or 'image', not {layout!r}")
    return {"scale": scale, "layout": layout, "image_shape": list(image_shape),
            "source_range": list(source_range)}
