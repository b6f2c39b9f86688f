"""The ``modeldb`` command, one module per command group (``app`` merges them; see ``app.py``)."""
from modeldb.cli.app import app, main

__all__ = ["app", "main"]
