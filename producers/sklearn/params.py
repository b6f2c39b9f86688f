"""Typed, flattened hyperparameters and bounded model internals."""
from __future__ import annotations

from typing import Any

import numpy as np

from modeldb.producers.autolog.params import MAX_INTERNAL_VALUES, param_record

INTERNALS = ("coef_", "intercept_", "feature_importances_", "n_iter_", "classes_")


def flat_params(estimator: Any) -> list[dict[str, Any]]:
    """``get_params(deep=True)`` as typed records, sorted by their stable ``a__b`` names."""
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001 - third-party estimators may not follow the contract
        return []
    return [param_record(str(k), params[k]) for k in sorted(params, key=str)]


def internals(estimator: Any, feature_names: list[str]) -> list[dict[str, Any]]:
    """Coefficients, intercepts, importances, iterations and classes, each capped at 10,000 values.

    A pipeline reports its final estimator's, labelled by the names its
    earlier steps give their output.
    """
    final = getattr(estimator, "_final_estimator", None)
    if final is not None and final is not estimator and hasattr(final, "get_params"):
        try:
            names = [str(n) for n in estimator[:-1].get_feature_names_out()]
        except Exception:  # noqa: BLE001 - not every step can name its outputs
            names = []
        return internals(final, names)
    out = []
    for name in INTERNALS:
        try:
            value = getattr(estimator, name, None)
        except Exception:  # noqa: BLE001 - fitted-attribute properties may raise
            continue
        if value is None:
            continue
        array = np.asarray(value)
        if name == "classes_":
            labels = [str(v) for v in array.ravel()[:MAX_INTERNAL_VALUES].tolist()]
            out.append({"name": name, "shape": [int(d) for d in array.shape], "values": [], "labels": labels,
                        "truncated": array.size > MAX_INTERNAL_VALUES})
            continue
        if array.dtype.kind not in "biuf":
            continue
        flat = array.astype(np.float64).ravel()
        labels: list[str] = []
        if array.ndim >= 1 and feature_names and array.shape[-1] == len(feature_names) and name != "n_iter_":
            per_row = feature_names[: MAX_INTERNAL_VALUES]
            labels = (per_row * max(1, flat.size // len(feature_names)))[:MAX_INTERNAL_VALUES]
        out.append({"name": name, "shape": [int(d) for d in array.shape],
                    "values": flat[:MAX_INTERNAL_VALUES].tolist(), "labels": labels,
                    "truncated": bool(flat.size > MAX_INTERNAL_VALUES)})
    return out


def training_curves(estimator: Any) -> list[tuple[str, list[float]]]:
    """Training-time metrics with steps that scikit-learn exposes (MLP loss, boosting train score)."""
    curves = []
    for attr, metric in (("loss_curve_", "loss"), ("validation_scores_", "validation_score"),
                         ("train_score_", "train_score"), ("validation_score_", "validation_score")):
        values = getattr(estimator, attr, None)
        if values is not None:
            try:
                curves.append((metric, [float(v) for v in list(values)[:MAX_INTERNAL_VALUES]]))
            except (TypeError, ValueError):
                continue
    return curves


def training_scores(estimator: Any) -> list[tuple[str, float]]:
    out = []
    for attr, metric in (("oob_score_", "oob_score"), ("best_score_", "best_score")):
        value = getattr(estimator, attr, None)
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            out.append((metric, float(value)))
    return out
