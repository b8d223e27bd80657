"""Presets: ready-made documents (network, training settings, dataset) shipped as JSON in
``resources/presets/``, listed in file-name order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core import NetworkSpec, TrainingConfig
from core.resource_files import resource_path
from nnstudio.state.document_types import DatasetChoice, DocumentState


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    description: str
    data: dict[str, Any]

    def state(self) -> DocumentState:
        """A fresh, untrained document state (raises core.SpecError if the file is wrong)."""
        return DocumentState(NetworkSpec.from_dict(self.data["spec"]),
                             TrainingConfig.from_dict(self.data["training"]),
                             DatasetChoice.from_dict(self.data["dataset"]))

    @property
    def dataset_name(self) -> str:
        return str(self.data["dataset"]["name"])


def load_presets() -> list[Preset]:
    """Every shipped preset, in file-name order."""
    folder = resource_path("presets")
    presets = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            presets.append(Preset(entry.name[:-5], data["title"], data["description"], data))
    return presets
