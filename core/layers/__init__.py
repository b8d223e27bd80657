"""All layer types. Importing this package registers every layer in ``core.registry``."""

from .base import Layer, format_shape
from .activations import Activation
from .dense import Dense
from .dropout import Dropout
from .reshape import Flatten
from .conv import Conv2D
from .pooling import MaxPool2D

__all__ = ["Layer", "format_shape", "Activation", "Dense", "Dropout", "Flatten", "Conv2D", "MaxPool2D"]
