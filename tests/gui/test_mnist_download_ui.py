"""MNIST download / locate from the dataset panel, against a loopback HTTP server.

The server (127.0.0.1 only) serves the real MNIST files from NNSTUDIO_DATA and can hold a
transfer at a "gate" until the test releases it, so cancelling mid-file is deterministic
(no sleeps, no races with a fast loopback). MNIST is made absent by pointing HOME,
NNSTUDIO_HOME and the working folder at temporary folders and unsetting NNSTUDIO_DATA.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QProgressBar, QPushButton

from core.data import MNIST_FILES, find_mnist, user_data_dir
from core.data import mnist as mnist_module
from nnstudio.state.document import DatasetChoice
from nnstudio.widgets.data.dataset_panel import DatasetPanel
from nnstudio.widgets.data.dataset_preview import DatasetPreview
from tests.loopback_mnist import MnistServer, bypass_proxies, closed_port_url, serving

TOTAL = sum(size for _, size, _ in MNIST_FILES)


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """A user without MNIST anywhere nnstudio looks; downloads go to a fresh data folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path / "nnstudio"))
    for var in ("NNSTUDIO_DATA", "KERAS_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    bypass_proxies(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert find_mnist() is None
    return tmp_path


@pytest.fixture
def server(mnist_dir, no_mnist, monkeypatch):
    srv = MnistServer({name: (mnist_dir / name).read_bytes() for name, _, _ in MNIST_FILES})
    srv.gate_file = MNIST_FILES[0][0]  # held after 512 KiB until a test opens the gate
    with serving(srv):
        monkeypatch.setattr(mnist_module, "DEFAULT_MIRRORS", (srv.url,))
        yield srv


@pytest.fixture
def panel(qtbot, document, dialogs, no_mnist):
    widget = DatasetPanel(document, dialogs)
    qtbot.addWidget(widget)
    widget.resize(320, 720)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown(10_000), "the download thread did not stop"


def pick(qtbot, combo: QComboBox, data) -> None:
    index = combo.findData(data)
    combo.showPopup()
    combo.view().setCurrentIndex(combo.model().index(index, 0))
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)


def button(panel, name) -> QPushButton:
    found = panel.findChild(QPushButton, name)
    assert found is not None, name
    return found


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def notice_text(panel) -> str:
    return panel.findChild(QLabel, "mnistNoticeText").text()


def test_choosing_absent_mnist_offers_download_and_locate_and_keeps_the_dataset(qtbot, panel, document):
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    assert panel.findChild(QFrame, "mnistNotice").isVisible()
    assert button(panel, "downloadMnistButton").isVisible() and button(panel, "locateMnistButton").isVisible()
    assert "not on this computer" in notice_text(panel) and "Digits 8×8 stays selected" in notice_text(panel)
    assert document.dataset_choice.name == "digits8x8" and document.undo_stack.count() == 0
    assert panel.findChild(QComboBox, "datasetCombo").currentData() == "digits8x8"
    assert str(user_data_dir() / "mnist") in button(panel, "downloadMnistButton").toolTip()


def test_document_naming_absent_mnist_shows_the_notice(qtbot, panel, document):
    document.reset(document.state.__class__(document.spec, document.training, DatasetChoice("mnist")))
    assert panel.findChild(QFrame, "mnistNotice").isVisible()
    assert "not on this computer" in panel.findChild(QLabel, "datasetInfo").text()
    assert not panel.findChild(DatasetPreview, "datasetPreview").isVisible()


