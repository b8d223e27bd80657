"""Test-wide configuration.

- Qt runs offscreen (set here, never in the app's launch path).
- The app's user folders point into a temporary directory, so tests never touch the real
  user's data, cache or settings.
- MNIST comes from NNSTUDIO_DATA (``.ci/run`` sets it to ../shared/data/mnist); the
  ``mnist_dir`` fixture fails in CI when it is missing and skips, with the reason, elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_TEST_HOME = tempfile.mkdtemp(prefix="nnstudio-test-home-")
os.environ["NNSTUDIO_HOME"] = _TEST_HOME
# Offscreen Qt with a desktop-sized screen (the plugin's default is 800×800, smaller than
# the main window's minimum size, which would make geometry checks meaningless).
_SCREEN = Path(_TEST_HOME) / "offscreen-screen.json"
_SCREEN.write_text('{"screens": [{"name": "test", "x": 0, "y": 0, "width": 1920, "height": 1200, '
                   '"logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}')
os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={_SCREEN}")

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"
if "NNSTUDIO_DATA" not in os.environ and _DEFAULT_DATA.is_dir():
    os.environ["NNSTUDIO_DATA"] = str(_DEFAULT_DATA)

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the four MNIST IDX .gz files."""
    folder = Path(os.environ.get("NNSTUDIO_DATA", ""))
    if folder and all((folder / f).is_file() for f in MNIST_FILES):
        return folder
    message = f"MNIST not found: set NNSTUDIO_DATA to a folder with {', '.join(MNIST_FILES)}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)
