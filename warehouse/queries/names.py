"""Readable names for runs and models: the run's name, and for a model the run's name plus its role.

A model's role is what it is within its run:

* ``whole``: a top-level model (a pipeline, a search, a lone estimator);
* a stage: the name it has in its parent (``clf``, or ``prep › num`` for a stage of a stage),
  read from the parent's ``steps`` or ``transformers`` param at the stage's index; Spark's
  stages, which have no names, are their class (numbered when a class repeats);
* ``best``: the model a search refitted on its winner (a stage of no position in the search).

Every read is a point query on a sort key: the current state's tables (``model_state`` by
``(project, model_id)``, ``run_state`` by ``(project, run_id)``, both FINAL) and ``actions`` by
``(project, run_id, action_id)``; one statement per level of nesting, never one per model. Ids
are passed as bound arrays.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import MODEL_BY_ID, RUN_BY_ID, render

MAX_DEPTH = 6  # a stage of a stage of … : the chain stops here
MAX_IDS = 20_000
SEARCHES = ("SearchCV", "CrossValidator", "TrainValidationSplit", "HalvingGridSearch", "HalvingRandomSearch")
COLUMNS = ["model_id", "project", "run_id", "run_name", "operator_class", "parent_model_id", "role", "label"]

_MODELS = """
    SELECT project, model_id, run_id, operator_class, parent_model_id, action_id,
           param_values[indexOf(param_keys, 'steps')] AS steps,
           param_values[indexOf(param_keys, 'transformers')] AS transformers
    FROM """ + MODEL_BY_ID + """
    WHERE project IN (SELECT arrayJoin(%(projects)s)) AND model_id IN (SELECT arrayJoin(%(ids)s))"""

_STAGES = """
    SELECT action_id, max(stage_index) AS stage_index
    FROM {db}.actions
    WHERE project IN (SELECT arrayJoin(%(projects)s)) AND run_id IN (SELECT arrayJoin(%(runs)s))
      AND action_id IN (SELECT arrayJoin(%(actions)s))
    GROUP BY action_id"""

_RUNS = """
    SELECT project, run_id, name
    FROM """ + RUN_BY_ID + """
    WHERE project IN (SELECT arrayJoin(%(projects)s)) AND run_id IN (SELECT arrayJoin(%(runs)s))"""


def _projects(project: str | Iterable[str]) -> list[str]:
    return [project] if isinstance(project, str) else sorted(set(project))


def _ids(values: Iterable[str]) -> list[str]:
    ids = sorted({str(v) for v in values if v})
    if len(ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS:,} ids at once, got {len(ids):,}")
    return ids


def run_names(warehouse: Warehouse, project: str | Iterable[str], run_ids: Iterable[str]) -> dict[str, str]:
    """run id -> the run's name ('' for a run without one, or not yet started)."""
    runs = _ids(run_ids)
    if not runs:
        return {}
    rows = warehouse.query(render(_RUNS, warehouse), {"projects": _projects(project), "runs": runs}).rows
    return {run_id: name for _, run_id, name in rows}


def run_label(name: str, run_id: str) -> str:
    """What a run is called on screen: its name, or 'unnamed' and the end of its id."""
    return name or f"unnamed …{run_id[-8:]}"


def _step_names(steps: str, transformers: str) -> list[str]:
    """A composite's stage names in order, from sklearn's ``steps`` or ``transformers`` param (JSON lists)."""
    for text in (steps, transformers):
        if not text:
            continue
        try:
            entries = json.loads(text)
        except ValueError:
            continue
        if isinstance(entries, list):
            names = [str(e[0]) for e in entries if isinstance(e, (list, tuple)) and e]
            if names:
                return names
    return []


def _is_search(operator_class: str) -> bool:
    return any(s in operator_class for s in SEARCHES)


