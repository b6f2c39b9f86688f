"""Metric and snapshot agree: a metric is linked to a model state that reproduces it.

A composite's snapshot is pickled when it is fitted. If one of its fitted parts is fitted again
afterwards (an estimator object shared by two pipelines, ``warm_start``, a stage refitted in
place), the composite now predicts with a state its snapshot does not have; so does a model
changed by ``partial_fit`` (not an action: it only marks the model changed). Every tracked fit
gives the fitted object a new model id, so the change shows as a part whose current model id
differs from the one recorded with the composite (``ModelInfo.state``).

When such a model predicts, transforms or scores, it first gets a new model id and a new
snapshot of its current state (``refresh``); the predictions, and so the metrics computed from
them, are linked to that. Predictions made before the change keep the id of the state that made
them, whose snapshot was taken at its fit. When the new snapshot cannot be stored (the model
does not pickle any more), the model keeps its id, and metrics linked to it are marked
``model_changed``: its stored snapshot may not reproduce them.
"""
from __future__ import annotations

from typing import Any

from modeldb.core.events import uuid7
from modeldb.producers.autolog.calls import ModelInfo
from modeldb.producers.autolog.registry import Registry

MAX_DEPTH = 8
CHANGED = ("partial_fit", ())  # the state of a model changed in place since its snapshot


def state(models: Registry, parts: tuple, depth: int = 0) -> tuple:
    """The current model ids of ``parts``, and of their parts, nested."""
    if depth >= MAX_DEPTH:
        return ()
    out = []
    for part, _ in parts:
        info = models.get(part)
        out.append((info.model_id, state(models, info.parts, depth + 1)) if info is not None else (None, ()))
    return tuple(out)


def seal(models: Registry, info: ModelInfo, parts: list) -> None:
    """Record a fitted composite's parts and their state now, as its snapshot has them."""
    info.parts = tuple(parts)
    info.state = state(models, info.parts)


def changed_in_place(models: Registry, est: Any) -> None:
    """``est`` changed without a new fit (``partial_fit``): its snapshot no longer has its state."""
    info = models.get(est)
    if info is not None:
        info.state = (CHANGED,)


def current(tracker: Any, run: Any, est: Any, info: ModelInfo) -> ModelInfo:
    """``info``, or, if it or a part changed since its snapshot, the model's current state with a new snapshot."""
    if not info.parts and not info.state:
        return info
    now = state(tracker.models, info.parts)
    if now == info.state:
        return info
    fresh = ModelInfo(uuid7(), info.features, info.parts, now)
    if not tracker.store_model(run, est, fresh.model_id, None, info.features, None, training_metrics=False):
        info.state = now  # ask once; the old snapshot stands, and metrics on this state say it changed
        tracker.changed_models.add(info.model_id)
        return info
    tracker.models.put(est, fresh)
    return fresh
