"""core.spec.dataset_fit: network/dataset fit checks and fixes, dataset parameter schemas, previews."""

from __future__ import annotations

import numpy as np
import pytest

from core import LayerSpec, NetworkSpec, analyze
from core.data import DATASET_NAMES, DATASETS, DataError, load_dataset
from core.spec.dataset_fit import (
    DatasetFacts,
    app_problems,
    check_compatibility,
    dataset_param_schema,
    describe_input,
    example_indices,
    fit_spec_to_dataset,
    image_layer_names,
    image_shape_for,
    input_shape_for_layout,
    layout_for_spec,
    output_units,
    preview_images,
    propose_dataset_fit,
    scatter_points,
)


def mlp(inputs=784, hidden=32, outputs=10, loss="cross_entropy") -> NetworkSpec:
    return NetworkSpec.from_dict({
        "input_shape": [inputs],
        "layers": [{"type": "Dense", "units": hidden}, {"type": "Activation", "function": "relu"},
                   {"type": "Dense", "units": outputs}, {"type": "Activation", "function": "softmax"}],
        "loss": loss})


def cnn(shape=(1, 28, 28), outputs=10) -> NetworkSpec:
    return NetworkSpec.from_dict({
        "input_shape": list(shape),
        "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                   {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
                   {"type": "Flatten"}, {"type": "Dense", "units": outputs},
                   {"type": "Activation", "function": "softmax"}]})


# --------------------------------------------------------------------------- checks


def test_matching_network_has_no_problems():
    assert check_compatibility(mlp(64), (64,), 10, "Digits 8×8") == []
    assert check_compatibility(cnn((1, 8, 8)), (1, 8, 8), 10) == []


def test_input_mismatch_names_both_sizes_and_dataset():
    problems = check_compatibility(mlp(784), (64,), 10, "Digits 8×8")
    assert [p.message for p in problems] == ["The network expects 784 inputs but Digits 8×8 has 64 inputs"]
    assert "64" in problems[0].fix


def test_output_mismatch_points_at_last_dense():
    problems = check_compatibility(mlp(2, outputs=10), (2,), 3, "Blobs")
    assert len(problems) == 1
    assert problems[0].message == "The network has 10 outputs but Blobs has 3 classes"
    assert problems[0].layer_index == 2


def test_single_output_fits_two_classes_except_with_softmax_cross_entropy():
    assert check_compatibility(mlp(2, outputs=1, loss="binary_cross_entropy"), (2,), 2) == []
    assert check_compatibility(mlp(2, outputs=1, loss="mse"), (2,), 2) == []
    assert len(check_compatibility(mlp(2, outputs=1, loss="cross_entropy"), (2,), 2)) == 1
    assert len(check_compatibility(mlp(2, outputs=1, loss="mse"), (2,), 3)) == 1


def test_conv_network_fed_flat_points_is_reported_with_the_layer():
    problems = check_compatibility(cnn((1, 8, 8)), (2,), 2, "Moons")
    messages = " | ".join(p.message for p in problems)
    assert "expects 1×8×8 images but Moons has 2 inputs" in messages
    assert "With Moons's samples, layer 1 (Conv2D)" in messages


def test_problems_of_the_spec_itself_are_not_repeated():
    broken = NetworkSpec((64,), ())  # no layers: the editor says so, not the dataset panel
    assert check_compatibility(broken, (64,), 10) == []
    bad_setting = mlp(64).with_layers([LayerSpec.of("Dense", units=0), LayerSpec.of("Dense", units=10)])
    assert check_compatibility(bad_setting, (64,), 10) == []


def test_describe_input():
    assert describe_input((64,)) == "64 inputs"
    assert describe_input((1,)) == "1 input"
    assert describe_input((1, 28, 28)) == "1×28×28 images"
    assert describe_input((3072,)) == "3,072 inputs"


def test_output_units_falls_back_to_last_dense_when_shapes_fail():
    spec = cnn((1, 28, 28), outputs=7).replace(input_shape=(64,))  # Conv2D cannot take (64,)
    assert output_units(spec) == 7
    assert output_units(mlp(64, outputs=5)) == 5
    assert output_units(NetworkSpec((4,), ())) is None


