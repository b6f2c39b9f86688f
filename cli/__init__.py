"""The ``modeldb`` command, one module per command group."""
from modeldb.cli.main import main

__all__ = ["main"]
