"""core.analysis.visuals: weights and activations as images, decision regions, colour maps."""

from __future__ import annotations

import time

import numpy as np
import pytest

import core
from core.analysis.visuals import (
    activation_images,
    activations,
    class_colors,
    colormap,
    conv_filter_images,
    conv_filters,
    decision_grid,
    dense_weight_images,
    first_dense_weights,
    grid_cell,
    image_shape_of,
    minmax_normalize,
    mix_class_colors,
    nice_ticks,
    parameter_title,
    plane_bounds,
    plane_points,
    random_batch,
    sample_images,
    symmetric_normalize,
    thin_indices,
    tile_images,
    to_uint8,
)
from core.data import load_dataset

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def net_from(layers, input_shape, loss="cross_entropy", seed=0):
    return core.Network.from_spec({"input_shape": list(input_shape), "layers": layers, "loss": loss,
                                   "optimizer": {"type": "Adam", "learning_rate": 0.05}, "seed": seed})


def cnn():
    return net_from([{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                     {"type": "Activation", "function": "relu"},
                     {"type": "MaxPool2D", "pool_size": 2},
                     {"type": "Conv2D", "filters": 3, "kernel_size": 3},
                     {"type": "Flatten"},
                     {"type": "Dense", "units": 5}, {"type": "Activation", "function": "softmax"}], (2, 8, 8))


@pytest.fixture(scope="module")
def xor_net():
    net = net_from([{"type": "Dense", "units": 8}, {"type": "Activation", "function": "tanh"},
                    {"type": "Dense", "units": 2}, {"type": "Activation", "function": "softmax"}], (2,))
    net.fit(XOR_X, XOR_Y, epochs=300, batch_size=4)
    return net


# -- colours --------------------------------------------------------------------------------------
def test_colormap_endpoints_midpoint_and_clipping():
    rgb = colormap(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan]), "diverging")
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 3)
    assert rgb[0].tolist() == rgb[1].tolist() == rgb[5].tolist() == [5, 48, 97]  # clipped / NaN -> low end
    assert rgb[2].tolist() == [247, 247, 247]  # zero weight is white
    assert rgb[3].tolist() == rgb[4].tolist() == [103, 0, 31]
    assert colormap(np.zeros((2, 3)), "blues").shape == (2, 3, 3)
    with pytest.raises(ValueError, match="unknown colour map 'jet'"):
        colormap(np.zeros(1), "jet")


@pytest.mark.parametrize("k", [2, 10, 11, 26])
def test_class_colors_are_distinct(k):
    colors = class_colors(k)
    assert colors.shape == (k, 3) and colors.dtype == np.uint8
    assert len({tuple(c) for c in colors}) == k


def test_mix_class_colors_like_playground():
    colors = np.array([[255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.75, 0.25]])
    rgb = mix_class_colors(probs, colors, strength=1.0)
    assert rgb[0].tolist() == [255, 0, 0] and rgb[1].tolist() == [0, 0, 255]
    assert rgb[2].tolist() == [255, 255, 255]  # undecided fades to white
    assert rgb[3, 0] > rgb[3, 2]  # leaning red
    light = mix_class_colors(probs[:1], colors, strength=0.5)
    assert light[0].tolist() == [255, 128, 128]
    with pytest.raises(ValueError, match="one RGB colour per class"):
        mix_class_colors(probs, colors[:1])


