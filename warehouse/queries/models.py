"""Models: listing, ranking by a metric, lineage ("which models used column X"), training data."""
from __future__ import annotations

from typing import Any

from modeldb.core.metric_names import lower_is_better as metric_lower_is_better
from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import MODEL_ATTRIBUTES, NamedQuery, metric_params, model_attributes, render

MODELS = NamedQuery("models", "Every model of a project: class, run, pipeline parent, size, training data", """
SELECT model_id, operator_class, run_id, parent_model_id, size_bytes, train_dataframe_id, features,
       toString(toDateTime(intDiv(created_ts, 1000000))) AS created
FROM {current_models}
WHERE project = %(project)s{newest_models} AND operator_class != ''
ORDER BY created_ts, model_id
{once_models}""")

_RANKED = """
    SELECT model_id, argMax(value, ver) AS value, argMax(dataframe_id, ver) AS dataframe_id
    FROM {db}.metrics
    WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND model_id != '' AND slice = ''
    GROUP BY model_id
    HAVING isFinite(value)
    ORDER BY if(%(lower_is_better)s, value, -value), model_id
    LIMIT %(limit)s"""

BEST_MODELS = NamedQuery("best_models", "Models ranked by the latest value of a metric (non-finite values skipped)", f"""
SELECT model_id, operator_class, run_id, parent_model_id, value, dataframe_id
FROM ({_RANKED}) AS ranked
ANY LEFT JOIN {model_attributes(f"SELECT model_id FROM ({_RANKED})")} USING model_id
ORDER BY if(%(lower_is_better)s, value, -value), model_id
""", defaults={"limit": 10, "lower_is_better": 0})

def _used_sql(only: str = "") -> str:
    """Models using %(column)s, with their features and paths; ``only`` restricts to a subquery of model ids."""
    used = f"""
        SELECT DISTINCT model_id, src, dst, path
        FROM {{db}}.lineage
        WHERE project = %(project)s AND kind = 'model' AND src = %(column)s{f" AND model_id IN ({only})" if only else ""}"""
    return f"""
SELECT model_id, operator_class, run_id, parent_model_id, direct, features, paths
FROM (
    SELECT model_id, max(src = dst) AS direct, groupArray(dst) AS features, groupArray(path) AS paths
    FROM ({used})
    GROUP BY model_id
) AS used
ANY LEFT JOIN {model_attributes(f"SELECT model_id FROM ({used})")} USING model_id
ORDER BY direct DESC, operator_class, model_id
"""


MODELS_USING_COLUMN = NamedQuery(
    "models_using_column",
    "Every model that used a column, directly or through derived columns, with the path", _used_sql(),
    columnar=False)


def models_using_column_page(warehouse: Warehouse, project: str, column: str, limit: int = 1000) -> tuple[Any, int]:
    """``(frame, total)``: how many models used ``column``, and up to ``limit`` of them in full (oldest first).

    With 100,000 models using a column, the count and one page cost a fraction of the whole answer.
    """
    params = {"project": project, "column": column}
    total = int(warehouse.query(render("""
        SELECT uniqExact(model_id) FROM {db}.lineage
        WHERE project = %(project)s AND kind = 'model' AND src = %(column)s""", warehouse), params).scalar() or 0)
    if total <= limit:
        return MODELS_USING_COLUMN.frame(warehouse, **params), total
    # The page's ids first, then the answer for just those: as a subquery, 18.16 would find them twice.
    ids = [row[0] for row in warehouse.query(render(
        f"SELECT DISTINCT model_id FROM {{db}}.lineage WHERE project = %(project)s AND kind = 'model' "
        f"AND src = %(column)s ORDER BY model_id LIMIT {int(limit)}", warehouse), params).rows]
    return warehouse.query(render(_used_sql("SELECT arrayJoin(%(ids)s)"), warehouse),
                           {**params, "ids": ids or [""]}).to_pandas(), total




def best_models(warehouse: Warehouse, project: str, metric: str, limit: int = 10,
                lower_is_better: bool | None = None) -> Any:
    """The best models by ``metric``; errors and losses rank ascending unless told otherwise."""
    if lower_is_better is None:
        lower_is_better = metric_lower_is_better(metric)
    # BEST_MODELS in two steps: rank once, then read the attributes of just those models (the
    # models table is sorted by model id). As one statement, 18.16 ranks every model twice.
    params = {"project": project, **metric_params(metric), "limit": int(limit),
              "lower_is_better": 1 if lower_is_better else 0}
    ranked = warehouse.query(render(_RANKED, warehouse), params).to_pandas()
    ids = ranked["model_id"].tolist()
    attributes = warehouse.query(render(f"SELECT * FROM {model_attributes('SELECT arrayJoin(%(ids)s)')}", warehouse),
                                 {"project": project, "ids": ids or [""]}).to_pandas()
    frame = ranked.merge(attributes[["model_id", "operator_class", "run_id", "parent_model_id"]], on="model_id",
                         how="left")
    for column in ("operator_class", "run_id", "parent_model_id"):
        frame[column] = frame[column].fillna("")
    return frame[["model_id", "operator_class", "run_id", "parent_model_id", "value", "dataframe_id"]]


def models_on_dataset(warehouse: Warehouse, project: str, fingerprint: str, max_hops: int = 6) -> Any:
    """Models trained on data with this fingerprint (a prefix is enough), or on data derived from it.

    Follows actions from the matching dataframes to their outputs (splits,
    transforms), up to ``max_hops`` actions away; ``hops`` is 0 for a model
    trained on the matching data itself.
    """
    if not fingerprint or len(fingerprint) < 6:
        raise ValueError("give at least 6 characters of the dataset fingerprint")
    found = warehouse.query(render(
        "SELECT DISTINCT dataframe_id FROM {db}.dataframes WHERE project = %(project)s "
        "AND substring(fingerprint, 1, length(%(fp)s)) = %(fp)s", warehouse),
        {"project": project, "fp": fingerprint}).rows
    hops = {row[0]: 0 for row in found}
    frontier = list(hops)
    for hop in range(1, max_hops + 1):
        if not frontier:
            break
        rows = warehouse.query(render(
            "SELECT DISTINCT arrayJoin(output_dataframe_ids) FROM {db}.actions "
            "WHERE project = %(project)s AND hasAny(input_dataframe_ids, %(ids)s)", warehouse),
            {"project": project, "ids": frontier}).rows
        frontier = [r[0] for r in rows if r[0] not in hops]
        hops.update((d, hop) for d in frontier)
    sql = f"""
        SELECT model_id, operator_class, run_id, parent_model_id, train_dataframe_id
        FROM {MODEL_ATTRIBUTES}
        WHERE has(%(ids)s, train_dataframe_id)
        ORDER BY model_id"""
    frame = warehouse.query(render(sql, warehouse), {"project": project, "ids": list(hops) or [""]}).to_pandas()
    frame["hops"] = [hops.get(d, -1) for d in frame["train_dataframe_id"]]
    return frame.sort_values(["hops", "model_id"]).reset_index(drop=True)
