"""Exports: take a network to ONNX, to a runnable PyTorch project, to a NumPy-only script,
and bring trained weights back. Every export checks itself (``core.export.check``).

``core.export.to_onnx(net, "model.onnx")``, ``to_pytorch(net, "project/", data=(x, y))``,
``to_numpy(net, "folder/")`` each return an ``ExportCheck``; ``import_weights(net, "w.npz")``
loads weights a ``train.py`` run wrote. None of them imports torch, onnx or onnxruntime
until its self-check runs.
"""

from core.export.check import ExportCheck
from core.export.numpy_script import to_numpy
from core.export.onnx import to_onnx
from core.export.pytorch import to_pytorch
from core.export.weights import import_weights

__all__ = ["ExportCheck", "import_weights", "to_numpy", "to_onnx", "to_pytorch"]
