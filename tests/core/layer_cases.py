"""Conformance cases for every registered layer type: (config, per-sample input shape).

The shared harness (test_layer_conformance.py) fails for any registered layer type that
has no entry here, so a new layer cannot land without being checked.
"""

LAYER_CASES: dict[str, list[tuple[dict, tuple[int, ...]]]] = {
    "Dense": [({"units": 4}, (5,)), ({"units": 1, "use_bias": False}, (3,)),
              ({"units": 3, "kernel_initializer": "he_normal"}, (7,))],
    "Activation": [({"function": f}, (6,)) for f in ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "linear",
                                                      "gelu")]
    + [({"function": "relu"}, (2, 3, 3)), ({"function": "tanh"}, (2, 4, 4))],
    "Dropout": [({"rate": 0.5}, (8,)), ({"rate": 0.0}, (2, 3, 3))],
    "Flatten": [({}, (2, 3, 4)), ({}, (5,))],
    "Conv2D": [
        ({"filters": 3, "kernel_size": 3}, (2, 6, 6)),
        ({"filters": 2, "kernel_size": 3, "stride": 2, "padding": "same"}, (3, 7, 7)),
        ({"filters": 4, "kernel_size": [2, 3], "stride": [1, 2], "padding": "same"}, (1, 5, 6)),
        ({"filters": 2, "kernel_size": 2, "stride": 2, "padding": "valid", "use_bias": False}, (2, 5, 5)),
        ({"filters": 2, "kernel_size": 4, "padding": "same"}, (1, 6, 6)),
    ],
    "MaxPool2D": [
        ({"pool_size": 2}, (2, 6, 6)),
        ({"pool_size": 2}, (1, 5, 7)),
        ({"pool_size": 3, "stride": 2}, (2, 7, 7)),
        ({"pool_size": [2, 3], "stride": 1}, (1, 4, 5)),
    ],
    "AvgPool2D": [
        ({"pool_size": 2}, (2, 6, 6)),
        ({"pool_size": 2}, (1, 5, 7)),
        ({"pool_size": 3, "stride": 2}, (2, 7, 7)),
        ({"pool_size": [2, 3], "stride": 1}, (1, 4, 5)),
    ],
}
