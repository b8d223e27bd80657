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


# ----------------------------------------------------------------------------------------------
# the command line of the window app: --help, --version, unknown options, FILE
# ----------------------------------------------------------------------------------------------
def run_without_window(tmp_path, *args):
    """``python -m nnstudio ARGS`` where opening a window is impossible: an unknown Qt platform
    plugin makes Qt abort (exit 134), so exit 0 or 2 proves no QApplication was created."""
    env = dict(os.environ, QT_QPA_PLATFORM="no-such-platform", NNSTUDIO_HOME=str(tmp_path))
    env.pop("NNSTUDIO_QUIT_AFTER_MS", None)
    return subprocess.run([sys.executable, "-m", "nnstudio", *args], check=False, env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_help_prints_usage_and_exits_0_without_a_window(tmp_path):
    result = run_without_window(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nnstudio [-h] [--version] [FILE]")
    assert "model file (.nnz) to open" in result.stdout and "nnstudio-cli --help" in result.stdout
    assert result.stderr == ""
    assert run_without_window(tmp_path, "-h").stdout == result.stdout


def test_version_prints_and_exits_0_without_a_window(tmp_path):
    import core

    result = run_without_window(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"nnstudio {core.__version__}"


def test_unknown_option_prints_usage_and_exits_2_without_a_window(tmp_path):
    result = run_without_window(tmp_path, "--frobnicate")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["usage: nnstudio [-h] [--version] [FILE]",
                                          "nnstudio: error: unrecognized arguments: --frobnicate"]
    assert "Traceback" not in result.stderr


def test_a_model_file_on_the_command_line_is_opened_and_qt_options_still_reach_qt(tmp_path):
    from core import Network, save_model
    from core.cli import PRESETS

    model = tmp_path / "xor model.nnz"
    save_model(Network.from_spec(PRESETS["xor"]["spec"]), model)
    spy = ("import sys\n"
           "from nnstudio import main_window\n"
           "original = main_window.MainWindow.open_path\n"
           "def open_path(self, path):\n"
           "    ok = original(self, path)\n"
           "    from PySide6.QtWidgets import QApplication\n"
           "    print('opened', ok, self.document.path, QApplication.style().name(), flush=True)\n"
           "    return ok\n"
           "main_window.MainWindow.open_path = open_path\n"
           "from nnstudio.app import main\n"
           "sys.exit(main(['nnstudio', '-style', 'fusion', sys.argv[1]]))\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NNSTUDIO_HOME=str(tmp_path), NNSTUDIO_QUIT_AFTER_MS="1500")
    result = subprocess.run([sys.executable, "-c", spy, str(model)], check=False, env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"opened True {model} fusion" in result.stdout, result.stdout + result.stderr


def test_ready_file_hook_records_when_the_first_window_is_up(tmp_path, monkeypatch):
    """NNSTUDIO_READY_FILE (benchmarks/bench_startup.py): a wall-clock time after the spawn
    and before the exit, written once the window is shown."""
    import time

    ready = tmp_path / "ready.txt"
    monkeypatch.setenv("NNSTUDIO_READY_FILE", str(ready))
    spawned = time.time()
    result = run_app(tmp_path, quit_after_ms=300)
    exited = time.time()
    assert result.returncode == 0, result.stderr
    assert spawned < float(ready.read_text()) < exited
    assert not (tmp_path / "ready.txt.part").exists()
