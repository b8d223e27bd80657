"""Reproducible recipes: the scripts that made the files nnstudio ships.

- :mod:`core.recipes.train_shipped_model`: trains ``resources/models/mnist_cnn.nnz``, the
  model the "Draw a digit" panel uses when the user's own network cannot read a drawing.
"""
