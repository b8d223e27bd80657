"""Before Qt starts on Linux: can its X11 platform plugin load? If not, say what to install.

When Qt's ``xcb`` platform plugin cannot load one of its system libraries, Qt prints a
misleading message (it blames ``libxcb-cursor0`` whatever is missing) and aborts the
process, so the app cannot catch the failure. This module checks the same libraries first,
with ``ctypes.CDLL`` (the dynamic loader Qt uses, honouring ``LD_LIBRARY_PATH``), and turns
anything missing into advice: the Debian/Ubuntu packages to install and an ``ldd`` command
that lists what is missing on other systems.

The library list is what ``ldd`` shows the xcb plugin (``libqxcb.so``), ``libQt6XcbQpa`` and
the Qt modules the app uses (Core, Gui, Widgets, DBus, OpenGL) need beyond Qt's own files
and the C/C++ runtime; ``tests/gui/test_platform_check.py`` reads those files' ELF headers
and fails if a library is missing here. A minimal Debian 12 (debootstrap minbase) lacks
every package listed below except zlib1g and libzstd1.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "ALL_PACKAGES",
    "LIBRARY_PACKAGES",
    "missing_libraries",
    "platform_problem",
    "qt_import_problem",
    "xcb_plugin_path",
]

#: Each system library Qt's window system needs -> the Debian/Ubuntu package that provides it.
LIBRARY_PACKAGES: dict[str, str] = {
    # Qt Core, Gui, Widgets, DBus, OpenGL
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    # the xcb platform plugin (libqxcb.so and libQt6XcbQpa)
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}

#: Every package above, once, in a stable order: the README's install line.
ALL_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(
    p for p in LIBRARY_PACKAGES.values() if p not in ("zlib1g", "libzstd1")))  # those two are in every Debian


def _can_load(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def missing_libraries(can_load: Callable[[str], bool] | None = None) -> list[str]:
    """The libraries of :data:`LIBRARY_PACKAGES` the dynamic loader (or ``can_load``) cannot
    load, in that order."""
    can_load = can_load or _can_load
    return [library for library in LIBRARY_PACKAGES if not can_load(library)]


def xcb_plugin_path() -> Path | None:
    """Where PySide6's xcb platform plugin is (for the ``ldd`` hint), without importing Qt."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if path.is_file():
            return path
    return None


def _requested_platform(env: Mapping[str, str], qt_args: list[str]) -> str:
    """The platform plugin Qt will try: ``-platform NAME`` wins over QT_QPA_PLATFORM; '' = Qt's default."""
    platform = env.get("QT_QPA_PLATFORM", "")
    for i, arg in enumerate(qt_args):
        if arg == "-platform" and i + 1 < len(qt_args):
            platform = qt_args[i + 1]
        elif arg.startswith("-platform="):
            platform = arg.split("=", 1)[1]
    return platform.split(":", 1)[0].strip()  # "xcb:option=..." -> "xcb"


def platform_problem(env: Mapping[str, str] | None = None, qt_args: list[str] | None = None,
                     system: str | None = None, can_load: Callable[[str], bool] | None = None) -> str | None:
    """None when Qt can open a window as far as can be known before starting it; otherwise
    advice for the user (several lines, ending without a newline).

    Checked only on Linux when Qt will use X11: ``QT_QPA_PLATFORM`` (or ``-platform``) unset
    or ``xcb``, and not a Wayland session Qt would use instead.
    """
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if not system.startswith("linux"):
        return None
    platform = _requested_platform(env, qt_args or [])
    if platform not in ("", "xcb"):
        return None  # offscreen, wayland, eglfs, vnc ...: the user chose; Qt reports its own problems
    if platform == "" and env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return None  # Qt 6 prefers its Wayland plugin here
    if not env.get("DISPLAY"):
        if platform == "" and env.get("WAYLAND_DISPLAY"):
            return None
        return ("nnstudio cannot open its window: there is no display (the DISPLAY environment variable is "
                "empty).\nStart it from a desktop session, or over SSH with X forwarding (ssh -X). Without a "
                "screen, the command line trains, evaluates and predicts: nnstudio-cli --help "
                "(or python -m core --help).")
    missing = missing_libraries(can_load)
    return _advice(missing, "Qt's X11 platform plugin (xcb) needs") if missing else None


def qt_import_problem(error: ImportError, can_load: Callable[[str], bool] | None = None) -> str:
    """Advice for a failed ``import PySide6.QtWidgets`` (a system library Qt needs is missing)."""
    missing = missing_libraries(can_load)
    if missing:
        return _advice(missing, f"Qt could not be loaded ({error}); it needs")
    return (f"nnstudio cannot start: Qt (PySide6) could not be loaded ({error}). Reinstall nnstudio in a "
            "fresh virtual environment: python -m pip install nnstudio")


def _advice(missing: list[str], what_needs: str) -> str:
    """Several lines: what is missing, the apt command for it and for everything, the ldd hint."""
    packages = list(dict.fromkeys(LIBRARY_PACKAGES[m] for m in missing))
    plugin = xcb_plugin_path()
    ldd = (f"ldd {plugin} | grep 'not found'" if plugin is not None
           else "ldd .../site-packages/PySide6/Qt/plugins/platforms/libqxcb.so | grep 'not found'")
    return "\n".join([
        f"nnstudio cannot open its window: {what_needs} system libraries that are not installed:",
        f"  {' '.join(missing)}",
        "On Debian or Ubuntu, install them with:",
        f"  sudo apt install {' '.join(packages)}",
        "or everything nnstudio's window needs at once:",
        f"  sudo apt install {' '.join(ALL_PACKAGES)}",
        "On other systems install the packages that provide these files; to list what is missing run:",
        f"  {ldd}",
        "(Qt's own message would blame libxcb-cursor0 whatever is missing.)",
    ])
