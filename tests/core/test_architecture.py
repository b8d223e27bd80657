"""The engine's shape, checked at run time (import-linter checks the same statically).

One test imports every module of ``core`` (found by walking the package, so a new module is
covered without an edit; ``core.__main__`` is the command line itself) in a fresh interpreter
and asserts that no Qt, pyqtgraph or nnstudio module was loaded: the engine stays usable
headless and from scripts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_IMPORT_ALL_OF_CORE = """
import importlib, pkgutil, sys
import core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core.")
               if not m.name.startswith("core.resources") and m.name != "core.__main__")
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "nnstudio"))
print(len(names), bad)
sys.exit(1 if bad else 0)
"""


def test_importing_every_core_module_loads_no_qt_and_no_app():
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALL_OF_CORE], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    imported = int(result.stdout.split()[0])
    # the walk really found the engine's modules (layers, spec, training, analysis, monitor, saving, cli, data …)
    assert imported >= 60, result.stdout
