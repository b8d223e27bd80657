"""``python -m core``: nnstudio's headless command line (see :mod:`core.cli`)."""

from core.cli import main

raise SystemExit(main())
