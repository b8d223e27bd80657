"""The ``.nnz`` model file: save and load a trained network, safely and exactly.

A model file is a zip archive (deflate) of JSON documents and ``.npy`` arrays; the full
format is documented in ``docs/model-file-format.md``. In short::

    manifest.json            format name and version, versions of nnstudio and NumPy, time
    spec.json                the NetworkSpec (layers, loss, optimizer settings, seed, dtype)
    training.json            training settings, history, epochs_done, optimizer index
    metadata.json            Network.metadata (dataset, class names, preprocessing, ...)
    rng.json                 the state of the network's random generator
    weights/<key>.npy        one array per parameter key, e.g. weights/layers.0.W.npy
    optimizer/<slot>.npy     one array per optimizer slot, e.g. optimizer/layers.0.W%2Fm.npy

Saving and loading share one set of limits (``core.limits``): ``save_model`` refuses, before
anything replaces the previous file, whatever ``load_model`` would refuse, so a saved model
always reopens. Saving is atomic (``core.atomic_save``: temporary file in the same folder,
fsync, ``os.replace``; symbolic links written through). Loading never unpickles and checks
everything cheap before building anything: member names, declared sizes and compression
ratios against the limits, JSON types and ranges, the spec and its parameter count, every
array member's declared size against the shape the spec implies; then each array's header
(dtype, shape) before it is allocated, finite values, the generator state. Any problem
raises :class:`ModelFileError` with a sentence naming the file, the member and the problem;
nothing else escapes ``load_model``. A loaded network resumes training exactly as if it had
never been saved: weights, optimizer slots and step count, generator state, ``epochs_done``
and history (stored bounded: every epoch, per-batch points decimated, see
``core.history_bounds``) are all restored.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import quote

import numpy as np

from . import limits
from .atomic_save import save_target, write_atomically
from .errors import SpecError
from .history_bounds import bounded_history
from .limits import MIB
from .limits import mib as _mib
from .model_metadata import metadata_problem, text_problem
from .network import Network
from .spec import NetworkSpec, TrainingConfig, analyze
from .training import ChangeEvent, EpochReport, History
from .version import __version__

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

FORMAT_NAME = "nnstudio-model"
#: The version this code writes and the newest it reads.
FORMAT_VERSION = 1

# Every size limit lives in core.limits (shared with saving and Network.from_spec); read
# them from there at call time so a test can lower one.
#: Bytes read from a member per chunk while streaming.
CHUNK_BYTES = 1 * MIB

JSON_MEMBERS = ("manifest.json", "spec.json", "training.json", "metadata.json", "rng.json")
WEIGHTS_DIR = "weights/"
OPTIMIZER_DIR = "optimizer/"
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_NPY_MAGIC = b"\x93NUMPY"


class ModelFileError(Exception):
    """A model file cannot be saved or loaded; ``str(error)`` is one human sentence."""


# ==============================================================================================
# Saving
# ==============================================================================================
def save_model(network: Network, path: str | os.PathLike[str], *,
               training_config: TrainingConfig | Mapping[str, Any] | None = None) -> None:
    """Write ``network`` to ``path`` (conventionally ``*.nnz``), atomically.

    ``training_config`` (a TrainingConfig or its dict) defaults to
    ``network.metadata.get("training")``. Every parameter (shapes as in
    ``network.parameters()``, e.g. ``layers.0.W`` (in, out)) and every optimizer slot (same
    shape as its parameter) is stored as a ``.npy`` member in the network's dtype. The
    history is stored bounded (``core.history_bounds``): every epoch record, and per-batch
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
        "manifest.json": _json_bytes(_manifest(), "manifest.json"),
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
    checker = _Loader(Path(shown), prefix=prefix)
    plan = checker._plan_network(json.loads(documents["spec.json"]))
    checker._check_training(json.loads(documents["training.json"]), plan)
    checker._check_rng_state(json.loads(documents["rng.json"]), plan)
    members: dict[str, bytes | np.ndarray] = {**documents, **arrays}
    return members


