"""``python -m nnstudio [FILE]`` opens the main window (``--help``, ``--version``: print and exit)."""

from .app import main

raise SystemExit(main())
