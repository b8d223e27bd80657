"""``train SPEC.json|--preset NAME --dataset NAME -o MODEL.nnz``: train and save a network."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.datasets import DEFAULT_TEST_SPLIT, load_named_dataset
from core.cli.errors import EXIT_OK, CliError
from core.cli.fit import check_compatible, fit_inputs
from core.cli.progress import train_network
from core.cli.spec_files import network_from_spec, output_path, read_spec
from core.network import Network
from core.saving import save_model
from core.spec.model import NetworkSpec, TrainingConfig

#: Built-in networks for ``train --preset``: spec, default dataset and training settings.
PRESETS: dict[str, dict[str, Any]] = {
    "xor": {
        "spec": {"input_shape": [2], "layers": [
            {"type": "Dense", "units": 3}, {"type": "Activation", "function": "tanh"},
            {"type": "Dense", "units": 1}, {"type": "Activation", "function": "tanh"}],
            "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 0},
        "dataset": "xor",
        "training": {"epochs": 1000, "batch_size": 1, "validation_split": 0.0, "shuffle": True},
        "test_split": 0.0,
    },
    "digits": {
        "spec": {"input_shape": [64], "layers": [
            {"type": "Dense", "units": 15}, {"type": "Activation", "function": "relu"},
            {"type": "Dense", "units": 10}, {"type": "Activation", "function": "sigmoid"}],
            "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 1.0}, "seed": 2},
        "dataset": "digits8x8",
        "training": {"epochs": 100, "batch_size": 15, "validation_split": 0.1, "shuffle": True},
        "test_split": 0.2,
    },
}


def cmd_train(args: argparse.Namespace) -> int:
    preset = PRESETS.get(args.preset) if args.preset else None
    spec = NetworkSpec.from_dict(preset["spec"]) if preset else read_spec(args.spec)
    if args.learning_rate is not None:
        spec = spec.replace(optimizer={**dict(spec.optimizer), "learning_rate": args.learning_rate})
    if args.seed is not None:
        spec = spec.replace(seed=args.seed)
    spec = NetworkSpec.from_dict(spec.to_dict())  # re-validate the overridden settings
    base = dict(preset["training"]) if preset else TrainingConfig().to_dict()
    for key in ("epochs", "batch_size", "validation_split"):
        if getattr(args, key) is not None:
            base[key] = getattr(args, key)
    config = TrainingConfig.from_dict(base)
    test_split = args.test_split if args.test_split is not None else (
        preset["test_split"] if preset else DEFAULT_TEST_SPLIT)
    dataset_name = args.dataset or (preset["dataset"] if preset else None)
    if dataset_name is None:
        raise CliError("train needs --dataset NAME (or use --preset)")
    output = output_path(args.output)

    network = network_from_spec(spec, args.spec or f"preset {args.preset!r}")
    dataset, options = load_named_dataset(dataset_name, args.dataset_option, args.download)
    check_compatible(network, dataset)
    splits = dataset.split(spec.seed, config.validation_split, test_split)
    network.metadata = {
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "params": options},
        "class_names": list(dataset.class_names),
        "preprocessing": dict(dataset.preprocessing),
        "training": config.to_dict(),
        "split": {"seed": spec.seed, "validation_fraction": config.validation_split, "test_fraction": test_split},
    }
    x_train, x_val, x_test = (fit_inputs(network, a) for a in (splits.x_train, splits.x_val, splits.x_test))
    print(f"training {describe_net(network)} on {dataset.name}: {len(x_train):,} training, "
          f"{len(x_val):,} validation, {len(x_test):,} test samples", file=sys.stderr)
    train_network(network, x_train, splits.y_train, config, (x_val, splits.y_val))
    if len(x_test):
        metrics = network.evaluate(x_test, splits.y_test)
        what = "all samples (the set is too small to split)" if dataset.split_mode == "all" else "test set"
        print(f"{what}: accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.6g} ({len(x_test):,} samples)")
    save_model(network, output, training_config=config)
    print(f"saved {output}")
    return EXIT_OK


def describe_net(network: Network) -> str:
    return f"{network!r} ({network.param_count:,} parameters)"