# --------------------------------------------------------------------------- fixes


@pytest.mark.parametrize("spec, shape, classes", [
    (mlp(784), (64,), 10),
    (mlp(64), (2,), 3),
    (mlp(2, outputs=2), (784,), 10),
    (mlp(784), (1, 8, 8), 10),           # Dense first on images: Flatten goes in front
    (cnn((1, 28, 28)), (1, 8, 8), 10),
    (cnn((1, 8, 8), outputs=2), (1, 28, 28), 10),
    (NetworkSpec.from_dict({"input_shape": [1, 8, 8], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3}]}),
     (1, 8, 8), 4),                       # no Dense at all: Flatten + Dense appended
    (NetworkSpec.from_dict({"input_shape": [3], "layers": [{"type": "Activation", "function": "relu"}]}), (2,), 2),
])
def test_fit_makes_the_spec_valid_for_the_dataset(spec, shape, classes):
    fitted = fit_spec_to_dataset(spec, shape, classes)
    assert check_compatibility(fitted, shape, classes) == []
    assert analyze(fitted).ok
    assert fitted.input_shape == shape
    assert (fitted.loss, fitted.seed, dict(fitted.optimizer)) == (spec.loss, spec.seed, dict(spec.optimizer))


def test_fit_changes_only_first_and_last_layers():
    spec = mlp(784, hidden=48, outputs=10)
    fitted = fit_spec_to_dataset(spec, (2,), 3)
    assert [layer.type for layer in fitted.layers] == [layer.type for layer in spec.layers]
    assert fitted.layers[0] == spec.layers[0]  # hidden width kept
    assert fitted.layers[2].config["units"] == 3
    assert fitted.layers[2].config.get("kernel_initializer", "glorot_uniform") == "glorot_uniform"


def test_fit_keeps_a_single_binary_output():
    spec = mlp(64, outputs=1, loss="binary_cross_entropy")
    assert fit_spec_to_dataset(spec, (2,), 2).layers[2].config["units"] == 1


def test_fit_is_identity_when_already_compatible():
    spec = mlp(64)
    assert fit_spec_to_dataset(spec, (64,), 10) == spec


def test_fit_cannot_turn_points_into_images_and_says_so():
    spec = cnn((1, 28, 28))
    fitted = fit_spec_to_dataset(spec, (2,), 2)
    assert any("Conv2D" in p.message for p in check_compatibility(fitted, (2,), 2))


def test_layout_follows_the_first_layer():
    assert layout_for_spec(mlp(784)) == "flat"
    assert layout_for_spec(cnn()) == "image"
    flatten_first = NetworkSpec.from_dict({"input_shape": [1, 28, 28],
                                           "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]})
    assert layout_for_spec(flatten_first) == "image"
    assert layout_for_spec(NetworkSpec((64,), ())) == "flat"
    assert input_shape_for_layout((8, 8), "flat") == (64,)
    assert input_shape_for_layout((28, 28), "image") == (1, 28, 28)
    with pytest.raises(ValueError):
        input_shape_for_layout((8, 8), "points")


def test_layout_choice_gives_the_shape_the_loader_makes():
    spec = cnn((1, 8, 8))
    data = load_dataset("digits8x8", layout=layout_for_spec(spec))
    assert data.input_shape == input_shape_for_layout((8, 8), layout_for_spec(spec)) == spec.input_shape


# --------------------------------------------------------------------------- dataset parameters


def test_every_named_dataset_parameter_has_a_schema_with_its_default():
    for name in DATASET_NAMES:
        schema = dataset_param_schema(name)
        assert [p.name for p in schema] == list(DATASETS[name].params)
        assert {p.name: p.default for p in schema} == DATASETS[name].params
        assert all(p.help for p in schema)
    with pytest.raises(KeyError):
        dataset_param_schema("nope")


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if DATASETS[n].kind == "generated"])
def test_schema_ranges_are_accepted_by_the_loader(name):
    schema = {p.name: p for p in dataset_param_schema(name)}
    for key, p in schema.items():
        for value in (p.minimum, p.maximum):
            if key == "n_samples" and value == p.maximum:
                value = 5_000  # the maximum is checked below without generating a million points
            value = int(value) if p.kind == "int" else float(value)
            data = load_dataset(name, **{key: value})
            if key == "n_classes":
                assert data.n_classes == value
    # Just outside the ranges the loader refuses: the schema is not stricter than needed there.
    with pytest.raises(DataError):
        load_dataset(name, noise=schema["noise"].maximum * 1.01)
    with pytest.raises(DataError):
        load_dataset(name, n_samples=int(schema["n_samples"].maximum) + 1)