def _verify_written(written: Path, shown: str) -> None:
    """Refuse the written temporary file if the loader would refuse it: everything the
    loader checks before reading the arrays, including the limits that depend on the
    compressed sizes, which can only be known now. (The arrays themselves came from a live
    network: finite, of the right shapes.)"""
    checker = _Loader(written, prefix=f"cannot save the model to {shown!r}")
    checker._check_on_disk()
    with zipfile.ZipFile(written) as zf:
        checker._check_cheaply(zf, checker._check_directory(zf))


def _manifest() -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
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


def weights_member(key: str) -> str:
    """Member name of parameter ``key``: ``layers.0.W`` -> ``weights/layers.0.W.npy``."""
    return f"{WEIGHTS_DIR}{quote(key, safe='')}.npy"


def optimizer_member(slot: str) -> str:
    """Member name of optimizer slot ``slot``: ``layers.0.W/m`` -> ``optimizer/layers.0.W%2Fm.npy``.

    Percent-encoding keeps the slash (and anything else unusual) out of the path.
    """
    return f"{OPTIMIZER_DIR}{quote(slot, safe='')}.npy"


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


# ==============================================================================================
# Loading
# ==============================================================================================
def load_model(path: str | os.PathLike[str]) -> Network:
    """Read a model file written by ``save_model`` and return the built Network.

    Weights, optimizer state (slots and step count), the random generator's state,
    ``epochs_done``, history and metadata are restored, so ``fit`` continues exactly where
    the saved run stopped. When training.json holds training settings and the metadata has
    no ``"training"`` entry, they are put there.

    Raises ModelFileError (only) for every problem, naming the file and the member.
    """
    try:
        path = Path(path)
    except TypeError:
        raise ModelFileError(f"cannot open {path!r}: it is not a file name") from None
    try:
        return _Loader(path).load()
    except ModelFileError:
        raise
    except MemoryError:
        raise ModelFileError(f"{path.name}: not enough memory to load this model") from None
    except RecursionError:
        raise ModelFileError(f"{path.name}: a JSON member is nested too deeply to be a model file") from None
    except Exception as exc:  # last resort: a loader must never leak another exception type
        raise ModelFileError(f"{path.name}: the file is damaged or not an nnstudio model "
                             f"({type(exc).__name__}: {exc})") from None


# -- JSON type checks ---------------------------------------------------------------------------
def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


@dataclass(frozen=True)
class _NetworkPlan:
    """What spec.json describes, worked out without allocating: the spec, every parameter's
    key and shape (e.g. ``layers.0.W`` -> (784, 10)), and the optimizer's type."""

    spec: NetworkSpec
    param_shapes: dict[str, tuple[int, ...]]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.spec.dtype)

    @property
    def optimizer_type(self) -> str:
        return str(self.spec.optimizer["type"])


