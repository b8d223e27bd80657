"""Exports: take a network to ONNX, to a runnable PyTorch project, to a NumPy-only script,
and bring trained weights back. Every export checks itself (``core.export.check``)."""
