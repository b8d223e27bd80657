"""Thin widgets: each shows document state and emits or performs user intents."""
