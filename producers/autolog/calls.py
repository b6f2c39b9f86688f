"""What both trackers keep about a call in progress and a model they have seen.

A tracker keeps a per-thread stack of ``Call``: the user's own call at the bottom, and, above it,
the calls a composite (a pipeline, a search's refit) makes on its parts, which are tracked as its
stages. Any other inner call is the framework's own work and is not tracked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    obj: Any
    method: str
    composite: bool = False
    action_id: str = ""
    model_id: str | None = None
    tracked: bool = True
    parts: list = field(default_factory=list)  # the fitted stages of a composite, with their model ids

    def allows(self, obj: Any) -> bool:
        """Whether a call on ``obj`` inside this one is tracked: only a composite's calls on its parts."""
        return self.composite and obj is not self.obj


@dataclass
class ModelInfo:
    """A fitted model the tracker has seen: its id, and what it was fitted on (the framework's frame info).

    parts: a composite's fitted parts with their model ids; state: the parts' model ids (theirs
    too, nested) when this model's snapshot was taken. A part refitted since (a shared estimator,
    ``warm_start``, a refit in place) changes the composite's state, which its snapshot then does
    not reproduce.
    """
    model_id: str
    features: Any
    parts: tuple = ()
    state: tuple = ()
