"""The exports the command line and the app offer, and their exporters, imported only when
asked for (so torch/onnx, and exporters another build may lack, stay unimported until then)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple


class ExportTarget(NamedTuple):
    """option: CLI option and GUI key; title: what is written ("ONNX model");
    module/function: the exporter, ``function(net, path, x=None) -> ExportCheck``;
    folder: True when it writes a folder, False for one file (``suffix``); takes_data: the
    exporter also takes ``data=(x, y)``, the training data to bundle (the PyTorch project
    trains on it)."""

    option: str
    title: str
    module: str
    function: str
    folder: bool
    suffix: str = ""
    takes_data: bool = False


EXPORT_TARGETS = (
    ExportTarget("onnx", "ONNX model", "core.export.onnx", "to_onnx", folder=False, suffix=".onnx"),
    ExportTarget("pytorch", "PyTorch project", "core.export.pytorch", "to_pytorch", folder=True, takes_data=True),
    ExportTarget("numpy", "NumPy script", "core.export.numpy_script", "to_numpy", folder=True),
)


def load_function(module: str, function: str) -> Callable[..., Any] | None:
    """``module.function``, imported now, or None when this build does not have it."""
    try:
        found = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        return None
    return found if callable(found) else None
