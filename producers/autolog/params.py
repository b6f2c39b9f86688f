"""Typed parameter records, the same for every framework: a value becomes ``{key, type, value, num}``.

A nested stage or estimator is recorded by its class, an array by a short summary, a
callable by its name, a list or dict as JSON; texts are cut at ``MAX_PARAM_TEXT``.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from modeldb.core.events import typed_param

MAX_PARAM_TEXT = 2000
MAX_INTERNAL_VALUES = 10_000  # values kept per model internal (coefficients, importances…)


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def readable(value: Any) -> Any:
    """A JSON-able stand-in for a param value: estimators by class, callables by name, arrays summarised."""
    if _is_estimator(value):
        return type(value).__name__
    if isinstance(value, np.ndarray):
        head = ", ".join(repr(v) for v in value.ravel()[:5].tolist())
        more = ", …" if value.size > 5 else ""
        return f"array(shape={list(value.shape)}, dtype={value.dtype}, [{head}{more}])"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if callable(value):
        return f"{getattr(value, '__module__', '') or ''}.{getattr(value, '__qualname__', type(value).__name__)}".lstrip(".")
    return repr(value)


def param_record(key: str, value: Any) -> dict[str, Any]:
    if _is_estimator(value):
        return {"key": key, "type": "estimator", "value": type(value).__name__, "num": None}
    if callable(value) and not isinstance(value, np.ndarray) and not _is_estimator(value):
        return {"key": key, "type": "callable", "value": readable(value), "num": None}
    if isinstance(value, np.ndarray):
        return {"key": key, "type": "array", "value": readable(value), "num": None}
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(readable(value), sort_keys=True, default=repr)
        record = {"key": key, "type": "json", "value": text, "num": None}
    else:
        record = typed_param(key, value)
    if len(record["value"]) > MAX_PARAM_TEXT:
        record["value"] = record["value"][:MAX_PARAM_TEXT - 1] + "…"
    return record
