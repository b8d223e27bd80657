"""nnstudio: the desktop application (PySide6) on top of the core engine."""
