"""Hostile IDX and CSV files for the data readers: gzip bombs built in milliseconds, and a
Hypothesis property over random and mutated files.

Run as a script (``python -m tests.core.hostile_data LIMIT_BYTES FOLDER``) it caps its own
address space with ``resource.setrlimit(RLIMIT_AS)``, reads every bomb in FOLDER, runs the
property, and prints one JSON report: tests/core/test_hostile_data.py starts it in a
subprocess, so a reader that materialises a bomb dies with MemoryError there instead of
taking the test machine down.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from core.data import DataError, load_csv, load_idx, read_idx

# A bomb must unpack to more than the subprocess may map (1 GiB), so that a reader that
# materialises it fails there: 1.25 GiB.
BOMB_BYTES = 1280 * (1 << 20)


def gzip_repeated(prefix: bytes, unit: bytes, repeats: int) -> bytes:
    """A valid gzip file (CRC and size included) holding ``prefix + unit * repeats``, built
    without compressing the whole content: after a full flush, deflate compresses every
    copy of ``unit`` to the same bytes, so one compressed copy is repeated, and the CRC is
    combined arithmetically. 1.25 GiB of zeros take about 1.3 MB and a few milliseconds."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    first = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)  # may differ: it follows the prefix
    body = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    assert body == again, "deflate did not repeat itself after a full flush"
    tail = c.flush(zlib.Z_FINISH)
    crc = crc32_combine(zlib.crc32(prefix), _crc32_repeated(unit, repeats), len(unit) * repeats)
    size = (len(prefix) + len(unit) * repeats) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    deflate = head + first + body * (repeats - 1) + tail
    return header + deflate + struct.pack("<II", crc, size)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


@functools.lru_cache(maxsize=1)
def _zero_byte_operators() -> tuple[list[int], ...]:
    """operators[k] appends 2**k zero bytes to a CRC-32 register (GF(2) 32 × 32 matrices)."""
    operator = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    for _ in range(3):  # 2, 4, 8 bits: one byte
        operator = _gf2_square(operator)
    operators = [operator]
    for _ in range(63):
        operators.append(_gf2_square(operators[-1]))
    return tuple(operators)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine, which
    Python's zlib does not expose): crc1 advanced over len(B) zero bytes, xor crc2."""
    for k, operator in enumerate(_zero_byte_operators()):
        if len2 >> k == 0:
            break
        if (len2 >> k) & 1:
            crc1 = _gf2_times(operator, crc1)
    return crc1 ^ crc2


def _crc32_repeated(unit: bytes, repeats: int) -> int:
    """crc32(unit * repeats) in O(log repeats) combinations."""
    result, result_len = 0, 0
    power, power_len = zlib.crc32(unit), len(unit)
    while repeats:
        if repeats & 1:
            result, result_len = crc32_combine(result, power, power_len), result_len + power_len
        power, power_len = crc32_combine(power, power, power_len), 2 * power_len
        repeats >>= 1
    return result


