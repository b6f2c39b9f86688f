"""The best model on a slice: "Which model performed best on American customers?"

Prediction rows carry the values of their slice columns. A slice predicate is
ClickHouse SQL over those columns (``country = 'US' AND age >= 40``): each
slice column is exposed under its own name, as a number when every stored
value is numeric and as a string otherwise. The query runs read-only like any
other, so a predicate can read but never change anything.
"""
from __future__ import annotations

from typing import Any

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse, bind, quote
from modeldb.warehouse.queries.base import MODEL_ATTRIBUTES, render

METRICS = {
    "accuracy": ("avg(prediction = label)", False),
    "error_rate": ("avg(prediction != label)", True),
    "rmse": ("sqrt(avg(pow(prediction_num - label_num, 2)))", True),
    "mae": ("avg(abs(prediction_num - label_num))", True),
}


def slice_columns(warehouse: Warehouse, project: str) -> dict[str, bool]:
    """Slice column -> whether all its values are numeric."""
    rows = warehouse.query(render("""
        SELECT k, min(isNotNull(toFloat64OrNull(v))) AS numeric
        FROM {db}.predictions
        ARRAY JOIN slice_keys AS k, slice_values AS v
        WHERE project = %(project)s
        GROUP BY k
        ORDER BY k""", warehouse), {"project": project}).rows
    return {k: bool(numeric) for k, numeric in rows}


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def best_on_slice(warehouse: Warehouse, project: str, predicate: str = "1", metric: str = "accuracy",
                  min_rows: int = 1, limit: int = 20) -> Any:
    """Every model with labelled predictions in ``project``, ranked by ``metric`` on the rows matching ``predicate``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not isinstance(predicate, str) or not predicate.strip():
        raise ValueError("give a slice predicate such as \"country = 'US'\" (or '1' for all rows)")
    if ";" in predicate:
        raise ValueError("a slice predicate is one SQL expression; ';' is not allowed")
    columns = slice_columns(warehouse, project)
    exposed = []
    for name, numeric in columns.items():
        value = f"argMax(slice_values[indexOf(slice_keys, {quote(name)})], ver)"
        exposed.append(f"{'toFloat64OrNull(' + value + ')' if numeric else value} AS {_identifier(name)}")
    expression, lower_is_better = METRICS[metric]
    sql = bind(render(f"""
        SELECT model_id, operator_class, run_id, parent_model_id, rows, {metric}
        FROM (
            SELECT model_id, count() AS rows, {expression} AS {metric}
            FROM (
                SELECT model_id, dataframe_id, key,
                       argMax(prediction, ver) AS prediction, argMax(label, ver) AS label,
                       argMax(prediction_num, ver) AS prediction_num, argMax(label_num, ver) AS label_num
                       {''.join(', ' + e for e in exposed)}
                FROM {{db}}.predictions
                WHERE project = %(project)s AND has_label = 1
                GROUP BY model_id, dataframe_id, key
            )
            WHERE __PREDICATE__
            GROUP BY model_id
            HAVING rows >= %(min_rows)s
        ) AS scored
        ANY LEFT JOIN {MODEL_ATTRIBUTES} USING model_id
        ORDER BY {metric} {'ASC' if lower_is_better else 'DESC'}, model_id
        LIMIT %(limit)s""", warehouse), {"project": project, "min_rows": int(min_rows), "limit": int(limit)})
    try:
        return warehouse.query(sql.replace("__PREDICATE__", f"({predicate})")).to_pandas()
    except WarehouseError as exc:
        if exc.code != 47:  # UNKNOWN_IDENTIFIER: a column the predictions do not carry
            raise
        known = ", ".join(columns) or "none (no labelled prediction rows with slice columns in this project)"
        raise WarehouseError(f"the slice predicate {predicate!r} names a column the stored predictions do not have; "
                             f"slice columns of project {project!r}: {known}", exc.code) from None
