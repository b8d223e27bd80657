"""The engine's version, in a module of its own so that any part of ``core`` (the model
file's manifest, the CLI) can read it without importing the ``core`` package's façade,
which imports everything (that was the ``core`` <-> ``core.model_file`` import cycle)."""

from __future__ import annotations

__version__ = "0.1.0"
