"""The user's own drawings, kept to add to the training set ("Add this drawing as label k").

Stored in ``core.data.user_data_dir()/drawings/my_drawings.npz``, written with ``np.savez``
(plain numeric arrays, read back with allow_pickle=False) atomically (a temporary file in the same
folder, then ``os.replace``), so a crash never leaves half a file. Members:

- ``images``: uint8 (n, 28, 28), 0..255 (MNIST's raw range: the drawings were preprocessed
  with the MNIST recipe, so they mix with MNIST directly);
- ``labels``: int64 (n,), 0..9.

The training side is not wired yet: ``as_arrays()`` gives (images (n, 28, 28) float32 in
[0, 1], labels (n,) int64), ready to be appended to MNIST's training data in a later run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from core.data import DataError, user_data_dir
from core.data.npz import read_npz

FILE_NAME = "my_drawings.npz"
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


def default_path() -> Path:
    return user_data_dir() / "drawings" / FILE_NAME


class UserDrawings:
    """The store: ``load()``, then ``add(image28, label)`` (saves at once), ``count``,
    ``as_arrays()``."""

    def __init__(self, path: Path, images: np.ndarray, labels: np.ndarray):
        self.path = Path(path)
        self._images = images
        self._labels = labels

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> UserDrawings:
        """The store at ``path`` (default :func:`default_path`); empty when the file does not
        exist yet. Raises DataError naming the file when it cannot be read (it is left
        untouched: nothing the user drew is ever overwritten by a failed read)."""
        path = Path(path) if path is not None else default_path()
        if not path.exists():
            return cls(path, np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros(0, np.int64))
        try:
            # core's checked reader: a member declaring a huge array is refused from its header
            # (np.load would allocate it first), and a device or FIFO is never read.
            data = read_npz(path, {"images": ((None, *IMAGE_SHAPE), "iu"), "labels": ((None,), "iu")},
                            "a drawings file")
            images, labels = data["images"], data["labels"]
        except DataError as exc:
            raise DataError(f"your drawings in {path} cannot be read ({exc}); the file was left as it is") from None
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"your drawings in {path} are not 28×28 uint8 images (found {images.dtype} "
                            f"{images.shape}); the file was left as it is")
        if labels.shape != (len(images),) or labels.dtype.kind not in "iu" or (
                labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES)):
            raise DataError(f"your drawings in {path} have bad labels (need {len(images)} labels 0..9); "
                            "the file was left as it is")
        return cls(path, images, labels.astype(np.int64))

    @property
    def count(self) -> int:
        return len(self._labels)

    def counts_per_label(self) -> np.ndarray:
        """(10,) int64: drawings stored per label."""
        return np.bincount(self._labels, minlength=N_CLASSES).astype(np.int64)

    def add(self, image28: np.ndarray, label: int) -> None:
        """Append one drawing and save. image28: (28, 28) float in [0, 1] (the preprocessed
        drawing, as the network saw it); label: 0..9. Raises DataError for bad input or when
        the file cannot be written (the store is then unchanged)."""
        image = np.asarray(image28, dtype=np.float64)
        if image.shape != IMAGE_SHAPE:
            raise DataError(f"a drawing to store must be 28×28, not {image.shape}")
        if not np.all(np.isfinite(image)):
            raise DataError("a drawing to store must not contain NaN or infinite values")
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < N_CLASSES:
            raise DataError(f"the label must be a digit 0..9, not {label!r}")
        raw = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        images = np.concatenate([self._images, raw[None]])
        labels = np.concatenate([self._labels, np.array([int(label)], np.int64)])
        self._save(images, labels)
        self._images, self._labels = images, labels

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(images (n, 28, 28) float32 in [0, 1], labels (n,) int64): copies."""
        return (self._images.astype(np.float32) / np.float32(255), self._labels.copy())

    def _save(self, images: np.ndarray, labels: np.ndarray) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise DataError(f"cannot save your drawings in {folder}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, images=images, labels=labels)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise DataError(f"cannot save your drawings to {self.path}: {exc.strerror or exc}") from None
