"""``python -m core``: nnstudio's headless command line (see :mod:`core.cli`)."""

from .cli import main

raise SystemExit(main())
