"""Where nnstudio keeps per-user data and caches (never inside the installed package).

``user_data_dir()``:
    1. ``$NNSTUDIO_HOME`` when set (tests and portable installs use this),
    2. Windows: ``%APPDATA%\\nnstudio``,
    3. macOS: ``~/Library/Application Support/nnstudio``,
    4. other systems: ``$XDG_DATA_HOME/nnstudio``, else ``~/.local/share/nnstudio``.

``user_cache_dir()``:
    1. ``$NNSTUDIO_HOME/cache`` when ``NNSTUDIO_HOME`` is set,
    2. Windows: ``%LOCALAPPDATA%\\nnstudio\\Cache``,
    3. macOS: ``~/Library/Caches/nnstudio``,
    4. other systems: ``$XDG_CACHE_HOME/nnstudio``, else ``~/.cache/nnstudio``.

Everything is read at call time (environment and ``Path.home()``), so tests can monkeypatch
``HOME`` / ``NNSTUDIO_HOME``. The folders are not created here; callers create them when they
write.

Why not ``platformdirs``: it would replace about 20 lines of the per-system branches below
(``NNSTUDIO_HOME`` stays ours), but it picks its implementation once at import time, so the
tests that check every system's folders in one process (``sys.platform`` patched) could no
longer run, and a runtime dependency for 20 lines is a poor trade.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["APP_NAME", "user_cache_dir", "user_data_dir"]

APP_NAME = "nnstudio"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    return Path(value).expanduser()


def user_data_dir() -> Path:
    """The per-user folder for nnstudio's data (downloaded datasets, user presets)."""
    home = _env_path("NNSTUDIO_HOME")
    if home is not None:
        return home
    if sys.platform.startswith("win"):
        base = _env_path("APPDATA") or Path.home() / "AppData" / "Roaming"
        return base / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    base = _env_path("XDG_DATA_HOME")
    if base is None or not base.is_absolute():
        base = Path.home() / ".local" / "share"
    return base / APP_NAME


def user_cache_dir() -> Path:
    """The per-user folder for caches that can be deleted at any time (decoded MNIST arrays)."""
    home = _env_path("NNSTUDIO_HOME")
    if home is not None:
        return home / "cache"
    if sys.platform.startswith("win"):
        base = _env_path("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return base / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    base = _env_path("XDG_CACHE_HOME")
    if base is None or not base.is_absolute():
        base = Path.home() / ".cache"
    return base / APP_NAME
