"""MLflow experiments over ModelDB projects.

An MLflow experiment is a ModelDB project: a run logged into experiment ``churn`` is a run of
project ``churn``, next to the runs our own client logs there. MLflow's ``Default`` experiment
(id ``0``) is the configured project (``MODELDB_PROJECT``, ``default``). Any other experiment's id
is a number derived from its project's name (the first 52 bits of its SHA-256), so every server,
and a server that lost its files, gives a project the same id.

What a project does not hold (an experiment that has no run yet, its tags, a new name, a
deletion) is kept in ``<MODELDB_HOME>/mlflow/experiments.json``, written to a temporary name and
renamed. A renamed experiment keeps its project: its runs stay where they are in SQL.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

from modeldb.server.protocol import MAX_EXPERIMENT_NAME, MlflowError, invalid, missing, pairs

DEFAULT_ID = "0"
DEFAULT_NAME = "Default"
Projects = Callable[[], list[dict[str, Any]]]  # each project with runs: project, first_ts, last_ts (µs)


def experiment_id(project: str, default_project: str) -> str:
    if project == default_project:
        return DEFAULT_ID
    return str(int.from_bytes(hashlib.sha256(project.encode("utf-8")).digest()[:8], "big") >> 12)


class Experiments:
    def __init__(self, path: Path, default_project: str, projects: Projects):
        self._path = path
        self._default = default_project
        self._projects = projects
        self._lock = threading.Lock()
        self._saved: dict[str, dict[str, Any]] = self._load()
        self._seen: dict[str, dict[str, Any]] = {}  # the projects with runs, as last read

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MlflowError("INTERNAL_ERROR", f"cannot read {self._path}: {exc}") from None

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._saved, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self._path)

    def _all(self, fresh: bool = True) -> dict[str, dict[str, Any]]:
        """Every experiment: the saved ones, and each project with runs (its times from its runs).
        ``fresh``: read the projects from the warehouse again, else use the last read."""
        if fresh or not self._seen:
            found: dict[str, dict[str, Any]] = {}
            for row in self._projects():
                eid = experiment_id(row["project"], self._default)
                found[eid] = {"project": row["project"], "name": DEFAULT_NAME if eid == DEFAULT_ID else row["project"],
                              "creation_time": row["first_ts"] // 1000, "last_update_time": row["last_ts"] // 1000,
                              "lifecycle_stage": "active", "tags": {}}
            if DEFAULT_ID not in found:
                found[DEFAULT_ID] = {"project": self._default, "name": DEFAULT_NAME, "creation_time": 0,
                                     "last_update_time": 0, "lifecycle_stage": "active", "tags": {}}
            self._seen = found
        every = dict(self._seen)
        for eid, saved in self._saved.items():
            every[eid] = {**every.get(eid, {}), **saved}
        return every

    def get(self, eid: str) -> dict[str, Any]:
        """An experiment by id: a known one without a read (each create_run asks), else read afresh."""
        found = self._all(fresh=False).get(eid) or self._all().get(eid)
        if found is None:
            raise missing(f"No Experiment with id={eid} exists")
        return {"experiment_id": eid, **found}

    def by_name(self, name: str) -> dict[str, Any]:
        for eid, found in self._all().items():
            if found["name"] == name:
                return {"experiment_id": eid, **found}
        raise missing(f"Could not find experiment with name '{name}'")

    def create(self, name: str, tags: dict[str, str]) -> str:
        if len(name) > MAX_EXPERIMENT_NAME:
            raise invalid(f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME} characters")
        with self._lock:
            every = self._all()
            if any(found["name"] == name for found in every.values()):
                raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
            eid = experiment_id(name, self._default)
            if eid in every:  # a project of that name was renamed away: its id stays with it
                raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment id {eid} of '{name}' is taken by "
                                  f"'{every[eid]['name']}' (renamed); choose another name.")
            now = int(time.time() * 1000)
            self._saved[eid] = {"project": name, "name": name, "creation_time": now, "last_update_time": now,
                                "lifecycle_stage": "active", "tags": dict(tags)}
            self._save()
        return eid

    def _change(self, eid: str, change: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            current = self.get(eid)
            saved = self._saved.setdefault(eid, {key: value for key, value in current.items() if key != "experiment_id"})
            change(saved)
            saved["last_update_time"] = int(time.time() * 1000)
            self._save()

    def rename(self, eid: str, new_name: str) -> None:
        if any(found["name"] == new_name for other, found in self._all().items() if other != eid):
            raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{new_name}' already exists.")
        self._change(eid, lambda saved: saved.update(name=new_name))

    def set_stage(self, eid: str, stage: str) -> None:
        if eid == DEFAULT_ID and stage == "deleted":
            raise invalid("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
        self._change(eid, lambda saved: saved.update(lifecycle_stage=stage))

    def set_tag(self, eid: str, key: str, value: str) -> None:
        self._change(eid, lambda saved: saved.setdefault("tags", {}).__setitem__(key, value))

    def search(self, view: str) -> list[dict[str, Any]]:
        """Experiments in ``view`` (ACTIVE_ONLY, DELETED_ONLY, ALL), newest first."""
        wanted = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}[view]
        chosen = [{"experiment_id": eid, **found} for eid, found in self._all().items() if found["lifecycle_stage"] in wanted]
        return sorted(chosen, key=lambda e: (-e["creation_time"], int(e["experiment_id"])))


def experiment_json(found: dict[str, Any]) -> dict[str, Any]:
    eid = found["experiment_id"]
    return {"experiment_id": eid, "name": found["name"], "artifact_location": f"mlflow-artifacts:/{eid}",
            "lifecycle_stage": found["lifecycle_stage"], "creation_time": found["creation_time"],
            "last_update_time": found["last_update_time"], "tags": pairs(found.get("tags", {}))}


def like(pattern: str, case: bool = True) -> "re.Pattern[str]":
    """SQL LIKE as a regular expression: % any run, _ one character, everything else literal."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", 0 if case else re.IGNORECASE | re.DOTALL)
