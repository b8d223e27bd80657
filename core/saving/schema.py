"""The JSON members of a model file: their structure, types and ranges (shared by the
loader and by ``save_model``, which runs the same checks on what it is about to write).

Every check takes ``fail`` (message -> ModelFileError, which prefixes the file's name or
"cannot save ...") and raises what it returns; none allocates anything the spec declares.
``plan_network`` works out, from spec.json alone, every parameter's and every state array's
key and shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeGuard

import numpy as np

from core import limits
from core.errors import ModelFileError, SpecError
from core.history import ChangeEvent, EpochReport
from core.limits import mib
from core.saving.layout import FORMAT_NAME, FORMAT_VERSION, optimizer_member
from core.saving.metadata import metadata_problem
from core.spec.analysis import analyze
from core.spec.model import NetworkSpec, TrainingConfig

#: Turns the end of a sentence into the error to raise (the caller adds the file's name).
Fail = Callable[[str], ModelFileError]


def is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_name(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters (a value with thousands of digits stays readable)."""
    if is_int(value) and value.bit_length() > 200:
        return f"an integer with about {int(value.bit_length() * 0.30103):,} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _finite(v: Any) -> bool:
    return is_number(v) and math.isfinite(v)


def _any_number(v: Any) -> bool:
    return is_number(v)  # NaN / inf allowed: a validation loss can overflow


def _progress(v: Any) -> bool:
    return _finite(v) and 0 <= v <= limits.MAX_EPOCHS_DONE + 1


def _batch_size(v: Any) -> bool:
    return is_number(v) and math.isfinite(v) and float(v).is_integer() and 1 <= v <= 1_000_000


def _learning_rate(v: Any) -> bool:
    return _finite(v) and 0 < v <= 10

#: batches column -> (check, what every value must be).
_BATCH_COLUMN_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "progress": (_progress, f"finite numbers between 0 and {limits.MAX_EPOCHS_DONE + 1:,}"),
    "loss": (_any_number, "numbers"),
    "accuracy": (_any_number, "numbers"),
    "learning_rate": (_learning_rate, "numbers in (0, 10]"),
    "batch_size": (_batch_size, "whole numbers between 1 and 1,000,000"),
}
_EPOCH_RANGES = {"epoch": (lambda v: 0 <= v < limits.MAX_EPOCHS_DONE, f"between 0 and {limits.MAX_EPOCHS_DONE:,}")}
_EVENT_RANGES = {
    "progress": (_progress, f"a finite number between 0 and {limits.MAX_EPOCHS_DONE + 1:,}"),
    "name": (lambda v: v in ("learning_rate", "batch_size"), "'learning_rate' or 'batch_size'"),
    "old": (_finite, "a finite number"),
    "new": (_finite, "a finite number"),
}


@dataclass(frozen=True)
class NetworkPlan:
    """What spec.json describes, worked out without allocating: the spec, every parameter's
    key and shape (e.g. ``layers.0.W`` -> (784, 10)), every non-trainable state array's key
    and shape (e.g. ``layers.1.running_mean`` -> (10,); empty for most networks), and the
    optimizer's type."""

    spec: NetworkSpec
    param_shapes: dict[str, tuple[int, ...]]
    state_shapes: dict[str, tuple[int, ...]]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.spec.dtype)

    @property
    def optimizer_type(self) -> str:
        return str(self.spec.optimizer["type"])


