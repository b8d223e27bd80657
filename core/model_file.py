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

Saving is atomic (temporary file in the same folder, fsync, ``os.replace``). Loading never
unpickles and checks everything it reads: member names, declared and streamed sizes against
fixed budgets, JSON types, the spec, every array's header (dtype, shape) before the array is
allocated, finite values, the generator state. Any problem raises :class:`ModelFileError`
with a sentence naming the file, the member and the problem; nothing else escapes
``load_model``. A loaded network resumes training exactly as if it had never been saved:
weights, optimizer slots and step count, generator state, ``epochs_done`` and history are
all restored.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote

import numpy as np

from .errors import SpecError
from .network import Network
from .spec import NetworkSpec, TrainingConfig, analyze
from .training import ChangeEvent, EpochReport, History

__all__ = ["ModelFileError", "save_model", "load_model", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "nnstudio-model"
#: The version this code writes and the newest it reads.
FORMAT_VERSION = 1

# -- budgets (all checked before decompressing, and again while streaming) ---------------------
MIB = 1024 * 1024
#: Largest model file accepted on disk.
MAX_FILE_BYTES = 512 * MIB
#: Largest total of uncompressed member sizes.
MAX_TOTAL_BYTES = 512 * MIB
#: Largest single uncompressed member.
MAX_MEMBER_BYTES = 256 * MIB
#: Largest single JSON member (history of long runs included).
MAX_JSON_BYTES = 64 * MIB
#: Most members in one archive.
MAX_MEMBERS = 4096
#: Longest member name.
MAX_NAME_LENGTH = 255
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
    shape as its parameter) is stored as a ``.npy`` member in the network's dtype.

    The file appears complete or not at all: a failure part-way leaves any previous file at
    ``path`` untouched and removes the temporary file. Raises ModelFileError when the
    network cannot be described (metadata that is not JSON, a model over the format's size
    budget) or the file cannot be written (the OS reason is in the message).
    """
    path = Path(path)
    members = _collect_members(network, training_config)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        tmp = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise ModelFileError(f"cannot save the model to {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with tmp:
            _write_zip(tmp, members)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, _new_file_mode(path))
        os.replace(tmp.name, path)
    except BaseException as exc:
        _remove_quietly(tmp.name)
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot save the model to {str(path)!r}: {exc.strerror or exc}") from None
        raise
    _fsync_directory(folder)


def _collect_members(network: Network, training_config: Any) -> dict[str, bytes | np.ndarray]:
    """Every member's content, in writing order: JSON as UTF-8 bytes, arrays as arrays."""
    spec = network.to_spec()
    weights = {key: np.ascontiguousarray(p) for key, p, _ in network.parameters()}
    opt_state = network.optimizer.state_dict()
    slot_members = {slot: optimizer_member(slot) for slot in opt_state["slots"]}
    config = _training_config_dict(training_config if training_config is not None
                                   else network.metadata.get("training"))
    training = {
        "config": config,
        "epochs_done": int(network.epochs_done),
        "optimizer": {"type": network.optimizer.type_name, "iterations": int(opt_state["iterations"]),
                      "slots": slot_members},
        "history": network.history.to_dict(),
    }
    array_bytes = sum(a.nbytes for a in weights.values()) + sum(a.nbytes for a in opt_state["slots"].values())
    if array_bytes > MAX_TOTAL_BYTES:
        raise ModelFileError(f"the model is too large to save: its arrays take {_mib(array_bytes)}, "
                             f"over the format's limit of {_mib(MAX_TOTAL_BYTES)}")
    members: dict[str, bytes | np.ndarray] = {
        "manifest.json": _json_bytes(_manifest(), "manifest.json"),
        "spec.json": _json_bytes(spec.to_dict(), "spec.json"),
        "training.json": _json_bytes(training, "training.json", allow_nan=True),
        "metadata.json": _json_bytes(network.metadata, "metadata.json (network.metadata)"),
        "rng.json": _json_bytes(network.rng.bit_generator.state, "rng.json"),
    }
    for key, arr in weights.items():
        members[weights_member(key)] = arr
    for slot, arr in opt_state["slots"].items():
        members[slot_members[slot]] = np.ascontiguousarray(arr)
    return members


def _manifest() -> dict[str, Any]:
    from . import __version__

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
    return text.encode("utf-8")


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


