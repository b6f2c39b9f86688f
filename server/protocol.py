"""MLflow's wire format: its errors, its request fields and its JSON for runs and experiments.

A request is refused with ``MlflowError``: MLflow's error code (``INVALID_PARAMETER_VALUE``,
``RESOURCE_DOES_NOT_EXIST`` …), its HTTP status and a message that names the problem. The
MLflow client raises it as ``MlflowException`` with that code, as it does for MLflow's own server.
Field checks follow MLflow's (``mlflow.utils.validation``): names of at most 250 characters,
param values cut to 6,000 characters and tag values to 8,000 (as MLflow's server cuts them), batches of at most 1,000 metrics and
100 params or tags.
"""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Mapping

log = logging.getLogger(__name__)

STATUS = {"INVALID_PARAMETER_VALUE": 400, "BAD_REQUEST": 400, "RESOURCE_DOES_NOT_EXIST": 404,
          "RESOURCE_ALREADY_EXISTS": 400, "MALFORMED_REQUEST": 400, "ENDPOINT_NOT_FOUND": 404, "INTERNAL_ERROR": 500,
          "NOT_IMPLEMENTED": 501, "REQUEST_LIMIT_EXCEEDED": 413, "TEMPORARILY_UNAVAILABLE": 503}
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_EXPERIMENT_NAME = 500
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
_NAME = re.compile(r"^[/\w.\- :]*$")  # MLflow's rule for param, metric and tag names
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


class MlflowError(Exception):
    """A refused request, as MLflow's server refuses it: ``{"error_code": …, "message": …}``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


def invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def missing(message: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", message)


def text(body: Mapping[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    """A string field of the request; a missing required one, or one of another type, is refused."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return default
    if not isinstance(value, str):
        raise invalid(f"Invalid value {json.dumps(value)[:100]} for parameter '{name}' supplied: it must be a string.")
    return value


def integer(body: Mapping[str, Any], name: str, *, default: int | None = None) -> int | None:
    """An int64 field (MLflow's JSON sends them as numbers or as strings of digits)."""
    value = body.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(f"Invalid value {json.dumps(value)[:100]} for parameter '{name}' supplied: it must be an integer.")
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"Invalid value {value[:100]!r} for parameter '{name}' supplied: it must be an integer.") from None
    if not -(1 << 63) <= number < (1 << 63):
        raise invalid(f"Invalid value for parameter '{name}': {number} does not fit in 64 bits.")
    return number


def number(value: Any, name: str) -> float:
    """A metric value: a JSON number, or MLflow's "NaN", "Infinity" and "-Infinity"."""
    if isinstance(value, bool):
        raise invalid(f"Got invalid value {value} for metric '{name}' (must be a number).")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
        return float(value.replace("Infinity", "inf"))
    raise invalid(f"Got invalid value {json.dumps(value)[:100]} for metric '{name}' (must be a number).")


def key(value: Any, what: str) -> str:
    """A param, metric or tag name: MLflow's rules (non-empty, at most 250 characters, no '..' path)."""
    if not isinstance(value, str) or not value:
        raise invalid(f"Invalid {what} name: {json.dumps(value)[:100]}. Names must be non-empty strings.")
    if len(value) > MAX_KEY:
        raise invalid(f"{what.capitalize()} name '{value[:50]}…' had length {len(value)}, which exceeded length limit of {MAX_KEY}")
    if not _NAME.match(value):
        raise invalid(f"Invalid {what} name: '{value[:100]}'. Names may only contain alphanumerics, underscores (_), "
                      "dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).")
    if value.startswith("/") or ".." in value.split("/"):
        raise invalid(f"Invalid {what} name: '{value}'. Names may not be absolute paths or contain '..'.")
    return value


def value_text(value: Any, what: str, name: str, limit: int) -> str:
    """A param or tag value: text (MLflow's client sends str()). Longer than ``limit`` characters, it is
    cut to ``limit`` with a warning in the server's log, as MLflow's server does by default
    (``MLFLOW_TRUNCATE_LONG_VALUES``)."""
    if value is None:
        raise invalid(f"Missing value for {what} '{name}'.")
    text_value = value if isinstance(value, str) else json.dumps(value)
    if len(text_value) > limit:
        log.warning("%s %r (%d characters) is truncated to %d characters to meet the length limit",
                    what.capitalize(), name, len(text_value), limit)
        return text_value[:limit]
    return text_value


def metric_json(value: float) -> Any:
    """A metric value as MLflow's JSON writes it: NaN and infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def pairs(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]
