"""All layer types. Importing this package registers every layer in ``core.registry``."""

from core.layers.activations import Activation
from core.layers.base import Layer, format_shape
from core.layers.conv import Conv2D
from core.layers.dense import Dense
from core.layers.dropout import Dropout
from core.layers.pooling import AvgPool2D, MaxPool2D
from core.layers.reshape import Flatten

__all__ = ["Activation", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D", "format_shape"]
