"""All layer types. Importing this package registers every layer in ``core.registry``."""

from .activations import Activation
from .base import Layer, format_shape
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .pooling import AvgPool2D, MaxPool2D
from .reshape import Flatten

__all__ = ["Activation", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D", "format_shape"]
