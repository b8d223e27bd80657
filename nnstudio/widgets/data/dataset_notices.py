"""Inline notices of the dataset panel (never a modal dialog): a coloured frame with a
sentence, and the MNIST notice that offers the download (progress bar, cancel, retry) or
locating a copy already on this computer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.data import MNIST_FILES
from nnstudio.controllers.mnist_download import mnist_folder
from nnstudio.theme import style_notice

_MB = 1_000_000
MNIST_TOTAL_BYTES = sum(size for _, size, _ in MNIST_FILES)
#: What each state of the MNIST notice offers.
MNIST_STATES = ("hidden", "absent", "downloading", "preparing", "failed", "cancelled", "wrong-folder", "ready")
_OFFERS_DOWNLOAD = ("absent", "failed", "cancelled", "wrong-folder")


def notice_frame(name: str, level: str, parent: QWidget | None = None) -> tuple[QFrame, QLabel]:
    """A hidden notice frame named ``name`` (``info``/``warning`` colours, light or dark,
    recoloured on a theme switch) and its word-wrapped text label ``<name>Text``."""
    frame = QFrame(parent)
    frame.setObjectName(name)
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    style_notice(frame, level, f"#{name} QLabel")
    box = QVBoxLayout(frame)
    box.setContentsMargins(8, 6, 8, 6)
    text = QLabel()
    text.setObjectName(name + "Text")
    text.setWordWrap(True)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.addWidget(text)
    frame.hide()
    return frame, text


class MnistNotice(QFrame):
    """MNIST is missing, downloading, being prepared, failed, cancelled, in a wrong folder or
    ready. The panel owns the downloader and decides the state (``set_state``); this widget
    shows it. Object names: ``mnistNotice``, ``mnistNoticeText``, ``downloadProgress``,
    ``downloadMnistButton``, ``locateMnistButton``, ``cancelDownloadButton``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mnistNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        style_notice(self, "info", "#mnistNotice QLabel")
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 6, 8, 6)
        self.text = QLabel()
        self.text.setObjectName("mnistNoticeText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.text)
        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setAccessibleName("MNIST download progress")
        box.addWidget(self.progress)
        self.download_button = QPushButton("Download (11.6 MB)")
        self.download_button.setObjectName("downloadMnistButton")
        self.download_button.setToolTip(f"Download MNIST from a public mirror into {mnist_folder()}; "
                                        "files are checked against their published checksums")
        self.locate_button = QPushButton("Locate folder…")
        self.locate_button.setObjectName("locateMnistButton")
        self.locate_button.setToolTip("Use a copy of MNIST already on this computer (the four IDX files or "
                                      "Keras' mnist.npz)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelDownloadButton")
        self.cancel_button.setToolTip("Stop the download; it resumes where it stopped next time")
        buttons = QHBoxLayout()
        for button in (self.download_button, self.locate_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        box.addLayout(buttons)
        self.state = "hidden"
        self.set_state("hidden")

    def set_state(self, state: str, message: str = "", keeps: str = "", training_active: bool = False) -> None:
        """Show ``state`` (one of ``MNIST_STATES``). ``message``: the sentence of a failure
        or a wrong folder; ``keeps``: what stays selected meanwhile ("Digits 8×8 stays
        selected meanwhile."), added where the user might wonder."""
        self.state = state
        tail = f" {keeps}" if keeps else ""
        texts = {
            "absent": "MNIST is not on this computer yet. Download it (11.6 MB) into nnstudio's data folder, "
                      "or locate a folder that already holds it." + tail,
            "downloading": "Downloading MNIST…",
            "preparing": "Checking and unpacking MNIST…",
            "failed": message,
            "cancelled": "Download cancelled. Downloading again resumes where it stopped." + tail,
            "wrong-folder": message,
            "ready": "MNIST is ready: choose it in the list above"
                     + (" once training has stopped." if training_active else "."),
        }
        self.text.setText(texts.get(state, ""))
        self.setVisible(state != "hidden")
        self.progress.setVisible(state in ("downloading", "preparing"))
        self.cancel_button.setVisible(state == "downloading")
        self.cancel_button.setEnabled(True)
        self.download_button.setVisible(state in _OFFERS_DOWNLOAD)
        self.locate_button.setVisible(state in _OFFERS_DOWNLOAD)
        self.download_button.setText({"failed": "Retry", "cancelled": "Resume download"}.get(state,
                                                                                            "Download (11.6 MB)"))
        if state == "preparing":
            self.progress.setRange(0, 0)  # busy indicator: decoding reports no progress
        elif state == "downloading":
            self.progress.setRange(0, 1000)
            self.progress.setValue(0)
            self.progress.setFormat("Starting…")

    def show_progress(self, done: int, total: int, name: str) -> None:
        """``done`` of ``total`` bytes, fetching file ``name`` (only while downloading)."""
        if self.state != "downloading":
            return
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress.setFormat(f"{done / _MB:.1f} of {total / _MB:.1f} MB")
        self.text.setText(f"Downloading MNIST: {name}")

    def show_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.text.setText("Cancelling…")
