"""IDX and CSV import: correct decoding, and a DataError naming the culprit for bad input."""

from __future__ import annotations

import gzip
import time
import tracemalloc

import numpy as np
import pytest

from core.data import DataError, load_csv, load_idx, read_idx
from core.data.csv_import import parse_csv_text
from tests.core.data_fixtures import TEST_COUNTS, TRAIN_COUNTS, idx_bytes, small_mnist_like, write_idx

# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    x, y = small_mnist_like(12)
    images = write_idx(tmp_path / "img", x, compress)
    labels = write_idx(tmp_path / "lab", y, compress)
    got_x, got_y = load_idx(images, labels)
    assert got_x.dtype == np.uint8 and got_x.shape == (12, 28, 28)
    assert got_y.dtype == np.int64 and got_y.shape == (12,)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_gzip_detected_by_magic_bytes_not_name(tmp_path):
    x, y = small_mnist_like(5)
    raw_named_gz = write_idx(tmp_path / "images.gz", x, compress=False)
    gz_named_raw = write_idx(tmp_path / "labels.idx1-ubyte", y, compress=True)
    got_x, got_y = load_idx(raw_named_gz, gz_named_raw)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_other_types_native_order(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    got = read_idx(write_idx(tmp_path / "a.idx", a))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


def test_arrays_are_read_only(tmp_path):
    x, _y = small_mnist_like(3)
    got = read_idx(write_idx(tmp_path / "a.gz", x, compress=True))
    with pytest.raises(ValueError):
        got[0, 0, 0] = 1


def test_images_file_with_labels_magic_names_2051(tmp_path):
    _x, y = small_mnist_like(4)
    labels = write_idx(tmp_path / "labels.idx", y)
    with pytest.raises(DataError) as e:
        load_idx(labels, labels)
    assert "2051" in str(e.value) and "labels.idx" in str(e.value)


def test_labels_file_with_images_magic_names_2049(tmp_path):
    x, _y = small_mnist_like(4)
    images = write_idx(tmp_path / "images.idx", x, compress=True)
    with pytest.raises(DataError) as e:
        load_idx(images, images)
    assert "2049" in str(e.value) and "images.idx" in str(e.value)


@pytest.mark.parametrize("start", [b"\x12\x34\x56\x78", b"\x00\x00\x07\x03", b"\x00\x00\x08\x00"])
def test_garbage_magic(tmp_path, start):
    path = tmp_path / "junk.bin"
    path.write_bytes(start + b"\0" * 100)
    with pytest.raises(DataError) as e:
        read_idx(path)
    message = str(e.value)
    assert "junk.bin" in message and "2051" in message and "2049" in message


@pytest.mark.parametrize("compress", [False, True])
def test_declared_dims_longer_than_file(tmp_path, compress):
    x, _ = small_mnist_like(9)
    path = write_idx(tmp_path / "short", x, compress, dims=(10, 28, 28))
    with pytest.raises(DataError) as e:
        read_idx(path)
    message = str(e.value)
    assert "short" in message
    assert "7,856" in message  # declared: 16 + 10*784
    assert "7,072" in message  # actual: 16 + 9*784


@pytest.mark.parametrize("compress", [False, True])
def test_declared_dims_shorter_than_file(tmp_path, compress):
    x, _ = small_mnist_like(10)
    path = write_idx(tmp_path / "long", x, compress, dims=(9, 28, 28))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "7,072" in str(e.value) and "7,856" in str(e.value)


@pytest.mark.parametrize("compress", [False, True])
def test_lying_header_does_not_allocate(tmp_path, compress):
    """A header declaring ~250 GB must be refused without allocating anything like it."""
    x, _ = small_mnist_like(50)
    path = write_idx(tmp_path / "liar", x, compress, dims=(4_000_000_000, 255, 255))
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(DataError) as e:
            read_idx(path)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak allocation {peak:,} bytes"
    assert elapsed < 5
    assert "39,216" in str(e.value)  # actual bytes: 16 + 50*784


def test_truncated_gzip(tmp_path):
    x, _ = small_mnist_like(40)
    data = gzip.compress(idx_bytes(x))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "cut.gz" in str(e.value) and "truncated" in str(e.value)


def test_gzip_cut_inside_header(tmp_path):
    x, _ = small_mnist_like(4)
    path = tmp_path / "tiny.gz"
    path.write_bytes(gzip.compress(idx_bytes(x))[:12])
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "tiny.gz" in str(e.value) and "truncated" in str(e.value)


def test_damaged_gzip(tmp_path):
    x, _ = small_mnist_like(40)
    data = bytearray(gzip.compress(idx_bytes(x)))
    for i in range(200, 260):
        data[i] ^= 0xFF
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "bad.gz" in str(e.value)


@pytest.mark.parametrize("content", [b"", gzip.compress(b"")])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.idx"
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "empty.idx" in str(e.value) and "empty" in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope.idx")
    with pytest.raises(DataError, match="folder"):
        read_idx(tmp_path)


def test_label_count_mismatch(tmp_path):
    x = np.zeros((10_000, 2, 2), dtype=np.uint8)
    y = np.zeros(9_999, dtype=np.uint8)
    images = write_idx(tmp_path / "img.gz", x, compress=True)
    labels = write_idx(tmp_path / "lab.gz", y, compress=True)
    with pytest.raises(DataError) as e:
        load_idx(images, labels)
    message = str(e.value)
    assert "labels file has 9,999 entries" in message and "has 10,000" in message


@pytest.mark.mnist
def test_mnist_training_files(mnist_dir):
    start = time.perf_counter()
    x, y = load_idx(mnist_dir / "train-images-idx3-ubyte.gz", mnist_dir / "train-labels-idx1-ubyte.gz")
    elapsed = time.perf_counter() - start
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60_000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == TRAIN_COUNTS
    assert x.min() == 0 and x.max() == 255
    assert abs(x.mean() - 33.3184) < 1e-3
    assert elapsed < 5, f"decoding MNIST took {elapsed:.2f} s"


@pytest.mark.mnist
def test_mnist_test_files(mnist_dir):
    x, y = load_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10_000, 28, 28)
    assert np.bincount(y).tolist() == TEST_COUNTS