class _Loader:
    """One load of one file. Methods raise ModelFileError starting with ``prefix`` (the
    file's name; for the checks save runs on its own members, "cannot save ...")."""

    def __init__(self, path: Path, prefix: str | None = None):
        self.path = path
        self.name = path.name or str(path)
        self.prefix = prefix if prefix is not None else self.name
        self.read_total = 0

    def fail(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.prefix}: {message}")

    # -- top level ------------------------------------------------------------------------------
    def load(self) -> Network:
        self._check_on_disk()
        try:
            zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise self.fail("not an nnstudio model file (it is not a zip archive, or it is truncated "
                            "or damaged)") from None
        except NotImplementedError as exc:
            raise self.fail(f"the zip archive uses a feature model files never use ({exc}); the file is "
                            "damaged or was not written by nnstudio") from None
        except OSError as exc:
            raise self.fail(f"cannot be read ({exc.strerror or exc})") from None
        except (ValueError, EOFError, OverflowError, struct.error) as exc:
            raise self.fail(f"the zip archive is damaged ({exc})") from None
        with zf:
            infos = self._check_directory(zf)
            return self._load_members(zf, infos)

    def _check_on_disk(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise ModelFileError(f"{self.path}: no such model file") from None
        except OSError as exc:
            raise ModelFileError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(st.st_mode):
            raise ModelFileError(f"{self.path}: is a folder, not a model file")
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block for ever, a device never end
            raise ModelFileError(f"{self.path}: is not a regular file (a device, pipe or socket), so it holds no model")
        if st.st_size == 0:
            raise self.fail("the file is empty (0 bytes), so it holds no model")
        if st.st_size > limits.MAX_FILE_BYTES:
            raise self.fail(f"the file is {_mib(st.st_size)}, "
                            f"over the {_mib(limits.MAX_FILE_BYTES)} a model file may take")

    # -- archive directory ----------------------------------------------------------------------
    def _check_directory(self, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        """Check names, count, compression and declared sizes of every member against the
        limits (core.limits), without decompressing anything."""
        infos = zf.infolist()
        if len(infos) > limits.MAX_MEMBERS:
            raise self.fail(f"the archive holds {len(infos):,} members, more than the {limits.MAX_MEMBERS:,} allowed")
        by_name: dict[str, zipfile.ZipInfo] = {}
        total = compressed_total = array_total = array_compressed = 0
        for info in infos:
            name = info.filename
            self._check_member_name(name)
            if name in by_name:
                raise self.fail(f"member {name!r} appears twice in the archive")
            by_name[name] = info
            if info.compress_type not in _ALLOWED_COMPRESSION:
                raise self.fail(f"member {name!r} uses compression method {info.compress_type}; "
                                "only stored and deflate are allowed")
            if info.flag_bits & 0x41:
                raise self.fail(f"member {name!r} is encrypted; model files are never encrypted")
            budget = limits.JSON_MAX_BYTES if name.endswith(".json") else limits.MAX_ARRAY_BYTES
            if info.file_size > budget:
                raise self.fail(f"member {name!r} declares {_mib(info.file_size)} uncompressed, over the "
                                f"{_mib(budget)} budget for one member (a zip bomb or a damaged file)")
            if name.endswith(".json"):
                problem = limits.json_member_problem(name, info.file_size, info.compress_size)
                if problem:
                    raise self.fail(f"member {name!r} declares too much: {problem} (a zip bomb or a damaged file)")
            else:
                array_total += info.file_size
                array_compressed += info.compress_size
            total += info.file_size
            compressed_total += info.compress_size
        if total > limits.MAX_TOTAL_BYTES:
            raise self.fail(f"the members declare {_mib(total)} uncompressed in total, over the "
                            f"{_mib(limits.MAX_TOTAL_BYTES)} budget (a zip bomb or a damaged file)")
        size = self._file_size(zf)
        if size is not None and compressed_total > size:
            raise self.fail(f"the members declare {compressed_total:,} compressed bytes but the file has only "
                            f"{size:,} (overlapping members: a zip bomb or a damaged file)")
        problem = limits.arrays_problem(array_total, array_compressed)
        if problem:
            raise self.fail(f"the arrays declare too much: {problem} (a zip bomb or a damaged file)")
        missing = [m for m in JSON_MEMBERS if m not in by_name]
        if missing:
            raise self.fail(f"member {missing[0]!r} is missing (a model file needs "
                            f"{', '.join(JSON_MEMBERS)}); the file is incomplete or not an nnstudio model")
        return by_name

    @staticmethod
    def _file_size(zf: zipfile.ZipFile) -> int | None:
        try:
            return os.fstat(zf.fp.fileno()).st_size if zf.fp is not None else None
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            return None

    def _check_member_name(self, name: str) -> None:
        problem = _unsafe_name_problem(name)
        if problem:
            raise self.fail(f"member name {name!r} is refused: {problem}")
        if name in JSON_MEMBERS:
            return
        for folder in (WEIGHTS_DIR, OPTIMIZER_DIR):
            if name.startswith(folder) and name.endswith(".npy") and "/" not in name[len(folder):]:
                return
        raise self.fail(f"unknown member {name!r}: a model file holds only {', '.join(JSON_MEMBERS)}, "
                        f"{WEIGHTS_DIR}*.npy and {OPTIMIZER_DIR}*.npy")

    # -- members -----------------------------------------------------------------------------------
    def _load_members(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> Network:
        plan, training, slots, metadata, rng_state = self._check_cheaply(zf, infos)
        weights = {key: self._array(zf, infos[weights_member(key)], shape, plan.dtype)
                   for key, shape in plan.param_shapes.items()}
        slot_arrays = {slot: self._array(zf, infos[member], plan.param_shapes[slot.rpartition("/")[0]], plan.dtype)
                       for slot, member in slots.items()}
        try:
            network = Network.from_spec(plan.spec)
        except SpecError as exc:
            raise self.fail(f"spec.json describes an invalid network: {exc}") from None
        network.set_weights(weights)
        del weights
        network.optimizer.load_state_dict({"iterations": training["optimizer"]["iterations"],
                                           "slots": slot_arrays})
        network.rng.bit_generator.state = rng_state
        network.epochs_done = training["epochs_done"]
        # Files written before histories were bounded may hold millions of batch points.
        network.history = bounded_history(History.from_dict(training["history"]))
        network.metadata = metadata
        if training["config"] is not None:
            network.metadata.setdefault("training", training["config"])
        return network

    def _check_cheaply(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> tuple[
            _NetworkPlan, dict[str, Any], dict[str, str], dict[str, Any], dict[str, Any]]:
        """Everything but the array contents: the JSON members, and every array's declared
        size against the spec, before a single parameter is allocated. Returns (plan,
        training, optimizer slot index, metadata, generator state)."""
        manifest = self._json(zf, infos, "manifest.json", dict)
        self._check_manifest(manifest)
        spec_data = self._json(zf, infos, "spec.json", dict)
        spec_data = _migrate("spec", spec_data, manifest["format_version"])
        plan = self._plan_network(spec_data)
        training = self._json(zf, infos, "training.json", dict)
        slots = self._check_training(training, plan)
        self._check_member_set(infos, plan, slots)
        self._check_declared_array_sizes(zf, infos, plan, slots)
        metadata = self._json(zf, infos, "metadata.json", dict)
        self._check_metadata(metadata)
        rng_state = self._json(zf, infos, "rng.json", dict)
        self._check_rng_state(rng_state, plan)
        return plan, training, slots, metadata, rng_state

    def _read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, streamed against its declared size and the total budget."""
        budget = limits.JSON_MAX_BYTES if info.filename.endswith(".json") else limits.MAX_ARRAY_BYTES
        limit = min(info.file_size, budget, limits.MAX_TOTAL_BYTES - self.read_total)
        data = read_member_limited(zf, info, limit, self.fail)
        self.read_total += len(data)
        return data

    def _json(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], member: str, kind: type) -> Any:
        raw = self._read(zf, infos[member])
        problem = limits.json_values_problem(member, raw)
        if problem:
            raise self.fail(f"member {member!r} is too large to read: {problem}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"member {member!r} is not UTF-8 text (byte {exc.start})") from None
        del raw
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(f"member {member!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})") from None
        except ValueError as exc:  # e.g. an integer with too many digits
            raise self.fail(f"member {member!r} holds a value JSON cannot read ({exc})") from None
        except RecursionError:
            raise self.fail(f"member {member!r} is nested too deeply to be part of a model file") from None
        if not isinstance(value, kind):
            raise self.fail(f"member {member!r} must hold {_type_name(kind())}, not {_type_name(value)}")
        if _ESCAPED_SURROGATE.search(text):
            problem = text_problem(value)
            if problem:
                raise self.fail(f"{member}: {problem}")
        return value

    def _check_manifest(self, manifest: dict[str, Any]) -> None:
        if manifest.get("format") != FORMAT_NAME:
            raise self.fail(f"manifest.json says format {manifest.get('format')!r}, not {FORMAT_NAME!r}: "
                            "this is not an nnstudio model file")
        version = manifest.get("format_version")
        if not _is_int(version) or version < 1:
            raise self.fail(f"manifest.json has an invalid format_version {version!r} (a positive integer is needed)")
        if version > FORMAT_VERSION:
            raise self.fail(f"made by a newer nnstudio (format {version}); this version reads up to format "
                            f"{FORMAT_VERSION} — update nnstudio")
        for key in ("nnstudio_version", "numpy_version", "created_utc"):
            if key in manifest and not isinstance(manifest[key], str):
                raise self.fail(f"manifest.json: {key!r} must be a string, not {_type_name(manifest[key])}")

    def _plan_network(self, data: dict[str, Any]) -> _NetworkPlan:
        """The spec, checked and within the limits, and every parameter's shape: no allocation."""
        try:
            spec = NetworkSpec.from_dict(data)
            analysis = analyze(spec)
            analysis.raise_if_invalid()
            param_shapes: dict[str, tuple[int, ...]] = {}
            for info, layer_spec in zip(analysis.layers, spec.layers, strict=False):
                assert info.input_shape is not None
                for name, shape in layer_spec.create().param_shapes(info.input_shape).items():
                    param_shapes[f"layers.{info.index}.{name}"] = tuple(int(d) for d in shape)
        except SpecError as exc:
            raise self.fail(f"spec.json describes an invalid network: {exc}") from None
        needed = analysis.total_params * np.dtype(spec.dtype).itemsize
        if needed > limits.MAX_TOTAL_BYTES:
            raise self.fail(f"spec.json describes a network with {analysis.total_params:,} parameters "
                            f"({_mib(needed)}), over the {_mib(limits.MAX_TOTAL_BYTES)} budget")
        return _NetworkPlan(spec, param_shapes)

    def _check_training(self, training: dict[str, Any], plan: _NetworkPlan) -> dict[str, str]:
        """Check training.json's structure; return the optimizer slot index {slot: member}."""
        where = "training.json"
        _expect_keys(self, where, training, {"config", "epochs_done", "optimizer", "history"})
        if training["config"] is not None:
            if not isinstance(training["config"], dict):
                raise self.fail(f"{where}: 'config' must be an object or null, not {_type_name(training['config'])}")
            try:
                training["config"] = TrainingConfig.from_dict(training["config"]).to_dict()
            except SpecError as exc:
                raise self.fail(f"{where}: invalid training settings: {exc}") from None
        epochs_done = training["epochs_done"]
        if not _is_int(epochs_done) or not 0 <= epochs_done <= limits.MAX_EPOCHS_DONE:
            raise self.fail(f"{where}: 'epochs_done' must be a non-negative integer up to "
                            f"{limits.MAX_EPOCHS_DONE:,}, not {_short_repr(epochs_done)}")
        opt = training["optimizer"]
        if not isinstance(opt, dict):
            raise self.fail(f"{where}: 'optimizer' must be an object, not {_type_name(opt)}")
        _expect_keys(self, f"{where} 'optimizer'", opt, {"type", "iterations", "slots"})
        if opt["type"] != plan.optimizer_type:
            raise self.fail(f"{where}: optimizer state is for {_short_repr(opt['type'])} but spec.json uses "
                            f"{plan.optimizer_type!r}")
        if not _is_int(opt["iterations"]) or not 0 <= opt["iterations"] <= limits.MAX_ITERATIONS:
            raise self.fail(f"{where}: optimizer 'iterations' must be a non-negative integer up to "
                            f"{limits.MAX_ITERATIONS:,}, not {_short_repr(opt['iterations'])}")
        slots = opt["slots"]
        if not isinstance(slots, dict):
            raise self.fail(f"{where}: optimizer 'slots' must be an object, not {_type_name(slots)}")
        for slot, member in slots.items():
            key, sep, name = slot.rpartition("/")
            if not sep or key not in plan.param_shapes or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.fail(f"{where}: optimizer slot {_short_repr(slot)} does not name a parameter of the "
                                "network and a slot (like 'layers.0.W/m')")
            if member != optimizer_member(slot):
                raise self.fail(f"{where}: optimizer slot {slot!r} must be stored as {optimizer_member(slot)!r}, "
                                f"not {_short_repr(member)}")
        self._check_history(training["history"])
        return slots

    def _check_history(self, history: Any) -> None:
        where = "training.json 'history'"
        if not isinstance(history, dict):
            raise self.fail(f"{where} must be an object, not {_type_name(history)}")
        _expect_keys(self, where, history, {"batches", "epochs", "events"})
        batches = history["batches"]
        if not isinstance(batches, dict):
            raise self.fail(f"{where}: 'batches' must be an object, not {_type_name(batches)}")
        _expect_keys(self, f"{where} 'batches'", batches, set(_BATCH_COLUMN_CHECKS))
        lengths = set()
        for col, (check, what) in _BATCH_COLUMN_CHECKS.items():
            values = batches[col]
            if not isinstance(values, list) or not all(check(v) for v in values):
                raise self.fail(f"{where}: batches column {col!r} must be a list of {what}")
            lengths.add(len(values))
        if len(lengths) > 1:
            raise self.fail(f"{where}: the batches columns have different lengths ({sorted(lengths)})")
        self._check_records(f"{where} 'epochs'", history["epochs"], EpochReport, _EPOCH_RANGES)
        self._check_records(f"{where} 'events'", history["events"], ChangeEvent, _EVENT_RANGES)

    def _check_records(self, where: str, records: Any, cls: type,
                       ranges: Mapping[str, tuple[Callable[[Any], bool], str]]) -> None:
        """Each record must be an object with exactly ``cls``'s fields, of JSON-compatible
        types, and within ``ranges`` (field -> (check, what it must be))."""
        if not isinstance(records, list):
            raise self.fail(f"{where} must be a list, not {_type_name(records)}")
        checks = {f.name: _annotation_check(f.type) for f in fields(cls)}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise self.fail(f"{where}: item {i + 1} must be an object, not {_type_name(record)}")
            _expect_keys(self, f"{where} item {i + 1}", record, set(checks))
            for key, check in checks.items():
                if not check(record[key]):
                    raise self.fail(f"{where}: item {i + 1} has an invalid {key!r} ({_short_repr(record[key])})")
                in_range, what = ranges.get(key, (None, ""))
                if in_range is not None and record[key] is not None and not in_range(record[key]):
                    raise self.fail(f"{where}: item {i + 1} has {key!r} {_short_repr(record[key])}; it must be {what}")

    def _check_member_set(self, infos: Mapping[str, Any], plan: _NetworkPlan, slots: Mapping[str, str]) -> None:
        expected = set(JSON_MEMBERS) | {weights_member(k) for k in plan.param_shapes} | set(slots.values())
        unknown = sorted(set(infos) - expected)
        if unknown:
            raise self.fail(f"unknown member {unknown[0]!r}: the network in spec.json has no such parameter "
                            "or optimizer slot")
        missing = sorted(expected - set(infos))
        if missing:
            raise self.fail(f"member {missing[0]!r} is missing: the file is incomplete")

    def _check_declared_array_sizes(self, zf: zipfile.ZipFile, infos: Mapping[str, zipfile.ZipInfo], plan: _NetworkPlan,
                                    slots: Mapping[str, str]) -> None:
        """Every array member must declare the size its shape in the spec needs (plus a
        header): a tiny file whose spec declares a huge layer is refused here, before the
        network is built."""
        members = {weights_member(k): shape for k, shape in plan.param_shapes.items()}
        members.update({member: plan.param_shapes[slot.rpartition("/")[0]] for slot, member in slots.items()})
        for member, shape in members.items():
            expected = math.prod(shape) * plan.dtype.itemsize
            declared = infos[member].file_size
            if declared <= expected and declared <= limits.MAX_NPY_HEADER_BYTES:
                # Small enough to read: say precisely what is wrong with it.
                self._check_npy(self._read(zf, infos[member]), member, shape, plan.dtype)
            if not expected < declared <= expected + limits.MAX_NPY_HEADER_BYTES:
                raise self.fail(f"member {member!r} declares {declared:,} bytes but an array of shape {shape} in "
                                f"{plan.dtype.name} takes {expected:,} plus its header")

    def _check_metadata(self, metadata: dict[str, Any]) -> None:
        problem = metadata_problem(metadata)
        if problem:
            raise self.fail(f"metadata.json: {problem}")

    # -- arrays --------------------------------------------------------------------------------------
    def _array(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A finite array of exactly ``shape`` and ``dtype``, checked from its header first."""
        member = info.filename
        expected = math.prod(shape) * dtype.itemsize
        if info.file_size > expected + limits.MAX_NPY_HEADER_BYTES:
            raise self.fail(f"member {member!r} declares {info.file_size:,} bytes but an array of shape "
                            f"{shape} in {dtype.name} takes {expected:,}")
        data = self._read(zf, info)
        self._check_npy(data, member, shape, dtype)
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        del data
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"member {member!r} contains NaN or infinite values")
        return arr

    def _check_npy(self, data: bytes, member: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Header (dtype, shape) and data length of a ``.npy`` member, without allocating."""
        expected = math.prod(shape) * dtype.itemsize
        file_shape, _, file_dtype, offset = _parse_npy_header(data, lambda m: self.fail(f"member {member!r}: {m}"))
        if file_dtype.hasobject or file_dtype.fields is not None or file_dtype.subdtype is not None:
            raise self.fail(f"member {member!r} holds an array of dtype {file_dtype.str!r} (object or structured); "
                            f"only plain {dtype.name} arrays are allowed")
        if file_dtype != dtype:
            raise self.fail(f"member {member!r} has dtype {file_dtype.str!r} but the network uses {dtype.name}")
        if file_shape != tuple(shape):
            raise self.fail(f"member {member!r} has shape {file_shape} but the network needs {tuple(shape)}")
        if len(data) - offset != expected:
            raise self.fail(f"member {member!r} holds {len(data) - offset:,} data bytes but shape {file_shape} "
                            f"needs {expected:,}")

    def _check_rng_state(self, state: dict[str, Any], plan: _NetworkPlan) -> None:
        """The generator state must fit the network's generator (checked on a fresh one)."""
        bit_gen = np.random.default_rng(0).bit_generator
        name = type(bit_gen).__name__
        if state.get("bit_generator") != name:
            raise self.fail(f"rng.json describes a {_short_repr(state.get('bit_generator'))} generator but the "
                            f"network uses {name!r}")
        if name == "PCG64":
            _check_pcg64_state(self, state)
        try:
            bit_gen.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(f"rng.json holds an invalid generator state ({exc})") from None


def _short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters (a value with thousands of digits stays readable)."""
    if _is_int(value) and value.bit_length() > 200:
        return f"an integer with about {int(value.bit_length() * 0.30103):,} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _finite(v: Any) -> bool:
    return _is_number(v) and math.isfinite(v)


def _any_number(v: Any) -> bool:
    return _is_number(v)  # NaN / inf allowed: a validation loss can overflow


def _progress(v: Any) -> bool:
    return _finite(v) and 0 <= v <= limits.MAX_EPOCHS_DONE + 1


def _batch_size(v: Any) -> bool:
    return _is_number(v) and math.isfinite(v) and float(v).is_integer() and 1 <= v <= 1_000_000


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
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def read_member_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                        fail: Callable[[str], Exception]) -> bytes:
    """Stream member ``info`` in chunks, refusing it as soon as more than ``limit`` bytes come
    out (declared sizes can lie) or when it ends short of its declared size."""
    name = info.filename
    out = bytearray()
    try:
        with zf.open(info) as f:
            while True:
                chunk = f.read(min(CHUNK_BYTES, limit + 1 - len(out)) or 1)
                if not chunk:
                    break
                out += chunk
                if len(out) > limit:
                    raise fail(f"member {name!r} decompresses to more than {limit:,} bytes, over its "
                               "declared size or the loader's budget (a zip bomb or a damaged file)")
    except zipfile.BadZipFile as exc:
        raise fail(f"member {name!r} is damaged ({exc})") from None
    except zlib.error as exc:
        raise fail(f"member {name!r} is damaged: its compressed data is corrupt ({exc})") from None
    except NotImplementedError as exc:
        raise fail(f"member {name!r} uses a zip feature model files never use ({exc}); the file is "
                   "damaged or was not written by nnstudio") from None
    except (zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as exc:
        raise fail(f"member {name!r} cannot be read: the file is truncated or damaged ({exc})") from None
    if len(out) != info.file_size:
        raise fail(f"member {name!r} holds {len(out):,} bytes but declares {info.file_size:,}: the file is damaged")
    return bytes(out)


def _unsafe_name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe, plain member name, or None when it is."""
    if not name:
        return "it is empty"
    if len(name) > limits.MAX_NAME_LENGTH:
        return f"it is longer than {limits.MAX_NAME_LENGTH} characters"
    if "\\" in name:
        return "it contains a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "it is an absolute path"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains control characters"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "it contains '..', '.' or an empty path component"
    return None


def _parse_npy_header(data: bytes, fail: Callable[[str], Exception]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data offset) from a ``.npy`` header, without allocating
    the array and without evaluating anything but Python literals."""
    if len(data) < 10 or not data.startswith(_NPY_MAGIC):
        raise fail("not a .npy array (bad magic bytes)")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    elif major in (2, 3):
        if len(data) < 12:
            raise fail("the .npy header is cut short")
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    else:
        raise fail(f"unsupported .npy format version {major}")
    if hlen > 65536 or start + hlen > len(data):
        raise fail("the .npy header is cut short or too long")
    try:
        header = ast.literal_eval(data[start:start + hlen].decode("latin1" if major < 3 else "utf-8"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        raise fail("the .npy header is not a valid dictionary") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise fail("the .npy header must have exactly the keys descr, fortran_order and shape")
    shape, fortran, descr = header["shape"], header["fortran_order"], header["descr"]
    if (not isinstance(shape, tuple) or len(shape) > 32
            or not all(_is_int(d) and 0 <= d < 2**62 for d in shape)):
        raise fail(f"the .npy header has an invalid shape {shape!r}")
    if not isinstance(fortran, bool):
        raise fail("the .npy header's fortran_order must be True or False")
    if not isinstance(descr, str):
        raise fail(f"the .npy header describes a structured or object dtype ({descr!r}); only plain floats are allowed")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError):
        raise fail(f"the .npy header has an unknown dtype {descr!r}") from None
    return tuple(shape), fortran, dtype, start + hlen


def _check_pcg64_state(loader: _Loader, state: dict[str, Any]) -> None:
    _expect_keys(loader, "rng.json", state, {"bit_generator", "state", "has_uint32", "uinteger"})
    inner = state["state"]
    if not isinstance(inner, dict):
        raise loader.fail(f"rng.json: 'state' must be an object, not {_type_name(inner)}")
    _expect_keys(loader, "rng.json 'state'", inner, {"state", "inc"})
    for key in ("state", "inc"):
        if not _is_int(inner[key]) or not 0 <= inner[key] < 2**128:
            raise loader.fail(f"rng.json: state {key!r} must be an integer in [0, 2**128)")
    if state["has_uint32"] not in (0, 1) or isinstance(state["has_uint32"], bool):
        raise loader.fail("rng.json: 'has_uint32' must be 0 or 1")
    if not _is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 2**32:
        raise loader.fail("rng.json: 'uinteger' must be an integer in [0, 2**32)")


def _expect_keys(loader: _Loader, where: str, obj: dict[str, Any], keys: set[str]) -> None:
    missing = sorted(keys - set(obj))
    extra = sorted(set(obj) - keys)
    if missing:
        raise loader.fail(f"{where} lacks the key {missing[0]!r}")
    if extra:
        raise loader.fail(f"{where} has an unknown key {extra[0]!r}")


def _annotation_check(annotation: Any) -> Callable[[Any], bool]:
    """A JSON type check for a dataclass field annotation (strings under PEP 563)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = "None" in text
    base = text.replace("| None", "").replace("Optional[", "").replace("]", "").strip()
    checks = {"int": _is_int, "float": _is_number, "str": lambda v: isinstance(v, str),
              "bool": lambda v: isinstance(v, bool)}
    check = checks.get(base, lambda v: v is None or isinstance(v, (str, int, float, bool)))
    return (lambda v: v is None or check(v)) if optional else check


# -- migrations --------------------------------------------------------------------------------------
#: (member kind, from version) -> function upgrading that member's JSON by one version.
#: Empty while format 1 is the only version; see docs/model-file-format.md.
MIGRATIONS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _migrate(kind: str, data: dict[str, Any], version: int) -> dict[str, Any]:
    """Upgrade ``data`` written by format ``version`` to FORMAT_VERSION, one step at a time."""
    for v in range(version, FORMAT_VERSION):
        step = MIGRATIONS.get((kind, v))
        if step is not None:
            data = step(data)
    return data
