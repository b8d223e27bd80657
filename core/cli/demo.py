"""``demo``: a short training run on the bundled 8x8 digits, with the test results."""

from __future__ import annotations

import argparse
import time
from typing import Any

from core.cli.datasets import DEFAULT_TEST_SPLIT
from core.cli.errors import EXIT_OK, CliError
from core.cli.evaluate import evaluation_text
from core.cli.progress import train_network
from core.cli.spec_files import output_path
from core.cli.train import describe_net
from core.network import Network
from core.saving import save_model
from core.spec.model import NetworkSpec, TrainingConfig

#: The network ``demo`` trains: a small MLP, softmax + cross-entropy, Adam.
DEMO_SPEC: dict[str, Any] = {
    "input_shape": [64], "layers": [
        {"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
        {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 0}


DEMO_TRAINING = {"epochs": 20, "batch_size": 32, "validation_split": 0.1, "shuffle": True}


def cmd_demo(args: argparse.Namespace) -> int:
    from core.data import load_dataset

    if args.epochs < 1:
        raise CliError(f"--epochs must be at least 1, not {args.epochs}")
    output = output_path(args.output) if args.output else None
    dataset = load_dataset("digits8x8")
    spec = NetworkSpec.from_dict(DEMO_SPEC)
    config = TrainingConfig.from_dict({**DEMO_TRAINING, "epochs": args.epochs})
    network = Network.from_spec(spec)
    splits = dataset.split(spec.seed, config.validation_split, DEFAULT_TEST_SPLIT)
    network.metadata = {
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "params": {}},
        "class_names": list(dataset.class_names), "preprocessing": dict(dataset.preprocessing),
        "training": config.to_dict(),
        "split": {"seed": spec.seed, "validation_fraction": config.validation_split,
                  "test_fraction": DEFAULT_TEST_SPLIT},
    }
    print("nnstudio demo: a small network learns to read 8x8 handwritten digits")
    print(f"network: {describe_net(network)}; softmax + cross-entropy, Adam (learning rate "
          f"{network.optimizer.learning_rate:g})")
    print(f"data: {dataset.n_samples:,} digits -> {len(splits.y_train):,} training, {len(splits.y_val):,} "
          f"validation, {len(splits.y_test):,} test")
    start = time.perf_counter()
    train_network(network, splits.x_train, splits.y_train, config, (splits.x_val, splits.y_val))
    seconds = time.perf_counter() - start
    print(f"trained {config.epochs} epochs in {seconds:.1f} s")
    print(evaluation_text(network, splits.x_test, splits.y_test, dataset.class_names,
                          f"the {len(splits.y_test):,} test digits the network never saw"))
    if output is not None:
        save_model(network, output, training_config=config)
        print(f"saved {output}")
    return EXIT_OK
