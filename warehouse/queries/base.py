"""A named, parameterized query: SQL with ``%(name)s`` placeholders and ``{db}`` for the database."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modeldb.core.metric_names import canonical, logged_names
from modeldb.warehouse.base import Result, Warehouse


FIT_ACTIONS = ("fit", "fit_transform", "fit_predict")  # the actions that make a model


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    defaults: dict[str, Any] = field(default_factory=dict)
    # frame() through the backend's columnar path (chDB's DataFrame output: 100,000 rows of three
    # columns in half the time of rows). chDB hands array columns over slowly, so answers made of
    # arrays say False: models_using_column's 100,000 rows took 1.0 s that way, 0.6 s as rows.
    columnar: bool = True

    def run(self, warehouse: Warehouse, **params: Any) -> Result:
        return warehouse.query(render(self.sql, warehouse), self._params(params))

    def frame(self, warehouse: Warehouse, **params: Any) -> Any:
        """The answer as a pandas DataFrame, in the backend's columnar form where it has one (chDB)."""
        if not self.columnar:
            return self.run(warehouse, **params).to_pandas()
        return warehouse.frame(render(self.sql, warehouse), self._params(params))

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.defaults, **params}
        if isinstance(merged.get("metric"), str):
            merged.update(metric_params(merged["metric"]))
        return merged


def metric_params(metric: str) -> dict[str, Any]:
    """A metric asked for by any of its names: ``metric``, its canonical name (the current state's
    key), and ``metric_names``, every name its points may have been logged under in ``metrics``
    (read them with ``name IN (SELECT arrayJoin(%(metric_names)s))``)."""
    return {"metric": canonical(metric), "metric_names": list(logged_names(metric))}


def latest(*columns: str, indent: str = "       ") -> str:
    """``argMax(c, ver) AS c`` for each column: its latest value in a group of redelivered or updated rows."""
    return f",\n{indent}".join(f"argMax({c}, ver) AS {c}" for c in columns)


# The current state of a project's runs or models, as a query names it: ``FROM {current_runs} WHERE
# project = %(project)s{newest_runs} AND … ORDER BY … {once_runs}LIMIT …``. Where FINAL is read in
# parallel that is the view, and the other two are empty. On ClickHouse 18.16 a FINAL merges every
# column it reads in one thread (a search at 100,000 runs: 150 ms, against 30 ms without FINAL), so
# there the query reads the state table itself and keeps the rows whose (id, ver) a FINAL over those
# two columns alone calls newest. They are matched as cityHash64(id, ver): a set of 100,000 64-bit
# numbers is built and probed in 12 ms, one of (String, UInt64) tuples took 35 ms. A stale row
# passes only if its hash equals a newest row's, odds of about stale x newest / 2^64 (1 in 10^9 at
# 100,000 runs, each with a stale version). LIMIT 1 BY drops an identical row inserted twice (a
# retried insert that had landed). The same rows as the view: the newest version of each, once.
_CURRENT = {"runs": ("current_runs", "run_state", "run_id"), "models": ("current_models", "model_state", "model_id")}


def render(sql: str, warehouse: Warehouse, *, newest: bool = False) -> str:
    """``sql`` for this backend. ``newest``: read the newest rows of the table even where FINAL is
    parallel, for a query that drops twins itself (chDB's searches: 30 ms against 50 through the view)."""
    parallel = warehouse.capabilities.parallel_final and not newest
    for what, (view, table, key) in _CURRENT.items():
        newest = (f" AND cityHash64({key}, ver) IN (SELECT cityHash64({key}, ver) FROM {{db}}.{table} FINAL"
                  " WHERE project = %(project)s)")
        sql = (sql.replace(f"{{current_{what}}}", f"{{db}}.{view if parallel else table}")
                  .replace(f"{{newest_{what}}}", "" if parallel else newest)
                  .replace(f"{{once_{what}}}", "" if parallel else f"LIMIT 1 BY {key} "))
    return sql.replace("{db}", f"`{warehouse.database}`")


# The current state read by key, a model's or a run's id: the state table itself with FINAL, the
# same rows as the current_models and current_runs views. ClickHouse 18.16 does not push a WHERE
# down into a view, so a point read through the view merges every row of the warehouse, while
# on the table ``(project, model_id) IN …`` reads the sort key's few granules: 50 models' names
# at 100,000 models took 42 ms through the view and 8 ms here. Searches over a whole project
# read the views, where the difference is nil.
MODEL_BY_ID = "{db}.model_state FINAL"
RUN_BY_ID = "{db}.run_state FINAL"


def model_attributes(only: str = "") -> str:
    """The current attributes of a project's models, to join onto per-model answers.

    ``only``: a subquery of model ids to restrict to, so the join reads those models and not all.
    """
    restrict = f" AND model_id IN ({only})" if only else ""
    source = MODEL_BY_ID if only else "{db}.current_models"
    return f"""(
    SELECT model_id, operator_class, run_id, parent_model_id, train_dataframe_id
    FROM {source}
    WHERE project = %(project)s{restrict}
) AS model_attributes"""


MODEL_ATTRIBUTES = model_attributes()
