"""Typed params with stable names, and bounded model internals, for pyspark.ml stages.

Param names do not carry Spark's random uids:

* an estimator's own params are their plain names (``regParam``);
* a Pipeline's are ``<Stage class>__<param>`` (``LogisticRegression__regParam``),
  with ``_2``, ``_3``… after the class when a class appears again;
* a search's param maps are named the same way against its estimator.
"""
from __future__ import annotations

import math
from typing import Any

from modeldb.producers.autolog.params import MAX_INTERNAL_VALUES, param_record

INTERNALS = (("coefficients", "coef_"), ("coefficientMatrix", "coef_"), ("intercept", "intercept_"),
             ("interceptVector", "intercept_"), ("featureImportances", "feature_importances_"),
             ("numClasses", "n_classes"), ("numFeatures", "n_features"))


def stage_names(stages: list[Any]) -> dict[str, str]:
    """uid -> a stable prefix for each stage of a pipeline (its class, numbered when repeated)."""
    seen: dict[str, int] = {}
    out = {}
    for stage in stages:
        cls = type(stage).__name__
        seen[cls] = seen.get(cls, 0) + 1
        out[stage.uid] = cls if seen[cls] == 1 else f"{cls}_{seen[cls]}"
    return out


def _stages(obj: Any) -> list[Any] | None:
    getter = getattr(obj, "getStages", None)
    if getter is not None:
        try:
            return list(getter())
        except Exception:  # noqa: BLE001
            return None
    stages = getattr(obj, "stages", None)
    return list(stages) if isinstance(stages, (list, tuple)) else None


def _value(value: Any) -> Any:
    to_array = getattr(value, "toArray", None)  # a Vector or Matrix param (initial coefficients)
    if to_array is not None:
        return f"{type(value).__name__}(size={getattr(value, 'size', '?')})"
    if hasattr(value, "uid") and hasattr(value, "extractParamMap"):  # a nested stage (CV's estimator)
        return type(value).__name__
    return value


def own_params(stage: Any, prefix: str = "") -> list[dict[str, Any]]:
    """A stage's params in effect, except defaults derived from its random uid (``OneHotEncoder_b59b…__output``):
    they would make identical pipelines look different."""
    try:
        pm = stage.extractParamMap()
    except Exception:  # noqa: BLE001 - a third-party stage may not follow the contract
        return []
    uid = str(getattr(stage, "uid", "") or "")
    return [param_record(f"{prefix}{p.name}", _value(v)) for p, v in pm.items()
            if not (uid and isinstance(v, str) and uid in v and not _is_set(stage, p))]


def _is_set(stage: Any, param: Any) -> bool:
    try:
        return bool(stage.isSet(param))
    except Exception:  # noqa: BLE001
        return True


def flat_params(stage: Any) -> list[dict[str, Any]]:
    """Every param in effect, typed and sorted by name; a pipeline's stages' params under their stage's name."""
    stages = _stages(stage)
    if stages is None:
        out = own_params(stage)
    else:
        names = stage_names(stages)
        out = []
        for s in stages:
            out += flat_params_prefixed(s, names[s.uid] + "__")
    return sorted(out, key=lambda r: r["key"])


def flat_params_prefixed(stage: Any, prefix: str) -> list[dict[str, Any]]:
    return [dict(r, key=prefix + r["key"]) for r in flat_params(stage)]


def param_map_records(estimator: Any, param_map: dict) -> list[dict[str, Any]]:
    """A search candidate's param map, named against ``estimator`` (``LogisticRegression__regParam``)."""
    stages = _stages(estimator)
    names = stage_names(stages) if stages else {}
    out = []
    for param, value in param_map.items():
        parent = getattr(param, "parent", "")
        prefix = f"{names[parent]}__" if parent in names else ""
        out.append(param_record(f"{prefix}{param.name}", _value(value)))
    return sorted(out, key=lambda r: r["key"])


def final_model(model: Any) -> Any:
    """The model that makes the predictions: a pipeline's last stage, a search's best model's."""
    best = getattr(model, "bestModel", None)
    if best is not None and best is not model:
        return final_model(best)
    stages = _stages(model)
    return final_model(stages[-1]) if stages else model


def all_stages(model: Any) -> list[Any]:
    """Every stage that runs in ``model``'s transform, in order: a pipeline's, nested; a search's best model's."""
    best = getattr(model, "bestModel", None)
    if best is not None and best is not model:
        return all_stages(best)
    stages = _stages(model)
    if not stages:
        return [model]
    return [inner for stage in stages for inner in all_stages(stage)]


def internals(model: Any, feature_names: list[str]) -> list[dict[str, Any]]:
    """Coefficients, intercepts and feature importances (labelled by feature), each capped at 10,000 values."""
    model = final_model(model)
    out = []
    for attr, name in INTERNALS:
        try:
            value = getattr(model, attr, None)
        except Exception:  # noqa: BLE001 - a binomial model's coefficientMatrix may raise, and so on
            continue
        if value is None or callable(value):
            continue
        if hasattr(value, "toArray"):
            array = value.toArray()
            shape = [int(d) for d in array.shape]
            flat = [float(v) for v in array.ravel()[:MAX_INTERNAL_VALUES]]
            size = int(array.size)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            shape, flat, size = [], [float(value)], 1
        else:
            continue
        if name == "coef_" and any(r["name"] == "coef_" for r in out):
            continue  # coefficients and coefficientMatrix: keep the first that answers
        if name == "intercept_" and any(r["name"] == "intercept_" for r in out):
            continue
        labels: list[str] = []
        if shape and feature_names and shape[-1] == len(feature_names):
            labels = (feature_names * max(1, size // len(feature_names)))[:MAX_INTERNAL_VALUES]
        out.append({"name": name, "shape": shape, "values": [v if math.isfinite(v) else 0.0 for v in flat],
                    "labels": labels, "truncated": size > MAX_INTERNAL_VALUES})
    return out


def objective_history(model: Any) -> list[float]:
    """The training objective per iteration (logistic and linear regression keep it in their summary)."""
    model = final_model(model)
    try:
        if not getattr(model, "hasSummary", False):
            return []
        history = model.summary.objectiveHistory
    except Exception:  # noqa: BLE001 - no training summary for this model
        return []
    values = [float(v) for v in list(history)[:MAX_INTERNAL_VALUES]]
    # Tree ensembles and the normal-equation solver report [0.0]: a placeholder, not a history.
    return [] if len(values) <= 1 and all(v == 0.0 for v in values) else values
