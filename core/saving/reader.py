"""``load_model``: read a model file strictly, cheap checks first, never unpickling.

Order (docs/model-file-format.md, "Loading is strict"): the file on disk and the archive's
directory (``archive``), then the JSON members (``schema``, after ``migrations`` upgraded an
older file), the member set and every array member's declared size against the shapes the
spec implies, the metadata and the generator state; only then is the network built and each
array read, header first. Any problem is one ``ModelFileError`` sentence naming the file and
the member; nothing else escapes ``load_model``.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import limits
from core.errors import ModelFileError, SpecError
from core.history import History
from core.network import Network
from core.saving.archive import ArchiveReader
from core.saving.history_bounds import bounded_history
from core.saving.layout import JSON_MEMBERS, STATE_FORMAT_VERSION, state_member, weights_member
from core.saving.migrations import migrate
from core.saving.schema import (
    NetworkPlan,
    check_manifest,
    check_metadata,
    check_rng_state,
    check_training,
    plan_network,
)


def load_model(path: str | os.PathLike[str]) -> Network:
    """Read a model file written by ``save_model`` and return the built Network.

    Weights, non-trainable layer state, optimizer state (slots and step count), the random
    generator's state, ``epochs_done``, history and metadata are restored, so ``fit``
    continues exactly where the saved run stopped. When training.json holds training
    settings and the metadata has no ``"training"`` entry, they are put there.

    Raises ModelFileError (only) for every problem, naming the file and the member.
    """
    try:
        path = Path(path)
    except TypeError:
        raise ModelFileError(f"cannot open {path!r}: it is not a file name") from None
    try:
        return ModelReader(path).load()
    except ModelFileError:
        raise
    except MemoryError:
        raise ModelFileError(f"{path.name}: not enough memory to load this model") from None
    except RecursionError:
        raise ModelFileError(f"{path.name}: a JSON member is nested too deeply to be a model file") from None
    except Exception as exc:  # last resort: a loader must never leak another exception type
        raise ModelFileError(f"{path.name}: the file is damaged or not an nnstudio model "
                             f"({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class CheckedMembers:
    """Everything in a file but the array contents, checked: the network plan, training.json,
    the optimizer slot index {slot: member}, the metadata and the generator state."""

    plan: NetworkPlan
    training: dict[str, Any]
    slots: dict[str, str]
    metadata: dict[str, Any]
    rng_state: dict[str, Any]


class ModelReader(ArchiveReader):
    """One load of one file (also used by ``save_model`` to check what it writes)."""

    def load(self) -> Network:
        self.check_on_disk()
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
            infos = self.check_directory(zf)
            return self.load_members(zf, infos)

    def load_members(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> Network:
        checked = self.check_cheaply(zf, infos)
        plan = checked.plan
        arrays = {key: self.read_array(zf, infos[weights_member(key)], shape, plan.dtype)
                  for key, shape in plan.param_shapes.items()}
        arrays.update({key: self.read_array(zf, infos[state_member(key)], shape, plan.dtype)
                       for key, shape in plan.state_shapes.items()})
        slot_arrays = {slot: self.read_array(zf, infos[member], plan.param_shapes[slot.rpartition("/")[0]],
                                             plan.dtype)
                       for slot, member in checked.slots.items()}
        try:
            network = Network.from_spec(plan.spec)
        except SpecError as exc:
            raise self.fail(f"spec.json describes an invalid network: {exc}") from None
        network.set_weights(arrays)  # parameters and state
        del arrays
        training = checked.training
        network.optimizer.load_state_dict({"iterations": training["optimizer"]["iterations"],
                                           "slots": slot_arrays})
        network.rng.bit_generator.state = checked.rng_state
        network.epochs_done = training["epochs_done"]
        # Files written before histories were bounded may hold millions of batch points.
        network.history = bounded_history(History.from_dict(training["history"]))
        network.metadata = checked.metadata
        if training["config"] is not None:
            network.metadata.setdefault("training", training["config"])
        return network

    def check_cheaply(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> CheckedMembers:
        """Everything but the array contents: the JSON members, and every array's declared
        size against the spec, before a single parameter is allocated."""
        manifest = self.read_json(zf, infos, "manifest.json", dict)
        check_manifest(self.fail, manifest)
        version = manifest["format_version"]
        spec_data = self.read_json(zf, infos, "spec.json", dict)
        spec_data = migrate("spec", spec_data, version)
        plan = plan_network(self.fail, spec_data)
        if plan.state_shapes and version < STATE_FORMAT_VERSION:
            raise self.fail(f"spec.json has layers with state ({', '.join(plan.state_shapes)}) but a format-"
                            f"{version} file cannot hold state: the file is damaged")
        training = self.read_json(zf, infos, "training.json", dict)
        slots = check_training(self.fail, training, plan)
        self.check_member_set(infos, plan, slots)
        self.check_declared_array_sizes(zf, infos, plan, slots)
        metadata = self.read_json(zf, infos, "metadata.json", dict)
        check_metadata(self.fail, metadata)
        rng_state = self.read_json(zf, infos, "rng.json", dict)
        check_rng_state(self.fail, rng_state, plan)
        return CheckedMembers(plan, training, slots, metadata, rng_state)

    def check_member_set(self, infos: Mapping[str, Any], plan: NetworkPlan, slots: Mapping[str, str]) -> None:
        expected = (set(JSON_MEMBERS) | {weights_member(k) for k in plan.param_shapes} | set(slots.values())
                    | {state_member(k) for k in plan.state_shapes})
        unknown = sorted(set(infos) - expected)
        if unknown:
            raise self.fail(f"unknown member {unknown[0]!r}: the network in spec.json has no such parameter, "
                            "optimizer slot or state")
        missing = sorted(expected - set(infos))
        if missing:
            raise self.fail(f"member {missing[0]!r} is missing: the file is incomplete")

    def check_declared_array_sizes(self, zf: zipfile.ZipFile, infos: Mapping[str, zipfile.ZipInfo],
                                   plan: NetworkPlan, slots: Mapping[str, str]) -> None:
        """Every array member must declare the size its shape in the spec needs (plus a
        header): a tiny file whose spec declares a huge layer is refused here, before the
        network is built."""
        members = {weights_member(k): shape for k, shape in plan.param_shapes.items()}
        members.update({member: plan.param_shapes[slot.rpartition("/")[0]] for slot, member in slots.items()})
        members.update({state_member(k): shape for k, shape in plan.state_shapes.items()})
        for member, shape in members.items():
            expected = math.prod(shape) * plan.dtype.itemsize
            declared = infos[member].file_size
            if declared <= expected and declared <= limits.MAX_NPY_HEADER_BYTES:
                # Small enough to read: say precisely what is wrong with it.
                self.check_npy(self.read(zf, infos[member]), member, shape, plan.dtype)
            if not expected < declared <= expected + limits.MAX_NPY_HEADER_BYTES:
                raise self.fail(f"member {member!r} declares {declared:,} bytes but an array of shape {shape} in "
                                f"{plan.dtype.name} takes {expected:,} plus its header")


__all__ = ["CheckedMembers", "ModelReader", "load_model"]
