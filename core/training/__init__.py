"""training: the loop (``loop``), its remote control (``control``) and fine-tuning a copy of a
trained digit reader on someone's handwriting (``finetune``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.training.finetune import FineTuneResult, fine_tune, replay_samples

__all__ = ["FineTuneResult", "fine_tune", "replay_samples"]

if not TYPE_CHECKING:  # (hidden from type checkers, which would then accept any name)

    def __getattr__(name: str) -> Any:
        """The fine-tuning names, imported on first use: ``core.training.loop`` and ``control``
        (which the app's first window needs) do not load the augmentation and pen-data code."""
        if name not in __all__:
            raise AttributeError(f"module 'core.training' has no attribute {name!r}")
        value = getattr(importlib.import_module("core.training.finetune"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
