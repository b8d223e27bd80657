"""The ``.npz`` weight layout every export writes, and bringing trained weights back.

Layout (shared by the PyTorch project's ``weights.npz``, what its ``train.py --out`` writes,
and the NumPy script's ``weights.npz``): one array per entry of ``net.get_weights()``, under
the same key (``layers.<i>.<name>``, 0-based layer index, e.g. ``layers.0.W``,
``layers.0.b``) and in the ENGINE's layout: Dense W (in, out), b (out,); Conv2D W (out_c,
in_c, kh, kw), b (out_c,). An exporter converts to its runtime's layout when it loads the
file (PyTorch's ``model.py`` transposes Dense W to (out, in)), so importing is a plain
name-and-shape check. Plain ``np.savez`` of numeric arrays only, readable with ``np.load`` anywhere.

``import_weights(net, path)`` reads such a file after checking every name, shape, dtype and
value against the network *before* any array is loaded (the ``.npy`` headers are read first),
and changes nothing when it refuses: a ``DataError`` for a file that is not a readable weight
file, a ``SpecError`` for weights that do not fit the network; both name the first problem.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic_write import write_bytes_atomically
from core.data.errors import DataError
from core.errors import SpecError
from core.network import Network

__all__ = ["WEIGHTS_FILE", "import_weights", "read_weights", "weights_bytes",
           "write_weights"]

#: The weight file's name inside an export folder.
WEIGHTS_FILE = "weights.npz"


def weights_bytes(weights: Mapping[str, np.ndarray]) -> bytes:
    """The ``.npz`` file (uncompressed, numeric arrays only) holding ``weights`` (key -> array)."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {key: np.asarray(value, order="C") for key, value in weights.items()}  # keeps 0-d
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write_weights(net: Network, path: str | os.PathLike[str]) -> None:
    """Write ``net.get_weights()`` to ``path`` in the layout above, atomically."""
    write_bytes_atomically(path, weights_bytes(net.get_weights()), action="write the weights to", example="weights.npz")


def _expected(net: Network) -> dict[str, np.ndarray]:
    if not net.built:
        raise SpecError("cannot import weights into a network that is not built yet: build it "
                        "(give it an input shape) first")
    return net.get_weights()


def read_weights(npz_path: str | os.PathLike[str], expected: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of the weight file ``npz_path``, checked against ``expected`` (key -> an
    array of the right shape, e.g. ``net.get_weights()``) before any of them is loaded.

    DataError: the file is missing or not a weight file (not an .npz, damaged, Python
    objects, non-numeric or non-finite values). SpecError: a name is missing or unexpected,
    or a shape differs; the sentence names the first one.
    """
    path = Path(npz_path)
    name = path.name or str(path)
    if not path.is_file():
        raise DataError(f"cannot import weights: {str(path)!r} is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            headers = _headers(archive, name)
            _check_names_and_shapes(headers, expected, name)
            arrays = {key: _load_member(archive, member) for key, (member, _shape, _dtype) in headers.items()}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if isinstance(exc, (DataError, SpecError)):
            raise
        raise DataError(f"cannot import weights from {name}: it is not a readable .npz weight file ({exc})") from None
    for key, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise DataError(f"cannot import weights from {name}: {key} contains NaN or infinite values "
                            "(the training that wrote it probably diverged)")
    return arrays


def _headers(archive: zipfile.ZipFile, name: str) -> dict[str, tuple[str, tuple[int, ...], np.dtype]]:
    """key -> (member name, shape, dtype) from each member's .npy header, nothing loaded."""
    headers = {}
    for member in archive.namelist():
        if not member.endswith(".npy"):
            raise DataError(f"cannot import weights from {name}: it holds {member!r}, which is not an array "
                            "(a weight file holds only .npy arrays, as np.savez writes them)")
        key = member[:-len(".npy")]
        with archive.open(member) as file:
            version = np.lib.format.read_magic(file)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read(file)
        if dtype.hasobject or not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise DataError(f"cannot import weights from {name}: {key} holds {dtype} values, not numbers")
        headers[key] = (member, tuple(int(d) for d in shape), dtype)
    return headers


def _check_names_and_shapes(headers: Mapping[str, tuple[str, tuple[int, ...], np.dtype]],
                            expected: Mapping[str, np.ndarray], name: str) -> None:
    for key in expected:
        if key not in headers:
            raise SpecError(f"the weights in {name} do not fit the network: {key} is missing "
                            f"(the file has {', '.join(sorted(headers)) or 'no arrays'})")
    for key in headers:
        if key not in expected:
            raise SpecError(f"the weights in {name} do not fit the network: it has {key}, which the "
                            f"network does not (the network has {', '.join(expected)})")
    for key, want in expected.items():
        shape = headers[key][1]
        if shape != want.shape:
            raise SpecError(f"the weights in {name} do not fit the network: {key} has shape {shape} but the "
                            f"network needs {tuple(want.shape)}")


def _load_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    with archive.open(member) as file:
        return np.asarray(np.lib.format.read_array(file, allow_pickle=False))


def import_weights(net: Network, npz_path: str | os.PathLike[str]) -> None:
    """Load the weights in ``npz_path`` (the layout above: what ``train.py --out`` writes)
    into ``net``, cast to its dtype. Everything is checked first; on refusal (DataError for
    the file, SpecError for a mismatch, each one sentence) the network is unchanged."""
    arrays = read_weights(npz_path, _expected(net))
    net.set_weights(arrays)