# --------------------------------------------------------------------------- previews


def test_example_indices_one_per_class_in_class_order():
    y = np.array([3, 1, 0, 2, 1, 0, 3, 2, 2])
    idx = example_indices(y, 4, count=4)
    assert y[idx].tolist() == [0, 1, 2, 3]
    assert idx.tolist() == [2, 1, 3, 0]  # the first sample of each class


def test_example_indices_fill_up_with_second_examples_and_stop_when_exhausted():
    y = np.array([0, 1, 0, 1, 0])
    idx = example_indices(y, 2, count=10)
    assert idx.tolist() == [0, 1, 2, 3, 4]
    assert example_indices(y, 2, count=3).tolist() == [0, 1, 2]
    assert len(example_indices(np.arange(20) % 20, 20, count=10)) == 10


def test_image_shape_for():
    assert image_shape_for((1, 28, 28)) == (28, 28)
    assert image_shape_for((64,), {"image_shape": [8, 8]}) == (8, 8)
    assert image_shape_for((64,), {}) is None
    assert image_shape_for((2,), {"image_shape": [8, 8]}) is None
    assert image_shape_for((3, 4, 5)) == (4, 5)


def test_preview_images_stretch_to_full_range():
    x = np.linspace(0, 0.5, 3 * 64, dtype=np.float32).reshape(3, 64)
    images = preview_images(x, np.array([2, 0]), (8, 8))
    assert images.shape == (2, 8, 8) and images.dtype == np.uint8
    assert images[1, 0, 0] == 0 and images[0, 7, 7] == 255
    assert images[0].mean() > images[1].mean()
    flat_const = np.ones((2, 1, 4, 4), dtype=np.float32)
    assert not preview_images(flat_const, np.array([0, 1]), (4, 4)).any()


def test_scatter_points_keep_aspect_and_fit_unit_square():
    x = np.array([[-2.0, -1.0], [2.0, 1.0], [0.0, 0.0]])
    y = np.array([0, 1, 0])
    pts, labels = scatter_points(x, y, margin=0.0)
    assert labels.tolist() == [0, 1, 0]
    assert pts.min() >= 0 and pts.max() <= 1
    np.testing.assert_allclose(pts[0], [0.0, 0.25])
    np.testing.assert_allclose(pts[1], [1.0, 0.75])
    np.testing.assert_allclose(pts[2], [0.5, 0.5])


def test_scatter_points_subsample_reproducibly():
    data = load_dataset("moons", n_samples=5000)
    a, la = scatter_points(data.x, data.y, max_points=300, seed=1)
    b, lb = scatter_points(data.x, data.y, max_points=300, seed=1)
    assert a.shape == (300, 2) and np.array_equal(a, b) and np.array_equal(la, lb)
    assert set(la.tolist()) == {0, 1}
    one_feature, _ = scatter_points(np.array([[1.0], [3.0]]), np.array([0, 1]), margin=0.0)
    np.testing.assert_allclose(one_feature, [[0.0, 0.5], [1.0, 0.5]])


# --------------------------------------------------------------------------- advice the app can follow

DIGITS = DatasetFacts("Digits 8×8", (64,), 10, (8, 8), has_layout=True)
XOR = DatasetFacts("XOR", (2,), 2)


def conv_on_top(spec: NetworkSpec) -> NetworkSpec:
    return spec.with_layers((LayerSpec.of("Conv2D", filters=8, kernel_size=3, padding="same"), *spec.layers))


def test_engine_advice_for_flat_input_names_no_app_control():
    problem = analyze(conv_on_top(mlp(64))).problems[0]
    assert problem.fix.startswith("feed it images shaped (channels, height, width), e.g. (1, 8, 8)")
    assert "input shape" not in problem.fix