@pytest.mark.mnist
def test_download_progress_cancel_resume_then_mnist_is_used(qtbot, panel, document, server):
    progress: list[tuple[int, int, str]] = []
    panel.downloader.progressed.connect(
        lambda kind, p: progress.append((p.done, p.total, p.file_name)) if not p.preparing else None)
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    click(qtbot, button(panel, "downloadMnistButton"))
    bar = panel.findChild(QProgressBar, "downloadProgress")
    assert bar.isVisible() and button(panel, "cancelDownloadButton").isVisible()
    # The server holds the first file after 512 KiB: progress is visible, then Cancel.
    qtbot.waitUntil(lambda: bool(progress) and progress[-1][0] >= 300_000, timeout=15_000)
    assert all(total == TOTAL for _, total, _ in progress)
    assert bar.value() > 0 and "of 11.6 MB" in bar.text()
    click(qtbot, button(panel, "cancelDownloadButton"))
    server.gate.set()  # let the transfer move again: the worker notices the cancel at its next chunk
    qtbot.waitUntil(lambda: panel.mnist_state == "cancelled", timeout=15_000)
    assert not panel.downloader.running
    part = user_data_dir() / "mnist" / f"{MNIST_FILES[0][0]}.part"
    assert part.is_file() and 300_000 <= part.stat().st_size < MNIST_FILES[0][1]
    assert document.dataset_choice.name == "digits8x8"
    assert button(panel, "downloadMnistButton").text() == "Resume download"

    kept = part.stat().st_size
    progress.clear()
    with qtbot.waitSignal(document.datasetChanged, timeout=60_000):
        click(qtbot, button(panel, "downloadMnistButton"))
    assert (MNIST_FILES[0][0], f"bytes={kept}-") in server.requests  # resumed, not restarted
    dones = [d for d, _, _ in progress]
    assert dones == sorted(dones) and dones[-1] == TOTAL
    assert next(d for d in dones if d > 0) >= kept  # counted from the kept part, not from zero
    assert document.dataset_choice.name == "mnist"
    assert document.undo_stack.undoText() == "Use dataset MNIST"
    assert not panel.findChild(QFrame, "mnistNotice").isVisible()
    assert "60,000 samples + 10,000 official test samples" in panel.findChild(QLabel, "datasetInfo").text()
    assert panel.findChild(DatasetPreview, "datasetPreview").mode == "images"
    assert find_mnist().folder == user_data_dir() / "mnist"
    assert not list((user_data_dir() / "mnist").glob("*.part"))


def test_failed_download_shows_the_reason_with_retry_and_locate(qtbot, panel, document, monkeypatch):
    monkeypatch.setattr(mnist_module, "DEFAULT_MIRRORS", (closed_port_url(),))
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    click(qtbot, button(panel, "downloadMnistButton"))
    qtbot.waitUntil(lambda: panel.mnist_state == "failed", timeout=20_000)
    assert "check the connection and retry" in notice_text(panel).lower()
    assert button(panel, "downloadMnistButton").text() == "Retry"
    assert button(panel, "locateMnistButton").isVisible()
    assert not panel.findChild(QProgressBar, "downloadProgress").isVisible()
    assert document.dataset_choice.name == "digits8x8"
    with qtbot.waitSignal(panel.downloader.started, timeout=2000):
        click(qtbot, button(panel, "downloadMnistButton"))
    assert panel.mnist_state == "downloading"
    qtbot.waitUntil(lambda: panel.mnist_state == "failed", timeout=20_000)


@pytest.mark.mnist
def test_shutdown_during_a_download_stops_the_thread(qtbot, panel, server):
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    click(qtbot, button(panel, "downloadMnistButton"))
    assert server.gate_reached.wait(15)
    assert panel.downloader.running
    server.gate.set()
    assert panel.shutdown(10_000)
    assert not panel.downloader.running


def test_locate_wrong_folder_says_what_was_expected(qtbot, panel, document, dialogs, tmp_path):
    wrong = tmp_path / "not-mnist"
    wrong.mkdir()
    (wrong / "train-images-idx3-ubyte.gz").write_bytes(b"only one of four")
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    dialogs.folder = str(wrong)
    click(qtbot, button(panel, "locateMnistButton"))
    text = notice_text(panel)
    assert f"No MNIST in {wrong}" in text
    for name, _, _ in MNIST_FILES:
        assert name.removesuffix(".gz") in text
    assert "mnist.npz" in text and "MNIST/raw" in text
    assert document.dataset_choice.name == "digits8x8" and "folder" in dialogs.asked
    dialogs.folder = None  # the user cancels the folder dialog: nothing happens
    click(qtbot, button(panel, "locateMnistButton"))
    assert panel.mnist_state == "wrong-folder"


@pytest.mark.mnist
def test_locate_a_folder_with_mnist_copies_it_and_uses_it(qtbot, panel, document, dialogs, mnist_dir):
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "mnist")
    dialogs.folder = str(mnist_dir)
    with qtbot.waitSignal(document.datasetChanged, timeout=60_000):
        click(qtbot, button(panel, "locateMnistButton"))
    assert document.dataset_choice.name == "mnist"
    assert not panel.findChild(QFrame, "mnistNotice").isVisible()
    location = find_mnist()
    assert location is not None and location.folder == user_data_dir() / "mnist"  # found next time too
    assert not list((user_data_dir() / "mnist").glob(".*copying"))
