"""Time nnstudio's start-up as a user sees it: from launching ``python -m nnstudio`` to an
interactive first window (layer editor filled, shipped model loaded: the Draw tab loads it
while the window is built).

    python benchmarks/bench_startup.py              # 7 launches (the first is a warm-up)
    python benchmarks/bench_startup.py --launches 11 --importtime 25

Each launch is a fresh process with ``NNSTUDIO_READY_FILE`` set: the app writes the wall-clock
time to that file once its first window is shown and the event loop has gone idle
(``nnstudio/app.py``), and ``NNSTUDIO_QUIT_AFTER_MS`` closes it through the normal path.
Start-up = that time minus the time just before the process was spawned. The window is real:
on an X server started once for all launches (Xvfb, when installed: Debian's ``xvfb``), else
Qt's offscreen platform. Settings go to a temporary NNSTUDIO_HOME, never the user's; the
first launch (which creates them) is reported separately and left out of the median.
The app runs from compiled bytecode, as an installed copy does: the first launch writes it
to the temporary folder (PYTHONPYCACHEPREFIX; this machine's PYTHONDONTWRITEBYTECODE=1 would
otherwise make every launch compile core and nnstudio again, ~0.2 s); ``--no-bytecode-cache``
measures that case. Each launch also reports the process's CPU time, and the run says what
share of a core a plain Python loop got before and after the launches: on this shared
machine wall times scale with its inverse (0.5: every launch takes about twice as long).

Then one more launch under ``python -X importtime`` lists the modules that cost the most
(self time and, per top-level package, cumulative time), to show what the first window
imports that it does not need yet. Target (issue 20): <= 1.0 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60.0


def start_x_server() -> tuple[subprocess.Popen | None, str | None]:
    """(Xvfb process, DISPLAY), or (None, None) without Xvfb. ``-displayfd``: Xvfb picks a
    free display and writes its number to the pipe once it accepts clients (no polling)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None, None
    read_end, write_end = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()  # empty if Xvfb failed and closed the pipe
    if not number:
        server.wait(5)
        return None, None
    return server, f":{number}"


#: Launch with compiled bytecode, as an installed app runs (pip writes the .pyc files when it
#: installs). Off (``--no-bytecode-cache``): every launch compiles core and nnstudio from
#: source again, as a checkout does under PYTHONDONTWRITEBYTECODE=1 (this machine sets it).
BYTECODE_CACHE = True


def launch_env(home: Path, display: str | None, ready: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"NNSTUDIO_HOME": str(home), "NNSTUDIO_READY_FILE": str(ready), "NNSTUDIO_QUIT_AFTER_MS": "200",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))})
    if BYTECODE_CACHE:
        # The bytecode goes to the run's temporary folder, never into the source tree; the
        # first (warm-up) launch writes it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "bytecode")
    if display:
        env.update({"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"})
    else:
        env.update({"QT_QPA_PLATFORM": "offscreen"})
    return env


