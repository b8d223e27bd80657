"""``save_model``: write a network to a model file, atomically, refusing whatever
``load_model`` would refuse (the same limits and checks), so a saved model always reopens.

The members are built in memory and checked with the loader's own checks (``schema``), then
written to a temporary file next to the target (``atomic``), which is checked again as the
loader would (the limits that depend on compressed sizes can only be known now) before it
replaces the target.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from core import limits
from core.atomic_write import save_target, write_atomically
from core.errors import ModelFileError, SpecError
from core.network import Network
from core.saving.history_bounds import bounded_history
from core.saving.layout import (
    FORMAT_NAME,
    JSON_MEMBERS,
    format_version_for,
    optimizer_member,
    state_member,
    weights_member,
)
from core.saving.metadata import metadata_problem, text_problem
from core.saving.reader import ModelReader
from core.saving.schema import check_rng_state, check_training, plan_network
from core.spec.model import TrainingConfig
from core.version import __version__

__all__ = ["save_model"]


def save_model(network: Network, path: str | os.PathLike[str], *,
               training_config: TrainingConfig | Mapping[str, Any] | None = None) -> None:
    """Write ``network`` to ``path`` (conventionally ``*.nnz``), atomically.

    ``training_config`` (a TrainingConfig or its dict) defaults to
    ``network.metadata.get("training")``. Every parameter (shapes as in
    ``network.parameters()``, e.g. ``layers.0.W`` (in, out)) and every optimizer slot (same
    shape as its parameter) is stored as a ``.npy`` member in the network's dtype. The
    history is stored bounded (``core.saving.history_bounds``): every epoch record, and per-batch
    points decimated to ``limits.HISTORY_BATCH_POINTS``.

    Saving refuses whatever ``load_model`` would refuse (the limits of ``core.limits``, the
    metadata checks), so every saved file reopens. The file appears complete or not at all:
    a refusal or failure leaves any previous file at ``path`` untouched and removes the
    temporary file. A symbolic link is written through to its target. Raises
    ModelFileError with a sentence for every problem (nothing else, apart from an
    exception raised by a monkeypatched writer).
    """
    target = save_target(path)
    members = _collect_members(network, training_config, str(path))
    write_atomically(target, lambda fileobj: _write_zip(fileobj, members),
                     lambda written: _verify_written(written, str(path)))


_WHAT_TO_DO = {
    "spec.json": "use fewer layers",
    "training.json": "the training history is too long to store",
    "metadata.json": "remove large entries from the network's metadata",
}


def _collect_members(network: Network, training_config: Any, shown: str) -> dict[str, bytes | np.ndarray]:
    """Every member's content, in writing order: JSON as UTF-8 bytes, arrays as arrays.

    Runs the loader's own checks on it, so nothing the loader would refuse gets written."""
    prefix = f"cannot save the model to {shown!r}"
    try:
        spec = network.to_spec()
        weights = {key: np.ascontiguousarray(p) for key, p, _ in network.parameters()}
        state = network.state_dict()
    except SpecError as exc:
        raise ModelFileError(f"{prefix}: {exc}") from None
    opt_state = network.optimizer.state_dict()
    slot_members = {slot: optimizer_member(slot) for slot in opt_state["slots"]}
    config = _training_config_dict(training_config if training_config is not None
                                   else network.metadata.get("training"))
    training = {
        "config": config,
        "epochs_done": int(network.epochs_done),
        "optimizer": {"type": network.optimizer.type_name, "iterations": int(opt_state["iterations"]),
                      "slots": slot_members},
        "history": bounded_history(network.history).to_dict(),
    }
    arrays = {weights_member(key): arr for key, arr in weights.items()}
    arrays.update({state_member(key): np.ascontiguousarray(arr) for key, arr in state.items()})
    arrays.update({slot_members[slot]: np.ascontiguousarray(arr) for slot, arr in opt_state["slots"].items()})
    array_bytes = sum(a.nbytes for a in arrays.values())
    too_large = limits.arrays_problem(array_bytes, None)
    if too_large:
        raise ModelFileError(f"the model is too large to save: {too_large}; use fewer units or filters "
                             "(the previous file, if any, is unchanged)")
    for name, arr in arrays.items():
        too_large = limits.array_member_problem(name, arr.nbytes)
        if too_large:
            raise ModelFileError(f"the model is too large to save: {too_large}; use fewer units or filters")
        if not np.all(np.isfinite(arr)):  # the loader refuses them
            raise ModelFileError(f"{prefix}: {name} contains NaN or infinite values; reset or retrain the network")
    metadata_text = metadata_problem(network.metadata)
    if metadata_text:
        raise ModelFileError(f"{prefix}: metadata.json (network.metadata): {metadata_text}; correct the "
                             "metadata and save again")
    documents: dict[str, bytes] = {
        "manifest.json": _json_bytes(_manifest(format_version_for(bool(state))), "manifest.json"),
        "spec.json": _json_bytes(spec.to_dict(), "spec.json"),
        "training.json": _json_bytes(training, "training.json", allow_nan=True),
        "metadata.json": _json_bytes(network.metadata, "metadata.json (network.metadata)"),
        "rng.json": _json_bytes(network.rng.bit_generator.state, "rng.json"),
    }
    for name in JSON_MEMBERS:
        raw = documents[name]
        problem = limits.json_member_problem(name, len(raw), None) or limits.json_values_problem(name, raw)
        if problem:
            raise ModelFileError(f"{prefix}: {problem}; {_WHAT_TO_DO.get(name, 'this is a bug')}")
    # The same checks the loader makes, on the members as written (no arrays allocated).
    checker = ModelReader(Path(shown), prefix=prefix)
    plan = plan_network(checker.fail, json.loads(documents["spec.json"]))
    check_training(checker.fail, json.loads(documents["training.json"]), plan)
    check_rng_state(checker.fail, json.loads(documents["rng.json"]), plan)
    members: dict[str, bytes | np.ndarray] = {**documents, **arrays}
    return members


