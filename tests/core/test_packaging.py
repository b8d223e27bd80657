"""The built wheel carries both packages and the bundled resources, mapped as core.resources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = list(out.glob("nnstudio-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_packages_and_bundled_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("core/__init__.py", "core/layers/conv.py", "core/data/mnist/download.py", "core/cli/train.py",
                     "nnstudio/__init__.py", "core/resources/__init__.py", "core/resources/datasets/digits8x8.csv.gz",
                     "core/resources/datasets/DIGITS8X8_LICENSE.txt"):
        assert required in names, required
    resources = sorted(p for p in (REPO / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in resources:
        assert "core/resources/" + path.relative_to(REPO / "resources").as_posix() in names, path
    # every package of the source tree is in the wheel (an explicit list can forget one)
    for package in sorted(REPO.glob("*/**/__init__.py")):
        rel = package.relative_to(REPO).as_posix()
        if rel.startswith(("core/", "nnstudio/")) and "__pycache__" not in rel:
            assert rel in names, f"package missing from the wheel: {rel}"
    # MNIST is never redistributed
    assert not any("idx3-ubyte" in n or "mnist.npz" in n for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_reads_bundled_data_through_importlib_resources(wheel, tmp_path):
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import core, core.data;"
            "assert core.__file__.startswith(sys.argv[1]), core.__file__;"
            "d = core.data.load_dataset('digits8x8'); print(d.x.shape)")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1797, 64)"


def test_wheel_declares_the_launch_commands(wheel):
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("entry_points.txt"))
    assert "[gui_scripts]" in entry_points and "nnstudio = nnstudio.app:main" in entry_points
    assert "nnstudio-cli = core.cli:main" in entry_points


def test_app_starts_from_the_installed_wheel(wheel, tmp_path):
    """The app from the wheel alone (not the source tree) opens its window offscreen, with
    the shipped model and presets read from the wheel's resources, and closes cleanly."""
    import os

    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import nnstudio, core;"
            "assert nnstudio.__file__.startswith(sys.argv[1]) and core.__file__.startswith(sys.argv[1]);"
            "from nnstudio.app import main; sys.exit(main(['nnstudio']))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NNSTUDIO_HOME=str(tmp_path / "home"),
               NNSTUDIO_QUIT_AFTER_MS="1500")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    noise = [line for line in result.stderr.splitlines() if line.strip() and "propagateSizeHints" not in line]
    assert noise == [], result.stderr
