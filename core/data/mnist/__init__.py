"""MNIST: find a copy already on this computer, download it, load it fast.

One module per job: :mod:`.locate` (finding a copy), :mod:`.load` (decoding and caching),
:mod:`.download` (fetching it), :mod:`.files` (what the files are).

MNIST is never shipped with nnstudio (nor committed to its repository). It is used from:

``find_mnist(extra_dirs)`` looks, in this order, for the four IDX files (``.gz`` or
uncompressed, ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte`` spellings) or a
Keras ``mnist.npz``:

1. ``$NNSTUDIO_DATA``: the folder itself, its ``mnist/`` and ``MNIST/raw/`` subfolders;
2. nnstudio's own data folder: ``user_data_dir()/mnist`` (where :func:`download_mnist`
   puts it by default);
3. Keras' cache: ``$KERAS_HOME/datasets/mnist.npz`` if ``KERAS_HOME`` is set, else
   ``~/.keras/datasets/mnist.npz``;
4. torchvision's layout ``<root>/MNIST/raw/`` (and a plain ``<root>/mnist/``) under the
   roots people commonly pass to ``torchvision.datasets.MNIST``: ``./data`` (the current
   folder), ``~/data``, ``~/datasets``, ``~/.torchvision``, ``~/.cache/torchvision``,
   ``~/torch_datasets``;
5. ``extra_dirs`` (for instance a folder the user picked): the folder, its ``mnist/`` and
   ``MNIST/raw/`` subfolders, or an ``.npz`` file given directly.

The home folder is ``Path.home()`` at call time. Nothing is written while searching.

``load_mnist(location)`` decodes the files (uint8 images ``(n, 28, 28)``, int64 labels) and
caches the decoded arrays twice: in memory for this process, and as uncompressed ``.npy``
files under ``user_cache_dir()/mnist/<key>/`` (key = SHA-256 of the source files' resolved
paths, sizes and modification times), so a later process loads them in a fraction of a
second. Cache files are read with ``np.load(allow_pickle=False)`` and checked; a damaged cache
is rebuilt. Arrays returned are read-only (they are shared by all callers); copy to modify.

``download_mnist(dest_dir)`` downloads the four IDX ``.gz`` files from public mirrors with
resume, progress, cancel and SHA-256 verification (see its docstring).
"""

from __future__ import annotations

from core.data.errors import DownloadCancelled
from core.data.mnist.download import download_mnist
from core.data.mnist.files import DEFAULT_MIRRORS, MNIST_ATTRIBUTION, MNIST_FILES
from core.data.mnist.load import clear_mnist_memory_cache, load_mnist
from core.data.mnist.locate import MnistLocation, find_mnist, locate_mnist_in, mnist_search_places

__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_ATTRIBUTION",
    "MNIST_FILES",
    "DownloadCancelled",
    "MnistLocation",
    "clear_mnist_memory_cache",
    "download_mnist",
    "find_mnist",
    "load_mnist",
    "locate_mnist_in",
    "mnist_search_places",
]
