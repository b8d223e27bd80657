"""Exports: take a network to ONNX, to a runnable PyTorch project, to a NumPy-only script,
and bring trained weights back. Every export checks itself (``core.export.check``).

``core.export.to_onnx(net, "model.onnx")``, ``to_pytorch(net, "project/", data=(x, y))``,
``to_numpy(net, "folder/")`` each return an ``ExportCheck``; ``import_weights(net, "w.npz")``
loads weights a ``train.py`` run wrote. None of them imports torch, onnx or onnxruntime
until its self-check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_imports import deferred_names

if TYPE_CHECKING:
    from core.export.check import ExportCheck
    from core.export.numpy_script import to_numpy
    from core.export.onnx import to_onnx
    from core.export.pytorch import to_pytorch
    from core.export.weights import import_weights

__all__ = ["ExportCheck", "import_weights", "to_numpy", "to_onnx", "to_pytorch"]

#: Each name's module, imported on first use: the app's File ▸ Export menu reads only
#: ``core.export.targets`` at start-up, and no exporter is loaded before an export runs.
_ON_FIRST_USE = {"ExportCheck": "core.export.check", "import_weights": "core.export.weights",
                 "to_numpy": "core.export.numpy_script", "to_onnx": "core.export.onnx",
                 "to_pytorch": "core.export.pytorch"}

if not TYPE_CHECKING:  # (hidden from type checkers, which would then accept any name)
    __getattr__, __dir__ = deferred_names(__name__, globals(), _ON_FIRST_USE, __all__)
