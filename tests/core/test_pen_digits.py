"""core.data.pen: the UNIPEN parser on the bundled file and on malformed files, the writer
split, placing strokes on the canvas as a mouse would and rendering them exactly as the
Draw tab does."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from core.data.brush import CANVAS_SIZE, DEFAULT_BRUSH, MAX_BRUSH, MIN_BRUSH, render_strokes
from core.data.drawing import preprocess_drawing
from core.data.errors import DataError
from core.data.pen import (
    HELD_OUT_WRITERS,
    PenDigit,
    load_pen_digits,
    pen_digits_path,
    place_on_canvas,
    read_unipen,
    render_pen_digits,
    unipen,
    writer_split,
)

GOOD = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 3  12
.PEN_DOWN
 100  300
 200  300
 150  100
.PEN_UP
.DT 100

.SEGMENT DIGIT    1-2 ? "4"
.COMMENT 4 5   2
.PEN_DOWN
 100  300
 100  200
 200  200
.PEN_UP
.DT 100
.PEN_DOWN
 180  300
 180  100
.PEN_UP
.DT 100
"""


@pytest.fixture(scope="module")
def bundled() -> tuple[PenDigit, ...]:
    return load_pen_digits()


def write(tmp_path: Path, text: str, name: str = "digits.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the parser


def test_the_bundled_file_holds_7494_digits_by_30_writers(bundled):
    assert pen_digits_path().name == "pendigits-orig.tra.gz"
    assert len(bundled) == 7494
    writers = {d.writer for d in bundled}
    assert len(writers) == 30 and writers == set(range(1, 31))
    counts = np.bincount([d.label for d in bundled], minlength=10)
    assert len(counts) == 10 and counts.min() >= 700
    first = bundled[0]  # .SEGMENT DIGIT 0 ? "8" / .COMMENT 8 12 224, one stroke of 78 points
    assert (first.label, first.writer, first.sample) == (8, 12, 224)
    assert len(first.strokes) == 1 and first.strokes[0].shape == (78, 2)
    assert first.strokes[0][0].tolist() == [267.0, 333.0]
    assert sum(len(d.strokes) for d in bundled) == 9433  # every .PEN_DOWN belongs to one digit
    assert all(s.dtype == np.float64 and not s.flags.writeable for d in bundled[:50] for s in d.strokes)


def test_plain_and_gzip_text_read_alike(tmp_path):
    plain = read_unipen(write(tmp_path, GOOD))
    packed = tmp_path / "digits.txt.gz"
    packed.write_bytes(gzip.compress(GOOD.encode()))
    for digits in (plain, read_unipen(packed)):
        assert [(d.label, d.writer, d.sample, len(d.strokes)) for d in digits] == [(7, 3, 12, 1), (4, 5, 2, 2)]
        assert digits[1].strokes[1].tolist() == [[180.0, 300.0], [180.0, 100.0]]


@pytest.mark.parametrize("old, new, line, words", [
    (" 200  300\n", " 200  3o0\n", 10, "'3o0' is not a number"),
    (" 200  300\n", " 200\n", 10, "two numbers"),
    ('.SEGMENT DIGIT    1-2 ? "4"', '.SEGMENT DIGIT    1-3 ? "4"', 15, "strokes 1-3 but the file has only 3 strokes"),
    ('.SEGMENT DIGIT    0 ? "7"', '.SEGMENT DIGIT    0 ? "x"', 6, "label 'x' is not a digit"),
    ('.SEGMENT DIGIT    0 ? "7"', '.SEGMENT DIGIT    0 ? "12"', 6, "label '12' is not a digit"),
    (".COMMENT 7 3  12", ".COMMENT 1 3  12", 7, "comment says label 1 but its segment (line 6) says 7"),
    (".COMMENT 7 3  12", ".COMMENT 7 three  12", 7, "'three' is not a whole number"),
    (".COMMENT 7 3  12\n", "", 6, "no .COMMENT"),
    (".PEN_UP\n.DT 100\n\n.SEGMENT", ".DT 100\n\n.SEGMENT", 12, ".DT inside a stroke (the stroke begun on line 8"),
    (".DT 100\n\n.SEGMENT DIGIT    1-2", ".DT 100\n 1 2\n.SEGMENT DIGIT    1-2", 14, "outside a stroke"),
    ('.SEGMENT DIGIT    0 ? "7"', ".SEGMENT DIGIT zero", 6, "must read"),
])
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, old, new, line, words):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DataError) as caught:
        read_unipen(path)
    message = str(caught.value)
    assert message.startswith(f"digits.txt, line {line}:"), message
    assert words in message


