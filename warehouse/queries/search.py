"""A run's version tree; the candidates of hyperparameter searches with every scorer; how each model
used a column. (Searching runs and models with filters is ``entities.py``.)"""
from __future__ import annotations

from typing import Any

from modeldb.warehouse.base import Warehouse, quote
from modeldb.warehouse.queries.base import NamedQuery, latest, render
from modeldb.warehouse.queries.filters import FilterError

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


_CANDIDATES = f"""
    SELECT action_id, candidate,
           {latest("run_id", "operator_class", "scoring", "refit", "param_keys", "param_values", "is_best",
                   "best_model_id", "iteration", "n_resources", "score_names", "score_splits", "score_means",
                   "score_stds", "score_ranks", "score_folds", indent="           ")}
    FROM {{db}}.search_candidates
    WHERE project = %(project)s AND action_id IN (
        SELECT action_id FROM {{db}}.search_candidates WHERE project = %(project)s AND (%(run_id)s = '' OR run_id = %(run_id)s))
    GROUP BY action_id, candidate"""

SEARCH_SCORES = NamedQuery(
    "search_scores",
    "Every candidate of every search in a project (or one run), one row per scorer and split (test, train): "
    "mean, std, rank and fold scores; successive halving's iteration and resources (-1 for other searches)", f"""
SELECT run_id, action_id, operator_class, refit, candidate, param_keys, param_values, iteration, n_resources,
       is_best, best_model_id, scorer, split, mean, std, rank, folds
FROM ({_CANDIDATES})
ARRAY JOIN score_names AS scorer, score_splits AS split, score_means AS mean, score_stds AS std,
           score_ranks AS rank, score_folds AS folds
ORDER BY run_id, action_id, candidate, split, scorer
""", defaults={"run_id": ""})

SEARCH_CANDIDATES = NamedQuery(
    "search_candidates",
    "Every candidate of every search in a project (or one run): params, its score by the search's ranking scorer, "
    "rank, winner, and successive halving's iteration and resources", f"""
SELECT run_id, action_id, operator_class, scoring, refit, candidate, param_keys, param_values, iteration, n_resources,
       mean_score, std_score, rank, is_best, best_model_id
FROM (
    SELECT action_id, candidate,
           {latest("run_id", "operator_class", "scoring", "refit", "param_keys", "param_values", "iteration",
                   "n_resources", "mean_score", "std_score", "rank", "is_best", "best_model_id", indent="           ")}
    FROM {{db}}.search_candidates
    WHERE project = %(project)s AND action_id IN (
        SELECT action_id FROM {{db}}.search_candidates WHERE project = %(project)s AND (%(run_id)s = '' OR run_id = %(run_id)s))
    GROUP BY action_id, candidate
)
ORDER BY run_id, action_id, candidate
""", defaults={"run_id": ""})

COLUMN_USE = NamedQuery(
    "column_use",
    "Every model whose training data had a column, or that used it: used (one of its fitted parts consumes the "
    "column or a column derived from it), direct (it takes the column itself as a feature), opaque (the use goes "
    "through an opaque transformer, counted as using all its inputs) and in_frame (the column was in its training "
    "data); in_frame = 1 and used = 0 is a column that was there but dropped", """
SELECT model_id, operator_class, run_id, parent_model_id, in_frame, used, direct, opaque, paths
FROM (
    SELECT model_id, operator_class, run_id, parent_model_id, has(feature_names, %(column)s) AS in_frame
    FROM {db}.current_models
    WHERE project = %(project)s AND size_bytes >= 0
) AS trained
ANY LEFT JOIN (
    SELECT model_id, toUInt8(1) AS used, max(src = dst) AS direct, max(position(path, ' > (opaque ') > 0) AS opaque,
           groupArray(path) AS paths
    FROM (
        SELECT DISTINCT model_id, src, dst, path
        FROM {db}.lineage
        WHERE project = %(project)s AND kind = 'model' AND src = %(column)s
    )
    GROUP BY model_id
) AS use USING model_id
WHERE in_frame = 1 OR used = 1
ORDER BY used DESC, direct DESC, operator_class, model_id
""")
