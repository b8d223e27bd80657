"""The README's library example runs as written (documentation that cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_library_example_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["history"].epochs[-1].loss < 0.01
    assert namespace["clf"].evaluate(namespace["s"].x_test, namespace["s"].y_test)["accuracy"] > 0.93
    assert (tmp_path / "digits.nnz").is_file()
    assert namespace["same"].epochs_done == namespace["clf"].epochs_done