def idx_header(type_code: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(">HBB", 0, type_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def write_bombs(folder: Path) -> dict[str, tuple[str, Path]]:
    """Bomb files in ``folder``: name -> (reader kind "idx" / "csv", path)."""
    folder.mkdir(parents=True, exist_ok=True)
    unit = bytes(1 << 20)
    repeats = BOMB_BYTES >> 20
    files: dict[str, tuple[str, Path]] = {}

    def put(name: str, kind: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        files[name] = (kind, folder / name)

    # An honest header: 1,280 × 1,024 × 1,024 uint8 values, and that many zeros.
    honest = idx_header(0x08, (1280, 1024, 1024))
    put("honest-header.idx.gz", "idx", gzip_repeated(honest, unit, repeats))
    # A lying header within the budget (1,000 × 28 × 28) over 1.25 GiB of zeros.
    put("small-header.idx.gz", "idx", gzip_repeated(idx_header(0x08, (1000, 28, 28)), unit, repeats))
    # A labels file (1-D) declaring 4e9 values, with 1.25 GiB of zeros.
    put("labels-bomb.idx.gz", "idx", gzip_repeated(idx_header(0x08, (4_000_000_000,)), unit, repeats))
    # 1.25 GiB of "0,1" rows.
    put("rows.csv.gz", "csv", gzip_repeated(b"a,label\n", b"0,1\n" * (1 << 18), repeats))
    # Uncompressed: a header declaring 2 GiB of float64 over a few bytes.
    put("liar.idx", "idx", idx_header(0x0E, (16_000, 16_000)) + bytes(64))
    return files


def read_any(kind: str, path: Path | str) -> str:
    """Read ``path`` with the reader for ``kind``; "ok" or "DataError: ...". Anything else
    propagates (the property and the bomb report treat it as a failure)."""
    try:
        if kind == "idx":
            read_idx(path)
        elif kind == "idx-pair":
            load_idx(path, path)
        else:
            load_csv(path)
    except DataError as e:
        return f"DataError: {e}"
    return "ok"


# ---------------------------------------------------------------------------------------------
# The property: random and mutated files give a result or a DataError, nothing else.

def _valid_idx(draw, st) -> bytes:
    code, dtype = draw(st.sampled_from([(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"),
                                       (0x0D, ">f4"), (0x0E, ">f8")]))
    if draw(st.integers(0, 4)) == 0:
        # many dimensions of size 1 (NumPy arrays have at most 64)
        dims = (draw(st.integers(0, 3)),) + (1,) * draw(st.integers(55, 75))
    else:
        dims = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    values = np.arange(int(np.prod(dims)), dtype=dtype)
    return idx_header(code, dims) + values.tobytes()


def _valid_csv(draw, st) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.integers(1, 6))
    cols = draw(st.integers(1, 3))
    header = delimiter.join([f"f{i}" for i in range(cols)] + ["label"])
    features = st.sampled_from(["0", "1", "2.5", "-3", "1,5", '"1"', "nan", "1e400", "", "x"])
    labels = st.sampled_from(["0", "1", "7", "-2", "2.0", "1e19", "1e30", "-1e30", "10000000000000000001",
                              '"1"', '"a,b"', "cat"])
    lines = [delimiter.join([draw(features) for _ in range(cols)] + [draw(labels)]) for _ in range(rows)]
    return ("\n".join([header, *lines]) + "\n").encode()


def _mutate(draw, st, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dim"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif op == "cut" and data:
            del data[draw(st.integers(0, len(data) - 1)):]
        elif op == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(max_size=8))
        elif op == "dim" and len(data) >= 8:
            # overwrite a header word with a large size, as a lying or damaged header would
            i = draw(st.integers(0, min(len(data), 40) - 4))
            data[i:i + 4] = struct.pack(">I", draw(st.sampled_from([0, 1, 255, 65536, 2**31, 2**32 - 1])))
    return bytes(data)


def run_property(max_examples: int) -> None:
    """Hypothesis: read_idx, load_idx and load_csv on random and mutated (optionally gzip'd,
    before or after mutating) files return or raise DataError, never anything else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @st.composite
    def hostile_file(draw):
        kind = draw(st.sampled_from(["idx", "idx-pair", "csv"]))
        source = draw(st.sampled_from(["random", "valid"]))
        if source == "random":
            data = draw(st.binary(max_size=200))
        else:
            data = _valid_idx(draw, st) if kind.startswith("idx") else _valid_csv(draw, st)
        how = draw(st.sampled_from(["plain", "mutate", "gzip", "mutate-gzip", "gzip-mutate"]))
        if how in ("mutate", "mutate-gzip"):
            data = _mutate(draw, st, data)
        if how in ("gzip", "mutate-gzip", "gzip-mutate"):
            data = gzip.compress(data, mtime=0)
        if how == "gzip-mutate":
            data = _mutate(draw, st, data)
        return kind, data

    folder = Path(tempfile.mkdtemp(prefix="hostile-data-"))

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(hostile_file())
    def only_data_error(case):
        kind, data = case
        path = folder / "case.bin"
        path.write_bytes(data)
        read_any(kind, path)  # anything but a result or DataError fails the property

    only_data_error()


def _peak_rss_kib() -> int:
    """This process's peak resident memory (VmHWM). Not ``getrusage``'s ru_maxrss: Linux
    carries that across exec from the forking parent (a big pytest process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main(argv: list[str]) -> int:
    import resource

    limit, folder = int(argv[0]), Path(argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    report: dict[str, object] = {"bombs": {}}
    for name in sorted(os.listdir(folder)):
        kind = "csv" if ".csv" in name else "idx"
        start = time.process_time()  # CPU seconds: meaningful on a machine shared with other work
        try:
            outcome = read_any(kind, folder / name)
        except BaseException as e:  # broad on purpose: reported, the test fails on it
            outcome = f"{type(e).__name__}: {e}"
        report["bombs"][name] = {"outcome": outcome, "cpu_seconds": time.process_time() - start}
    start = time.perf_counter()
    try:
        run_property(int(argv[2]) if len(argv) > 2 else 200)
        report["property"] = "passed"
    except BaseException as e:  # broad on purpose: reported with the falsifying example on stderr
        report["property"] = f"{type(e).__name__}: {e}"
    report["property_seconds"] = time.perf_counter() - start
    report["max_rss_kib"] = _peak_rss_kib()
    sys.stdout.flush()
    print("\n" + json.dumps(report))  # the last line (Hypothesis may print a falsifying example first)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
