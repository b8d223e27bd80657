"""Reading a model file's zip archive safely: nothing is trusted, nothing unpickled.

``ArchiveReader`` checks the file on disk and the archive's directory (names, count,
compression, declared sizes, compression ratios against ``core.limits``) before
decompressing anything, then streams each member against its declared size and the total
budget, and parses ``.npy`` headers by hand before an array is allocated. Every problem is a
``ModelFileError`` starting with ``prefix`` (the file's name, or "cannot save ..." when
``save_model`` checks what it has just written).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core import limits
from core.errors import ModelFileError
from core.limits import MIB, mib
from core.saving.layout import ARRAY_DIRS, JSON_MEMBERS
from core.saving.metadata import text_problem
from core.saving.schema import is_int, type_name

__all__ = ["ArchiveReader", "parse_npy_header", "read_member_limited", "unsafe_name_problem"]

#: Bytes read from a member per chunk while streaming.
CHUNK_BYTES = 1 * MIB
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_NPY_MAGIC = b"\x93NUMPY"
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class ArchiveReader:
    """Safe access to one model file's archive. Methods raise ModelFileError starting with
    ``prefix`` (the file's name; for the checks save runs on its own file, "cannot save ...")."""

    def __init__(self, path: Path, prefix: str | None = None):
        self.path = path
        self.name = path.name or str(path)
        self.prefix = prefix if prefix is not None else self.name
        self.read_total = 0

    def fail(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.prefix}: {message}")


    def check_on_disk(self) -> None:
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
            raise self.fail(f"the file is {mib(st.st_size)}, "
                            f"over the {mib(limits.MAX_FILE_BYTES)} a model file may take")

    # -- archive directory ----------------------------------------------------------------------
    def check_directory(self, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        """Check names, count, compression and declared sizes of every member against the
        limits (core.limits), without decompressing anything."""
        infos = zf.infolist()
        if len(infos) > limits.MAX_MEMBERS:
            raise self.fail(f"the archive holds {len(infos):,} members, more than the {limits.MAX_MEMBERS:,} allowed")
        by_name: dict[str, zipfile.ZipInfo] = {}
        total = compressed_total = array_total = array_compressed = 0
        for info in infos:
            name = info.filename
            self.check_member_name(name)
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
                raise self.fail(f"member {name!r} declares {mib(info.file_size)} uncompressed, over the "
                                f"{mib(budget)} budget for one member (a zip bomb or a damaged file)")
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
            raise self.fail(f"the members declare {mib(total)} uncompressed in total, over the "
                            f"{mib(limits.MAX_TOTAL_BYTES)} budget (a zip bomb or a damaged file)")
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

    def check_member_name(self, name: str) -> None:
        problem = unsafe_name_problem(name)
        if problem:
            raise self.fail(f"member name {name!r} is refused: {problem}")
        if name in JSON_MEMBERS:
            return
        for folder in ARRAY_DIRS:
            if name.startswith(folder) and name.endswith(".npy") and "/" not in name[len(folder):]:
                return
        raise self.fail(f"unknown member {name!r}: a model file holds only {', '.join(JSON_MEMBERS)}, "
                        f"{', '.join(d + '*.npy' for d in ARRAY_DIRS[:-1])} and {ARRAY_DIRS[-1]}*.npy")


    def read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, streamed against its declared size and the total budget."""
        budget = limits.JSON_MAX_BYTES if info.filename.endswith(".json") else limits.MAX_ARRAY_BYTES
        limit = min(info.file_size, budget, limits.MAX_TOTAL_BYTES - self.read_total)
        data = read_member_limited(zf, info, limit, self.fail)
        self.read_total += len(data)
        return data

    def read_json(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], member: str, kind: type) -> Any:
        raw = self.read(zf, infos[member])
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
            raise self.fail(f"member {member!r} must hold {type_name(kind())}, not {type_name(value)}")
        if _ESCAPED_SURROGATE.search(text):
            problem = text_problem(value)
            if problem:
                raise self.fail(f"{member}: {problem}")
        return value

    def read_array(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...],
                   dtype: np.dtype) -> np.ndarray:
        """A finite array of exactly ``shape`` and ``dtype``, checked from its header first."""
        member = info.filename
        expected = math.prod(shape) * dtype.itemsize
        if info.file_size > expected + limits.MAX_NPY_HEADER_BYTES:
            raise self.fail(f"member {member!r} declares {info.file_size:,} bytes but an array of shape "
                            f"{shape} in {dtype.name} takes {expected:,}")
        data = self.read(zf, info)
        self.check_npy(data, member, shape, dtype)
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        del data
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"member {member!r} contains NaN or infinite values")
        return arr

    def check_npy(self, data: bytes, member: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Header (dtype, shape) and data length of a ``.npy`` member, without allocating."""
        expected = math.prod(shape) * dtype.itemsize
        file_shape, _, file_dtype, offset = parse_npy_header(data, lambda m: self.fail(f"member {member!r}: {m}"))
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


def unsafe_name_problem(name: str) -> str | None:
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


def parse_npy_header(data: bytes, fail: Callable[[str], Exception]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
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
            or not all(is_int(d) and 0 <= d < 2**62 for d in shape)):
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

