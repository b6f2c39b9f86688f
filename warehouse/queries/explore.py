"""Exploring many models at once: which columns exist, chart data aggregated on the server, metric histories.

The dashboard's models view reads these. Fields are the filter language's references
(``params.C``, ``metrics.accuracy``, ``model.operator_class``); each answer is computed in
ClickHouse from the current state, one row per model (``current_models``) or run
(``current_runs``), and only what is drawn comes back. Nothing is pivoted or grouped per entity.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse, quote
from modeldb.warehouse.queries.base import MODEL_BY_ID, metric_params, render
from modeldb.warehouse.queries.entities import AGGREGATES, ENTITIES, USER_ERRORS, _reason, count_matches
from modeldb.warehouse.queries.filters import NUMERIC_ATTRIBUTES, Compiled, FilterError, compile_expression

CHART_POINTS = 5_000
HISTORY_POINTS = 200
# kind -> (field prefix, keys column, values column, steps column or '' (no steps), values as text)
_KEY_ARRAYS = {
    "param": ("params.", "param_keys", "param_values", "", "{v}"),
    "metric": ("metrics.", "metric_keys", "metric_values", "metric_steps", "toString({v})"),
    "tag": ("tags.", "tag_keys", "tag_values", "", "{v}"),
}


def _entity(entity: str) -> tuple:
    if entity not in ENTITIES:
        raise FilterError(f"entity must be model or run, got {entity!r}")
    return ENTITIES[entity]


def model_keys(warehouse: Warehouse, project: str, entity: str = "model", top_level: bool = False) -> Any:
    """The params and metrics the project's models (or runs) have, as filter-language fields.

    With how many models have each, how many distinct values it takes (a param that varies is
    one worth a column), the highest step of its latest point (above 0: it has a history), and
    ``logged_as``: the names a metric was logged under (``accuracy``: ``accuracy_score`` from
    scikit-learn, ``accuracy`` from Spark).
    ``top_level``: only models that are not a stage or part of another model.
    """
    state, _, _, _, real = _entity(entity)
    restrict = " AND parent_model_id = ''" if top_level and entity == "model" else ""
    kinds = ("param", "metric", "tag") if entity == "run" else ("param", "metric")
    parts = []
    for kind in kinds:
        _, keys, values, steps, text = _KEY_ARRAYS[kind]
        step = "s" if steps else "toInt64(0)"
        logged = "o" if kind == "metric" else "k"
        joined = f"{keys} AS k, {values} AS v" + (f", {steps} AS s" if steps else "") + (
            ", metric_names AS o" if kind == "metric" else "")
        parts.append(f"""
            SELECT {quote(kind)} AS kind, k AS key, {text.format(v='v')} AS value, toInt64({step}) AS step,
                   {logged} AS logged_as
            FROM {{db}}.current_{state} ARRAY JOIN {joined}
            WHERE project = %(project)s AND ({real}){restrict}""")
    frame = warehouse.query(render(f"""
        SELECT kind, key, count() AS {entity}s, uniqExact(value) AS distinct_values, max(step) AS max_step,
               arraySort(groupUniqArray(logged_as)) AS logged_as
        FROM ({" UNION ALL ".join(parts)}) AS entity_keys
        GROUP BY kind, key
        ORDER BY kind, key""", warehouse), {"project": project}).to_pandas()
    prefix = {kind: spec[0] for kind, spec in _KEY_ARRAYS.items()}
    frame["field"] = [prefix[k] + (n if n.isidentifier() else f"`{n}`") for k, n in zip(frame["kind"], frame["key"])]
    return frame


def _per_entity(entity: str, fields: dict[str, str], where: str, numeric: Iterable[str] = (),
                modulus: int = 1) -> tuple[str, set]:
    """One row per model (or run) with each field as a column, matching ``where``; ``numeric`` aliases read numbers.

    ``modulus`` > 1 keeps one id in ``modulus`` (by a hash of the id): a sample that costs a
    fraction of the whole.
    """
    state, id_column, _, _, real = _entity(entity)
    numeric = set(numeric)
    compiled = {alias: compile_expression(expression, entity, display=alias not in numeric)
                for alias, expression in fields.items()}
    condition = compile_expression(where, entity) if where and where.strip() else Compiled("1")
    keys = condition.keys | {k for c in compiled.values() for k in c.keys}
    columns = ", ".join(f"{c.sql} AS {alias}" for alias, c in compiled.items())
    sampled = f" AND cityHash64({id_column}) % {int(modulus)} = 0" if modulus > 1 else ""
    return f"""
        SELECT {id_column} AS id, {columns}
        FROM {{db}}.current_{state}
        WHERE project = %(project)s AND ({real}) AND ({condition.sql}){sampled}""", keys


def _run(warehouse: Warehouse, sql: str, project: str, what: str) -> Any:
    try:
        return warehouse.query(render(sql, warehouse), {"project": project}).to_pandas()
    except WarehouseError as exc:
        if exc.code not in USER_ERRORS:
            raise
        raise FilterError(f"cannot chart {what}: {_reason(exc)}") from None


def chart_data(warehouse: Warehouse, project: str, x: str, y: str, *, color: str = "", size: str = "",
               facet: str = "", agg: str = "", where: str = "", entity: str = "model",
               limit: int = CHART_POINTS, bins: int = 0) -> tuple[Any, int]:
    """Data for a chart over models: ``(frame, total)``.

    With ``agg`` (mean, median, min, max, count, std), ``y`` is aggregated per (x, color, facet)
    on the server over every model, and ``n`` counts the models in each group; ``total`` is their
    sum. ``bins`` > 0 groups a numeric ``x`` (a swept C) into that many equal-width bins, each
    labelled by its lower edge. Without ``agg``, one row per model, about ``limit`` of them,
    sampled by a hash of the id so the sample is stable and spread; ``total`` is how many
    models match ``where``. Params come back as text; numeric-looking columns
    are converted.
    """
    _entity(entity)
    if agg and agg not in AGGREGATES:
        raise FilterError(f"agg must be one of {', '.join(AGGREGATES)}, got {agg!r}")
    if not x or not y:
        raise FilterError("a chart needs both x and y")
    if not isinstance(limit, int) or not 0 < limit <= 100_000:
        raise FilterError(f"limit must be 1..100000, got {limit!r}")
    fields = {"x": x, "y": y}
    for alias, expression in (("color", color), ("size", size), ("facet", facet)):
        if expression:
            fields[alias] = expression
    what = f"{y} against {x}"
    if agg:
        binned = _bins(warehouse, entity, project, x, bins) if bins else None
        rows, _ = _per_entity(entity, fields, where, numeric={"y", "x"} if binned else {"y"})
        groups = [a for a in ("x", "color", "facet") if a in fields]
        value = "count()" if agg == "count" else f"{AGGREGATES[agg]}(y)"
        columns = [f"{binned} AS bin" if binned and g == "x" else g for g in groups]
        groups = ["bin" if binned and g == "x" else g for g in groups]
        frame = _run(warehouse, f"""
            SELECT {', '.join(columns)}, {value} AS aggregated, count() AS n
            FROM ({rows}) AS per_entity
            WHERE isNotNull(x){" AND isFinite(x)" if binned else ""} AND (isNull(y) OR isFinite(y))
            GROUP BY {', '.join(groups)}
            ORDER BY {', '.join(groups)}""", project, what).rename(columns={"aggregated": "y", "bin": "x"})
        total = int(frame["n"].sum()) if len(frame) else 0
    else:
        frame, total = _sample(warehouse, entity, project, fields, where, ("x", "y"), limit, what)
    return _numeric(frame), total


def _bins(warehouse: Warehouse, entity: str, project: str, x: str, bins: int) -> str | None:
    """SQL putting a numeric ``x`` into ``bins`` equal-width bins (the lower edge), or None if x is not one numeric key.

    The edges are the range of ``x`` over the project's models (or runs): one pass over one row each.
    """
    if not isinstance(bins, int) or not 1 < bins <= 1000:
        raise FilterError(f"bins must be 2..1000, got {bins!r}")
    compiled = compile_expression(x, entity)
    if len(compiled.keys) != 1:
        return None
    (kind, key), = compiled.keys
    if kind == "tag" or (kind == entity and key not in NUMERIC_ATTRIBUTES):
        return None  # text
    state, _, _, _, real = _entity(entity)
    edges = _run(warehouse, f"""
        SELECT min(value) AS low, max(value) AS high
        FROM (SELECT toFloat64({compiled.sql}) AS value FROM {{db}}.current_{state}
              WHERE project = %(project)s AND ({real})) AS values_of_x
        WHERE isFinite(value)""", project, f"bins of {x}")
    low, high = (edges.iloc[0]["low"], edges.iloc[0]["high"]) if len(edges) else (None, None)
    if low is None or high is None or not high > low:
        return None
    width = (float(high) - float(low)) / bins
    return f"({float(low)!r} + {width!r} * least({bins - 1}, floor((x - {float(low)!r}) / {width!r})))"


def _sample(warehouse: Warehouse, entity: str, project: str, fields: dict[str, str], where: str,
            required: Iterable[str], limit: int, what: str) -> tuple[Any, int]:
    """Up to ``limit`` entities matching ``where`` that have the ``required`` fields, and how many match ``where``.

    Over ``limit`` matches, a hash of the id keeps about ``limit`` of them before their fields are
    read, so the cost follows the sample and not the project. The sample is stable across calls.
    """
    total = count_matches(warehouse, entity, project, where)
    modulus = -(-total // limit) if total > limit else 1
    rows, _ = _per_entity(entity, fields, where, modulus=modulus)
    present = " AND ".join(f"isNotNull({alias})" for alias in required) or "1"
    frame = _run(warehouse, f"""
        SELECT * FROM ({rows}) AS per_entity WHERE {present}
        ORDER BY cityHash64(id) LIMIT {int(limit)}""", project, what)
    return frame, total


def sample_fields(warehouse: Warehouse, project: str, fields: Iterable[str], *, where: str = "",
                  entity: str = "model", limit: int = CHART_POINTS) -> tuple[Any, int]:
    """Several fields for a sample of models (every one that has them all, up to ``limit``): ``(frame, total)``.

    What a parallel-coordinates plot draws. Columns are named by their fields; ``total`` is how
    many models match ``where``.
    """
    fields = list(dict.fromkeys(f for f in fields if f))
    if not fields:
        raise FilterError("choose at least one field")
    _entity(entity)
    if not isinstance(limit, int) or not 0 < limit <= 100_000:
        raise FilterError(f"limit must be 1..100000, got {limit!r}")
    aliases = {f"f{i}": field for i, field in enumerate(fields)}
    frame, total = _sample(warehouse, entity, project, aliases, where, aliases, limit, ", ".join(fields))
    return _numeric(frame.rename(columns=aliases)), total


def _numeric(frame: Any) -> Any:
    import pandas as pd

    for column in frame.columns:
        if frame[column].dtype == object:
            converted = pd.to_numeric(frame[column], errors="coerce")
            if converted.notna().sum() == frame[column].notna().sum():
                frame[column] = converted
    if "x" in frame.columns:
        frame = frame.sort_values("x", kind="stable").reset_index(drop=True)
    return frame


def _owners(warehouse: Warehouse, project: str, ids: list[str]) -> tuple[list[tuple], dict[str, list[str]]]:
    """Each model's run, and each model's parts (the models whose parent it is), from the current state."""
    listed = ", ".join(quote(i) for i in ids)
    owners = warehouse.query(render(f"""
        SELECT model_id, run_id FROM {MODEL_BY_ID}
        WHERE project = %(project)s AND model_id IN ({listed}) ORDER BY model_id""", warehouse),
                             {"project": project}).rows
    parts: dict[str, list[str]] = {}
    for part, whole in warehouse.query(render(f"""
            SELECT model_id, parent_model_id FROM {{db}}.current_models
            WHERE project = %(project)s AND parent_model_id IN ({listed}) ORDER BY model_id""",
                                              warehouse), {"project": project}).rows:
        parts.setdefault(whole, []).append(part)
    return owners, parts


def metric_histories(warehouse: Warehouse, project: str, metric: str, model_ids: Iterable[str],
                     points: int = HISTORY_POINTS) -> Any:
    """A metric's steps for each model, downsampled on the server to at most ``points`` per model.

    A model's history is the metric logged for it, else for one of its parts (a pipeline's final
    estimator's loss curve), else for its run (a curve logged by hand while it trained). Steps
    are bucketed evenly; each bucket gives its mean value and first step.
    """
    ids = sorted(set(model_ids))
    if not ids:
        raise FilterError("choose at least one model")
    if len(ids) > 50:
        raise FilterError(f"at most 50 models at once, got {len(ids)}")
    owners, parts = _owners(warehouse, project, ids)
    if not owners:
        raise FilterError(f"none of these models is in project {project!r}")
    runs = ", ".join(quote(r) for r in sorted({run for _, run in owners}))
    sql = f"""
        SELECT run_id, model_id, intDiv(step, bucket) AS b, min(step) AS first_step, avg(value) AS mean_value
        FROM (
            SELECT run_id, model_id, step, argMax(value, ver) AS value
            FROM {{db}}.metrics
            WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND run_id IN ({runs}) AND slice = ''
            GROUP BY run_id, model_id, step
        ) AS points
        ANY LEFT JOIN (
            SELECT run_id, model_id, greatest(1, toInt64(ceil((max(step) + 1) / %(points)s))) AS bucket
            FROM {{db}}.metrics
            WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND run_id IN ({runs}) AND slice = ''
            GROUP BY run_id, model_id
        ) AS sizes USING run_id, model_id
        GROUP BY run_id, model_id, b
        ORDER BY run_id, model_id, first_step"""
    frame = warehouse.query(render(sql, warehouse), {"project": project, **metric_params(metric),
                                                     "points": int(points)}).to_pandas()
    import pandas as pd

    out = []
    for model, run in owners:
        candidates = [model, *parts.get(model, [])]
        chosen = next((frame[frame["model_id"] == c] for c in candidates if (frame["model_id"] == c).any()),
                      frame[(frame["run_id"] == run) & (frame["model_id"] == "")])
        out.append(pd.DataFrame({"model_id": model, "step": chosen["first_step"].values,
                                 "value": chosen["mean_value"].values}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["model_id", "step", "value"])