def launch_once(home: Path, display: str | None, extra_args: tuple[str, ...] = ()) -> tuple[float, str]:
    """Seconds from spawning ``python -m nnstudio`` to its ready time, and its stderr."""
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "ready"
        env = launch_env(home, display, ready)
        spawned = time.time()
        process = subprocess.Popen([sys.executable, *extra_args, "-m", "nnstudio"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            raise SystemExit(f"nnstudio did not close within {TIMEOUT_S:.0f} s:\n{stderr[-2000:]}") from None
        if not ready.exists():
            raise SystemExit(f"nnstudio exited with {process.returncode} without reporting ready:\n{stderr[-2000:]}")
        return float(ready.read_text().strip()) - spawned, stderr


def cpu_share(loop_seconds: float = 0.2) -> float:
    """CPU time over wall time of a pure-Python loop in this process: about 1.0 when a core
    was free for it, about 0.5 when the machine's other work (other benchmarks, other virtual
    machines on the same cores) left it half a core. Launch times scale with its inverse."""
    wall, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < loop_seconds:
        sum(range(10_000))
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def import_phases(home: Path, display: str | None, repeat: int = 3) -> list[str]:
    """Median seconds a fresh interpreter needs for: starting Python itself, importing the
    engine, importing Qt and the whole main window's module tree (what start-up must pay
    before building anything)."""
    code = ("import time; t0 = time.perf_counter(); import core; t1 = time.perf_counter(); "
            "import PySide6.QtWidgets; t2 = time.perf_counter(); import nnstudio.main_window; "
            "t3 = time.perf_counter(); print(t1 - t0, t2 - t1, t3 - t2)")
    env = launch_env(home, display, home / "unused")
    totals: list[tuple[float, ...]] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare = time.perf_counter() - start
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True,
                             text=True)
        totals.append((bare, *(float(v) for v in out.stdout.split())))
    names = ["python starts (no imports)", "import core (numpy, the engine)", "import PySide6.QtWidgets",
             "import nnstudio.main_window (every tab's module tree, pyqtgraph)"]
    columns = zip(*totals, strict=True)
    return [f"  {statistics.median(column) * 1e3:7.0f} ms  {name}" for name, column in zip(names, columns, strict=True)]


def importtime_report(stderr: str, top: int) -> list[str]:
    """The ``-X importtime`` lines as readable tables: slowest modules by self time, and
    cumulative time per top-level package (nnstudio and core one level deeper)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(self_us), int(cumulative_us), name.strip(), len(name) - len(name.lstrip())))
    if not rows:
        return ["(no -X importtime output)"]
    lines = [f"slowest {top} imports by their own time (ms):"]
    for self_us, cumulative_us, name, _ in sorted(rows, key=lambda r: -r[0])[:top]:
        lines.append(f"  {self_us / 1e3:7.1f}  {name}  (with its imports {cumulative_us / 1e3:.1f})")
    groups: dict[str, int] = defaultdict(int)
    for self_us, _, name, _ in rows:
        parts = name.split(".")
        key = ".".join(parts[:3] if parts[0] == "nnstudio" and len(parts) > 2 else
                       parts[:2] if parts[0] in ("nnstudio", "core") else parts[:1])
        groups[key] += self_us
    lines.append(f"own import time per package (ms; nnstudio and core by sub-package), top {top}:")
    for key, us in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {us / 1e3:7.1f}  {key}")
    total = sum(r[0] for r in rows)
    lines.append(f"  total import time: {total / 1e3:.1f} ms")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=7, help="launches; the first one is a warm-up")
    parser.add_argument("--importtime", type=int, default=20, help="rows of the -X importtime tables (0: skip)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="compile the sources on every launch (a checkout under PYTHONDONTWRITEBYTECODE=1) "
                             "instead of running from compiled bytecode as an installed app does")
    args = parser.parse_args()
    global BYTECODE_CACHE
    BYTECODE_CACHE = not args.no_bytecode_cache
    server, display = start_x_server()
    try:
        with tempfile.TemporaryDirectory() as home:
            where = f"Xvfb {display}" if display else "Qt offscreen (no Xvfb)"
            code = ("from compiled bytecode (written by the first launch), as installed" if BYTECODE_CACHE else
                    "compiling the sources every launch (--no-bytecode-cache)")
            print(f"python -m nnstudio, {args.launches} launches on {where}, {os.cpu_count()} CPUs, {code}")
            share_before = cpu_share()
            times, cpus = [], []
            for n in range(args.launches):
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                seconds, _ = launch_once(Path(home), display)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                times.append(seconds)
                cpus.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
                note = "  (first: creates the settings and the bytecode)" if n == 0 else ""
                print(f"  launch {n + 1}: {seconds * 1e3:7.0f} ms  (process CPU {cpus[-1] * 1e3:4.0f} ms){note}")
            rest = times[1:] or times
            median = statistics.median(rest)
            print(f"start-up to an interactive window: median {median * 1e3:.0f} ms of {len(rest)} "
                  f"(min {min(rest) * 1e3:.0f}, max {max(rest) * 1e3:.0f}); target <= 1000 ms")
            print(f"  process CPU per launch, median {statistics.median(cpus[1:] or cpus) * 1e3:.0f} ms (whole run: "
                  f"start, the 200 ms open, closing); this process got {share_before:.2f} / "
                  f"{cpu_share():.2f} of a core before / after the launches (1.00: a quiet machine)")
            print("where the time goes before the window is built (medians of 3 fresh interpreters):")
            print("\n".join(import_phases(Path(home), display)))
            if args.importtime:
                seconds, stderr = launch_once(Path(home), display, ("-X", "importtime"))
                print(f"one launch under -X importtime: {seconds * 1e3:.0f} ms (slower: it measures itself)")
                print("\n".join(importtime_report(stderr, args.importtime)))
    finally:
        if server is not None:
            server.terminate()
            server.wait(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
