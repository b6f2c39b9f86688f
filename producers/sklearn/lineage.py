"""How a scikit-learn estimator names its output columns (the lineage itself is ``autolog.lineage``).

Output names come from the output itself (a pandas frame), then from
``get_feature_names_out``, then ``<operator><i>``.
"""
from __future__ import annotations

from typing import Any


def output_names(estimator: Any, result: Any, input_columns: list[str], width: int) -> list[str]:
    columns = getattr(result, "columns", None)
    if columns is not None and len(columns) == width:
        return [str(c) for c in columns]
    getter = getattr(estimator, "get_feature_names_out", None)
    if getter is not None:
        for call in (lambda: getter(), lambda: getter(input_columns)):
            try:
                names = [str(n) for n in call()]
            except Exception:  # noqa: BLE001 - not every estimator can name its outputs
                continue
            if len(names) == width:
                return names
    if width == len(input_columns):  # row- and column-preserving (an imputer, a scaler)
        return list(input_columns)
    stem = type(estimator).__name__.lower()
    return [f"{stem}{i}" for i in range(width)]
