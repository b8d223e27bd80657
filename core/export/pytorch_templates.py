"""The text of the PyTorch project's files (``core.export.pytorch`` fills them in).

They are what users read: plain Python with comments that say what each part keeps from
nnstudio. ``str.format`` fields are in single braces; literal braces are doubled.
"""

from __future__ import annotations

MODEL = '''"""PyTorch model of a network exported by nnstudio {version}.

build_model() returns the network as an nn.Module with the exported weights loaded from
weights.npz (beside this file), in evaluation mode. It takes inputs in nnstudio's layout,
(batch, {input_shape_text}) {dtype_name}, preprocessed as in nnstudio (PREPROCESSING below), and
returns what nnstudio's Network.predict returns: the last layer's outputs (batch,
{output_shape_text}). model.probabilities(x) returns what predict_proba returns (the same, unless
the network ends in logits that its loss turns into probabilities).

    import torch
    from model import build_model
    model = build_model()
    with torch.no_grad():
        outputs = model(torch.from_numpy(x))                 # x: numpy array (batch, {input_shape_text})
        probabilities = model.probabilities(torch.from_numpy(x))

weights.npz keeps nnstudio's names and layouts, so nnstudio imports it directly:
"layers.<i>.W" / "layers.<i>.b" for layer i, Dense W (in, out) -- transposed here to
nn.Linear's (out, in) -- and Conv2D W (out_channels, in_channels, kh, kw), PyTorch's own.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: One sample's shape, channels first for images (nnstudio's layout).
INPUT_SHAPE = {input_shape}
#: Class names by output index (None when nnstudio recorded none).
CLASS_NAMES = {class_names}
#: How nnstudio prepared the inputs (scaling, image layout); the model expects them so.
PREPROCESSING = {preprocessing}
#: nnstudio's number type for this network.
DTYPE = {dtype}
#: The loss sees the output of model.layers[:LOSS_INPUT_LAYERS] (with cross-entropy and a
#: final softmax, or binary cross-entropy and a final sigmoid, the loss takes the logits
#: before that activation, as nnstudio does).
LOSS_INPUT_LAYERS = {loss_input_layers}
WEIGHTS = Path(__file__).resolve().with_name("weights.npz")


{helpers}class Network(nn.Module):
    """The nnstudio network, one module per nnstudio layer: self.layers[i] is layer i."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
{layers}
        )

    def forward(self, x):
        """x (batch, *INPUT_SHAPE) -> the last layer's outputs (batch, {output_shape_text}), as
        nnstudio's predict returns them."""
        return self.layers(x)

    def probabilities(self, x):
        """x (batch, *INPUT_SHAPE) -> class probabilities (batch, {output_shape_text}), as
        nnstudio's predict_proba returns them."""
        return {probabilities}


def load_weights(model, path=WEIGHTS):
    """Copy nnstudio's weights (names "layers.<i>.W"/"layers.<i>.b", nnstudio's layouts)
    from the .npz file at path into model."""
    with np.load(path, allow_pickle=False) as arrays, torch.no_grad():
        for i, layer in enumerate(model.layers):
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                weight = arrays[f"layers.{{i}}.W"]
                if isinstance(layer, nn.Linear):
                    weight = weight.T  # nnstudio's Dense W is (in, out); nn.Linear's is (out, in)
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
                if layer.bias is not None:
                    layer.bias.copy_(torch.from_numpy(arrays[f"layers.{{i}}.b"]))


def weights_of(model):
    """The model's weights as nnstudio's arrays: {{"layers.0.W": array, ...}} (nnstudio's layouts)."""
    weights = {{}}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            weight = layer.weight.detach().cpu().numpy()
            weights[f"layers.{{i}}.W"] = weight.T.copy() if isinstance(layer, nn.Linear) else weight
            if layer.bias is not None:
                weights[f"layers.{{i}}.b"] = layer.bias.detach().cpu().numpy()
    return weights


def save_weights(model, path):
    """Write the model's weights to path in weights.npz's layout (nnstudio imports it: File >
    Import trained weights..., or core.export.import_weights(net, path)). The file appears
    complete or not at all."""
    path = Path(path)
    temporary = path.with_name(f".{{path.name}}.partial.npz")
    np.savez(temporary, **weights_of(model))
    temporary.replace(path)


def build_model(weights=WEIGHTS):
    """The network with the weights in the file weights (default: weights.npz beside this
    file) loaded, in evaluation mode (dropout off)."""
    model = Network().to(DTYPE)
    load_weights(model, weights)
    return model.eval()


if __name__ == "__main__":
    model = build_model()
    print(model)
    inputs = torch.rand((2, *INPUT_SHAPE), dtype=DTYPE)
    with torch.no_grad():
        print("probabilities of two random inputs:", model.probabilities(inputs))
'''