# -- normalisation, samples -------------------------------------------------------------------------
def test_symmetric_normalize_keeps_zero_at_half_per_image():
    a = np.array([[[0.0, 2.0], [-1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[-4.0, 1.0], [0.0, 0.0]]])
    out = symmetric_normalize(a, axes=(1, 2))
    assert out[0].tolist() == [[0.5, 1.0], [0.25, 0.5]]
    assert np.all(out[1] == 0.5)  # nothing learned: all grey, not NaN
    assert out[2].tolist() == [[0.0, 0.625], [0.5, 0.5]]


def test_minmax_normalize_and_to_uint8():
    assert minmax_normalize(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax_normalize(np.zeros(3)).tolist() == [0, 0, 0]
    assert minmax_normalize(np.full(2, 5.0)).tolist() == [1, 1]
    assert to_uint8(np.array([-0.2, 0.5, 1.3])).tolist() == [0, 128, 255]


def test_image_shape_of_datasets():
    assert image_shape_of((64,), {"image_shape": [8, 8], "layout": "flat"}) == (8, 8)
    assert image_shape_of((1, 28, 28), {"image_shape": [28, 28], "layout": "image"}) == (28, 28)
    assert image_shape_of((1, 5, 7)) == (5, 7)
    assert image_shape_of((2,), {"layout": "points"}) is None
    assert image_shape_of((64,), {}) is None
    assert image_shape_of((10,), {"image_shape": [8, 8]}) is None  # does not fit: not trusted


def test_sample_images_show_digits_as_drawn():
    data = load_dataset("digits8x8")
    images = sample_images(data.x[:5], data.input_shape, data.preprocessing)
    assert images.shape == (5, 8, 8)
    assert np.allclose(images, data.x[:5].reshape(5, 8, 8))  # 0..16 / 16 is already [0, 1]
    assert sample_images(XOR_X, (2,), {"layout": "points"}) is None
    # Without a known source range each image is min-max scaled.
    raw = np.array([[[2.0, 4.0], [3.0, 2.0]]])
    assert sample_images(raw, (1, 2, 2)).tolist() == [[[0.0, 1.0], [0.5, 0.0]]]


# -- weights -----------------------------------------------------------------------------------------
def test_dense_weight_images_orientation():
    w = np.zeros((6, 2))
    w[1 * 3 + 2, 0] = -3.0  # unit 0: pixel (row 1, col 2)
    w[0, 1] = 5.0  # unit 1: pixel (0, 0)
    images = dense_weight_images(w, (2, 3))
    assert images.shape == (2, 2, 3)
    assert images[0, 1, 2] == 0.0 and images[0, 0, 0] == 0.5
    assert images[1, 0, 0] == 1.0
    with pytest.raises(ValueError, match=r"cannot be shown as 8×8 images: the layer needs 64 inputs"):
        dense_weight_images(np.zeros((10, 3)), (8, 8))


def test_first_dense_weights_for_mlp_image_layout_and_cnn():
    mlp = net_from([{"type": "Dense", "units": 12}, {"type": "Activation", "function": "relu"},
                    {"type": "Dense", "units": 10}], (64,))
    title, images = first_dense_weights(mlp, (8, 8))
    assert title == "layer 1 (Dense 12)" and images.shape == (12, 8, 8)
    assert np.allclose(images[3], symmetric_normalize(mlp.layers[0].params["W"][:, 3].reshape(8, 8)))
    flat = net_from([{"type": "Flatten"}, {"type": "Dense", "units": 4}], (1, 8, 8))
    assert first_dense_weights(flat, (8, 8))[0] == "layer 2 (Dense 4)"
    assert first_dense_weights(cnn(), (8, 8)) is None  # its Dense sees feature maps
    assert first_dense_weights(mlp, None) is None


def test_conv_filter_images_per_filter():
    net = cnn()
    found = conv_filters(net)
    assert [t for t, _ in found] == ["layer 1 (Conv2D 4 3×3 same)", "layer 4 (Conv2D 3 3×3)"]
    assert found[0][1].shape == (4, 2, 3, 3) and found[1][1].shape == (3, 4, 3, 3)
    w = net.layers[0].params["W"]
    img = conv_filter_images(w)
    for f in range(4):
        peak = np.abs(w[f]).max()
        assert np.allclose(img[f], 0.5 + 0.5 * w[f] / peak)
    with pytest.raises(ValueError, match=r"\(out, in, kh, kw\)"):
        conv_filter_images(np.zeros((3, 3)))


def test_tile_images_places_row_by_row():
    imgs = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    grid = tile_images(imgs, columns=2, pad=1, fill=-1.0)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1)
    assert np.array_equal(grid[1:3, 1:3], imgs[0]) and np.array_equal(grid[1:3, 4:6], imgs[1])
    assert np.array_equal(grid[4:6, 1:3], imgs[2]) and np.all(grid[4:6, 4:6] == -1)
    rgb = tile_images(np.zeros((5, 3, 3, 3), np.uint8), fill=255)
    assert rgb.shape == (2 * 4 + 1, 3 * 4 + 1, 3) and rgb[0, 0, 0] == 255
    with pytest.raises(ValueError):
        tile_images(np.zeros((2, 2)))


# -- activations ---------------------------------------------------------------------------------------
def test_activations_of_a_cnn_follow_the_layers():
    net = cnn()
    x = np.random.default_rng(1).random((2, 8, 8)).astype(np.float32)
    acts = activations(net, x)
    titles = [t for t, _ in acts]
    assert titles == ["layer 1 (Conv2D 4 3×3 same) → relu", "layer 4 (Conv2D 3 3×3)", "layer 6 (Dense 5) → softmax"]
    assert [a.shape for _, a in acts] == [(4, 8, 8), (3, 2, 2), (5,)]
    conv1 = net.layers[0].forward(x[None], False)[0]
    assert np.allclose(acts[0][1], np.maximum(conv1, 0), atol=1e-6)
    assert np.allclose(acts[2][1], net.predict(x[None])[0], atol=1e-6)
    assert np.allclose(activations(net, x.reshape(-1))[2][1], acts[2][1])  # flattened sample of the right size
    with pytest.raises(ValueError, match=r"does not fit a network expecting \(2, 8, 8\)"):
        activations(net, np.zeros((3, 3)))


def test_activation_images_shapes():
    maps = activation_images(np.stack([np.zeros((3, 3)), np.arange(9.0).reshape(3, 3)]))
    assert maps.shape == (2, 3, 3) and maps[1].max() == 1.0 and maps[1].min() == 0.0
    dense = activation_images(np.arange(10.0))
    assert dense.shape == (1, 1, 10) and dense[0, 0, -1] == 1.0
    big = activation_images(np.arange(100.0))
    assert big.shape == (1, 10, 10)
    with pytest.raises(ValueError):
        activation_images(np.zeros((2, 2)))


# -- decision regions -----------------------------------------------------------------------------------
def test_plane_bounds_and_points():
    assert plane_bounds(XOR_X, margin=0.1) == pytest.approx((-0.1, 1.1, -0.1, 1.1))
    assert plane_bounds(np.array([[2.0, 3.0]]), margin=0.5) == pytest.approx((1.5, 2.5, 2.5, 3.5))
    pts = plane_points(0, 1, 10, 20, 3)
    assert pts.shape == (9, 2)
    assert pts[1].tolist() == [0.5, 10.0] and pts[3].tolist() == [0.0, 15.0]  # row by row: x varies fastest
    with pytest.raises(ValueError):
        plane_bounds(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        plane_points(0, 1, 0, 1, 1)


def test_decision_grid_separates_xor(xor_net):
    bounds = plane_bounds(XOR_X)
    grid = decision_grid(xor_net, *bounds, resolution=101)
    assert grid.shape == (101, 101, 2)
    assert np.allclose(grid.sum(axis=2), 1.0)
    for (x, y), label in zip(XOR_X, XOR_Y, strict=True):
        r, c = grid_cell(x, y, bounds, 101)
        assert grid[r, c].argmax() == label and grid[r, c, label] > 0.9
    # The grid is the network's own answer at those points.
    r, c = 37, 80
    point = np.array([[np.linspace(bounds[0], bounds[1], 101)[c], np.linspace(bounds[2], bounds[3], 101)[r]]])
    assert np.allclose(grid[r, c], xor_net.predict_proba(point.astype(np.float32))[0], atol=1e-6)
    rgb = mix_class_colors(grid)
    assert rgb.shape == (101, 101, 3)
    with pytest.raises(ValueError, match="2 inputs"):
        decision_grid(cnn(), 0, 1, 0, 1, 10)


def test_grid_cell_clips():
    assert grid_cell(0.5, 0.5, (0, 1, 0, 1), 11) == (5, 5)
    assert grid_cell(-5, 9, (0, 1, 0, 1), 11) == (10, 0)


def test_decision_grid_100x100_is_fast(xor_net):
    bounds = plane_bounds(XOR_X)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        mix_class_colors(decision_grid(xor_net, *bounds, resolution=100))
        times.append(time.perf_counter() - start)
    assert min(times) < 0.02, f"100×100 grid + colours took {min(times) * 1000:.1f} ms"


# -- gradient-check helpers ----------------------------------------------------------------------------
def test_parameter_titles_name_layer_and_parameter():
    net = cnn()
    assert parameter_title(net, "layers.0.W") == "layer 1 (Conv2D 4 3×3 same) · weights W"
    assert parameter_title(net, "layers.5.b") == "layer 6 (Dense 5) · bias b"
    assert parameter_title(net, "input") == "input (gradient with respect to the input)"
    assert parameter_title(net, "layers.99.W") == "layers.99.W"  # unknown keys shown as they are


def test_random_batch_fits_the_network_and_is_seeded():
    net = cnn()
    x, y = random_batch(net, 3, seed=4)
    assert x.shape == (3, 2, 8, 8) and x.dtype == np.float32 and x.min() >= 0 and x.max() < 1
    assert y.shape == (3,) and y.max() < 5
    x2, y2 = random_batch(net, 3, seed=4)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    results = core.check_network(net, x, y)
    assert all(r.passed for r in results)
    binary = net_from([{"type": "Dense", "units": 1}, {"type": "Activation", "function": "sigmoid"}], (3,),
                      loss="binary_cross_entropy")
    assert set(random_batch(binary, 50)[1]) <= {0, 1}


def test_nice_ticks():
    assert nice_ticks(-0.1, 1.1).tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(-1.23, 1.19, 5).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert nice_ticks(0, 1000, 5).tolist() == [0, 200, 400, 600, 800, 1000]
    ticks = nice_ticks(-0.3, 0.3, 6)
    assert 0.0 in ticks.tolist() and not np.signbit(ticks[ticks == 0]).any()  # never "-0"
    assert nice_ticks(1, 1).size == 0 and nice_ticks(0, np.inf).size == 0


def test_thin_indices_keeps_order_and_bounds():
    assert thin_indices(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = thin_indices(1_000_000, 5000)
    assert len(idx) == 5000 and idx[0] == 0 and idx[-1] == 999_999 and np.all(np.diff(idx) > 0)
