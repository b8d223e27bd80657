"""``python -m nnstudio [FILE]`` opens the main window (``--help``, ``--version``: print and exit)."""

from nnstudio.app import main

raise SystemExit(main())