def test_conv_on_top_of_a_digits_mlp_is_fixed_by_switching_the_dataset_to_images():
    spec = conv_on_top(mlp(64))
    problems = app_problems(spec, DIGITS)
    assert [p.fix for p in problems] == ["switch Digits 8×8 to images: the Fix button does it"]
    fit = propose_dataset_fit(spec, DIGITS)
    assert fit.label == "Use Digits 8×8 as 8×8 images" and fit.layout == "image"
    assert fit.spec.input_shape == (1, 8, 8)
    assert [layer.type for layer in fit.spec.layers][:3] == ["Conv2D", "Flatten", "Dense"]
    assert analyze(fit.spec).ok and check_compatibility(fit.spec, (1, 8, 8), 10) == []


def test_image_layer_below_dense_is_told_to_move_up_and_has_no_one_click_fix():
    spec = mlp(64)
    spec = spec.with_layers((*spec.layers[:1], LayerSpec.of("Conv2D", filters=8, kernel_size=3), *spec.layers[1:]))
    (problem,) = app_problems(spec, DIGITS)
    # every registered image layer is named (Conv2D, MaxPool2D and AvgPool2D today)
    assert {"Conv2D", "MaxPool2D", "AvgPool2D"} <= set(image_layer_names())
    assert problem.fix.startswith(f"move the image layers ({', '.join(image_layer_names())}) to the top")
    assert propose_dataset_fit(spec, DIGITS) is None


def test_points_cannot_become_images_so_the_advice_names_image_datasets():
    (problem,) = app_problems(conv_on_top(mlp(2)), XOR)
    assert problem.fix == ("XOR has no images: choose an image dataset (8×8 digits or MNIST) in the Dataset panel, "
                           "or remove this layer")
    assert propose_dataset_fit(conv_on_top(mlp(2)), XOR) is None
    (unknown,) = app_problems(conv_on_top(mlp(2)), None)  # dataset not available (MNIST missing)
    assert "choose an image dataset (8×8 digits or MNIST) in the Dataset panel" in unknown.fix


def test_dataset_problems_come_after_the_spec_is_valid_and_the_fit_repairs_them():
    spec = mlp(64, outputs=5)
    (problem,) = app_problems(spec, DIGITS)
    assert problem.message == "The network has 5 outputs but Digits 8×8 has 10 classes"
    fit = propose_dataset_fit(spec, DIGITS)
    assert fit.label == "Fit the network to Digits 8×8" and fit.layout is None
    assert app_problems(fit.spec, DIGITS) == []
    assert propose_dataset_fit(fit.spec, DIGITS) is None  # nothing left to fix
    wrong_input = mlp(784)
    (problem,) = [p for p in app_problems(wrong_input, DIGITS) if p.layer_index is None]
    assert "input shape" not in problem.fix and propose_dataset_fit(wrong_input, DIGITS).spec.input_shape == (64,)


# --------------------------------------------------------------------------- image layers come from the registry


@pytest.fixture
def image_layer_type():
    """A layer type registered by the test only, that needs images (``input_rank = 3``) as
    Conv2D does: nothing in core.spec.dataset_fit names it, yet it must be treated as an image layer."""
    from core.layers.base import Layer
    from core.registry import LAYER_TYPES, register_layer

    @register_layer
    class TestBlur2D(Layer):
        type_name = "TestBlur2D"
        summary = "blurs each channel (a test-only image layer)"
        category = "pooling"
        palette_order = 10_000
        input_rank = 3

        def output_shape(self, input_shape):
            if len(input_shape) != 3:
                raise self.shape_error(f"{self.type_name} needs images", "use image input", "needs_image_input")
            return tuple(input_shape)

    yield TestBlur2D
    LAYER_TYPES.pop(TestBlur2D.type_name)


def blur_on_top(spec: NetworkSpec) -> NetworkSpec:
    return spec.with_layers((LayerSpec("TestBlur2D"), *spec.layers))


