"""The ``.nnz`` model file: save and load a trained network, safely and exactly.

A model file is a zip archive (deflate) of JSON documents and ``.npy`` arrays; the full
format is documented in ``docs/model-file-format.md``. One module per job:

- ``layout``: the format's name and version, member names (``weights/``, ``optimizer/``,
  ``state/``);
- ``writer``: ``save_model`` (builds and checks every member, then writes atomically);
- ``reader``: ``load_model`` (strict, cheap checks first);
- ``archive``: zip safety (names, sizes, compression ratios, streaming, ``.npy`` headers);
- ``schema``: the JSON members' structure, types and ranges;
- ``metadata``: checks of ``Network.metadata``;
- ``migrations``: upgrading older formats;
- ``atomic``: writing a file the way an editor does.

Saving and loading share one set of limits (``core.limits``). A loaded network resumes
training exactly as if it had never been saved: weights, non-trainable state, optimizer
slots and step count, generator state, ``epochs_done`` and history (stored bounded, see
``core.saving.history_bounds``).
"""

from __future__ import annotations

from core.errors import ModelFileError
from core.saving.layout import FORMAT_NAME, FORMAT_VERSION, optimizer_member, state_member, weights_member
from core.saving.reader import load_model
from core.saving.writer import save_model

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load_model", "optimizer_member", "save_model",
           "state_member", "weights_member"]
