"""Defaults that show something: the hyperparameter worth charting against a project's main metric.

A chart of a metric against a param only draws the models that have both, so the param is chosen
among the models that have the metric: numbers before text, then the one whose values are spread
most evenly over the most values (the entropy of its values: a ``C`` swept over a grid beats a
``max_iter`` that differs only because one model is another estimator), then the one more of
those models have.
The statement reads at most ``SAMPLE`` models (the oldest, in sort-key order), so its cost is
bounded however large the project grows.
"""
from __future__ import annotations

from typing import Any

from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import metric_params, render

SAMPLE = 5_000

_VARYING = """
SELECT key, sum(n) AS models, count() AS distinct_values, min(is_number) AS numeric,
       log2(sum(n)) - sum(n * log2(n)) / sum(n) AS entropy
FROM (
    SELECT key, value, count() AS n, isNotNull(toFloat64OrNull(value)) AS is_number
    FROM (
        SELECT param_keys, param_values
        FROM {db}.current_models
        WHERE project = %(project)s AND operator_class != '' AND has(metric_keys, %(metric)s)
          AND (%(top_level)s = 0 OR parent_model_id = '')
        LIMIT %(sample)s
    ) AS having_metric
    ARRAY JOIN param_keys AS key, param_values AS value
    GROUP BY key, value
) AS per_value
GROUP BY key
HAVING distinct_values >= 2
ORDER BY numeric DESC, entropy DESC, models DESC, key
LIMIT %(limit)s"""


def varying_params(warehouse: Warehouse, project: str, metric: str, *, top_level: bool = False,
                   limit: int = 20) -> Any:
    """The params that vary among the models having ``metric``, the most varied first.

    Columns: key, models (how many of the sampled models have it), distinct_values, numeric, entropy (bits).
    """
    return warehouse.query(render(_VARYING, warehouse), {
        "project": project, **metric_params(metric), "top_level": 1 if top_level else 0, "sample": SAMPLE,
        "limit": int(limit)}).to_pandas()