def test_a_newly_registered_image_layer_is_image_first_with_no_edit_here(image_layer_type):
    from core.spec.dataset_fit import image_layer_names

    assert "TestBlur2D" in image_layer_names() and "Conv2D" in image_layer_names()
    assert "Dense" not in image_layer_names() and "Flatten" not in image_layer_names()
    # first layer: image datasets switch to images for it, as for Conv2D
    spec = blur_on_top(mlp(64)).replace(input_shape=(1, 8, 8))
    assert layout_for_spec(spec) == "image"
    fit = propose_dataset_fit(blur_on_top(mlp(64)), DIGITS)
    assert fit is not None and fit.layout == "image" and fit.spec.input_shape == (1, 8, 8)
    assert [layer.type for layer in fit.spec.layers][:3] == ["TestBlur2D", "Flatten", "Dense"]
    # below a Dense layer: told to move up, and the advice names it with the other image layers
    below = mlp(64).with_layers((*mlp(64).layers[:1], LayerSpec("TestBlur2D"), *mlp(64).layers[1:]))
    (problem,) = app_problems(below, DIGITS)
    names = image_layer_names()
    assert names[:2] == ("Conv2D", "MaxPool2D") and names[-1] == "TestBlur2D"
    assert problem.fix.startswith(f"move the image layers ({', '.join(names)}) to the top")


def test_an_activation_above_an_image_layer_keeps_it_first_but_flatten_does_not():
    relu_then_conv = conv_on_top(mlp(64)).with_layers(
        (LayerSpec.of("Activation", function="relu"), *conv_on_top(mlp(64)).layers))
    assert [p.fix for p in app_problems(relu_then_conv, DIGITS)] == [
        "switch Digits 8×8 to images: the Fix button does it"]
    flatten_then_conv = conv_on_top(mlp(64)).with_layers((LayerSpec("Flatten"), *conv_on_top(mlp(64)).layers))
    (problem, *_) = app_problems(flatten_then_conv, DIGITS)
    # every registered image layer is named (Conv2D, MaxPool2D and AvgPool2D today)
    assert {"Conv2D", "MaxPool2D", "AvgPool2D"} <= set(image_layer_names())
    assert problem.fix.startswith(f"move the image layers ({', '.join(image_layer_names())}) to the top")


def test_problems_carry_codes_and_app_advice_dispatches_on_them():
    from core.spec.dataset_fit import INPUT_MISMATCH, OUTPUT_MISMATCH

    problems = check_compatibility(mlp(784, outputs=5), (64,), 10, "Digits 8×8")
    assert [p.code for p in problems] == [INPUT_MISMATCH, OUTPUT_MISMATCH]
    assert problems[0].fix == "set the network's input to 64 inputs"
    trained = check_compatibility(mlp(784, outputs=5), (64,), 10, "Digits 8×8", trained=True)
    assert [p.message for p in trained] == [p.message for p in problems]  # the same mismatch, the same sentence
    assert trained[0].fix == "train the network on this dataset first"
    assert app_problems(mlp(784), DatasetFacts("Digits 8×8", (64,), 10))[0].fix == (
        "the Fix button adapts it (the input follows the dataset)")


def test_one_check_one_sentence_in_the_engine_the_cli_and_evaluation(tmp_path, capsys):
    """The same mismatch reads the same in core.spec.dataset_fit, core.analysis.evaluation.evaluate and the CLI."""
    from core import Network
    from core.analysis.evaluation import evaluate
    from core.cli import main
    from core.saving import save_model

    network = Network.from_spec(mlp(64))
    expected = check_compatibility(network.to_spec(), (2,), 2, "the dataset", trained=True)[0]
    assert expected.code == "dataset_input_mismatch"  # the first of two (the outputs do not fit either)
    with pytest.raises(ValueError) as raised:
        evaluate(network, np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]))
    assert str(raised.value) == str(expected)
    network.metadata = {"dataset": {"name": "digits8x8"}}
    save_model(network, tmp_path / "m.nnz")
    assert main(["evaluate", str(tmp_path / "m.nnz"), "--dataset", "xor"]) == 2
    cli_problem = check_compatibility(network.to_spec(), (2,), 2, "dataset xor", trained=True)[0]
    line = capsys.readouterr().err.strip()
    assert line.endswith("error: t" + str(cli_problem)[1:])