#: Helper modules model.py defines only when a layer needs them.
HELPERS = {
    "PaddedConv2d": '''class PaddedConv2d(nn.Conv2d):
    """nn.Conv2d after zero padding pad = (left, right, top, bottom). nnstudio's "same"
    padding is TensorFlow's: when the total padding is odd, the extra row goes at the bottom
    and the extra column at the right, which nn.Conv2d's symmetric padding cannot express."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))
''',
}

TRAIN = '''"""Continue training the network exported by nnstudio {version}, with PyTorch.

One process (CUDA when present, else CPU):
    python train.py --epochs 5 --out trained.npz
Several GPUs or processes on this machine (DistributedDataParallel, nothing else to change):
    torchrun --nproc_per_node=2 train.py --epochs 5 --out trained.npz
Several machines (run on every machine, --node_rank 0, 1, ...):
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 --master_addr=HOST --master_port=29500 \\
        train.py --epochs 5 --out trained.npz

Starts from the exported weights (weights.npz) and trains with nnstudio's loss, optimizer,
hyperparameters and training settings (below). Rank 0 writes --out in weights.npz's layout,
which nnstudio imports (File > Import trained weights..., core.export.import_weights).
python train.py --help lists every option.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from model import DTYPE, LOSS_INPUT_LAYERS, build_model, save_weights

HERE = Path(__file__).resolve().parent

# nnstudio's settings for this network.
LOSS = "{loss_name}"
OPTIMIZER = "{optimizer_name}"  # {optimizer_settings}
LEARNING_RATE = {learning_rate}
EPOCHS = {epochs}
BATCH_SIZE = {batch_size}  # samples per update, over all processes together
VALIDATION_SPLIT = {validation_split}  # fraction of the data held out to watch for overfitting
SHUFFLE = {shuffle}  # reshuffle the samples every epoch
SEED = {seed}
OUTPUT_UNITS = {output_units}
#: The loss takes logits (the network's outputs before its final softmax/sigmoid).
LOSS_ON_LOGITS = {logits}


def loss_function(outputs, targets):
    """The loss of a batch: outputs of model.layers[:LOSS_INPUT_LAYERS], targets (batch, OUTPUT_UNITS)."""
{loss_body}


def make_optimizer(parameters, learning_rate):
    """nnstudio's optimizer with its settings. Weight decay is L2 added to the gradient, as in
    nnstudio (not AdamW's decoupled decay)."""
{optimizer_body}


#: nnstudio's optimizer slot -> the name PyTorch's optimizer keeps it under.
SLOT_NAMES = {slot_names}
#: nnstudio's state kept there under another name (Adam's step count).
STEP_NAME = {step_name}


def load_optimizer_state(optimizer, model, path):
    """Continue nnstudio's optimizer: copy its slots (optimizer.npz: "layers.<i>.W/<slot>" in
    nnstudio's layouts, and "iterations") into the PyTorch optimizer's state."""
    with np.load(path, allow_pickle=False) as slots:
        for i, layer in enumerate(model.layers):
            if not isinstance(layer, (nn.Linear, nn.Conv2d)):
                continue
            for name, parameter in (("W", layer.weight), ("b", layer.bias)):
                state = {{}}
                for slot, torch_name in SLOT_NAMES.items():
                    key = f"layers.{{i}}.{{name}}/{{slot}}"
                    if parameter is None or key not in slots:
                        continue
                    value = slots[key].T if name == "W" and isinstance(layer, nn.Linear) else slots[key]
                    state[torch_name] = torch.from_numpy(np.ascontiguousarray(value)).to(parameter)
                if state and STEP_NAME:
                    state[STEP_NAME] = torch.tensor(float(slots["iterations"]))
                if state:
                    optimizer.state[parameter] = state


def targets_for(y):
    """Labels (n,) -> targets (n, OUTPUT_UNITS), as nnstudio makes them: one-hot, or for one
    output unit the labels as a column; targets already (n, k) are used as they are."""
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float32)
    if OUTPUT_UNITS == 1:
        return y.astype(np.float32).reshape(-1, 1)
    targets = np.zeros((len(y), OUTPUT_UNITS), dtype=np.float32)
    targets[np.arange(len(y)), y.astype(np.int64)] = 1
    return targets


def labels_of(targets):
    """Class labels (n,) of targets (n, k): the one-hot's index, or for one unit target > 0.5."""
    return targets.argmax(dim=1) if targets.shape[1] > 1 else (targets[:, 0] > 0.5).long()


def classes_of(scores):
    """Predicted classes (n,) from scores (n, k): argmax, or for one output unit a threshold
    (0 on logits, 0.5 on probabilities)."""
    if scores.shape[1] == 1:
        return (scores[:, 0] > (0.0 if LOSS_ON_LOGITS else 0.5)).long()
    return scores.argmax(dim=1)


def load_data(path):
    """(x, targets) from an .npz with arrays x (n, *input shape) and y (labels or targets)."""
    if not path.is_file():
        sys.exit(f"train.py: no training data at {{path}}: export the network with its data from nnstudio, "
                 "or pass --data FILE.npz holding x (n, *input shape, preprocessed as in nnstudio) and y (labels)")
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data or "y" not in data:
            sys.exit(f"train.py: {{path}} must hold two arrays named x (inputs) and y (labels)")
        return data["x"], targets_for(data["y"])


def split(n, fraction, seed):
    """Seeded (train, validation) index arrays."""
    order = np.random.default_rng(seed).permutation(n)
    held_out = round(n * fraction)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def start_distributed():
    """(rank, world size, device): torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; NCCL on CUDA,
    gloo on CPU. Without torchrun: one process, rank 0."""
    cuda = torch.cuda.is_available() and not ARGS.cpu
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if cuda else "cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{{local_rank}}" if cuda else "cpu")
    return dist.get_rank(), dist.get_world_size(), device


def summed(values, device, world):
    """Sum a list of numbers over all processes."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def evaluate(model, x, targets, device, batch_size=512):
    """(mean loss, accuracy) of model (the loss's inputs) on (x, targets), dropout off."""
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[i:i + batch_size]).to(device, DTYPE)
            tb = torch.from_numpy(targets[i:i + batch_size]).to(device, DTYPE)
            outputs = model(xb)
            total += float(loss_function(outputs, tb)) * len(xb)
            correct += int((classes_of(outputs) == labels_of(tb)).sum())
    return total / max(len(x), 1), correct / max(len(x), 1)


def main():
    rank, world, device = start_distributed()
    torch.manual_seed(ARGS.seed + rank)  # dropout masks: a different stream per process
    x, targets = load_data(Path(ARGS.data))
    x = np.ascontiguousarray(x, dtype=np.float32 if DTYPE == torch.float32 else np.float64)
    train_idx, val_idx = split(len(x), ARGS.validation_split, ARGS.seed)

    model = build_model(ARGS.weights).to(device)
    # The loss sees the first LOSS_INPUT_LAYERS layers; this Sequential shares their modules
    # (and weights) with model, so training it trains model.
    loss_model = model.layers[:LOSS_INPUT_LAYERS]
    trained = loss_model
    if world > 1:
        trained = DistributedDataParallel(loss_model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(trained.parameters(), ARGS.lr)
    if ARGS.optimizer_state and Path(ARGS.optimizer_state).is_file():
        load_optimizer_state(optimizer, model, ARGS.optimizer_state)

    train_set = TensorDataset(torch.from_numpy(x[train_idx]), torch.from_numpy(targets[train_idx]))
    # --batch-size is the update's batch over all processes: each takes its share, and DDP
    # averages the gradients, so one update sees the same number of samples as in nnstudio.
    per_process = max(1, math.ceil(ARGS.batch_size / world))
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=ARGS.shuffle, seed=ARGS.seed)
    loader = DataLoader(train_set, batch_size=per_process, sampler=sampler)
    if rank == 0:
        print(f"training on {{len(train_idx):,}} samples ({{len(val_idx):,}} held out), {{world}} process(es) on "
              f"{{device.type}}, batch {{per_process * world}}, {{OPTIMIZER}} at learning rate {{ARGS.lr:g}}, {{LOSS}}")

    for epoch in range(ARGS.epochs):
        sampler.set_epoch(epoch)
        trained.train()
        start, total, correct, seen = time.perf_counter(), 0.0, 0, 0
        for xb, tb in loader:
            xb, tb = xb.to(device, DTYPE), tb.to(device, DTYPE)
            optimizer.zero_grad()
            outputs = trained(xb)
            loss = loss_function(outputs, tb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            correct += int((classes_of(outputs.detach()) == labels_of(tb)).sum())
            seen += len(xb)
        total, correct, seen = summed([total, correct, seen], device, world)
        line = f"epoch {{epoch + 1}}/{{ARGS.epochs}}  loss {{total / seen:.4f}}  accuracy {{correct / seen:.4f}}"
        if rank == 0:
            if len(val_idx):  # on process 0 alone, with the modules themselves (not the DDP wrapper)
                val_loss, val_acc = evaluate(loss_model, x[val_idx], targets[val_idx], device)
                line += f"  val_loss {{val_loss:.4f}}  val_accuracy {{val_acc:.4f}}"
            print(f"{{line}}  ({{time.perf_counter() - start:.1f}} s)", flush=True)

    if rank == 0:
        save_weights(model, ARGS.out)
        print(f"wrote {{ARGS.out}}: import it in nnstudio with File > Import trained weights...")
    if world > 1:
        dist.barrier()  # every process stays until process 0 has written --out


def parse_arguments():
    parser = argparse.ArgumentParser(
        description="Continue training the network exported by nnstudio (one process, or distributed "
                    "under torchrun) and write the trained weights in nnstudio's .npz layout.",
        epilog="Distributed: torchrun --nproc_per_node=N train.py ... (gloo on CPU, NCCL on CUDA); "
               "see README.md for several machines.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs to train (nnstudio's setting: {{EPOCHS}})")
    parser.add_argument("--out", default="trained_weights.npz",
                        help="file the trained weights are written to, in weights.npz's layout (default: %(default)s)")
    parser.add_argument("--data", default=str(HERE / "data.npz"),
                        help="training data: .npz with x (n, *input shape) and y (labels) (default: data.npz here)")
    parser.add_argument("--weights", default=str(HERE / "weights.npz"),
                        help="weights to start from (default: the exported weights.npz)")
    parser.add_argument("--optimizer-state", default=str(HERE / "optimizer.npz"),
                        help="nnstudio's optimizer state to continue from (momentum, Adam's averages), when the "
                             "file exists (default: optimizer.npz here); --optimizer-state '' starts afresh")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help=f"samples per update over all processes (nnstudio's setting: {{BATCH_SIZE}})")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE,
                        help=f"learning rate (nnstudio's setting: {{LEARNING_RATE:g}})")
    parser.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT,
                        help=f"fraction held out for validation (nnstudio's setting: {{VALIDATION_SPLIT:g}})")
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false", default=SHUFFLE,
                        help="keep the samples in order" + (" (nnstudio's setting)" if not SHUFFLE else ""))
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"seed of the split, shuffling and dropout (default {{SEED}})")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when CUDA is present")
    arguments = parser.parse_args()
    if arguments.epochs < 0 or arguments.batch_size < 1 or not 0 <= arguments.validation_split < 1:
        parser.error("--epochs must be >= 0, --batch-size >= 1 and --validation-split in [0, 1)")
    return arguments


if __name__ == "__main__":
    ARGS = parse_arguments()
    main()
    if dist.is_initialized():
        # After main() has returned, so the DistributedDataParallel wrapper (and its threads)
        # is gone before the process group it uses.
        dist.destroy_process_group()
        # Leave without the interpreter's teardown: with gloo (PyTorch 2.13, CPU) it sometimes
        # aborts ("terminate called without an active exception") after all work is done,
        # which torchrun reports as a failed run. Everything is written and flushed by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
'''

