"""What the dataset panel says about loaded data: samples, input, classes (rich text)."""

from __future__ import annotations

import html

from core.data import Dataset
from core.spec.dataset_fit import describe_input, image_shape_for

#: Class names listed before "… (n more)".
SHOWN_CLASSES = 12


def facts_html(data: Dataset) -> str:
    """"<b>1,797 samples</b><br>Input: 64 inputs (8×8 images as flat rows, for Dense
    layers)<br>10 classes: 0, 1, …". Class names come from files: they are escaped."""
    samples = f"{data.n_samples:,} samples"
    if data.y_test is not None:
        samples += f" + {len(data.y_test):,} official test samples"
    shape = describe_input(data.input_shape)
    image = image_shape_for(data.input_shape, data.preprocessing)
    if image is not None and len(data.input_shape) == 1:
        shape += f" ({image[0]}×{image[1]} images as flat rows, for Dense layers)"
    elif image is not None:
        shape += " (for Conv2D layers)"
    names = list(data.class_names)
    shown = ", ".join(names[:SHOWN_CLASSES])
    if len(names) > SHOWN_CLASSES:
        shown += f", … ({len(names) - SHOWN_CLASSES} more)"
    return f"<b>{samples}</b><br>Input: {html.escape(shape)}<br>{data.n_classes} classes: {html.escape(shown)}"
