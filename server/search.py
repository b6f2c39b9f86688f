"""MLflow's searches: runs (from the warehouse's current state) and experiments, with page tokens.

A page token is MLflow's own, base64 of ``{"offset": n}``; a token the server did not make is
refused. Runs are searched with MLflow's filter and order grammar, compiled deny-by-default to SQL
(``warehouse/queries/mlflow_filter.py``): a filter the parser does not accept is an
``INVALID_PARAMETER_VALUE`` naming the problem, and never reaches the warehouse. Experiments are
few, and are filtered here, with the same tokenizer.
"""
from __future__ import annotations

import base64
import json
import operator
from typing import Any, Callable

from modeldb.server import protocol as p
from modeldb.server.experiments import Experiments, experiment_json, like
from modeldb.server.reader import Reader, run_json
from modeldb.warehouse.queries import mlflow_runs
from modeldb.warehouse.queries.filters import FilterError
from modeldb.warehouse.queries.mlflow_filter import ExperimentClause, experiment_filter

MAX_RESULTS = 50_000
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_EXPERIMENT_ORDER = {"name", "creation_time", "last_update_time", "experiment_id"}


def _offset(body: dict[str, Any]) -> int:
    token = p.text(body, "page_token", required=False)
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token, validate=True))["offset"]
    except (ValueError, KeyError, TypeError):
        raise p.invalid(f"Invalid page token, could not base64-decode: {token[:100]!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise p.invalid(f"Invalid page token: offset {offset!r} is not a non-negative integer")
    return offset


def _token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _limit(body: dict[str, Any], default: int) -> int:
    limit = p.integer(body, "max_results", default=default)
    if limit is None or not 0 < limit <= MAX_RESULTS:
        raise p.invalid(f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most "
                        f"{MAX_RESULTS} and positive.")
    return limit


def _view(body: dict[str, Any], name: str) -> str:
    view = body.get(name) or "ACTIVE_ONLY"
    if view not in VIEW_TYPES:
        raise p.invalid(f"Invalid value {view!r} for parameter '{name}': it must be one of {', '.join(VIEW_TYPES)}")
    return view


def search_runs(reader: Reader, experiments: Experiments, body: dict[str, Any]) -> dict[str, Any]:
    ids = body.get("experiment_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise p.invalid("experiment_ids must be a list of experiment id strings")
    projects = {eid: experiments.get(eid)["project"] for eid in ids}
    order_by = body.get("order_by") or []
    limit, offset, view = _limit(body, 1000), _offset(body), _view(body, "run_view_type")
    filter_string = body.get("filter") or ""
    if not projects:
        return {}
    try:
        rows = reader.read(mlflow_runs.search, projects.values(), filter_string, order_by, view, offset, limit + 1)
    except FilterError as exc:
        raise p.invalid(f"Invalid filter or order_by: {exc}") from None
    ids_of = {project: eid for eid, project in projects.items()}
    answer: dict[str, Any] = {"runs": [run_json(row, ids_of[row["project"]]) for row in rows[:limit]]}
    if len(rows) > limit:
        answer["next_page_token"] = _token(offset + limit)
    return answer if answer["runs"] else {}


def search_experiments(experiments: Experiments, body: dict[str, Any]) -> dict[str, Any]:
    limit, offset, view = _limit(body, 1000), _offset(body), _view(body, "view_type")
    try:
        clauses = experiment_filter(body.get("filter") or "")
    except FilterError as exc:
        raise p.invalid(f"Invalid filter: {exc}") from None
    found = [e for e in experiments.search(view) if all(_passes(clause, e) for clause in clauses)]
    for key, descending in reversed(_experiment_order(body.get("order_by") or [])):
        found.sort(key=_sort_key(key), reverse=descending)
    answer: dict[str, Any] = {"experiments": [experiment_json(e) for e in found[offset:offset + limit]]}
    if offset + limit < len(found):
        answer["next_page_token"] = _token(offset + limit)
    return answer


def _passes(clause: ExperimentClause, experiment: dict[str, Any]) -> bool:
    if clause.kind == "tag":
        value = experiment.get("tags", {}).get(clause.key)
        if value is None:
            return False
    else:
        value = experiment[clause.key]
    if clause.op in ("LIKE", "ILIKE"):
        return like(str(clause.value), case=clause.op == "LIKE").match(value) is not None
    return _COMPARE[clause.op](value, clause.value)


def _experiment_order(order_by: Any) -> list[tuple[str, bool]]:
    if not isinstance(order_by, list) or not all(isinstance(o, str) for o in order_by):
        raise p.invalid("order_by is a list of strings such as 'name DESC'")
    terms = []
    for item in order_by or ["creation_time DESC"]:
        words = item.split()
        key = words[0].split(".", 1)[1] if words and words[0].startswith(("attribute.", "attributes.")) else (
            words[0] if words else "")
        if key not in _EXPERIMENT_ORDER or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise p.invalid(f"Invalid order_by clause {item!r}: experiments are ordered by "
                            f"{', '.join(sorted(_EXPERIMENT_ORDER))}, ASC or DESC")
        terms.append((key, len(words) == 2 and words[1].upper() == "DESC"))
    if not any(key == "experiment_id" for key, _ in terms):
        terms.append(("experiment_id", False))
    return terms


def _sort_key(key: str) -> Callable[[dict[str, Any]], Any]:
    if key == "experiment_id":
        return lambda e: int(e["experiment_id"])
    return lambda e: e[key]
