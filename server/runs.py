"""MLflow's run endpoints: each write checked as MLflow checks it, then sent as our events.

An MLflow run is our run: the same id (a uuid7, made here), its experiment's project, and its
nested runs' ``mlflow.parentRunId`` tag as our version tree's parent. Its name, user and source
fill ``RunStarted`` and stay tags too, as MLflow keeps them. A rename is the ``mlflow.runName``
tag (MLflow's own way); a deletion is the tag ``modeldb.lifecycle_stage`` (MLflow's
``lifecycle_stage``; ``modeldb sql`` sees it as a tag).

The server remembers the runs it has written to (``Known``, at most ``MAX_KNOWN``): their
project, their params (MLflow refuses a changed param value) and whether they are deleted, so a
log call costs no read. A run it does not know is looked up in the warehouse once.
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from modeldb.core.events import uuid7
from modeldb.server import protocol as p
from modeldb.server.events import Target, Writer, now_ms, param_record
from modeldb.server.experiments import Experiments, experiment_id
from modeldb.server.reader import INPUT_TAG, Reader, run_info, run_json, tags_of
from modeldb.warehouse.queries import mlflow_runs

MAX_KNOWN = 100_000
MODEL_HISTORY = "mlflow.log-model.history"
ENDED = ("FINISHED", "FAILED", "KILLED")
_ADJECTIVES = ("bold", "calm", "eager", "gentle", "kind", "lucky", "merry", "quiet", "swift", "wise")
_NOUNS = ("ant", "bat", "cat", "deer", "eel", "fox", "gnu", "hare", "ibis", "jay")


@dataclass
class Known:
    target: Target
    experiment_id: str
    start_ms: int
    name: str
    user: str
    status: str = "RUNNING"
    end_ms: int = 0
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


class Runs:
    def __init__(self, writer: Writer, reader: Reader, experiments: Experiments):
        self._writer, self._reader, self._experiments = writer, reader, experiments
        self._known: OrderedDict[str, Known] = OrderedDict()
        self._lock = threading.Lock()
        self._default = reader.settings.project
        self._ours = reader.settings.experiment

    # -- the runs the server knows ------------------------------------------------
    def _remember(self, run_id: str, known: Known) -> Known:
        with self._lock:
            self._known[run_id] = known
            self._known.move_to_end(run_id)
            while len(self._known) > MAX_KNOWN:
                self._known.popitem(last=False)
        return known

    def _row(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._known.get(run_id)
        project = found.target.project if found is not None else None
        rows = self._reader.read(mlflow_runs.runs_by_id, [run_id], project, runs=[run_id])
        if run_id not in rows:
            raise p.missing(f"Run with id={run_id} not found")
        return rows[run_id]

    def known(self, run_id: str) -> Known:
        with self._lock:
            found = self._known.get(run_id)
        if found is not None:
            return found
        row = self._row(run_id)
        tags = tags_of(row)
        return self._remember(run_id, Known(
            Target(row["project"], self._ours, run_id), experiment_id(row["project"], self._default),
            row["started_ts"] // 1000, row["name"], row["user"], row["status"] or "RUNNING", row["ended_ts"] // 1000,
            dict(zip(row["param_keys"], row["param_values"])), tags, tags.get(mlflow_runs.LIFECYCLE_TAG) == "deleted"))

    def _active(self, body: dict[str, Any]) -> Known:
        run_id = p.text(body, "run_id", required=False) or p.text(body, "run_uuid")
        known = self.known(run_id)
        if known.deleted:
            raise p.invalid(f"The run {run_id} must be in the 'active' state. Current state is deleted.")
        return known

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        eid = p.text(body, "experiment_id", required=False, default="0")
        experiment = self._experiments.get(eid)
        if experiment["lifecycle_stage"] != "active":
            raise p.invalid(f"The experiment {eid} must be in the 'active' state. Current state is deleted.")
        tags = self._tags(body.get("tags") or [])
        name = p.text(body, "run_name", required=False) or tags.get("mlflow.runName") or _random_name()
        tags["mlflow.runName"] = name
        start = p.integer(body, "start_time") or now_ms()
        user = p.text(body, "user_id", required=False) or tags.get("mlflow.user", "")
        run_id = uuid7()
        target = Target(experiment["project"], self._ours, run_id)
        self._writer.emit(target, "RunStarted", {
            "name": name, "parent_run_id": tags.get("mlflow.parentRunId"), "branch_seq": None, "user": user,
            "source": tags.get("mlflow.source.name", ""), "tags": tags}, ts=start * 1000)
        known = self._remember(run_id, Known(target, eid, start, name, user, tags=dict(tags)))
        return {"run": {"info": _info(known), "data": {"tags": p.pairs(tags)}, "inputs": {}}}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        known = self._active(body)
        status = p.text(body, "status", required=False)
        if status and status not in p.RUN_STATUSES:
            raise p.invalid(f"Invalid value {status!r} for parameter 'status': it must be one of {', '.join(p.RUN_STATUSES)}")
        name = p.text(body, "run_name", required=False)
        if name:
            self._writer.tag(known.target, "mlflow.runName", name)
            known.tags["mlflow.runName"] = name
        end = p.integer(body, "end_time")
        if status in ENDED:
            end = end if end is not None else now_ms()
            self._writer.emit(known.target, "RunEnded", {"status": status, "error": None,
                                                         "duration_ms": float(max(0, end - known.start_ms))},
                              ts=end * 1000)
            if known.status == "RUNNING" or end >= known.end_ms:  # the newest end wins, as in the merge
                known.status, known.end_ms = status, end
        return {"run_info": _info(known)}

    def set_stage(self, body: dict[str, Any], stage: str) -> dict[str, Any]:
        run_id = p.text(body, "run_id")
        known = self.known(run_id)
        self._writer.tag(known.target, mlflow_runs.LIFECYCLE_TAG, stage)
        known.deleted = stage == "deleted"
        return {}

    # -- logging ------------------------------------------------------------------------
    def log_metric(self, body: dict[str, Any]) -> dict[str, Any]:
        known = self._active(body)
        self._writer.points(known.target, [self._metric(body)])
        return {}

    def log_param(self, body: dict[str, Any]) -> dict[str, Any]:
        known = self._active(body)
        self._params(known, [body])
        return {}

    def set_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        known = self._active(body)
        for key, value in self._tags([body]).items():
            self._writer.tag(known.target, key, value)
            known.tags[key] = value
        return {}

    def log_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        metrics, params, tags = (body.get(k) or [] for k in ("metrics", "params", "tags"))
        if not all(isinstance(x, list) for x in (metrics, params, tags)):
            raise p.invalid("log-batch takes lists of metrics, params and tags")
        if len(metrics) > p.MAX_METRICS_PER_BATCH:
            raise p.invalid(f"A batch logging request can contain at most {p.MAX_METRICS_PER_BATCH} metrics. "
                            f"Got {len(metrics)} metrics.")
        for what, items in (("params", params), ("tags", tags)):
            if len(items) > p.MAX_PARAMS_TAGS_PER_BATCH:
                raise p.invalid(f"A batch logging request can contain at most {p.MAX_PARAMS_TAGS_PER_BATCH} "
                                f"{what}. Got {len(items)} {what}.")
        known = self._active(body)
        points = [self._metric(m) for m in metrics]
        checked_tags = self._tags(tags)
        self._params(known, params)
        for key, value in checked_tags.items():
            self._writer.tag(known.target, key, value)
            known.tags[key] = value
        self._writer.points(known.target, points)
        return {}

    def log_inputs(self, body: dict[str, Any]) -> dict[str, Any]:
        """Datasets as metadata: each a tag ``modeldb.input.<hash of name and digest>`` holding MLflow's JSON."""
        known = self._active(body)
        datasets = body.get("datasets") or []
        if not isinstance(datasets, list) or not all(isinstance(d, dict) and isinstance(d.get("dataset"), dict)
                                                     for d in datasets):
            raise p.invalid("log-inputs takes a list of dataset inputs, each with a dataset")
        for item in datasets:
            dataset = item["dataset"]
            name, digest = p.text(dataset, "name"), p.text(dataset, "digest")
            entry = {"tags": self._tags(item.get("tags") or []), "dataset": dataset}
            tag = INPUT_TAG + hashlib.sha256(f"{name}\0{digest}".encode()).hexdigest()[:16]
            self._writer.tag(known.target, tag, json.dumps(
                {"tags": p.pairs(entry["tags"]), "dataset": dataset}, sort_keys=True))
        return {}

    def log_model(self, body: dict[str, Any]) -> dict[str, Any]:
        """A model as metadata, as MLflow records it: appended to the tag ``mlflow.log-model.history``."""
        known = self._active(body)
        try:
            model = json.loads(p.text(body, "model_json"))
        except ValueError:
            raise p.invalid("model_json is not valid JSON") from None
        if not isinstance(model, dict):
            raise p.invalid("model_json must be a JSON object")
        history = json.loads(known.tags.get(MODEL_HISTORY, "[]"))
        history.append(model)
        value = json.dumps(history)
        self._writer.tag(known.target, MODEL_HISTORY, value)
        known.tags[MODEL_HISTORY] = value
        return {}

    def _metric(self, m: Any) -> tuple[str, float, int, int]:
        if not isinstance(m, dict):
            raise p.invalid("a metric is an object with key, value, timestamp and step")
        key = p.key(m.get("key"), "metric")
        timestamp = p.integer(m, "timestamp")
        if timestamp is None:
            raise p.invalid(f"Missing value for required parameter 'timestamp' of metric '{key}'.")
        return key, p.number(m.get("value"), key), p.integer(m, "step", default=0) or 0, timestamp

    def _params(self, known: Known, items: list[Any]) -> None:
        records, seen = [], {}
        for item in items:
            if not isinstance(item, dict):
                raise p.invalid("a param is an object with key and value")
            key = p.key(item.get("key"), "param")
            value = p.value_text(item.get("value"), "param", key, p.MAX_PARAM_VALUE)
            before = seen.get(key, known.params.get(key))
            if before is not None and before != value:
                raise p.invalid(f"Changing param values is not allowed. Param with key='{key}' was already logged "
                                f"with value='{before}' for run ID='{known.target.run_id}'. Attempted logging new "
                                f"value '{value}'.")
            if before is None:
                records.append(param_record(key, value))
            seen[key] = value
        self._writer.params(known.target, records)
        known.params.update(seen)

    def _tags(self, items: list[Any]) -> dict[str, str]:
        if not isinstance(items, list):
            raise p.invalid("tags are a list of objects with key and value")
        tags = {}
        for item in items:
            if not isinstance(item, dict):
                raise p.invalid("a tag is an object with key and value")
            key = p.key(item.get("key"), "tag")
            tags[key] = p.value_text(item.get("value"), "tag", key, p.MAX_TAG_VALUE)
        return tags

    # -- reads -----------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any]:
        row = self._row(run_id)
        return {"run": run_json(row, experiment_id(row["project"], self._default))}

    def history(self, run_id: str, key: str) -> dict[str, Any]:
        known = self.known(run_id)
        points = self._reader.read(mlflow_runs.metric_history, known.target.project, run_id, [key], runs=[run_id])
        return {"metrics": [{"key": row["name"], "value": p.metric_json(row["value"]), "timestamp": row["ts"] // 1000,
                             "step": row["step"]} for row in points]}


def _info(known: Known) -> dict[str, Any]:
    """A run's info from what the server knows of it (no read): what create and update answer."""
    row = {"run_id": known.target.run_id, "name": known.name, "user": known.user, "status": known.status,
           "started_ts": known.start_ms * 1000, "ended_ts": known.end_ms * 1000,
           "tag_keys": list(known.tags), "tag_values": list(known.tags.values())}
    info = run_info(row, known.experiment_id)
    if known.deleted:
        info["lifecycle_stage"] = "deleted"
    return info


def _random_name() -> str:
    """A run name when the client gives none, as MLflow makes one: adjective-animal-number."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
