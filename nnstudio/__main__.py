"""``python -m nnstudio`` opens the main window."""

from .app import main

raise SystemExit(main())
