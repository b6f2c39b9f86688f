"""Runs and models of a project with any filter, chosen columns, sorting and pagination.

Filters and sort keys use the language of ``filters`` (``params.C > 0.1 OR tags.team = 'risk'``).
Every search reads the current state, one row per run (``current_runs``) or model
(``current_models``): a filter is a WHERE on that row, nothing is grouped or joined.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import metric_params, render
from modeldb.warehouse.queries.filters import Compiled, FilterError, compile_expression, compile_order

MAX_LIMIT = 1_000_000
# entity -> (its current state in ``render``'s words, id column, the attributes every answer carries,
# the attribute every real one has)
ENTITIES = {
    "run": ("runs", "run_id", ("experiment", "name", "status", "parent_run_id", "started_ts", "duration_ms"),
            "started_ts", "started_ts > 0"),
    "model": ("models", "model_id", ("run_id", "experiment", "operator_class", "parent_model_id",
                                             "train_dataframe_id", "size_bytes", "created_ts"),
              "created_ts", "operator_class != ''"),
}
USER_ERRORS = (36, 43, 46, 47, 53, 62, 386)  # syntax, types, unknown names: the user's expression, not the warehouse


def _entity(entity: str) -> tuple:
    if entity not in ENTITIES:
        raise FilterError(f"entity must be model or run, got {entity!r}")
    return ENTITIES[entity]


def _condition(where: str, entity: str) -> Compiled:
    return compile_expression(where, entity) if where and where.strip() else Compiled("1")


def _query(warehouse: Warehouse, sql: str, params: dict, what: str, frame: bool = False, newest: bool = False) -> Any:
    try:
        if frame:
            return warehouse.frame(render(sql, warehouse, newest=newest), params)
        return warehouse.query(render(sql, warehouse, newest=newest), params)
    except WarehouseError as exc:
        if exc.code not in USER_ERRORS:
            raise
        raise FilterError(f"cannot use {what}: {_reason(exc)}") from None


def _reason(exc: WarehouseError) -> str:
    return str(exc).split(" In scope", 1)[0].split("DB::Exception: ", 1)[-1][:200]


def _search(warehouse: Warehouse, entity: str, project: str, where: str, order_by: str, columns: Iterable[str],
            limit: int, offset: int) -> Any:
    state, id_column, attributes, oldest, real = _entity(entity)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_LIMIT:
        raise FilterError(f"limit must be 1..{MAX_LIMIT}, got {limit!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise FilterError(f"offset must be a non-negative integer, got {offset!r}")
    columns = list(columns)
    selected = [(c, compile_expression(c, entity, display=True)) for c in columns]
    condition = _condition(where, entity)
    order = compile_order(order_by, entity) if order_by and order_by.strip() else Compiled("")
    # Columns are named c0, c1… in the SQL, and as asked in the answer: a name is the user's text.
    fields = [id_column, *attributes] + [f"{compiled.sql} AS c{i}" for i, (_, compiled) in enumerate(selected)]
    names = [id_column, *attributes] + [name.replace("`", "") for name, _ in selected]

    def page(once: str, first: int, rows: int, newest: bool) -> Any:
        sql = f"""
            SELECT {', '.join(fields)} FROM {{current_{state}}}
            WHERE project = %(project)s{{newest_{state}}} AND ({real}) AND ({condition.sql})
            ORDER BY {order.sql + ', ' if order.sql else ''}{oldest}, {id_column}
            {once}LIMIT {first}, {rows}"""
        frame = _query(warehouse, sql, {"project": project},
                       f"where={where!r} order_by={order_by!r} columns={columns!r}", frame=True, newest=newest)
        frame.columns = names
        return frame

    if offset <= limit and offset + limit <= MAX_LIMIT:
        # The newest rows of the state table, read without FINAL (render's ``newest``), may hold an
        # identical row twice. LIMIT 1 BY would drop it, but it sorts every match with every column
        # first (the OR filter at 100,000 runs on 18.16: 97 ms, against 67 ms for the top rows
        # alone). So take the top rows and drop a twin here; only when a twin has cost the page a
        # row is the page asked for again, exactly. On chDB this beats the view's FINAL, 30 ms to 50.
        top = page("", 0, offset + limit, newest=True)
        unique = top.drop_duplicates(id_column)
        if len(unique) == len(top) or len(top) < offset + limit:
            return unique.iloc[offset:offset + limit].reset_index(drop=True)
    return page(f"{{once_{state}}}", offset, limit, newest=False)


def search_runs(warehouse: Warehouse, project: str, where: str = "", order_by: str = "",
                columns: Iterable[str] = (), limit: int = 100, offset: int = 0) -> Any:
    """Runs matching ``where``, with extra ``columns`` (``params.C``, ``metrics.f1``, ``tags.team``)."""
    return _search(warehouse, "run", project, where, order_by, columns, limit, offset)


def search_models(warehouse: Warehouse, project: str, where: str = "", order_by: str = "",
                  columns: Iterable[str] = (), limit: int = 100, offset: int = 0) -> Any:
    """Models matching ``where``, with extra ``columns`` (``params.clf__C``, ``metrics.accuracy_score``)."""
    return _search(warehouse, "model", project, where, order_by, columns, limit, offset)


def count_matches(warehouse: Warehouse, entity: str, project: str, where: str = "") -> int:
    """How many runs or models match ``where``: the total behind a paginated search."""
    state, id_column, _, _, real = _entity(entity)
    condition = _condition(where, entity)
    result = _query(warehouse, f"SELECT uniqExact({id_column}) FROM {{current_{state}}} WHERE project = %(project)s"
                               f"{{newest_{state}}} AND ({real}) AND ({condition.sql})", {"project": project},
                    f"where={where!r}")
    return int(result.scalar() or 0)


AGGREGATES = {"mean": "avg", "median": "median", "min": "min", "max": "max", "count": "count", "std": "stddevPop"}


def param_vs_metric_agg(warehouse: Warehouse, project: str, param: str, metric: str, agg: str = "mean",
                        entity: str = "model") -> Any:
    """The paper's "Tableau-like" chart: a metric aggregated per value of a hyperparameter.

    One row per distinct param value (numeric values in numeric order) with the aggregate
    (mean, median, min, max, count, std) of the metric over every model (or run) that has both.
    """
    if agg not in AGGREGATES:
        raise FilterError(f"agg must be one of {', '.join(AGGREGATES)}, got {agg!r}")
    state, _, _, _, real = _entity(entity)
    sql = f"""
        SELECT param_value, {AGGREGATES[agg]}(metric_value) AS {agg}, count() AS {entity}s
        FROM (
            SELECT param_values[indexOf(param_keys, %(param)s)] AS param_value,
                   metric_values[indexOf(metric_keys, %(metric)s)] AS metric_value
            FROM {{current_{state}}}
            WHERE project = %(project)s{{newest_{state}}} AND ({real}) AND has(param_keys, %(param)s)
                  AND has(metric_keys, %(metric)s)
            {{once_{state}}}
        )
        WHERE isFinite(metric_value)
        GROUP BY param_value
        ORDER BY isNull(toFloat64OrNull(param_value)), toFloat64OrNull(param_value), param_value"""
    return warehouse.query(render(sql, warehouse), {"project": project, "param": param,
                                                    **metric_params(metric)}).to_pandas()