# --------------------------------------------------------------------------- CSV


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows_text(n=60, features=3, label_of=lambda i: i % 3, header=True):
    lines = []
    if header:
        lines.append(",".join([f"f{j}" for j in range(features)] + ["label"]))
    for i in range(n):
        lines.append(",".join([str(i + j * 0.5) for j in range(features)] + [str(label_of(i))]))
    return "\n".join(lines) + "\n"


def test_csv_integer_labels_with_header(tmp_path):
    x, y, names = load_csv(write(tmp_path, rows_text()))
    assert x.dtype == np.float32 and x.shape == (60, 3)
    assert y.dtype == np.int64 and y.shape == (60,)
    assert names == ("0", "1", "2")
    np.testing.assert_array_equal(y, np.arange(60) % 3)
    assert x[1, 1] == pytest.approx(1.5)


def test_csv_without_header(tmp_path):
    x, _y, names = load_csv(write(tmp_path, rows_text(header=False)))
    assert x.shape == (60, 3) and names == ("0", "1", "2")


def test_csv_string_labels_sorted_and_kept(tmp_path):
    text = "a,b,kind\n1,2,zebra\n3,4,ant\n5,6,moth\n7,8,ant\n"
    x, y, names = load_csv(write(tmp_path, text))
    assert names == ("ant", "moth", "zebra")
    assert y.tolist() == [2, 0, 1, 0]
    assert x.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_csv_string_labels_without_header(tmp_path):
    text = "1,2,zebra\n3,4,ant\n"
    x, _y, names = load_csv(write(tmp_path, text))
    assert x.shape == (2, 2) and names == ("ant", "zebra")


def test_csv_integer_labels_map_in_numeric_order(tmp_path):
    text = "1,10\n2,2\n3,10\n4,-1\n"
    _, y, names = load_csv(write(tmp_path, text))
    assert names == ("-1", "2", "10") and y.tolist() == [2, 1, 2, 0]


def test_csv_label_column_by_index_and_name(tmp_path):
    text = "label,a,b\n0,1,2\n1,3,4\n"
    path = write(tmp_path, text)
    x, y, _ = load_csv(path, label_column=0)
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    x2, _y2, _ = load_csv(path, label_column="label")
    np.testing.assert_array_equal(x, x2)
    x3, _, _ = load_csv(path, label_column=-3)
    np.testing.assert_array_equal(x, x3)


@pytest.mark.parametrize("column", [3, -4, 70])
def test_csv_label_column_out_of_range(tmp_path, column):
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, "a,b,c\n1,2,0\n3,4,1\n"), label_column=column)
    message = str(e.value)
    assert "data.csv" in message and "out of range" in message and str(column) in message


def test_csv_unknown_label_name(tmp_path):
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, "a,b,c\n1,2,0\n3,4,1\n"), label_column="klass")
    assert "klass" in str(e.value) and "'a'" in str(e.value)


def test_csv_not_a_number_names_line_and_column(tmp_path):
    lines = rows_text(n=70).splitlines()
    cells = lines[56].split(",")  # line 57 of the file
    cells[2] = "abc"
    lines[56] = ",".join(cells)
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, "\n".join(lines)))
    assert str(e.value) == "data.csv, line 57, column 3: 'abc' is not a number"


