"""Network: an ordered stack of layers with a loss and an optimizer.

Build it layer by layer (``add``, as in seed 1 and Keras) or from a spec
(``Network.from_spec``). Arrays carry a leading batch axis: inputs (batch, *input_shape),
outputs (batch, *output_shape). Parameters are exposed under stable dotted keys
``layers.<i>.<name>`` with 0-based layer indices (``layers.0.W``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from core.data.validate import check_finite, check_labels
from core.errors import SpecError, TrainingError
from core.history import History
from core.layers.activations import Activation
from core.layers.base import Layer, format_shape
from core.layers.execution_order import execution_order
from core.losses import Loss, get_loss, targets_for
from core.optimizers import Optimizer, optimizer_from_config
from core.spec.analysis import SpecAnalysis, analyze
from core.spec.model import LayerSpec, NetworkSpec, spec_errors_only

#: Inference (``predict``, ``scores``) runs in sub-batches whose largest layer output stays
#: about this size, so it is still in the CPU cache when the next layer reads it: the shipped
#: CNN then predicts 64 images at a time instead of 512, measured 1.5x faster on the MNIST
#: test set (its 512-image feature maps are 51 MB). MLPs keep their batch of 512.
INFERENCE_BLOCK_BYTES = 6 * 2**20


class Network:
    """A feed-forward network.

    >>> net = Network(input_shape=(2,), loss="mse", optimizer={"type": "SGD", "learning_rate": 0.1}, seed=1)
    >>> net.add(Dense(3)); net.add(Activation("tanh")); net.add(Dense(1)); net.add(Activation("tanh"))

    ``dtype`` is float32 by default; float64 is available for checks.
    """

    def __init__(self, layers: Iterable[Layer] = (), input_shape: Iterable[int] | None = None,
                 loss: str | Loss = "mse", optimizer: Optimizer | Mapping[str, Any] | str | None = None,
                 seed: int = 0, dtype: str | np.dtype | type = "float32"):
        self.layers: list[Layer] = []
        self.input_shape: tuple[int, ...] | None = (tuple(int(d) for d in input_shape)
                                                    if input_shape is not None else None)
        self.loss: Loss = get_loss(loss)
        self.optimizer: Optimizer = optimizer_from_config(
            optimizer if optimizer is not None else {"type": "SGD", "learning_rate": 0.01})
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise SpecError(f"dtype must be float32 or float64, not {self.dtype}")
        #: The run's one generator: initial weights, shuffling and dropout masks all draw from
        #: it (layers keep a reference), so restore a state in place
        #: (``rng.bit_generator.state = ...``) rather than replacing the object.
        self.rng = np.random.default_rng(self.seed)
        self.built = False
        #: Epochs fully completed by all ``fit`` calls so far (training continues from here).
        self.epochs_done = 0
        self.history = History()
        #: JSON-able facts saved with the model: dataset name and fingerprint, class names,
        #: input preprocessing, training settings. The engine itself never reads them.
        self.metadata: dict[str, Any] = {}
        for layer in layers:
            self.add(layer)

    # -- construction ------------------------------------------------------------------------
    def add(self, layer: Layer) -> Network:
        if not isinstance(layer, Layer):
            raise SpecError(f"add() takes a layer such as Dense(10), not {layer!r}")
        self.layers.append(layer)
        self.built = False
        return self

    def compile(self, loss: str | Loss | None = None,
                optimizer: Optimizer | Mapping[str, Any] | str | None = None) -> Network:
        """Set the loss and/or optimizer (Keras-style); resets optimizer state."""
        if loss is not None:
            self.loss = get_loss(loss)
        if optimizer is not None:
            self.optimizer = optimizer_from_config(optimizer)
        return self

    @classmethod
    def from_spec(cls, spec: NetworkSpec | Mapping[str, Any] | str, build: bool = True) -> Network:
        """A network from a spec object, its dict form or its JSON text.

        Raises SpecError listing every problem (each naming the layer's position and a fix),
        and nothing else: a spec of the wrong types, or one over the limits of
        ``core.limits`` (layers, parameters, values per sample), is refused before anything
        is allocated.
        """
        with spec_errors_only():
            if isinstance(spec, str):
                spec = NetworkSpec.from_json(spec)
            elif not isinstance(spec, NetworkSpec):
                spec = NetworkSpec.from_dict(spec)
            analysis = analyze(spec)
            analysis.raise_if_invalid()
            net = cls([layer.create() for layer in spec.layers], spec.input_shape, spec.loss,
                      dict(spec.optimizer), spec.seed, spec.dtype)
            if build:
                net.build()
            return net

    def to_spec(self) -> NetworkSpec:
        if self.input_shape is None:
            raise SpecError("the network has no input shape: pass input_shape=... or call build(input_shape)")
        return NetworkSpec(
            self.input_shape,
            tuple(LayerSpec(layer.type_name, layer.get_config()) for layer in self.layers),
            self.loss.name,
            self.optimizer.to_dict(),
            self.seed,
            self.dtype.name,
        )

    def analyze(self) -> SpecAnalysis:
        """Per-layer shapes, parameter counts, multiply-adds and problems (no allocation)."""
        return analyze(self.to_spec(), self.layers)

    def build(self, input_shape: Iterable[int] | None = None) -> Network:
        """Check the stack and allocate every parameter from a generator seeded with ``seed``.

        Building again re-initialises the weights exactly as the first time and resets the
        optimizer, the generator and the training counters.
        """
        if input_shape is not None:
            self.input_shape = tuple(int(d) for d in input_shape)
        if self.input_shape is None:
            raise SpecError("the network has no input shape: pass input_shape=... or call build(input_shape)")
        self.analyze().raise_if_invalid()
        self.rng = np.random.default_rng(self.seed)
        shape = self.input_shape
        for layer in self.layers:
            layer.build(shape, self.rng, self.dtype)
            shape = layer.built_shape()
        self.optimizer.reset()
        self.epochs_done = 0
        self.history = History()
        self.built = True
        return self

    reset_weights = build

    def known_input_shape(self) -> tuple[int, ...]:
        """The per-sample input shape; SpecError when the network has none yet."""
        if self.input_shape is None:
            raise SpecError("the network has no input shape: pass input_shape=... or call build(input_shape)")
        return self.input_shape

    def _ensure_built(self) -> None:
        if not self.built:
            self.build()

    # -- properties --------------------------------------------------------------------------
    @property
    def output_shape(self) -> tuple[int, ...]:
        self._ensure_built()
        return self.layers[-1].built_shape()

    def _fused_split(self) -> int:
        """Number of layers to run before the loss during training.

        With softmax + cross_entropy (or sigmoid + binary_cross_entropy) the final activation
        is folded into the loss, so training stops one layer early and feeds logits to the
        stable fused loss. If the loss has a fused form but the network does not end with
        that activation, its outputs are taken as logits (PyTorch's convention).
        """
        last = self.layers[-1] if self.layers else None
        if (self.loss.fused_activation is not None and isinstance(last, Activation)
                and last.function == self.loss.fused_activation):
            return len(self.layers) - 1
        return len(self.layers)

    # -- forward / backward ----------------------------------------------------------------------
    def _check_input(self, x: np.ndarray, what: str = "the inputs") -> np.ndarray:
        """``x`` (n, *input_shape) cast to the network dtype; TrainingError for a wrong shape or
        type, InvalidInputError (core.data.validate) for NaN / infinite / too large values.
        ``what`` names the data in messages. Called once per public call, never per batch."""
        x = np.asarray(x)
        expected = self.known_input_shape()
        if x.shape[1:] != expected:
            if x.ndim >= 1 and int(np.prod(x.shape[1:])) == int(np.prod(expected)) and x.shape[0] > 0:
                hint = f"reshape it to (batch, {', '.join(map(str, expected))})"
            else:
                hint = f"the network expects per-sample inputs of shape {format_shape(expected)}"
            raise TrainingError(f"input has shape {format_shape(x.shape)}: {hint}")
        if not np.issubdtype(x.dtype, np.number):
            raise TrainingError(f"input must be numeric, not {x.dtype}")
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            cast = x.astype(self.dtype, copy=False)
        check_finite(cast, what, source=x if cast is not x else None)
        return cast

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (batch, *input_shape) -> outputs (batch, *output_shape), including the final
        activation (true softmax probabilities). Caches what ``backward`` needs."""
        self._ensure_built()
        out = self._check_input(x)
        for layer in execution_order(self.layers):
            out = layer.forward(out, training)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad: dE/d(outputs) (batch, *output_shape) -> dE/d(inputs) (batch, *input_shape).

        Goes through every layer including a final softmax (its full Jacobian); fills every
        layer's ``grads``. Call after ``forward``.
        """
        g = np.asarray(grad, dtype=self.dtype)
        for layer in reversed(execution_order(self.layers)):
            g = layer.backward_input(g)
        return g

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """[(key, param, grad)] for every parameter, keys like ``layers.0.W`` (0-based)."""
        self._ensure_built()
        return [(f"layers.{i}.{name}", p, layer.grads[name])
                for i, layer in enumerate(self.layers) for name, p in layer.params.items()]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every layer's non-trainable state, by key (``layers.3.running_mean``:
        layer index, 0-based, and the state's name, as parameter keys are). Empty for a
        network whose layers keep no state. Trainable parameters are not in it
        (``parameters()`` / ``get_weights``)."""
        return {key: s.copy() for key, s in self._state_arrays()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace every layer's non-trainable state; keys and shapes must match
        ``state_dict()`` exactly (values are copied and cast to the network's dtype).
        SpecError, with nothing changed, for a missing, unknown or misshapen entry."""
        _assign_all(dict(self._state_arrays()), state, "the state does not match the network", "state")

    def _state_arrays(self) -> list[tuple[str, np.ndarray]]:
        """[(key, live state array)] for every layer's state, in layer order."""
        self._ensure_built()
        return [(f"layers.{i}.{name}", s) for i, layer in enumerate(self.layers) for name, s in layer.state.items()]

    def _weight_arrays(self) -> dict[str, np.ndarray]:
        """Live arrays of every parameter and every state array, by key."""
        return {**{key: p for key, p, _ in self.parameters()}, **dict(self._state_arrays())}

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and every non-trainable state array (Keras's weights:
        trainable and not), by key."""
        return {key: w.copy() for key, w in self._weight_arrays().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Replace every parameter and state array; keys and shapes must match
        ``get_weights()`` exactly (values are copied and cast to the network's dtype).
        SpecError, with nothing changed, otherwise."""
        _assign_all(self._weight_arrays(), weights, "weights do not match the network", "weight")

    def inference_copy(self) -> Network:
        """An independent network with the same spec, weights and state but no optimizer
        state, history or caches: cheap, and safe to predict with while this one trains."""
        self._ensure_built()
        copy = Network.from_spec(self.to_spec())
        copy.set_weights(self._weight_arrays())
        copy.metadata = dict(self.metadata)
        copy.epochs_done = self.epochs_done
        return copy

    @property
    def param_count(self) -> int:
        return self.analyze().total_params

    # -- training primitives -----------------------------------------------------------------------
    def targets(self, y: np.ndarray) -> np.ndarray:
        """Labels (n,) or targets (n, k) -> targets in the output shape (n, k), network dtype."""
        self._ensure_built()
        return targets_for(y, self.layers[-1].built_shape()[0], self.dtype)

    def train_step(self, x: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """One forward + backward + optimizer step on a batch.

        x: (batch, *input_shape) in the network dtype; targets: (batch, k).
        Returns (loss, scores) where scores (batch, k) rank the classes (logits when the fused
        path is used). The update is skipped, and TrainingError raised, if the loss or a
        gradient is not finite, so the weights stay the last finite ones.
        """
        loss, scores = self.compute_gradients(x, targets)
        grads_finite = all(np.isfinite(np.vdot(g, g)) for _, _, g in self.parameters())
        if not np.isfinite(loss) or not grads_finite:
            what = "loss" if not np.isfinite(loss) else "gradient"
            raise TrainingError(f"the {what} became {'NaN' if np.isnan(loss) else 'infinite'}")
        self.optimizer.step(self.parameters())
        return loss, scores

    def compute_gradients(self, x: np.ndarray, targets: np.ndarray, training: bool = True) -> tuple[float, np.ndarray]:
        """Forward + backward without updating; fills every layer's grads. Returns (loss, scores)."""
        body = execution_order(self.layers[:self._fused_split()])
        out = x
        for layer in body:
            out = layer.forward(out, training)
        if self.loss.fused_activation is not None:
            loss = self.loss.value_from_logits(out, targets)
            g = self.loss.gradient_from_logits(out, targets)
        else:
            loss = self.loss.value(out, targets)
            g = self.loss.gradient(out, targets)
        for layer in reversed(body[1:]):
            g = layer.backward_input(g)
        if body:  # the first layer's input gradient is never needed
            body[0].backward(g, need_input_grad=False)
        return loss, out

    def loss_value(self, x: np.ndarray, targets: np.ndarray) -> float:
        """Loss of the network on (x, targets) in inference mode (dropout off)."""
        out = self._check_input(x)
        for layer in execution_order(self.layers[:self._fused_split()]):
            out = layer.forward(out, False)
        if self.loss.fused_activation is not None:
            return self.loss.value_from_logits(out, targets)
        return self.loss.value(out, targets)

    # -- inference ---------------------------------------------------------------------------------
    def predict(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Outputs (n, *output_shape) for inputs (n, *input_shape), in batches, dropout off."""
        self._ensure_built()
        x = self._check_input(x)
        if x.shape[0] == 0:
            return np.zeros((0, *self.output_shape), dtype=self.dtype)
        step = self._inference_batch(batch_size)
        parts = [self._predict_batch(x[i:i + step]) for i in range(0, x.shape[0], step)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _inference_batch(self, batch_size: int) -> int:
        """``batch_size``, or fewer samples when the largest layer output of that many would
        not stay in the CPU cache until the next layer reads it (``INFERENCE_BLOCK_BYTES``)."""
        largest = max(int(np.prod(layer.built_shape())) for layer in self.layers) * self.dtype.itemsize
        return max(1, min(int(batch_size), INFERENCE_BLOCK_BYTES // max(largest, 1)))

    def _predict_batch(self, x: np.ndarray) -> np.ndarray:
        out = x
        for layer in execution_order(self.layers):
            out = layer.forward(out, False)
        return out

    def predict_proba(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Class probabilities (n, k): the outputs if the network ends with softmax/sigmoid,
        else a softmax of the outputs when the loss treats them as logits."""
        out = self.predict(x, batch_size)
        if self._fused_split() == len(self.layers) and self.loss.fused_activation is not None:
            return self.loss.outputs_from_logits(out)
        return out

    def predict_classes(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Predicted class index per sample (n,)."""
        return self.classes_from_scores(self.predict(x, batch_size), logits=self._fused_split() == len(self.layers)
                                        and self.loss.fused_activation is not None)

    def classes_from_scores(self, scores: np.ndarray, logits: bool = False) -> np.ndarray:
        """(n, k) scores -> (n,) classes: argmax, or for one output unit a threshold
        (0 on logits, 0.5 on outputs)."""
        if scores.shape[1] == 1:
            return (scores[:, 0] > (0.0 if logits else 0.5)).astype(np.int64)
        return scores.argmax(axis=1)

    def scores(self, x: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, bool]:
        """(n, k) class scores for inputs (n, *input_shape), dropout off, and whether they
        are logits (True when the loss has a fused form: the final softmax/sigmoid is left
        out, exactly as training and ``evaluate`` compute the loss)."""
        self._ensure_built()
        x = self._check_input(x)
        split = self._fused_split()
        parts = []
        step = self._inference_batch(batch_size)
        body = execution_order(self.layers[:split])
        for i in range(0, x.shape[0], step):
            out = x[i:i + step]
            for layer in body:
                out = layer.forward(out, False)
            parts.append(out)
        fused = self.loss.fused_activation is not None
        if not parts:
            k = self.layers[split - 1].built_shape()[0] if split else 0
            return np.zeros((0, k), dtype=self.dtype), fused
        return (np.concatenate(parts) if len(parts) > 1 else parts[0]), fused

    def layer_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for inputs (batch, *input_shape), dropout off: element i has
        shape (batch, *layers[i].shape). For looking inside (feature maps, activations)."""
        self._ensure_built()
        out = self._check_input(x)
        outputs = []
        for layer in self.layers:
            out = layer.forward(out, False)  # layers never modify their input: keeping each is safe
            outputs.append(out)
        return outputs

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> dict[str, float]:
        """{"loss": mean loss, "accuracy": fraction correct} over (x, y), dropout off.

        y: labels (n,) or targets (n, k).
        """
        self._ensure_built()
        if len(x) == 0:
            raise TrainingError("cannot evaluate on an empty dataset")
        check_labels(y, self.output_shape[0] if len(self.output_shape) == 1 else 0)
        scores, fused = self.scores(x, batch_size)
        targets = self.targets(y)
        labels = labels_of(y)
        n = scores.shape[0]
        total_loss = 0.0
        for i in range(0, n, batch_size):
            sb, tb = scores[i:i + batch_size], targets[i:i + batch_size]
            loss = self.loss.value_from_logits(sb, tb) if fused else self.loss.value(sb, tb)
            total_loss += loss * sb.shape[0]
        correct = int(np.sum(self.classes_from_scores(scores, logits=fused) == labels))
        return {"loss": total_loss / n, "accuracy": correct / n}

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int = 1, batch_size: int = 32, **kwargs: Any):
        """Train for ``epochs`` more epochs; see ``core.training.loop.fit`` for every option.

        Returns the run's ``History`` (per-batch and per-epoch loss/accuracy, hyperparameter
        changes). Training continues from the current weights and optimizer state.
        """
        if _training_loop is None:  # only if core.training.loop failed to import
            raise TrainingError("the training loop (core.training.loop) is not loaded")
        return _training_loop(self, x, y, epochs=epochs, batch_size=batch_size, **kwargs)

    # -- text ------------------------------------------------------------------------------------------
    def summary(self) -> str:
        """Keras-like table of layers, output shapes and parameter counts."""
        analysis = self.analyze()
        rows = [("#", "Layer", "Output shape", "Params", "Mult-adds")]
        for info in analysis.layers:
            shape = format_shape(info.output_shape) if info.output_shape is not None else "?"
            rows.append((str(info.index + 1), info.description, shape, f"{info.param_count:,}", f"{info.macs:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(5)]
        line = "-" * (sum(widths) + 8)

        def fmt(r):
            return "  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                              r[3].rjust(widths[3]), r[4].rjust(widths[4])])

        out = [f"Input shape: {format_shape(self.known_input_shape())}", line, fmt(rows[0]), line]
        out += [fmt(r) for r in rows[1:]]
        out += [line, f"Total params: {analysis.total_params:,}",
                f"Multiply-adds per sample: {analysis.total_macs:,}",
                f"Loss: {self.loss.name}   Optimizer: {self.optimizer.type_name} "
                f"(learning rate {self.optimizer.learning_rate:g})   dtype: {self.dtype.name}"]
        for p in analysis.problems:
            out.append(f"Problem: {p}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"Network({', '.join(layer.describe() for layer in self.layers)})"


#: ``core.training.loop.fit``, handed over by ``core.training.loop`` when it is imported (see
#: ``use_training_loop``): the network never imports the training loop, the loop imports
#: the network, so the import direction is one-way.
_training_loop: Callable[..., History] | None = None


def use_training_loop(fit: Callable[..., History]) -> None:
    """Make ``Network.fit`` run ``fit(network, x, y, epochs=..., batch_size=..., **options)``."""
    global _training_loop
    _training_loop = fit


def _assign_all(current: Mapping[str, np.ndarray], given: Mapping[str, np.ndarray], mismatch: str,
                noun: str) -> None:
    """Copy ``given`` into the live arrays ``current`` (key -> array) after checking that
    the keys match exactly and every shape fits, so a refusal changes nothing. ``mismatch``
    starts the sentence for wrong keys, ``noun`` names one entry."""
    missing = sorted(set(current) - set(given))
    extra = sorted(set(given) - set(current))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise SpecError(f"{mismatch}: {'; '.join(parts)}")
    values = {key: np.asarray(value) for key, value in given.items()}
    for key, value in values.items():
        if value.shape != current[key].shape:
            raise SpecError(f"{noun} {key} has shape {value.shape} but the network needs {current[key].shape}")
    for key, value in values.items():
        current[key][...] = value


def labels_of(y: np.ndarray) -> np.ndarray:
    """Class labels (n,) from labels (n,), one-hot / scores (n, k) or a 0/1 column (n, 1)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.ndim == 2:
        y = y[:, 0]
    if np.issubdtype(y.dtype, np.integer) or (y.size and np.all(np.mod(y, 1) == 0) and y.max() > 1):
        return y.astype(np.int64)
    return (y > 0.5).astype(np.int64)