def check_manifest(fail: Fail, manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT_NAME:
        raise fail(f"manifest.json says format {manifest.get('format')!r}, not {FORMAT_NAME!r}: "
                   "this is not an nnstudio model file")
    version = manifest.get("format_version")
    if not is_int(version) or version < 1:
        raise fail(f"manifest.json has an invalid format_version {version!r} (a positive integer is needed)")
    if version > FORMAT_VERSION:
        raise fail(f"made by a newer nnstudio (format {version}); this version reads up to format "
                   f"{FORMAT_VERSION} — update nnstudio")
    for key in ("nnstudio_version", "numpy_version", "created_utc"):
        if key in manifest and not isinstance(manifest[key], str):
            raise fail(f"manifest.json: {key!r} must be a string, not {type_name(manifest[key])}")


def plan_network(fail: Fail, data: dict[str, Any]) -> NetworkPlan:
    """The spec, checked and within the limits, and every parameter's and state array's
    shape: no allocation."""
    try:
        spec = NetworkSpec.from_dict(data)
        analysis = analyze(spec)
        analysis.raise_if_invalid()
        param_shapes: dict[str, tuple[int, ...]] = {}
        state_shapes: dict[str, tuple[int, ...]] = {}
        for info, layer_spec in zip(analysis.layers, spec.layers, strict=False):
            assert info.input_shape is not None
            layer = layer_spec.create()
            for name, shape in layer.param_shapes(info.input_shape).items():
                param_shapes[f"layers.{info.index}.{name}"] = tuple(int(d) for d in shape)
            for name, shape in layer.state_shapes(info.input_shape).items():
                state_shapes[f"layers.{info.index}.{name}"] = tuple(int(d) for d in shape)
    except SpecError as exc:
        raise fail(f"spec.json describes an invalid network: {exc}") from None
    needed = analysis.total_params * np.dtype(spec.dtype).itemsize
    if needed > limits.MAX_TOTAL_BYTES:
        raise fail(f"spec.json describes a network with {analysis.total_params:,} parameters "
                   f"({mib(needed)}), over the {mib(limits.MAX_TOTAL_BYTES)} budget")
    return NetworkPlan(spec, param_shapes, state_shapes)


def check_training(fail: Fail, training: dict[str, Any], plan: NetworkPlan) -> dict[str, str]:
    """Check training.json's structure; return the optimizer slot index {slot: member}."""
    where = "training.json"
    expect_keys(fail, where, training, {"config", "epochs_done", "optimizer", "history"})
    if training["config"] is not None:
        if not isinstance(training["config"], dict):
            raise fail(f"{where}: 'config' must be an object or null, not {type_name(training['config'])}")
        try:
            training["config"] = TrainingConfig.from_dict(training["config"]).to_dict()
        except SpecError as exc:
            raise fail(f"{where}: invalid training settings: {exc}") from None
    epochs_done = training["epochs_done"]
    if not is_int(epochs_done) or not 0 <= epochs_done <= limits.MAX_EPOCHS_DONE:
        raise fail(f"{where}: 'epochs_done' must be a non-negative integer up to "
                   f"{limits.MAX_EPOCHS_DONE:,}, not {short_repr(epochs_done)}")
    opt = training["optimizer"]
    if not isinstance(opt, dict):
        raise fail(f"{where}: 'optimizer' must be an object, not {type_name(opt)}")
    expect_keys(fail, f"{where} 'optimizer'", opt, {"type", "iterations", "slots"})
    if opt["type"] != plan.optimizer_type:
        raise fail(f"{where}: optimizer state is for {short_repr(opt['type'])} but spec.json uses "
                   f"{plan.optimizer_type!r}")
    if not is_int(opt["iterations"]) or not 0 <= opt["iterations"] <= limits.MAX_ITERATIONS:
        raise fail(f"{where}: optimizer 'iterations' must be a non-negative integer up to "
                   f"{limits.MAX_ITERATIONS:,}, not {short_repr(opt['iterations'])}")
    slots = opt["slots"]
    if not isinstance(slots, dict):
        raise fail(f"{where}: optimizer 'slots' must be an object, not {type_name(slots)}")
    for slot, member in slots.items():
        key, sep, name = slot.rpartition("/")
        if not sep or key not in plan.param_shapes or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise fail(f"{where}: optimizer slot {short_repr(slot)} does not name a parameter of the "
                       "network and a slot (like 'layers.0.W/m')")
        if member != optimizer_member(slot):
            raise fail(f"{where}: optimizer slot {slot!r} must be stored as {optimizer_member(slot)!r}, "
                       f"not {short_repr(member)}")
    check_history(fail, training["history"])
    return slots


def check_history(fail: Fail, history: Any) -> None:
    where = "training.json 'history'"
    if not isinstance(history, dict):
        raise fail(f"{where} must be an object, not {type_name(history)}")
    expect_keys(fail, where, history, {"batches", "epochs", "events"})
    batches = history["batches"]
    if not isinstance(batches, dict):
        raise fail(f"{where}: 'batches' must be an object, not {type_name(batches)}")
    expect_keys(fail, f"{where} 'batches'", batches, set(_BATCH_COLUMN_CHECKS))
    lengths = set()
    for col, (check, what) in _BATCH_COLUMN_CHECKS.items():
        values = batches[col]
        if not isinstance(values, list) or not all(check(v) for v in values):
            raise fail(f"{where}: batches column {col!r} must be a list of {what}")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise fail(f"{where}: the batches columns have different lengths ({sorted(lengths)})")
    check_records(fail, f"{where} 'epochs'", history["epochs"], EpochReport, _EPOCH_RANGES)
    check_records(fail, f"{where} 'events'", history["events"], ChangeEvent, _EVENT_RANGES)


def check_records(fail: Fail, where: str, records: Any, cls: type,
                   ranges: Mapping[str, tuple[Callable[[Any], bool], str]]) -> None:
    """Each record must be an object with exactly ``cls``'s fields, of JSON-compatible
    types, and within ``ranges`` (field -> (check, what it must be))."""
    if not isinstance(records, list):
        raise fail(f"{where} must be a list, not {type_name(records)}")
    checks = {f.name: _annotation_check(f.type) for f in fields(cls)}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise fail(f"{where}: item {i + 1} must be an object, not {type_name(record)}")
        expect_keys(fail, f"{where} item {i + 1}", record, set(checks))
        for key, check in checks.items():
            if not check(record[key]):
                raise fail(f"{where}: item {i + 1} has an invalid {key!r} ({short_repr(record[key])})")
            in_range, what = ranges.get(key, (None, ""))
            if in_range is not None and record[key] is not None and not in_range(record[key]):
                raise fail(f"{where}: item {i + 1} has {key!r} {short_repr(record[key])}; it must be {what}")


def check_metadata(fail: Fail, metadata: dict[str, Any]) -> None:
    problem = metadata_problem(metadata)
    if problem:
        raise fail(f"metadata.json: {problem}")


def check_rng_state(fail: Fail, state: dict[str, Any], plan: NetworkPlan) -> None:
    """The generator state must fit the network's generator (checked on a fresh one)."""
    bit_gen = np.random.default_rng(0).bit_generator
    name = type(bit_gen).__name__
    if state.get("bit_generator") != name:
        raise fail(f"rng.json describes a {short_repr(state.get('bit_generator'))} generator but the "
                   f"network uses {name!r}")
    if name == "PCG64":
        _check_pcg64_state(fail, state)
    try:
        bit_gen.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise fail(f"rng.json holds an invalid generator state ({exc})") from None


def _check_pcg64_state(fail: Fail, state: dict[str, Any]) -> None:
    expect_keys(fail, "rng.json", state, {"bit_generator", "state", "has_uint32", "uinteger"})
    inner = state["state"]
    if not isinstance(inner, dict):
        raise fail(f"rng.json: 'state' must be an object, not {type_name(inner)}")
    expect_keys(fail, "rng.json 'state'", inner, {"state", "inc"})
    for key in ("state", "inc"):
        if not is_int(inner[key]) or not 0 <= inner[key] < 2**128:
            raise fail(f"rng.json: state {key!r} must be an integer in [0, 2**128)")
    if state["has_uint32"] not in (0, 1) or isinstance(state["has_uint32"], bool):
        raise fail("rng.json: 'has_uint32' must be 0 or 1")
    if not is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 2**32:
        raise fail("rng.json: 'uinteger' must be an integer in [0, 2**32)")


def expect_keys(fail: Fail, where: str, obj: dict[str, Any], keys: set[str]) -> None:
    missing = sorted(keys - set(obj))
    extra = sorted(set(obj) - keys)
    if missing:
        raise fail(f"{where} lacks the key {missing[0]!r}")
    if extra:
        raise fail(f"{where} has an unknown key {extra[0]!r}")


def _annotation_check(annotation: Any) -> Callable[[Any], bool]:
    """A JSON type check for a dataclass field annotation (strings under PEP 563)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = "None" in text
    base = text.replace("| None", "").replace("Optional[", "").replace("]", "").strip()
    checks = {"int": is_int, "float": is_number, "str": lambda v: isinstance(v, str),
              "bool": lambda v: isinstance(v, bool)}
    check = checks.get(base, lambda v: v is None or isinstance(v, (str, int, float, bool)))
    return (lambda v: v is None or check(v)) if optional else check

