"""The MNIST files: names, sizes and SHA-256 of the four published IDX files, the mirrors
that serve them, the attribution, and the shapes every copy must have."""

from __future__ import annotations

#: (file name, size in bytes, SHA-256) of the four published gzip IDX files, in load order:
#: train images, train labels, test images, test labels.
MNIST_FILES: tuple[tuple[str, int, str], ...] = (
    ("train-images-idx3-ubyte.gz", 9_912_422,
     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    ("train-labels-idx1-ubyte.gz", 28_881,
     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    ("t10k-images-idx3-ubyte.gz", 1_648_877,
     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    ("t10k-labels-idx1-ubyte.gz", 4_542,
     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)

#: IDX mirrors, tried in order: torchvision's primary and fallback mirrors and the Google
#: storage copy used by TensorFlow's former MNIST tutorial. Files are checked by SHA-256,
#: so any mirror is safe.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MNIST_ATTRIBUTION = (
    "MNIST handwritten digits by Yann LeCun, Corinna Cortes and Christopher J. C. Burges "
    "(http://yann.lecun.com/exdb/mnist/), built from NIST Special Databases 1 and 3; "
    "licensed CC BY-SA 3.0. Not shipped with nnstudio: found on this computer or downloaded "
    "from a public mirror."
)

#: The shape of each file's array (in MNIST_FILES order) and the keys of Keras' mnist.npz.
SHAPES = ((60_000, 28, 28), (60_000,), (10_000, 28, 28), (10_000,))
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
