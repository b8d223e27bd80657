"""The one set of size limits that saving, loading and building a network share.

Every limit a model file or a network spec can hit lives here, so that ``save_model``
refuses exactly what ``load_model`` would refuse (a saved model always reopens) and
``Network.from_spec`` refuses a network before allocating it. The limits are generous for
anything nnstudio trains and small enough that opening any file of under 1 MB takes well
under a second and 100 MB of memory.

Two kinds of limit apply to the members of a model file:

- a hard cap per member and in total (``MAX_ARRAY_BYTES``, ``JSON_MAX_BYTES``,
  ``MAX_TOTAL_BYTES``), whatever the file's size;
- a *budget that scales with the file*: past a free allowance (``JSON_FREE_BYTES`` per JSON
  member, ``ARRAYS_FREE_BYTES`` for all arrays together) the content may be at most
  ``*_RATIO`` times larger than its compressed bytes. Trained weights and real histories
  barely compress (measured: float arrays 1.1x, a per-batch history 5x), while a small file
  that inflates to gigabytes (a zip bomb, or a huge all-zero array that a tiny spec
  declares) must compress far better than that, so it is refused before it is read.

Each ``*_problem`` function returns ``None`` when the value is within its limit, or the end
of a sentence saying what is too large (the caller says for which file or network and adds
what to do).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# -- the network (Network.from_spec and spec analysis) ------------------------------------------
#: Most layers in one network.
MAX_LAYERS = 1_000
#: Most trainable parameters in one network (50 million: 200 MB of float32 weights, and as
#: much again for gradients and for each optimizer slot).
MAX_PARAMETERS = 50_000_000
#: Most values one sample may have at the input or at any layer's output (2**24).
MAX_VALUES_PER_SAMPLE = 16_777_216
#: Parameters per layer of any built-in layer type (Dense and Conv2D: W and b); with Adam's
#: two slots per parameter this bounds the members of a model file.
_PARAMETERS_PER_LAYER = 2
_SLOTS_PER_PARAMETER = 2

# -- training counters ---------------------------------------------------------------------------
#: Largest ``epochs_done`` and epoch number a file may record.
MAX_EPOCHS_DONE = 1_000_000_000
#: Largest optimizer step count (well inside the range where floats count exactly).
MAX_ITERATIONS = 10**15

# -- training history as stored in a file ---------------------------------------------------------
#: Per-batch points kept in a saved history; longer runs are stored decimated to this many
#: (the mean of each bucket of consecutive batches, see core.saving.history_bounds).
HISTORY_BATCH_POINTS = 10_000
#: Per-epoch records kept in full up to this count; beyond it they are thinned evenly.
HISTORY_EPOCHS = 10_000
#: Hyperparameter change events kept (thinned evenly beyond it).
HISTORY_EVENTS = 1_000

# -- the model file ----------------------------------------------------------------------------------
#: Largest model file accepted on disk.
MAX_FILE_BYTES = 512 * MIB
#: Largest total of uncompressed member sizes.
MAX_TOTAL_BYTES = 512 * MIB
#: Largest single uncompressed array member.
MAX_ARRAY_BYTES = 256 * MIB
#: All arrays together may take this much uncompressed whatever the file's size ...
ARRAYS_FREE_BYTES = 16 * MIB
#: ... and beyond it at most this many times their compressed size.
ARRAYS_RATIO = 16
#: Per JSON member: bytes always allowed (bounded histories stay far below these) ...
JSON_FREE_BYTES = {
    "manifest.json": 64 * KIB,
    "spec.json": 1 * MIB,
    "training.json": 8 * MIB,
    "metadata.json": 1 * MIB,
    "rng.json": 64 * KIB,
}
#: ... and beyond that, up to ``JSON_MAX_BYTES``, at most this many times the member's
#: compressed size (files written before histories were bounded hold long histories).
JSON_RATIO = 8
#: Hard cap on any JSON member.
JSON_MAX_BYTES = 64 * MIB
#: Most values (numbers, strings, lists, objects) a JSON member within its free allowance
#: may hold, counted before parsing; parsing costs memory per value, not per byte.
MAX_JSON_VALUES = 300_000
#: Most members in one archive: the five JSON members, and for every layer its parameters
#: and their optimizer slots.
MAX_MEMBERS = len(JSON_FREE_BYTES) + MAX_LAYERS * _PARAMETERS_PER_LAYER * (1 + _SLOTS_PER_PARAMETER)
#: Longest member name.
MAX_NAME_LENGTH = 255
#: Largest ``.npy`` header the loader parses.
MAX_NPY_HEADER_BYTES = 65536 + 16

# -- metadata ------------------------------------------------------------------------------------------
#: Longest string anywhere in metadata.json.
MAX_METADATA_STRING = 4096
#: Most class names.
MAX_CLASS_NAMES = 100_000


def mib(n: int) -> str:
    """``3.5 MiB`` (one decimal)."""
    return f"{n / MIB:,.1f} MiB"


# -- network ------------------------------------------------------------------------------------------
def layer_count_problem(count: int) -> str | None:
    if count > MAX_LAYERS:
        return f"it has {count:,} layers, more than the {MAX_LAYERS:,} a network may have"
    return None


def parameter_count_problem(count: int) -> str | None:
    if count > MAX_PARAMETERS:
        return f"it has {count:,} parameters, more than the {MAX_PARAMETERS:,} a network may have"
    return None


def sample_size_problem(values: int) -> str | None:
    if values > MAX_VALUES_PER_SAMPLE:
        return f"{values:,} values per sample, more than the {MAX_VALUES_PER_SAMPLE:,} allowed"
    return None


# -- members ----------------------------------------------------------------------------------------------
def json_member_problem(name: str, size: int, compressed: int | None) -> str | None:
    """Is a JSON member of ``size`` bytes (``compressed`` in the file; None: not known yet)
    within its budget?"""
    free = JSON_FREE_BYTES.get(name, 64 * KIB)
    if size <= free:
        return None
    if size > JSON_MAX_BYTES:
        return f"{name} takes {mib(size)}, over the {mib(JSON_MAX_BYTES)} any JSON member may take"
    if compressed is not None and size > JSON_RATIO * max(compressed, 1):
        return (f"{name} takes {mib(size)} but only {compressed:,} bytes compressed: past {mib(free)} "
                f"it may expand at most {JSON_RATIO} times")
    return None


def arrays_problem(size: int, compressed: int | None) -> str | None:
    """Are arrays of ``size`` bytes in total (``compressed`` in the file) within budget?"""
    if size > MAX_TOTAL_BYTES:
        return f"its arrays take {mib(size)}, over the {mib(MAX_TOTAL_BYTES)} a model file may hold"
    if compressed is not None and size > ARRAYS_FREE_BYTES and size > ARRAYS_RATIO * max(compressed, 1):
        return (f"its arrays take {mib(size)} but only {compressed:,} bytes compressed: past "
                f"{mib(ARRAYS_FREE_BYTES)} arrays may expand at most {ARRAYS_RATIO} times")
    return None


def array_member_problem(name: str, size: int) -> str | None:
    if size > MAX_ARRAY_BYTES:
        return f"{name} takes {mib(size)}, over the {mib(MAX_ARRAY_BYTES)} one array may take"
    return None


def json_value_count(raw: bytes) -> int:
    """An upper bound on the number of values in JSON text ``raw``, without parsing it:
    every value but the first is preceded by a comma or opens a container (commas inside
    strings make it an overestimate, which is safe)."""
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{") + 1


def json_values_problem(name: str, raw: bytes) -> str | None:
    if len(raw) > JSON_FREE_BYTES.get(name, 64 * KIB):
        return None  # a large member is bounded by its compression ratio instead
    count = json_value_count(raw)
    if count > MAX_JSON_VALUES:
        return f"{name} holds about {count:,} values, more than the {MAX_JSON_VALUES:,} allowed"
    return None
