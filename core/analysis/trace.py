"""One training step, traced: every forward value, gradient and update of one batch.

``trace_step(net, x, y)`` runs the forward and backward pass of ``Network.train_step`` on
the batch (same loss path, fused or not, same dtype, dropout masks drawn from ``net.rng``),
computes what the network's optimizer would change by running the optimizer's own ``step``
on copies, and then puts back everything it touched: the weights, the optimizer (slots and
``iterations``), the generator state, layer state and the layers' ``grads``. Nothing is
trained until ``StepTrace.apply()``, which runs the network's optimizer on the recorded
gradients and leaves the generator where the forward pass left it, so applying the trace of
a batch is bit-identical to training that batch (``fit`` / ``run_training``).

With the fused softmax/sigmoid + cross-entropy path the engine never runs the final
activation during training; its record is filled from the loss so it still shows the true
per-layer gradients: dL/d(probabilities) at its output (the loss's ``gradient`` on the
probabilities) and the fused (p − y) / n (divided as the loss divides) at its input, the
gradient the engine propagates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.data.validate import check_labels
from core.errors import TrainingError
from core.layers.dropout import Dropout

Slots = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class OptimizerStepState:
    """The optimizer's state for one layer's parameters, before and after the step.

    ``before`` / ``after``: parameter name -> slot name -> array of the parameter's shape
    (Adam: ``m``, ``v``; SGD with momentum: ``velocity``; plain SGD: none). A slot the
    optimizer creates at this step shows as zeros before it, which is what it starts from.
    ``iterations_before`` / ``iterations_after``: the optimizer's step count (Adam's t is
    ``iterations_after``). ``config``: its settings (learning rate, betas, weight decay …).
    ``bias_corrections``: for a setting named ``beta1``/``beta2``, 1 − beta^t at this step
    (Adam's m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)); empty for optimizers without betas.
    """

    before: Slots
    after: Slots
    iterations_before: int
    iterations_after: int
    config: dict[str, Any]
    bias_corrections: dict[str, float]


@dataclass(frozen=True)
class LayerTrace:
    """One layer of a traced step (arrays carry the batch axis, in the network dtype).

    input (batch, *in_shape), output (batch, *out_shape); grad_output dL/d output (shape of
    output), grad_input dL/d input (shape of input); params: name -> value before the step;
    grads: name -> dL/d param (before weight decay, as the layer computed it); update:
    name -> the change the optimizer makes this step (value after − value before);
    params_after: name -> value after the step. ``fused``: the final activation folded into
    the loss (see the module docstring). ``mask``: for Dropout, the mask this step drew
    (shape of output: 0 where a value was dropped, 1/(1 − rate) where it was kept); None
    for every other layer.
    """

    index: int
    type: str
    description: str
    input: np.ndarray
    output: np.ndarray
    grad_output: np.ndarray
    grad_input: np.ndarray
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    update: dict[str, np.ndarray]
    params_after: dict[str, np.ndarray]
    optimizer_state: OptimizerStepState
    fused: bool = False
    mask: np.ndarray | None = None


@dataclass
class StepTrace:
    """The trace of one training step on one batch; ``apply()`` trains it.

    loss: the batch loss exactly as training computes it; outputs (batch, *output_shape):
    the network's outputs (probabilities when it ends with softmax/sigmoid); scores: what
    ``train_step`` returns (logits on the fused path); targets (batch, k); layers: one
    ``LayerTrace`` per layer, in order. ``finite``: loss and every gradient are finite
    (``apply`` refuses otherwise, as training does).
    """

    loss: float
    outputs: np.ndarray
    scores: np.ndarray
    targets: np.ndarray
    layers: list[LayerTrace]
    finite: bool
    applied: bool = False
    _net: Any = field(default=None, repr=False)
    _optimizer: Any = field(default=None, repr=False)
    _keys: list[tuple[str, int, str]] = field(default_factory=list, repr=False)
    _optimizer_before: dict[str, Any] = field(default_factory=dict, repr=False)
    _rng_before: dict[str, Any] = field(default_factory=dict, repr=False)
    _rng_after: dict[str, Any] = field(default_factory=dict, repr=False)
    _state_after: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def apply(self) -> None:
        """Train this batch: run the network's optimizer on the recorded gradients (its
        ``step``, exactly as ``train_step`` does), advance its step count and slots, and set
        the generator (and any layer state) to where the traced forward pass left them.

        TrainingError, with nothing changed, if the trace was applied already or the
        network, its optimizer or its generator changed since the trace was taken. If the
        loss or a gradient is not finite, TrainingError as ``train_step`` raises it, with
        the weights and optimizer unchanged and the generator advanced, as training leaves
        them.
        """
        net = self._net
        if self.applied:
            raise TrainingError("this step was applied already: trace the next batch to train again")
        self._check_unchanged()
        if not self.finite:  # train_step refuses the update after the forward pass has run
            if self._state_after:
                net.load_state_dict(self._state_after)
            net.rng.bit_generator.state = self._rng_after
            what = "loss" if not np.isfinite(self.loss) else "gradient"
            raise TrainingError(f"the {what} became {'NaN' if np.isnan(self.loss) else 'infinite'}")
        params = {key: p for key, p, _ in net.parameters()}
        grads = {key: self.layers[i].grads[name].copy() for key, i, name in self._keys}
        net.optimizer.step([(key, params[key], grads[key]) for key, _, _ in self._keys])
        if self._state_after:
            net.load_state_dict(self._state_after)
        net.rng.bit_generator.state = self._rng_after
        self.applied = True

    def _check_unchanged(self) -> None:
        net = self._net
        stale = TrainingError("the network changed since this step was traced (it trained, or its weights, "
                              "optimizer or settings were changed): trace the batch again")
        if net.optimizer is not self._optimizer or net.optimizer.iterations != self._optimizer_before["iterations"]:
            raise stale
        if net.optimizer.to_dict() != self._optimizer_before["config"]:
            raise stale
        if net.rng.bit_generator.state != self._rng_before:
            raise stale
        params = {key: p for key, p, _ in net.parameters()}
        if set(params) != {key for key, _, _ in self._keys}:
            raise stale
        for key, i, name in self._keys:
            if not np.array_equal(params[key], self.layers[i].params[name], equal_nan=True):
                raise stale
        slots = net.optimizer.state_dict()["slots"]
        if set(slots) != set(self._optimizer_before["slots"]):
            raise stale
        for name, value in slots.items():
            if not np.array_equal(value, self._optimizer_before["slots"][name], equal_nan=True):
                raise stale


def trace_step(net: Any, x: np.ndarray, y: np.ndarray) -> StepTrace:
    """Trace one training step of ``net`` on the batch x (batch, *input_shape), y labels
    (batch,) or targets (batch, k). Changes nothing until ``apply()``.

    Raises TrainingError for inputs of the wrong shape or an empty batch, and the errors of
    ``core.data.validate`` for non-finite inputs or bad labels, as ``fit`` does.
    """
    net._ensure_built()
    x = net._check_input(x, "the batch")
    y = np.asarray(y)
    if x.shape[0] == 0:
        raise TrainingError("the batch is empty: give at least one sample")
    if x.shape[0] != len(y):
        raise TrainingError(f"the batch has {x.shape[0]:,} inputs but {len(y):,} labels")
    out_shape = net.output_shape
    check_labels(y, out_shape[0] if len(out_shape) == 1 else 0, "the batch labels")
    targets = net.targets(y)

    layers = net.layers
    split = net._fused_split()
    loss_fn = net.loss
    fused_loss = loss_fn.fused_activation is not None
    rng_before = copy.deepcopy(net.rng.bit_generator.state)
    state_before = net.state_dict()
    saved_grads = [{name: g.copy() for name, g in layer.grads.items()} for layer in layers]

    # Forward, exactly as Network.compute_gradients (training mode, up to the fused split).
    try:
        inputs: list[np.ndarray] = []
        outputs: list[np.ndarray] = []
        out = x
        for layer in layers[:split]:
            inputs.append(out)
            out = layer.forward(out, True)
            outputs.append(out)
        rng_after = copy.deepcopy(net.rng.bit_generator.state)
        state_after = net.state_dict()
        scores = out
        with np.errstate(all="ignore"):
            if fused_loss:
                loss = loss_fn.value_from_logits(out, targets)
                g = loss_fn.gradient_from_logits(out, targets)
            else:
                loss = loss_fn.value(out, targets)
                g = loss_fn.gradient(out, targets)
        fused_record: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        if split < len(layers):  # the final softmax/sigmoid, folded into the loss
            probabilities = loss_fn.outputs_from_logits(out)
            with np.errstate(all="ignore"):
                grad_probabilities = loss_fn.gradient(probabilities, targets)
            fused_record = (out, probabilities, grad_probabilities, g)
        # Backward, exactly as the engine (the first layer's input gradient too, for display;
        # its parameter gradients do not depend on it).
        grad_outputs: list[np.ndarray] = [np.empty(0)] * split
        grad_inputs: list[np.ndarray] = [np.empty(0)] * split
        grads: list[dict[str, np.ndarray]] = [{} for _ in layers]
        masks: list[np.ndarray | None] = [None] * len(layers)
        for i in range(split - 1, -1, -1):
            grad_outputs[i] = g
            g = layers[i].backward_input(g)
            grad_inputs[i] = g
            grads[i] = {name: _read_only(grad.copy()) for name, grad in layers[i].grads.items()}
            if isinstance(layers[i], Dropout):  # its backward multiplies by the mask: of ones, the mask
                masks[i] = layers[i].backward_input(np.ones_like(outputs[i]))
    finally:
        # Put back everything the passes touched: generator, layer state, scratch gradients.
        net.rng.bit_generator.state = rng_before
        if state_before:
            net.load_state_dict(state_before)
        for layer, saved in zip(layers, saved_grads, strict=True):
            for name, value in saved.items():
                layer.grads[name][...] = value

    finite = bool(np.isfinite(loss)) and all(np.isfinite(np.vdot(gr, gr)) for d in grads for gr in d.values())

    # What the optimizer will do: its own step, on copies of itself and of the parameters.
    optimizer = net.optimizer
    shadow = copy.deepcopy(optimizer)
    keys = [(f"layers.{i}.{name}", i, name) for i, layer in enumerate(layers) for name in layer.params]
    before = {key: layers[i].params[name].copy() for key, i, name in keys}
    after = {key: value.copy() for key, value in before.items()}
    with np.errstate(all="ignore"):
        shadow.step([(key, after[key], grads[i][name].copy()) for key, i, name in keys])
        updates = {key: after[key] - before[key] for key in after}
    config = optimizer.to_dict()
    t = shadow.iterations
    corrections = {f"1 - {name}^t": 1 - config[name] ** t for name in ("beta1", "beta2") if name in config}

    def slots(opt_state: dict[str, dict[str, np.ndarray]], i: int, like: Slots | None) -> Slots:
        result: Slots = {}
        for name in layers[i].params:
            key = f"layers.{i}.{name}"
            have = {slot: arr.copy() for slot, arr in opt_state.get(key, {}).items()}
            if like is not None:  # slots created at this step start from zeros
                for slot, arr in like.get(name, {}).items():
                    have.setdefault(slot, np.zeros_like(arr))
            result[name] = have
        return result

    records: list[LayerTrace] = []
    for i, layer in enumerate(layers):
        state_after_i = slots(shadow.state, i, None)
        opt_state = OptimizerStepState(slots(optimizer.state, i, state_after_i), state_after_i,
                                       optimizer.iterations, shadow.iterations, config, corrections)
        names = list(layer.params)
        if i < split:
            record_io = (inputs[i], outputs[i], grad_outputs[i], grad_inputs[i])
        else:  # the final activation folded into the loss
            assert fused_record is not None
            record_io = fused_record
        records.append(LayerTrace(
            i, layer.type_name, layer.describe(), *record_io,
            params={n: before[f"layers.{i}.{n}"] for n in names}, grads=grads[i],
            update={n: updates[f"layers.{i}.{n}"] for n in names},
            params_after={n: after[f"layers.{i}.{n}"] for n in names},
            optimizer_state=opt_state, fused=i >= split, mask=masks[i]))

    net_outputs = records[-1].output if records else x
    return StepTrace(loss=float(loss), outputs=net_outputs, scores=scores, targets=targets, layers=records,
                     finite=finite, _net=net, _optimizer=optimizer, _keys=keys,
                     _optimizer_before={"iterations": optimizer.iterations, "config": config,
                                        "slots": optimizer.state_dict()["slots"]},
                     _rng_before=rng_before, _rng_after=rng_after, _state_after=state_after)


def _read_only(a: np.ndarray) -> np.ndarray:
    """``a``, locked: ``apply`` steps with the recorded gradients, so nobody may edit them."""
    a.flags.writeable = False
    return a