def _lineage(warehouse: Warehouse, projects: list[str], wanted: list[str]) -> tuple[dict, dict[str, int]]:
    """The models asked for and every composite above them (one read per level), and each nested one's stage index."""
    models: dict[str, dict[str, Any]] = {}
    pending = wanted
    for _ in range(MAX_DEPTH):
        if not pending:
            break
        frame = warehouse.query(render(_MODELS, warehouse), {"projects": projects, "ids": pending}).to_pandas()
        for row in frame.to_dict("records"):
            models[row["model_id"]] = row
        pending = sorted({m["parent_model_id"] for m in models.values()
                          if m["parent_model_id"] and m["parent_model_id"] not in models})
    nested = [m for m in models.values() if m["parent_model_id"]]
    if not nested:
        return models, {}
    rows = warehouse.query(render(_STAGES, warehouse), {
        "projects": projects, "runs": sorted({m["run_id"] for m in nested}),
        "actions": sorted({m["action_id"] for m in nested if m["action_id"]}) or [""]}).rows
    return models, {action_id: int(index) for action_id, index in rows}


class _Roles:
    """Each model's name in its parent, and its path from the top of its run."""

    def __init__(self, models: dict[str, dict[str, Any]], stages: dict[str, int]):
        self.models, self.stages = models, stages
        self.siblings: dict[str, list[str]] = {}
        for m in sorted(models.values(), key=lambda m: (stages.get(m["action_id"], 0), m["model_id"])):
            self.siblings.setdefault(m["parent_model_id"], []).append(m["model_id"])

    def step(self, model: dict[str, Any]) -> str:
        parent = self.models.get(model["parent_model_id"])
        index = self.stages.get(model["action_id"], -1)
        if parent is None:
            return model["operator_class"] or "stage"
        if index < 0 and _is_search(parent["operator_class"]):
            return "best"
        named = _step_names(parent["steps"], parent["transformers"])
        if 0 <= index < len(named):
            return named[index]
        same = [s for s in self.siblings.get(parent["model_id"], [])
                if self.models[s]["operator_class"] == model["operator_class"]]
        if len(same) > 1:  # Spark's stages have no names: the class, numbered when it repeats
            return f"{model['operator_class']}_{same.index(model['model_id']) + 1}"
        return model["operator_class"] or "stage"

    def path(self, model: dict[str, Any]) -> list[str]:
        path, cursor, seen = [], model, set()
        while cursor["parent_model_id"] and cursor["model_id"] not in seen:
            seen.add(cursor["model_id"])
            path.append(self.step(cursor))
            cursor = self.models.get(cursor["parent_model_id"])
            if cursor is None:
                break
        return path[::-1]

    def role(self, model: dict[str, Any], path: list[str]) -> str:
        if not path:
            return "whole"
        if path[-1] == "best":
            parent = self.models.get(model["parent_model_id"])
            return f"best of {parent['operator_class'] if parent else 'a search'}"
        return "stage " + " › ".join(path)


def model_names(warehouse: Warehouse, project: str | Iterable[str], model_ids: Iterable[str]) -> Any:
    """One row per known model: its run and run name, its role and its label (``run › stage``).

    Columns: model_id, project, run_id, run_name, operator_class, parent_model_id, role, label.
    ``role`` is ``whole``, ``stage <name>`` or ``best of <search class>``; ``label`` is the run's
    name, then the stage path (``logreg-baseline › clf``, ``forest-grid › best``). Labels are not
    made unique here (two runs may share a name): see ``unique_labels``.
    """
    import pandas as pd

    projects = _projects(project)
    wanted = _ids(model_ids)
    if not wanted:
        return pd.DataFrame(columns=COLUMNS)
    models, stages = _lineage(warehouse, projects, wanted)
    names = run_names(warehouse, projects, {m["run_id"] for m in models.values()})
    roles = _Roles(models, stages)
    out = []
    for model in (models[i] for i in wanted if i in models):
        path = roles.path(model)
        run = run_label(names.get(model["run_id"], ""), model["run_id"])
        out.append({"model_id": model["model_id"], "project": model["project"], "run_id": model["run_id"],
                    "run_name": run, "operator_class": model["operator_class"],
                    "parent_model_id": model["parent_model_id"], "role": roles.role(model, path),
                    "label": " › ".join([run, *path])})
    return pd.DataFrame(out, columns=COLUMNS)


def unique_labels(labels: dict[str, str]) -> dict[str, str]:
    """id -> label, with the end of the id added to labels that several ids share."""
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {i: (f"{label} (…{i[-6:]})" if counts[label] > 1 else label) for i, label in labels.items()}