def _new_file_mode(path: Path) -> int:
    """Permissions for the saved file: the replaced file's, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable where the OS supports syncing a directory (not Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mib(n: int) -> str:
    return f"{n / MIB:,.1f} MiB"


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
    path = Path(path)
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
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


class _Loader:
    """One load of one file. Methods raise ModelFileError naming ``self.name`` and a member."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name or str(path)
        self.read_total = 0

    def fail(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.name}: {message}")

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
        if st.st_size == 0:
            raise self.fail("the file is empty (0 bytes), so it holds no model")
        if st.st_size > MAX_FILE_BYTES:
            raise self.fail(f"the file is {_mib(st.st_size)}, over the {_mib(MAX_FILE_BYTES)} a model file may take")

    # -- archive directory ----------------------------------------------------------------------
    def _check_directory(self, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        """Check names, count, compression and declared sizes of every member (no decompression)."""
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.fail(f"the archive holds {len(infos):,} members, more than the {MAX_MEMBERS:,} allowed")
        by_name: dict[str, zipfile.ZipInfo] = {}
        total = 0
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
            budget = MAX_JSON_BYTES if name.endswith(".json") else MAX_MEMBER_BYTES
            if info.file_size > budget:
                raise self.fail(f"member {name!r} declares {_mib(info.file_size)} uncompressed, over the "
                                f"{_mib(budget)} budget for one member (a zip bomb or a damaged file)")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise self.fail(f"the members declare {_mib(total)} uncompressed in total, over the "
                            f"{_mib(MAX_TOTAL_BYTES)} budget (a zip bomb or a damaged file)")
        missing = [m for m in JSON_MEMBERS if m not in by_name]
        if missing:
            raise self.fail(f"member {missing[0]!r} is missing (a model file needs "
                            f"{', '.join(JSON_MEMBERS)}); the file is incomplete or not an nnstudio model")
        return by_name

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
        manifest = self._json(zf, infos, "manifest.json", dict)
        self._check_manifest(manifest)
        spec_data = self._json(zf, infos, "spec.json", dict)
        spec_data = _migrate("spec", spec_data, manifest["format_version"])
        network = self._network_from_spec(spec_data)
        training = self._json(zf, infos, "training.json", dict)
        slots = self._check_training(training, network)
        self._check_member_set(infos, network, slots)
        metadata = self._json(zf, infos, "metadata.json", dict)
        self._check_metadata(metadata)
        rng_state = self._json(zf, infos, "rng.json", dict)

        params = {key: p for key, p, _ in network.parameters()}
        weights = {key: self._array(zf, infos[weights_member(key)], p.shape, network.dtype)
                   for key, p in params.items()}
        slot_arrays = {slot: self._array(zf, infos[member], params[slot.rpartition("/")[0]].shape, network.dtype)
                       for slot, member in slots.items()}

        network.set_weights(weights)
        network.optimizer.load_state_dict({"iterations": training["optimizer"]["iterations"],
                                           "slots": slot_arrays})
        self._restore_rng(network, rng_state)
        network.epochs_done = training["epochs_done"]
        network.history = History.from_dict(training["history"])
        network.metadata = metadata
        if training["config"] is not None:
            network.metadata.setdefault("training", training["config"])
        return network

    def _read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, streamed against its declared size and the total budget."""
        budget = MAX_JSON_BYTES if info.filename.endswith(".json") else MAX_MEMBER_BYTES
        limit = min(info.file_size, budget, MAX_TOTAL_BYTES - self.read_total)
        data = read_member_limited(zf, info, limit, self.fail)
        self.read_total += len(data)
        return data

    def _json(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], member: str, kind: type) -> Any:
        raw = self._read(zf, infos[member])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"member {member!r} is not UTF-8 text (byte {exc.start})") from None
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

    def _network_from_spec(self, data: dict[str, Any]) -> Network:
        try:
            spec = NetworkSpec.from_dict(data)
            analysis = analyze(spec)
            analysis.raise_if_invalid()
        except SpecError as exc:
            raise self.fail(f"spec.json describes an invalid network: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise self.fail(f"spec.json describes an invalid network ({exc})") from None
        needed = analysis.total_params * np.dtype(spec.dtype).itemsize
        if needed > MAX_TOTAL_BYTES:
            raise self.fail(f"spec.json describes a network with {analysis.total_params:,} parameters "
                            f"({_mib(needed)}), over the {_mib(MAX_TOTAL_BYTES)} budget")
        try:
            return Network.from_spec(spec)
        except SpecError as exc:
            raise self.fail(f"spec.json describes an invalid network: {exc}") from None

    def _check_training(self, training: dict[str, Any], network: Network) -> dict[str, str]:
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
        if not _is_int(training["epochs_done"]) or training["epochs_done"] < 0:
            raise self.fail(f"{where}: 'epochs_done' must be a non-negative integer, not {training['epochs_done']!r}")
        opt = training["optimizer"]
        if not isinstance(opt, dict):
            raise self.fail(f"{where}: 'optimizer' must be an object, not {_type_name(opt)}")
        _expect_keys(self, f"{where} 'optimizer'", opt, {"type", "iterations", "slots"})
        if opt["type"] != network.optimizer.type_name:
            raise self.fail(f"{where}: optimizer state is for {opt['type']!r} but spec.json uses "
                            f"{network.optimizer.type_name!r}")
        if not _is_int(opt["iterations"]) or opt["iterations"] < 0:
            raise self.fail(f"{where}: optimizer 'iterations' must be a non-negative integer, not {opt['iterations']!r}")
        slots = opt["slots"]
        if not isinstance(slots, dict):
            raise self.fail(f"{where}: optimizer 'slots' must be an object, not {_type_name(slots)}")
        param_keys = {key for key, _, _ in network.parameters()}
        for slot, member in slots.items():
            key, sep, name = slot.rpartition("/")
            if not sep or key not in param_keys or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.fail(f"{where}: optimizer slot {slot!r} does not name a parameter of the network "
                                "and a slot (like 'layers.0.W/m')")
            if member != optimizer_member(slot):
                raise self.fail(f"{where}: optimizer slot {slot!r} must be stored as {optimizer_member(slot)!r}, "
                                f"not {member!r}")
        self._check_history(training["history"])
        return slots

    def _check_history(self, history: Any) -> None:
        where = "training.json 'history'"
        if not isinstance(history, dict):
            raise self.fail(f"{where} must be an object, not {_type_name(history)}")
        _expect_keys(self, where, history, {"batches", "epochs", "events"})
        batches = history["batches"]
        columns = set(History().batches)
        if not isinstance(batches, dict):
            raise self.fail(f"{where}: 'batches' must be an object, not {_type_name(batches)}")
        _expect_keys(self, f"{where} 'batches'", batches, columns)
        lengths = set()
        for col, values in batches.items():
            if not isinstance(values, list) or not all(_is_number(v) for v in values):
                raise self.fail(f"{where}: batches column {col!r} must be a list of numbers")
            lengths.add(len(values))
        if len(lengths) > 1:
            raise self.fail(f"{where}: the batches columns have different lengths ({sorted(lengths)})")
        self._check_records(f"{where} 'epochs'", history["epochs"], EpochReport)
        self._check_records(f"{where} 'events'", history["events"], ChangeEvent)

    def _check_records(self, where: str, records: Any, cls: type) -> None:
        """Each record must be an object with exactly ``cls``'s fields, of JSON-compatible types."""
        if not isinstance(records, list):
            raise self.fail(f"{where} must be a list, not {_type_name(records)}")
        checks = {f.name: _annotation_check(f.type) for f in fields(cls)}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise self.fail(f"{where}: item {i + 1} must be an object, not {_type_name(record)}")
            _expect_keys(self, f"{where} item {i + 1}", record, set(checks))
            for key, check in checks.items():
                if not check(record[key]):
                    raise self.fail(f"{where}: item {i + 1} has an invalid {key!r} ({record[key]!r})")

    def _check_member_set(self, infos: Mapping[str, Any], network: Network, slots: Mapping[str, str]) -> None:
        expected = set(JSON_MEMBERS) | {weights_member(k) for k, _, _ in network.parameters()} | set(slots.values())
        unknown = sorted(set(infos) - expected)
        if unknown:
            raise self.fail(f"unknown member {unknown[0]!r}: the network in spec.json has no such parameter "
                            "or optimizer slot")
        missing = sorted(expected - set(infos))
        if missing:
            raise self.fail(f"member {missing[0]!r} is missing: the file is incomplete")

    def _check_metadata(self, metadata: dict[str, Any]) -> None:
        names = metadata.get("class_names")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise self.fail("metadata.json: 'class_names' must be a list of strings")
        for key in ("dataset", "preprocessing", "training"):
            if key in metadata and metadata[key] is not None and not isinstance(metadata[key], dict):
                raise self.fail(f"metadata.json: {key!r} must be an object, not {_type_name(metadata[key])}")

    # -- arrays --------------------------------------------------------------------------------------
    def _array(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A finite array of exactly ``shape`` and ``dtype``, checked from its header first."""
        member = info.filename
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        header_budget = 65536 + 16
        if info.file_size > expected + header_budget:
            raise self.fail(f"member {member!r} declares {info.file_size:,} bytes but an array of shape "
                            f"{shape} in {dtype.name} takes {expected:,}")
        data = self._read(zf, info)
        file_shape, fortran, file_dtype, offset = _parse_npy_header(data, lambda m: self.fail(f"member {member!r}: {m}"))
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
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"member {member!r} contains NaN or infinite values")
        return arr

    def _restore_rng(self, network: Network, state: dict[str, Any]) -> None:
        bit_gen = network.rng.bit_generator
        name = type(bit_gen).__name__
        if state.get("bit_generator") != name:
            raise self.fail(f"rng.json describes a {state.get('bit_generator')!r} generator but the network "
                            f"uses {name!r}")
        if name == "PCG64":
            _check_pcg64_state(self, state)
        try:
            bit_gen.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(f"rng.json holds an invalid generator state ({exc})") from None


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
    if len(name) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
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