README = '''# A network exported from nnstudio {version}

{summary}

Dataset: {dataset}. Preprocessing the model expects: {preprocessing}.

## Files

- `model.py`: `build_model()` returns the network as a PyTorch `nn.Module`, one module per
  nnstudio layer (`model.layers[i]` is nnstudio's layer i), with `weights.npz` loaded, in
  evaluation mode. It takes inputs in nnstudio's layout (batch, *input shape, channels
  first for images) and returns what nnstudio's `predict` returns (the last layer's outputs);
  `model.probabilities(x)` returns the class probabilities of `predict_proba`.
- `weights.npz`: the weights in nnstudio's names and layouts (`layers.0.W`, `layers.0.b`, …;
  Dense W is (in, out) and `model.py` transposes it to `nn.Linear`'s (out, in)).
- `train.py`: continues training from these weights (and `optimizer.npz`, the optimizer's
  state, when there is one) and writes the result in the same layout.
- {data}

Needs only PyTorch and NumPy (`pip install torch numpy`).

## Commands

    python model.py                                   # build the model, run two random inputs
    python train.py --help                            # every option
    python train.py --epochs 5 --out trained.npz      # one process: CUDA when present, else CPU

Several GPUs (or CPU processes) on one machine, with DistributedDataParallel and a
DistributedSampler (NCCL on CUDA, gloo on CPU), nothing else to change:

    torchrun --nproc_per_node=2 train.py --epochs 5 --out trained.npz

Several machines: run on each of them, with `--node_rank` 0 on the machine at HOST, 1, 2, …
on the others:

    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 --master_addr=HOST --master_port=29500 \\
        train.py --epochs 5 --out trained.npz

`--batch-size` is the batch of one update over all processes together (each process takes
its share), so the learning rate keeps its meaning. Process 0 writes `--out`.

Bring the trained weights back into nnstudio: File ▸ Import trained weights…, or in Python
`core.export.weights.import_weights(net, "trained.npz")`.

## What is preserved

- The layers and their settings, the weights (exactly), the inference result (checked on
  export to agree with nnstudio within 1e-5 per probability).
- The loss `{loss}` as nnstudio computes it (cross-entropy and binary cross-entropy on the
  logits before the final softmax/sigmoid; means over the batch), the optimizer
  `{optimizer}` with the same update rule (weight decay as L2 added to the gradient), a
  constant learning rate (nnstudio has no schedule), and the training settings: {epochs}
  epochs, batch {batch_size}, validation split {validation_split}, shuffle {shuffle}.

- The optimizer's state (momentum, Adam's running averages and step count) when the network
  had been trained: `optimizer.npz`, which `train.py` continues from (`--optimizer-state ''`
  starts afresh). With the same data order, PyTorch's updates are nnstudio's.

## What is not

- The random streams: shuffling, dropout masks and the validation split use PyTorch's and
  NumPy's generators seeded with the same seed, not nnstudio's exact sequence.
- nnstudio's guards (an update with a non-finite loss is skipped there) and its history.
'''
