"""training: the loop (``loop``), its remote control (``control``) and fine-tuning a copy of a
trained digit reader on someone's handwriting (``finetune``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_imports import deferred_names

if TYPE_CHECKING:
    from core.training.finetune import FineTuneResult, fine_tune, replay_samples

__all__ = ["FineTuneResult", "fine_tune", "replay_samples"]

if not TYPE_CHECKING:  # (hidden from type checkers, which would then accept any name)
    # The fine-tuning names, imported on first use: ``core.training.loop`` and ``control``
    # (which the app's first window needs) do not load the augmentation and pen-data code.
    __getattr__, __dir__ = deferred_names(__name__, globals(), dict.fromkeys(__all__, "core.training.finetune"),
                                          __all__)
