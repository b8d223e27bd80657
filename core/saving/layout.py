"""What a model file holds and what its members are called (docs/model-file-format.md).

A model file is a zip archive of five JSON members and one ``.npy`` member per array::

    manifest.json, spec.json, training.json, metadata.json, rng.json
    weights/<key>.npy      one per parameter key, e.g. weights/layers.0.W.npy
    optimizer/<slot>.npy   one per optimizer slot, e.g. optimizer/layers.0.W%2Fm.npy
    state/<key>.npy        one per non-trainable state key, e.g. state/layers.1.running_mean.npy
"""

from __future__ import annotations

from urllib.parse import quote

FORMAT_NAME = "nnstudio-model"
#: The newest format this code reads and writes. Format 2 added the ``state/`` members
#: (layers' non-trainable state); a format-1 reader would refuse them.
FORMAT_VERSION = 2
#: The first format that may hold ``state/`` members.
STATE_FORMAT_VERSION = 2

JSON_MEMBERS = ("manifest.json", "spec.json", "training.json", "metadata.json", "rng.json")
WEIGHTS_DIR = "weights/"
OPTIMIZER_DIR = "optimizer/"
STATE_DIR = "state/"
ARRAY_DIRS = (WEIGHTS_DIR, OPTIMIZER_DIR, STATE_DIR)


def format_version_for(has_state: bool) -> int:
    """The format a file is written in: the oldest that can hold it (as NumPy writes the
    oldest ``.npy`` version that fits an array). A network without state is written as
    format 1, exactly what a format-1 reader expects, so an older nnstudio still opens it;
    one with state needs format 2, which an older nnstudio refuses with "update nnstudio"."""
    return STATE_FORMAT_VERSION if has_state else 1


def weights_member(key: str) -> str:
    """Member name of parameter ``key``: ``layers.0.W`` -> ``weights/layers.0.W.npy``."""
    return f"{WEIGHTS_DIR}{quote(key, safe='')}.npy"


def optimizer_member(slot: str) -> str:
    """Member name of optimizer slot ``slot``: ``layers.0.W/m`` -> ``optimizer/layers.0.W%2Fm.npy``.

    Percent-encoding keeps the slash (and anything else unusual) out of the path.
    """
    return f"{OPTIMIZER_DIR}{quote(slot, safe='')}.npy"


def state_member(key: str) -> str:
    """Member name of state ``key``: ``layers.1.running_mean`` -> ``state/layers.1.running_mean.npy``."""
    return f"{STATE_DIR}{quote(key, safe='')}.npy"