def test_files_that_are_not_pen_strokes_are_refused(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="holds no digits"):
        read_unipen(write(tmp_path, ""))
    with pytest.raises(DataError, match="holds no digits"):
        read_unipen(write(tmp_path, ".INCLUDE x\n.PEN_DOWN\n 1 2\n.PEN_UP\n"))
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(DataError, match="not a text file"):
        read_unipen(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(GOOD.replace(".INCLUDE", ".INCLUDE \xe9").encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt, line 1: this is not a UNIPEN text file"):
        read_unipen(latin)
    damaged = tmp_path / "damaged.gz"
    damaged.write_bytes(gzip.compress(GOOD.encode())[:-12])
    with pytest.raises(DataError, match=r"damaged\.gz"):
        read_unipen(damaged)
    with pytest.raises(DataError, match="does not exist"):
        read_unipen(tmp_path / "missing.txt")
    with pytest.raises(DataError, match=r"the stroke begun here has no \.PEN_UP"):
        read_unipen(write(tmp_path, GOOD[:GOOD.rindex(".PEN_UP")]))
    monkeypatch.setattr(unipen, "MAX_PEN_BYTES", 100)
    with pytest.raises(DataError, match="more than 100 bytes"):
        read_unipen(write(tmp_path, GOOD))


# --------------------------------------------------------------------------- the writer split


def test_held_out_writers_are_every_fifth_writer_and_never_on_both_sides(bundled):
    writers = sorted({d.writer for d in bundled})
    assert tuple(writers[::5]) == HELD_OUT_WRITERS and len(HELD_OUT_WRITERS) == 6
    train, test = writer_split(bundled, HELD_OUT_WRITERS)
    assert len(train) + len(test) == len(bundled)
    assert {d.writer for d in test} == set(HELD_OUT_WRITERS)
    assert not {d.writer for d in train} & {d.writer for d in test}
    assert set(np.unique([d.label for d in test])) == set(range(10))


# --------------------------------------------------------------------------- placing and rendering


def test_a_fixed_placement_is_centred_at_65_percent_with_the_default_brush(bundled):
    digit = bundled[0]
    strokes = place_on_canvas(digit, np.random.default_rng(0), vary=False)
    again = place_on_canvas(digit, np.random.default_rng(99), vary=False)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(strokes, again, strict=True))
    points = np.concatenate([p for p, _ in strokes])
    height = np.ptp(points[:, 1])
    assert height == pytest.approx(0.65 * CANVAS_SIZE, abs=3)  # whole mouse pixels, spacing
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    assert centre == pytest.approx([CANVAS_SIZE / 2] * 2, abs=2)
    assert all(np.all(w == DEFAULT_BRUSH) for _, w in strokes)
    # The tablet's y points up: the 8's first point (its top right, y=333 of 162..347) stays
    # near the top of the canvas.
    assert strokes[0][0][0, 1] < CANVAS_SIZE / 2


def test_varied_placements_stay_inside_on_mouse_pixels_with_canvas_brushes(bundled):
    rng = np.random.default_rng(5)
    sides, widths, heights = set(), [], []
    for digit in bundled[:300]:
        strokes = place_on_canvas(digit, rng)
        assert len(strokes) == len(digit.strokes)
        points = np.concatenate([p for p, _ in strokes])
        width = strokes[0][1][0]
        widths.append(width)
        heights.append(np.ptp(points[:, 1]) / CANVAS_SIZE)
        assert width == int(width) and MIN_BRUSH <= width <= MAX_BRUSH
        # Ink (points ± half a brush) inside the canvas.
        assert points.min() >= width / 2 - 1e-9 and points.max() <= CANVAS_SIZE - width / 2 + 1e-9
        # Every point is a whole pixel of some widget side: find the side.
        side = next(s for s in range(160, 641)
                    if np.allclose(points * s / CANVAS_SIZE, np.round(points * s / CANVAS_SIZE), atol=1e-6))
        sides.add(side)
        for p, _ in strokes:  # a mouse that does not move sends no event
            assert len(p) == 1 or np.all(np.any(np.diff(p, axis=0) != 0, axis=1))
    assert CANVAS_SIZE in sides and len(sides) > 20
    assert min(heights) > 0.35 and max(heights) < 0.9 and np.ptp(heights) > 0.3
    assert 0.6 < np.mean((np.array(widths) >= 16) & (np.array(widths) <= 32)) < 0.95


def test_rendering_is_the_canvas_brush_and_the_draw_tab_preprocessing(bundled):
    digits = bundled[:12]
    x = render_pen_digits(digits, np.random.default_rng(3))
    assert x.shape == (12, 1, 28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1 and np.all(x.reshape(12, -1).max(axis=1) == 1)
    rng = np.random.default_rng(3)
    for i, digit in enumerate(digits):
        image = render_strokes(place_on_canvas(digit, rng)).astype(np.float32) / np.float32(255)
        assert np.array_equal(x[i, 0], preprocess_drawing(image, "mnist"))
    small = render_pen_digits(digits, np.random.default_rng(3), mode="digits8x8")
    assert small.shape == (12, 1, 8, 8) and small.max() == 1 and np.all(small * 16 == np.round(small * 16))
    fixed = render_pen_digits(digits, np.random.default_rng(1), vary=False)
    assert np.array_equal(fixed, render_pen_digits(digits, np.random.default_rng(2), vary=False))
    with pytest.raises(DataError, match="unknown drawing mode"):
        render_pen_digits(digits, rng, mode="fashion")


# --------------------------------------------------------------------------- the catalogue dataset


@pytest.fixture
def few_pen_digits(monkeypatch, bundled):
    """The catalogue entry built from 12 digits per writer (all 30 writers): the same code
    path in a fraction of the time."""
    from core.data import datasets
    from tests.pen_subset import use_few_pen_digits

    yield use_few_pen_digits(monkeypatch, 12, bundled)
    datasets._pen_rendered.cache_clear()


def test_the_pen_dataset_is_rendered_like_the_canvas_and_split_by_writer(few_pen_digits):
    from core.data import DATASETS, load_dataset

    info = DATASETS["pendigits"]
    assert info.title == "Pen digits (drawn)" and info.params == {"mode": "mnist", "layout": "flat"}
    data = load_dataset("pendigits")
    assert data.input_shape == (784,) and data.n_classes == 10 and data.attribution.startswith("Pen-Based")
    assert data.n_samples == 24 * 12 and len(data.y_test) == 6 * 12
    held = {d.writer for d in few_pen_digits} & set(HELD_OUT_WRITERS)
    train_digits, test_digits = writer_split(few_pen_digits, HELD_OUT_WRITERS)
    assert held == set(HELD_OUT_WRITERS) and set(data.groups.tolist()) == {d.writer for d in train_digits}
    # The test part is the held-out writers' digits, rendered once without variation.
    expected = render_pen_digits(test_digits, np.random.default_rng(0), vary=False)
    assert np.array_equal(data.x_test, expected.reshape(len(expected), -1))
    assert data.y_test.tolist() == [d.label for d in test_digits]
    assert data.preprocessing["scale"] == pytest.approx(1 / 255)
    # Deterministic, and every split keeps each writer on one side.
    assert load_dataset("pendigits").fingerprint() == data.fingerprint()
    for seed in range(4):
        splits = data.split(seed, validation_fraction=0.1)
        train_writers = set(data.groups[splits.train_index].tolist())
        val_writers = set(data.groups[splits.val_index].tolist())
        assert val_writers and not train_writers & val_writers
        assert not (train_writers | val_writers) & set(HELD_OUT_WRITERS)
        assert splits.test_is_official and len(splits.y_test) == 6 * 12
        assert len(val_writers) in (2, 3)  # 10 % of 24 writers, in whole writers
    small = load_dataset("pendigits", mode="digits8x8", layout="image")
    assert small.input_shape == (1, 8, 8) and small.x.max() == 1.0
    assert small.preprocessing["scale"] == pytest.approx(1 / 16)
    with pytest.raises(DataError, match="'mode' must be one of"):
        load_dataset("pendigits", mode="fashion")


def test_grouped_splits_draw_whole_groups_near_their_fractions():
    from core.data import Dataset

    groups = np.repeat(np.arange(10), np.arange(1, 11) * 10)  # group g has 10 (g + 1) samples
    x = np.zeros((len(groups), 2), dtype=np.float32)
    y = (np.arange(len(groups)) % 2).astype(np.int64)
    data = Dataset("grouped", x, y, ("a", "b"), (2,), groups=groups)
    seen = set()
    for seed in range(6):
        s = data.split(seed, validation_fraction=0.2, test_fraction=0.2)
        parts = [set(groups[i].tolist()) for i in (s.train_index, s.val_index, s.test_index)]
        assert parts[0] and parts[1] and parts[2]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert len(s.y_train) + len(s.y_val) + len(s.y_test) == len(groups)
        assert abs(len(s.y_test) - 110) <= 100 and abs(len(s.y_val) - 110) <= 100  # whole groups
        seen.add(tuple(sorted(parts[2])))
    assert len(seen) > 1  # the seed chooses the groups
    assert data.split(3, 0.2, 0.2).val_index.tolist() == data.split(3, 0.2, 0.2).val_index.tolist()
    none = data.split(0, validation_fraction=0.0, test_fraction=0.0)
    assert len(none.y_train) == len(groups) and len(none.y_val) == len(none.y_test) == 0
    with pytest.raises(DataError, match="groups must be one integer per sample"):
        Dataset("grouped", x, y, ("a", "b"), (2,), groups=groups[:-1])
