"""training: the loop (``loop``), its remote control (``control``) and fine-tuning a copy of a
trained digit reader on someone's handwriting (``finetune``)."""

from core.training.finetune import FineTuneResult, fine_tune, replay_samples

__all__ = ["FineTuneResult", "fine_tune", "replay_samples"]
