"""Cross-check ``core.trace_step`` against PyTorch autograd (not a CI test; needs torch).

For one MLP and one small CNN in float64 with identical weights and batch, compares every
layer's dL/d input, dL/d output and parameter gradients, the loss, and the update of one
optimizer step (torch.optim.SGD with momentum / Adam, both with weight decay) with what the
trace records. Prints the largest relative error per network.

Usage (from the repository root)::

    python benchmarks/check_trace_torch.py
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core import Network, trace_step

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
except ImportError:  # pragma: no cover - the script needs torch
    sys.exit("PyTorch is not installed: pip install torch")

torch.set_default_dtype(torch.float64)

MLP = {"input_shape": [5], "layers": [
    {"type": "Dense", "units": 7}, {"type": "Activation", "function": "tanh"},
    {"type": "Dense", "units": 6}, {"type": "Activation", "function": "gelu"},
    {"type": "Dense", "units": 4}, {"type": "Activation", "function": "leaky_relu"},
    {"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "seed": 1, "dtype": "float64",
    "optimizer": {"type": "Adam", "learning_rate": 0.01, "weight_decay": 0.01}}

CNN = {"input_shape": [2, 8, 8], "layers": [
    {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "valid"},
    {"type": "Activation", "function": "sigmoid"},
    {"type": "AvgPool2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "seed": 2, "dtype": "float64",
    "optimizer": {"type": "SGD", "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01}}


def torch_layer(layer, params, x):
    """The torch op for one engine layer (weights as leaf tensors in ``params``)."""
    kind, c = layer.type_name, layer.config
    if kind == "Dense":
        return x @ params["W"] + params["b"]
    if kind == "Conv2D":
        pad = 0 if c["padding"] == "valid" else (c["kernel_size"] - 1) // 2
        return F.conv2d(x, params["W"], params["b"], stride=c["stride"], padding=pad)
    if kind == "MaxPool2D":
        return F.max_pool2d(x, c["pool_size"])
    if kind == "AvgPool2D":
        return F.avg_pool2d(x, c["pool_size"])
    if kind == "Flatten":
        return x.reshape(x.shape[0], -1)
    activations = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "gelu": F.gelu,
                   "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "softmax": lambda t: torch.softmax(t, -1)}
    return activations[c["function"]](x)


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300))


def check(spec: dict, n: int = 6) -> float:
    net = Network.from_spec(spec)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *spec["input_shape"]))
    y = rng.integers(0, 3, size=n)
    trace = trace_step(net, x, y)

    params = [{k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()} for layer in net.layers]
    acts = []
    out = torch.tensor(x, requires_grad=True)
    inputs = []
    for layer, p in zip(net.layers, params, strict=True):
        out.retain_grad()
        inputs.append(out)
        out = torch_layer(layer, p, out)
        acts.append(out)
        out.retain_grad()
    loss = F.nll_loss(torch.log(out), torch.tensor(y))  # cross-entropy on the probabilities
    loss.backward()

    worst = rel(loss.item(), trace.loss)
    for i, record in enumerate(trace.layers):
        worst = max(worst, rel(record.output, acts[i].detach().numpy()),
                    rel(record.grad_output, acts[i].grad.numpy()),
                    rel(record.grad_input, inputs[i].grad.numpy()))
        for k, g in record.grads.items():
            worst = max(worst, rel(g, params[i][k].grad.numpy()))

    # One optimizer step in torch from the same gradients: its change against the recorded update.
    leaves = [p[k] for p in params for k in p]
    o = spec["optimizer"]
    if o["type"] == "Adam":
        opt = torch.optim.Adam(leaves, lr=o["learning_rate"], weight_decay=o["weight_decay"])
    else:
        opt = torch.optim.SGD(leaves, lr=o["learning_rate"], momentum=o["momentum"], weight_decay=o["weight_decay"])
    before = [t.detach().clone() for t in leaves]
    opt.step()
    changes = iter([(t.detach() - b).numpy() for t, b in zip(leaves, before, strict=True)])
    worst_update = 0.0
    for record in trace.layers:
        for k in record.update:
            worst_update = max(worst_update, rel(record.update[k], next(changes)))
    print(f"{'MLP' if spec is MLP else 'CNN'} ({net.optimizer.type_name}): loss {trace.loss:.6f}; largest relative "
          f"difference to torch autograd: values and gradients {worst:.2e}, optimizer update {worst_update:.2e}")
    return max(worst, worst_update)


if __name__ == "__main__":
    print(f"torch {torch.__version__}")
    worst = max(check(MLP), check(CNN))
    sys.exit(0 if worst < 1e-10 else 1)