def _verify_written(written: Path, shown: str) -> None:
    """Refuse the written temporary file if the loader would refuse it: everything the
    loader checks before reading the arrays, including the limits that depend on the
    compressed sizes, which can only be known now. (The arrays themselves came from a live
    network: finite, of the right shapes.)"""
    checker = ModelReader(written, prefix=f"cannot save the model to {shown!r}")
    checker.check_on_disk()
    with zipfile.ZipFile(written) as zf:
        checker.check_cheaply(zf, checker.check_directory(zf))


def _manifest(format_version: int) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": format_version,
        "nnstudio_version": __version__,
        "numpy_version": np.__version__,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def _training_config_dict(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    try:
        if isinstance(config, TrainingConfig):
            return config.to_dict()
        return TrainingConfig.from_dict(config).to_dict()
    except SpecError as exc:
        raise ModelFileError(f"cannot save the training settings: {exc}") from None


def _json_bytes(value: Any, what: str, allow_nan: bool = False) -> bytes:
    try:
        text = json.dumps(value, indent=1, ensure_ascii=False, allow_nan=allow_nan)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot save {what}: it must hold only JSON data ({exc})") from None
    except RecursionError:
        raise ModelFileError(f"cannot save {what}: it is nested too deeply") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        problem = text_problem(value) or "it holds text that UTF-8 cannot store"
        raise ModelFileError(f"cannot save {what}: {problem}; correct that text") from None




def _write_zip(fileobj: Any, members: Mapping[str, bytes | np.ndarray]) -> None:
    stamp = datetime.now().timetuple()[:6]
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            if isinstance(content, bytes):
                zf.writestr(info, content)
            else:
                with zf.open(info, "w") as f:
                    np.save(f, content, allow_pickle=False)

