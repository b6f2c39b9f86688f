"""Leave the user's process state as it was: tracking must not change what a script computes or shows.

Importing a library's submodules up front (so that their classes can be patched) may consume
Python's ``random`` stream (scikit-learn's imports do) or numpy's global generator.
``preserved()`` puts both back as they were, so a script that seeds ``random`` before
``autolog()`` draws the same numbers as without it. Warnings filters and logging are left as the
imports leave them: a library adds its import-time filters whoever imports it first, and they
must be there when the user's own import finds the module loaded. The trackers themselves never
add a filter (``catch_warnings`` around their own noisy calls) nor configure logging; the
integration tests compare all four with and without autolog.
"""
from __future__ import annotations

import contextlib
import random
import sys
from typing import Iterator


@contextlib.contextmanager
def preserved() -> Iterator[None]:
    """Run the block, then restore ``random`` and numpy's global RNG (if loaded), whatever the block drew."""
    python_rng = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_rng = numpy.random.get_state() if numpy is not None else None
    try:
        yield
    finally:
        random.setstate(python_rng)
        numpy = sys.modules.get("numpy")
        if numpy_rng is not None and numpy is not None:
            numpy.random.set_state(numpy_rng)
