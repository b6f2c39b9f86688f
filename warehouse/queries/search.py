"""Runs and models of a project with any filter, chosen columns, sorting and pagination; the version tree.

Filters and sort keys use the language of ``filters`` (``params.C > 0.1 OR tags.team = 'risk'``).
Both searches read one summary table grouped by entity, touching only the keys they need, so
they never join params × tags × metrics.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import Warehouse, quote
from modeldb.warehouse.queries.base import render
from modeldb.warehouse.queries.filters import (NUMERIC_ATTRIBUTES, Compiled, FilterError, compile_expression,
                                               compile_order)

MAX_LIMIT = 1_000_000
ENTITIES = {
    "run": ("run_summary", "run_id", ("name", "status", "parent_run_id", "started_ts", "duration_ms")),
    "model": ("model_summary", "model_id", ("operator_class", "parent_model_id", "train_dataframe_id", "size_bytes",
                                            "created_ts")),
}


ANCHOR = {"run": "name", "model": "operator_class"}  # an attribute every run / model has
TWO_PHASE_MAX = 1000
USER_ERRORS = (36, 43, 46, 47, 62, 386)  # syntax, types, unknown names: the user's expression, not the warehouse


def _rows(keys: set[tuple[str, str]]) -> str:
    """A WHERE clause reading only these (kind, key) rows: the summaries are sorted by key, so it is an index range."""
    by_kind: dict[str, set[str]] = {}
    for kind, key in keys:
        by_kind.setdefault(kind, set()).add(key)
    return " OR ".join(f"(kind = {quote(kind)} AND key IN ({', '.join(quote(k) for k in sorted(names))}))"
                       for kind, names in sorted(by_kind.items()))


def _search(warehouse: Warehouse, entity: str, project: str, where: str, order_by: str, columns: Iterable[str],
            limit: int, offset: int) -> Any:
    """Pages of at most 1,000 are found in two steps: which ids (reading only the keys the filter and sort
    use), then their attributes and columns (reading only those ids). Bigger pages take one step."""
    table, id_column, attributes = ENTITIES[entity]
    if not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise FilterError(f"limit must be 1..{MAX_LIMIT}, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise FilterError(f"offset must be a non-negative integer, got {offset!r}")
    columns = list(columns)
    selected: list[tuple[str, Compiled]] = [(c, compile_expression(c, entity, display=True)) for c in columns]
    condition = compile_expression(where, entity) if where and where.strip() else Compiled("1")
    order = compile_order(order_by, entity) if order_by and order_by.strip() else Compiled("")
    anchor = (entity, ANCHOR[entity])
    filter_keys = {anchor} | condition.keys | order.keys
    display_keys = {(entity, a) for a in attributes} | {k for _, c in selected for k in c.keys}
    fields = ["any(run_id) AS run_id"] if entity == "model" else []
    fields.append("anyIf(experiment, experiment != '') AS experiment")
    for attribute in attributes:
        value = "value_num" if attribute in NUMERIC_ATTRIBUTES else "value_str"
        fields.append(f"argMaxIf({value}, ver, kind = {quote(entity)} AND key = {quote(attribute)}) AS {attribute}")
    fields += [f"{compiled.sql} AS `{name.replace('`', '')}`" for name, compiled in selected]
    having = f"countIf(kind = {quote(entity)} AND key = {quote(anchor[1])}) > 0 AND ({condition.sql})"
    ordering = f"{order.sql + ', ' if order.sql else ''}min(ts), {id_column}"

    def run(sql: str, ids: list[str] | None = None, frame: bool = False) -> Any:
        # The page's ids are a parameter, so the statement is the same for every page of one search.
        params = {"project": project} if ids is None else {"project": project, "ids": ids}
        try:
            if frame:
                return warehouse.frame(render(sql, warehouse), params)
            return warehouse.query(render(sql, warehouse), params)
        except WarehouseError as exc:
            if exc.code not in USER_ERRORS:
                raise
            raise FilterError(f"cannot use where={where!r} order_by={order_by!r} columns={columns!r}: "
                              f"{_reason(exc)}") from None

    if limit > TWO_PHASE_MAX:
        return run(f"""
            SELECT {id_column}, {', '.join(fields)} FROM {{db}}.{table}
            WHERE project = %(project)s AND ({_rows(filter_keys | display_keys)})
            GROUP BY {id_column} HAVING {having} ORDER BY {ordering} LIMIT {int(offset)}, {int(limit)}""", frame=True)
    ids = [row[0] for row in run(f"""
        SELECT {id_column} FROM {{db}}.{table}
        WHERE project = %(project)s AND ({_rows(filter_keys)})
        GROUP BY {id_column} HAVING {having} ORDER BY {ordering} LIMIT {int(offset)}, {int(limit)}""").rows]
    frame = run(f"""
        SELECT {id_column}, {', '.join(fields)} FROM {{db}}.{table}
        WHERE project = %(project)s AND {id_column} IN (SELECT arrayJoin(%(ids)s))
          AND ({_rows(display_keys)})
        GROUP BY {id_column}""", ids or [""], frame=True)
    return frame.set_index(id_column).loc[ids].reset_index() if ids else frame


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
    if entity not in ENTITIES:
        raise FilterError(f"entity must be model or run, got {entity!r}")
    table, id_column, _ = ENTITIES[entity]
    condition = compile_expression(where, entity) if where and where.strip() else Compiled("1")
    anchor = (entity, ANCHOR[entity])
    try:
        return int(warehouse.query(render(f"""
            SELECT count() FROM (
                SELECT {id_column} FROM {{db}}.{table}
                WHERE project = %(project)s AND ({_rows({anchor} | condition.keys)})
                GROUP BY {id_column}
                HAVING countIf(kind = {quote(entity)} AND key = {quote(anchor[1])}) > 0 AND ({condition.sql}))""",
                                           warehouse), {"project": project}).scalar() or 0)
    except WarehouseError as exc:
        if exc.code not in USER_ERRORS:
            raise
        raise FilterError(f"cannot use where={where!r}: {_reason(exc)}") from None


def _reason(exc: WarehouseError) -> str:
    return str(exc).split(" In scope", 1)[0].split("DB::Exception: ", 1)[-1][:200]


def _tree_rows(warehouse: Warehouse, project: str, column: str, ids: list[str]) -> list[tuple]:
    listed = ", ".join(quote(i) for i in ids)
    return warehouse.query(render(f"""
        SELECT run_id, argMaxIf(name, ver, event_type = 'RunStarted') AS run_name,
               argMaxIf(parent_run_id, ver, event_type = 'RunStarted') AS parent,
               argMaxIf(branch_seq, ver, event_type = 'RunStarted') AS branch,
               argMax(status, ver) AS run_status, min(ts) AS started_ts
        FROM {{db}}.runs
        WHERE project = %(project)s AND {column} IN ({listed})
        GROUP BY run_id
        ORDER BY started_ts, run_id""", warehouse), {"project": project}).rows


def version_tree(warehouse: Warehouse, project: str, run_id: str, max_depth: int = 1000) -> Any:
    """The run's whole tree: its root ancestor and every branch below it, with depth, in tree order.

    Climbs parent by parent, then descends level by level: a few point queries, however many
    runs the project has.
    """
    import pandas as pd

    found = _tree_rows(warehouse, project, "run_id", [run_id])
    if not found:
        raise FilterError(f"no run {run_id!r} in project {project!r}")
    rows = {found[0][0]: found[0]}
    root = run_id
    for _ in range(max_depth):
        parent = rows[root][2]
        if not parent or parent in rows:
            break
        above = _tree_rows(warehouse, project, "run_id", [parent])
        if not above:
            break
        rows[parent] = above[0]
        root = parent
    children: dict[str, list[str]] = {}
    frontier = [root]
    for _ in range(max_depth):
        below = [r for r in _tree_rows(warehouse, project, "parent_run_id", frontier) if r[0] not in children]
        if not below:
            break
        for row in below:
            rows[row[0]] = row
            children.setdefault(row[2], []).append(row[0])
        frontier = [row[0] for row in below]
        for run in frontier:
            children.setdefault(run, [])
    out, stack, visited = [], [(root, 0)], set()
    while stack:
        rid, depth = stack.pop()
        if rid in visited:
            continue
        visited.add(rid)
        _, name, parent, branch_seq, status, _started = rows[rid]
        out.append({"run_id": rid, "name": name, "parent_run_id": parent, "branch_seq": branch_seq,
                    "status": status, "depth": depth, "selected": rid == run_id})
        stack.extend((child, depth + 1) for child in reversed(children.get(rid, [])))
    return pd.DataFrame(out)


AGGREGATES = {"mean": "avg", "median": "median", "min": "min", "max": "max", "count": "count", "std": "stddevPop"}


def param_vs_metric_agg(warehouse: Warehouse, project: str, param: str, metric: str, agg: str = "mean",
                        entity: str = "model") -> Any:
    """The paper's "Tableau-like" chart: a metric aggregated per value of a hyperparameter.

    One row per distinct param value (numeric values in numeric order) with the aggregate
    (mean, median, min, max, count, std) of the metric over every model (or run) that has both.
    """
    if agg not in AGGREGATES:
        raise FilterError(f"agg must be one of {', '.join(AGGREGATES)}, got {agg!r}")
    if entity not in ENTITIES:
        raise FilterError(f"entity must be model or run, got {entity!r}")
    table, id_column, _ = ENTITIES[entity]
    sql = f"""
        SELECT param_value, {AGGREGATES[agg]}(metric_value) AS {agg}, count() AS {entity}s
        FROM (
            SELECT {id_column},
                   argMaxIf(value_str, ver, kind = 'param' AND key = %(param)s) AS param_value,
                   argMaxIf(value_num, ver, kind = 'metric' AND key = %(metric)s) AS metric_value
            FROM {{db}}.{table}
            WHERE project = %(project)s
              AND ((kind = 'param' AND key = %(param)s) OR (kind = 'metric' AND key = %(metric)s))
            GROUP BY {id_column}
            HAVING countIf(kind = 'param') > 0 AND countIf(kind = 'metric') > 0 AND isFinite(metric_value)
        )
        GROUP BY param_value
        ORDER BY isNull(toFloat64OrNull(param_value)), toFloat64OrNull(param_value), param_value"""
    return warehouse.query(render(sql, warehouse), {"project": project, "param": param,
                                                    "metric": metric}).to_pandas()
