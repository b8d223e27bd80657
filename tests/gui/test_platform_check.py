"""Before Qt starts, nnstudio tells a Linux user which system libraries its window needs,
instead of Qt's abort that blames libxcb-cursor0 (issue 15, item 15)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import PySide6
import pytest

from nnstudio.platform_check import ALL_PACKAGES, LIBRARY_PACKAGES, platform_problem, qt_import_problem

README = Path(__file__).resolve().parents[2] / "README.md"
QT = Path(PySide6.__file__).parent / "Qt"
#: The C and C++ runtime every Linux has (libc6, libstdc++6, libgcc-s1): not worth a check.
RUNTIME = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2",
           "librt.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
#: Bundled in PySide6's wheel.
BUNDLED_PREFIXES = ("libQt6", "libicu", "libpyside6", "libshiboken6")


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of a 64-bit little-endian ELF file (what ``ldd`` resolves first)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path} is not a 64-bit LE ELF file"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next(s for s in sections if s[1] == 6)  # SHT_DYNAMIC
    strtab = sections[dynamic[6]]  # sh_link: its string table
    needed = []
    for offset in range(dynamic[4], dynamic[4] + dynamic[5], 16):
        tag, value = struct.unpack_from("<qQ", data, offset)
        if tag == 0:
            break
        if tag == 1:  # DT_NEEDED
            start = strtab[4] + value
            needed.append(data[start:data.index(b"\0", start)].decode())
    return needed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 plugin exists on Linux only")
def test_the_list_covers_every_system_library_the_xcb_plugin_and_qt_need():
    files = [QT / "plugins" / "platforms" / "libqxcb.so"] + [
        QT / "lib" / f"libQt6{m}.so.6" for m in ("XcbQpa", "Core", "Gui", "Widgets", "DBus", "OpenGL")]
    needed = {lib for f in files for lib in elf_needed(f)}
    system = {lib for lib in needed if lib not in RUNTIME and not lib.startswith(BUNDLED_PREFIXES)}
    assert "libxcb-icccm.so.4" in system and "libxcb-keysyms.so.1" in system  # the two the issue found
    assert system - set(LIBRARY_PACKAGES) == set()


def loader_without(*missing: str):
    return lambda library: library not in missing


LINUX_X11 = {"DISPLAY": ":0"}


def test_missing_libraries_are_named_with_their_debian_packages_and_an_ldd_hint():
    advice = platform_problem(LINUX_X11, system="linux",
                              can_load=loader_without("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    lines = advice.splitlines()
    assert "needs system libraries that are not installed" in lines[0]
    assert lines[1].split() == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert "  sudo apt install libxcb-icccm4 libxcb-keysyms1" in lines
    assert f"  sudo apt install {' '.join(ALL_PACKAGES)}" in lines
    assert any(line.strip().startswith("ldd ") and "libqxcb.so" in line and "not found" in line for line in lines)
    assert str(QT / "plugins" / "platforms" / "libqxcb.so") in advice  # the real path, ready to paste


def test_nothing_to_say_when_everything_loads_or_qt_will_not_use_x11():
    everything = loader_without()
    nothing = loader_without(*LIBRARY_PACKAGES)
    assert platform_problem(LINUX_X11, system="linux", can_load=everything) is None
    assert platform_problem({**LINUX_X11, "QT_QPA_PLATFORM": "xcb"}, system="linux", can_load=nothing) is not None
    assert platform_problem({**LINUX_X11, "QT_QPA_PLATFORM": "xcb:nograb"}, system="linux", can_load=nothing)
    assert platform_problem({**LINUX_X11, "QT_QPA_PLATFORM": "offscreen"}, system="linux", can_load=nothing) is None
    assert platform_problem(LINUX_X11, ["-platform", "offscreen"], system="linux", can_load=nothing) is None
    assert platform_problem(LINUX_X11, ["-platform=vnc"], system="linux", can_load=nothing) is None
    assert platform_problem({**LINUX_X11, "QT_QPA_PLATFORM": "offscreen"}, ["-platform", "xcb"], system="linux",
                            can_load=nothing) is not None  # -platform wins, as in Qt
    wayland = {**LINUX_X11, "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert platform_problem(wayland, system="linux", can_load=nothing) is None
    assert platform_problem(LINUX_X11, system="win32", can_load=nothing) is None
    assert platform_problem(LINUX_X11, system="darwin", can_load=nothing) is None


def test_no_display_is_said_in_words():
    advice = platform_problem({}, system="linux", can_load=loader_without())
    assert "there is no display" in advice and "DISPLAY" in advice and "nnstudio-cli --help" in advice
    assert platform_problem({"WAYLAND_DISPLAY": "wayland-0"}, system="linux", can_load=loader_without()) is None


def test_a_failed_qt_import_gets_the_same_advice():
    error = ImportError("libEGL.so.1: cannot open shared object file: No such file or directory")
    advice = qt_import_problem(error, can_load=loader_without("libEGL.so.1"))
    assert "libEGL.so.1" in advice.splitlines()[1] and "sudo apt install libegl1" in advice
    advice = qt_import_problem(ImportError("broken"), can_load=loader_without())
    assert "Reinstall nnstudio" in advice


def test_readme_install_section_lists_every_package():
    text = README.read_text(encoding="utf-8")
    install = text[text.index("## Quick start"):text.index("## A short tour")]
    commands = [" ".join(line.split()) for line in install.replace("\\\n", " ").splitlines()]
    assert f"sudo apt install {' '.join(ALL_PACKAGES)}" in commands


def test_python_m_nnstudio_prints_the_advice_instead_of_aborting(tmp_path):
    """The real launch with X11 requested and two libraries 'missing': exit 2 with the advice
    on stderr, before Qt is loaded (Qt would abort with exit 134 and blame xcb-cursor)."""
    code = ("import sys\n"
            "from nnstudio import platform_check\n"
            "platform_check._can_load = lambda name: name not in ('libxcb-icccm.so.4', 'libxcb-keysyms.so.1')\n"
            "from nnstudio.app import main\n"
            "sys.exit(main(['nnstudio']))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":987", NNSTUDIO_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in result.stderr
    assert "qt.qpa" not in result.stderr and "Traceback" not in result.stderr