def test_csv_line_numbers_count_blank_lines(tmp_path):
    text = "a,b,c\n\n1,2,0\n\n3,x,1\n"
    with pytest.raises(DataError, match=r"data\.csv, line 5, column 2: 'x' is not a number"):
        load_csv(write(tmp_path, text))


def test_csv_ragged_row_against_header(tmp_path):
    header = ",".join(f"p{i}" for i in range(64)) + ",label"
    good = ",".join(["1"] * 65)
    lines = [header] + [good] * 10 + ["1,2,3,4,5"] + [good]
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, "\n".join(lines)))
    assert str(e.value) == "data.csv, line 12 has 5 values but the header has 65"


def test_csv_ragged_row_without_header(tmp_path):
    with pytest.raises(DataError, match=r"line 3 has 4 values but line 1 has 3"):
        load_csv(write(tmp_path, "1,2,0\n3,4,1\n5,6,7,1\n"))


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_csv_empty_file(tmp_path, text):
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, text))
    assert "data.csv" in str(e.value) and "empty" in str(e.value)


def test_csv_header_only(tmp_path):
    with pytest.raises(DataError, match="no data rows"):
        load_csv(write(tmp_path, "a,b,label\n"))


def test_csv_single_class(tmp_path):
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, rows_text(label_of=lambda i: 7)))
    message = str(e.value)
    assert "data.csv" in message and "same label '7'" in message and "two classes" in message


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_csv_non_finite_values(tmp_path, bad):
    text = f"a,b,c\n1,2,0\n3,4,1\n5,{bad},0\n"
    with pytest.raises(DataError) as e:
        load_csv(write(tmp_path, text))
    message = str(e.value)
    assert message.startswith("data.csv, line 4, column 2:") and bad in message


def test_csv_value_too_large_for_float32(tmp_path):
    with pytest.raises(DataError, match=r"line 2, column 1: '1e39' is too large"):
        load_csv(write(tmp_path, "1,2,0\n1e39,4,1\n"))


def test_csv_empty_cell_and_empty_label(tmp_path):
    with pytest.raises(DataError, match=r"line 2, column 2: the value is empty"):
        load_csv(write(tmp_path, "1,2,0\n3,,1\n"))
    with pytest.raises(DataError, match=r"line 2, column 3: the label is empty"):
        load_csv(write(tmp_path, "1,2,a\n3,4,\n"))


def test_csv_quoted_fields_match_plain(tmp_path):
    plain = load_csv(write(tmp_path, "a,b,c\n1,2,x\n3,4,y\n", "plain.csv"))
    quoted = load_csv(write(tmp_path, '"a","b","c"\n"1","2","x"\n"3","4","y"\n', "quoted.csv"))
    for p, q in zip(plain, quoted, strict=True):
        if isinstance(p, np.ndarray):
            np.testing.assert_array_equal(p, q)
        else:
            assert p == q


def test_csv_fast_and_careful_paths_agree():
    rng = np.random.default_rng(1)
    table = np.column_stack([rng.integers(0, 255, (200, 5)), rng.integers(0, 4, 200)])
    text = "\n".join(",".join(str(v) for v in row) for row in table)
    quoted = "\n".join(",".join(f'"{v}"' for v in row) for row in table)  # forces the careful path
    fast = parse_csv_text(text, "t.csv")
    careful = parse_csv_text(quoted, "t.csv")
    np.testing.assert_array_equal(fast[0], careful[0])
    np.testing.assert_array_equal(fast[1], careful[1])
    assert fast[2] == careful[2] == ("0", "1", "2", "3")


def test_csv_semicolon_with_decimal_comma(tmp_path):
    x, _y, names = load_csv(write(tmp_path, "a;b;c\n1,5;2;x\n3;4,25;y\n"))
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.25]] and names == ("x", "y")


def test_csv_tab_separated(tmp_path):
    x, _y, _names = load_csv(write(tmp_path, "1\t2\t0\n3\t4\t1\n", "data.tsv"))
    assert x.tolist() == [[1, 2], [3, 4]]


def test_csv_gzip_and_bom(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress("\ufeffa,b,c\n1,2,0\n3,4,1\n".encode()))
    x, y, _names = load_csv(path)
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]


def test_csv_binary_file_refused(tmp_path):
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(DataError, match=r"picture\.csv.*not a text file"):
        load_csv(path)


def test_csv_explicit_header_flags(tmp_path):
    path = write(tmp_path, "0,1,2\n1,2,0\n3,4,1\n")  # a header of numbers
    x, _, _ = load_csv(path, has_header=True)
    assert x.shape == (2, 2)
    x, _, _ = load_csv(path, has_header=False)
    assert x.shape == (3, 2)
    with pytest.raises(DataError, match="has_header is False"):
        load_csv(path, label_column="2", has_header=False)


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv")
