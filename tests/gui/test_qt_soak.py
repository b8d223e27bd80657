"""Guard against Qt-binding crashes that only show after many signal emissions.

PySide6 6.12.0 on Python 3.11 lowers the reference count of ``True`` at every Python-side
``Signal.emit()``; after a few hundred emits the interpreter dies (``bool_dealloc``), and a
pyqtgraph plot updated a few thousand times dies in ``AxisItem.drawPicture`` (PITFALLS.md).
Under pytest that looks like a random crash at exit, so this runs in a subprocess: a worker
QThread emits 10,000 signals to a GUI-thread receiver (as training does), then a pyqtgraph
curve is updated and painted a few thousand times. The subprocess must exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import sys
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

EMITS, UPDATES = 10_000, 3_000
app = QApplication([])


class Emitter(QObject):
    value = Signal(object)
    flag = Signal(bool)
    done = Signal()

    @Slot()
    def run(self):
        for i in range(EMITS):
            self.value.emit((i, True, None))
            self.flag.emit(i % 2 == 0)
        self.done.emit()


class Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.values = 0
        self.flags = 0

    @Slot(object)
    def on_value(self, v):
        self.values += 1

    @Slot(bool)
    def on_flag(self, f):
        self.flags += 1

    @Slot()
    def on_done(self):
        app.quit()


receiver = Receiver()
thread = QThread()
emitter = Emitter()
emitter.moveToThread(thread)
emitter.value.connect(receiver.on_value, Qt.ConnectionType.QueuedConnection)
emitter.flag.connect(receiver.on_flag, Qt.ConnectionType.QueuedConnection)
emitter.done.connect(receiver.on_done, Qt.ConnectionType.QueuedConnection)
thread.started.connect(emitter.run)
thread.start()
QTimer.singleShot(60_000, app.quit)  # never hang the test run
app.exec()
thread.quit()
assert thread.wait(10_000), "worker thread did not end"
assert receiver.values == EMITS and receiver.flags == EMITS, (receiver.values, receiver.flags)

plot = pg.PlotWidget()
plot.resize(320, 240)
plot.show()
curve = plot.plot(pen=pg.mkPen("b", width=1))
x = np.arange(200, dtype=float)
for i in range(UPDATES):
    curve.setData(x, np.sin(x / 10 + i / 50) * (1 + i))  # growing values: the axes relayout
    plot.repaint()  # paint now: AxisItem.drawPicture runs every time
    if i % 100 == 0:
        app.processEvents()
print(f"ok {receiver.values} {receiver.flags} {UPDATES}", flush=True)
"""


def test_many_signals_and_plot_updates_do_not_crash_the_interpreter():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "ok 10000 10000 3000" in proc.stdout
