"""Start the app exactly as the launch command does, offscreen, and close it cleanly."""

from __future__ import annotations

import os
import subprocess
import sys


def run_app(tmp_path, *args, quit_after_ms=1500):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NNSTUDIO_HOME=str(tmp_path),
               NNSTUDIO_QUIT_AFTER_MS=str(quit_after_ms))
    return subprocess.run([sys.executable, "-m", "nnstudio", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def test_python_m_nnstudio_starts_and_closes_without_warnings(tmp_path):
    result = run_app(tmp_path)
    assert result.returncode == 0, result.stderr
    # Offscreen Qt prints one harmless notice about the missing window system on some
    # versions ("This plugin does not support propagateSizeHints"); anything else fails.
    noise = [line for line in result.stderr.splitlines() if line.strip() and "propagateSizeHints" not in line]
    assert noise == [], result.stderr
    assert (tmp_path / "settings.ini").is_file()  # geometry persisted through QSettings


def test_opening_a_missing_file_from_the_command_line_shows_a_message_not_a_traceback(tmp_path):
    result = run_app(tmp_path, str(tmp_path / "missing.nnz"))
    assert result.returncode == 0
    assert "Traceback" not in result.stderr


def test_a_foreign_core_package_is_refused_with_a_clear_message(tmp_path):
    """Another distribution's top-level 'core' shadowing ours must not start a broken app."""
    fake = tmp_path / "shadow" / "core"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("VALUE = 1\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from nnstudio.app import main; sys.exit(main(['nnstudio']))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NNSTUDIO_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "shadow")], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert "is not nnstudio's engine" in result.stderr and "virtual environment" in result.stderr
