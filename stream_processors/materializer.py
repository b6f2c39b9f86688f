"""The materializer core: decoded events in, warehouse rows out.

Pure: no I/O, no clocks, no knowledge of where events came from. The batch
pipeline (``pipeline.py``), which every runner drives, calls
``decode_and_validate`` then ``materialize``, then hands the rows to the
batching sink.

Every row carries the event's ts as ``ver``, and every table's sorting key
makes a redelivered event collapse onto its first copy (see the DDL), so
materializing the same event twice changes no answer.
"""
from __future__ import annotations

import binascii
from collections import defaultdict
from typing import Any, Iterable

from modeldb.core import codec
from modeldb.core.events import EVENT_TYPES, typed_param
from modeldb.core.exceptions import DecodeError
from modeldb.stream_processors.points import Points

COLUMNS: dict[str, tuple[str, ...]] = {
    "events_raw": ("event_id", "event_type", "schema_version", "ts", "project", "experiment", "run_id", "seq",
                   "producer_host", "producer_pid", "producer_library", "producer_library_version",
                   "producer_framework", "producer_framework_version", "schema_fingerprint", "body", "ver"),
    "projects": ("project", "last_ts", "ver"),
    "experiments": ("project", "experiment", "run_id", "started_ts", "ver"),
    "runs": ("project", "experiment", "run_id", "event_type", "event_id", "name", "parent_run_id", "branch_seq",
             "user", "source", "status", "error", "duration_ms", "ts", "ver"),
    "params": ("project", "run_id", "key", "type", "value", "num", "is_num", "event_id", "ts", "ver"),
    "metrics": ("project", "name", "run_id", "step", "value", "model_id", "dataframe_id", "slice", "event_id", "ts", "ver"),
    "tags": ("project", "run_id", "key", "value", "event_id", "ts", "ver"),
    "annotations": ("project", "run_id", "target_id", "text", "author", "event_id", "ts", "ver"),
    "actions": ("project", "experiment", "run_id", "seq", "action_id", "action", "operator_class", "operator_module",
                "model_id", "parent_action_id", "stage_index", "input_dataframe_ids", "output_dataframe_ids",
                "input_columns", "output_columns", "param_keys", "param_types", "param_values", "param_nums",
                "duration_ms", "event_id", "ts", "ver"),
    "dataframes": ("project", "experiment", "run_id", "dataframe_id", "fingerprint", "fingerprint_method", "source",
                   "n_rows", "n_columns", "column_names", "column_types", "sample_keys", "sample_rows_json",
                   "event_id", "ts", "ver"),
    "dataframe_columns": ("project", "run_id", "dataframe_id", "position", "name", "type", "count", "null_count",
                          "distinct_approx", "min", "max", "mean", "std", "top_values", "ts", "ver"),
    "lineage": ("project", "run_id", "kind", "src", "dst", "path", "action_id", "model_id", "ts", "ver"),
    "models": ("project", "experiment", "run_id", "model_id", "operator_class", "operator_module", "action_id",
               "parent_model_id", "uri", "format", "size_bytes", "train_dataframe_id", "feature_names", "event_id",
               "ts", "ver"),
    "model_internals": ("project", "run_id", "model_id", "name", "shape", "labels", "values", "truncated", "ts", "ver"),
    "predictions": ("project", "run_id", "model_id", "dataframe_id", "key", "prediction", "prediction_num", "label",
                    "label_num", "has_label", "slice_keys", "slice_values", "ts", "ver"),
    "cv_folds": ("project", "run_id", "action_id", "operator_class", "model_id", "fold", "train_dataframe_id",
                 "test_dataframe_id", "score_names", "score_values", "ts", "ver"),
    "search_candidates": ("project", "run_id", "action_id", "operator_class", "scoring", "candidate", "param_keys",
                          "param_values", "param_nums", "mean_score", "std_score", "rank", "fold_scores", "is_best",
                          "best_model_id", "ts", "ver", "refit", "iteration", "n_resources", "score_names",
                          "score_splits", "score_means", "score_stds", "score_ranks", "score_folds"),
    "artifacts": ("project", "run_id", "artifact_id", "name", "uri", "format", "size_bytes", "checksum", "event_id",
                  "ts", "ver"),
    # The current state (``current.py``): one row per run and model, merged by the run's owner at write time.
    "run_state": ("project", "experiment", "run_id", "name", "status", "error", "parent_run_id", "branch_seq", "user",
                  "source", "started_ts", "ended_ts", "duration_ms", "param_keys", "param_values", "param_nums",
                  "param_vers", "metric_keys", "metric_values", "metric_steps", "metric_vers", "metric_names",
                  "tag_keys", "tag_values", "tag_vers", "started_ver", "ended_ver", "ver"),
    "model_state": ("project", "experiment", "run_id", "model_id", "operator_class", "operator_module", "action_id",
                    "parent_model_id", "uri", "format", "size_bytes", "train_dataframe_id", "feature_names",
                    "features", "created_ts", "param_keys", "param_values", "param_nums", "param_vers", "metric_keys",
                    "metric_values", "metric_steps", "metric_vers", "metric_names", "stored_ver", "ver"),
}
STATE_TABLES = frozenset({"run_state", "model_state"})

NAN = float("nan")
FIT_ACTIONS = ("fit", "fit_transform", "fit_predict")


_ENVELOPE_IDS = ("event_id", "run_id", "project", "experiment")
_KNOWN_TYPES = frozenset(EVENT_TYPES)


def decode_and_validate(data: bytes) -> dict[str, Any]:
    """Decode one record and check the envelope; raise ``DecodeError`` with the reason."""
    event = codec.decode(data)
    get = event.get
    if not (get("event_id") and get("run_id") and get("project") and get("experiment")):
        name = next(n for n in _ENVELOPE_IDS if not get(n))
        raise DecodeError(f"invalid event: empty {name}")
    if event["event_type"] not in _KNOWN_TYPES:
        raise DecodeError(f"invalid event: unknown event_type {event['event_type']!r}")
    if event["ts"] <= 0 or event["seq"] < 0:
        raise DecodeError(f"invalid event: ts {event['ts']} / seq {event['seq']} out of range")
    if event["event_type"] == "MetricsLogged":
        _check_points(event["payload"])
    elif event["event_type"] == "ParamsLogged":
        _check_params(event["payload"])
    return event


def _check_params(p: dict) -> None:
    """A batch of params has each key once (it stands for one ParamLogged per key)."""
    if "params" not in p:
        raise DecodeError("invalid ParamsLogged: its payload is another action's")
    keys = [q["key"] for q in p["params"]]
    if len(set(keys)) < len(keys):
        twice = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise DecodeError(f"invalid ParamsLogged: key {twice[:200]!r} twice")


def _check_points(p: dict) -> None:
    """A batch of points is columns of one length, with indexes into its names and links."""
    if "name_index" not in p:
        raise DecodeError("invalid MetricsLogged: its payload is another action's")
    n = len(p["values"])
    for column in ("name_index", "steps", "ts_offsets"):
        if len(p[column]) != n:
            raise DecodeError(f"invalid MetricsLogged: {len(p[column])} {column} for {n} values")
    if p["link_index"] and len(p["link_index"]) != n:
        raise DecodeError(f"invalid MetricsLogged: {len(p['link_index'])} link_index for {n} values")
    for column, within in (("name_index", "names"), ("link_index", "links")):
        index = p[column]
        if index and (min(index) < 0 or max(index) >= len(p[within])):
            raise DecodeError(f"invalid MetricsLogged: a {column} outside its {len(p[within])} {within}")
    if n and min(p["ts_offsets"]) < 0:
        raise DecodeError("invalid MetricsLogged: a negative ts_offset")


class Rows(dict):
    """table -> list of row tuples in ``COLUMNS[table]`` order (``Points`` for ``metrics``)."""

    def __missing__(self, key: str) -> list | Points:
        value: list | Points = Points() if key == "metrics" else []
        self[key] = value
        return value

    def count(self) -> int:
        return sum(len(v) for v in self.values())

    def only(self, tables: frozenset[str] | None) -> "Rows":
        """These tables' rows (all of them for None): a rebuild of some tables."""
        return self if tables is None else Rows({t: batch for t, batch in self.items() if t in tables})


def materialize(events: Iterable[tuple[dict[str, Any], bytes]]) -> Rows:
    # The per-event path is written for speed (locals, no helper calls for the common
    # events): it is the processor's main cost after decoding.
    rows = Rows()
    last_activity: dict[str, int] = defaultdict(int)
    raw = rows["events_raw"]
    add_raw, handlers, b64 = raw.append, _HANDLERS, binascii.b2a_base64
    for event, data in events:
        ts = event["ts"]
        project = event["project"]
        producer = event["producer"]
        event_type = event["event_type"]
        add_raw((event["event_id"], event_type, event["schema_version"], ts, project, event["experiment"],
                 event["run_id"], event["seq"], producer["host"], producer["pid"], producer["library"],
                 producer["library_version"], producer["framework"] or "", producer["framework_version"] or "",
                 data[2:10].hex(), b64(data, newline=False).decode(), ts))
        if ts > last_activity[project]:
            last_activity[project] = ts
        handler = handlers.get(event_type)
        if handler is not None:
            handler(rows, event, event["payload"])
    rows["projects"].extend((p, ts, ts) for p, ts in last_activity.items())
    return rows



def _run_started(rows: Rows, e: dict, p: dict) -> None:
    ts = e["ts"]
    rows["runs"].append((e["project"], e["experiment"], e["run_id"], "RunStarted", e["event_id"], p["name"],
                         p["parent_run_id"] or "", -1 if p["branch_seq"] is None else p["branch_seq"],
                         p["user"], p["source"], "RUNNING", "", 0.0, ts, ts))
    rows["experiments"].append((e["project"], e["experiment"], e["run_id"], ts, ts))
    for key, value in p["tags"].items():
        rows["tags"].append((e["project"], e["run_id"], key, value, e["event_id"], ts, ts))


def _run_ended(rows: Rows, e: dict, p: dict) -> None:
    ts = e["ts"]
    rows["runs"].append((e["project"], e["experiment"], e["run_id"], "RunEnded", e["event_id"], "", "", -1, "", "",
                         p["status"], p["error"] or "", p["duration_ms"], ts, ts))


def _param_logged(rows: Rows, e: dict, p: dict) -> None:
    _param_rows(rows["params"], e, (p["param"],))


def _params_logged(rows: Rows, e: dict, p: dict) -> None:
    """Each param as its own row, as a ParamLogged would give it (keys are distinct, so they share the
    batch's id and version)."""
    _param_rows(rows["params"], e, p["params"])


def _param_rows(out: list, e: dict, params: Iterable[dict]) -> None:
    ts, project, run_id, event_id = e["ts"], e["project"], e["run_id"], e["event_id"]
    for param in params:
        num = param["num"]
        if num is None:
            out.append((project, run_id, param["key"], param["type"], param["value"], 0.0, 0, event_id, ts, ts))
        else:
            out.append((project, run_id, param["key"], param["type"], param["value"], num, 1, event_id, ts, ts))


def _metric_logged(rows: Rows, e: dict, p: dict) -> None:
    ts, project, run_id = e["ts"], e["project"], e["run_id"]
    name, value, step, model_id, slice_ = p["name"], p["value"], p["step"], p["model_id"], p["slice"]
    rows["metrics"].append((project, name, run_id, step, value, model_id or "", p["dataframe_id"] or "", slice_,
                            e["event_id"], ts, ts))
    if p.get("model_changed") and model_id:  # the model's stored snapshot may not reproduce the value
        _changed_model(rows, e, model_id, name, value, e["event_id"], ts)


def _metrics_logged(rows: Rows, e: dict, p: dict) -> None:
    """A batch of points, kept as its columns (``points.py``)."""
    rows["metrics"].add_batch(e, p)
    links = p["links"]
    if p["link_index"] and any(x["model_changed"] and x["model_id"] for x in links):
        for i, (n, value, link, offset) in enumerate(zip(p["name_index"], p["values"], p["link_index"],
                                                         p["ts_offsets"])):
            if links[link]["model_changed"] and links[link]["model_id"]:
                _changed_model(rows, e, links[link]["model_id"], p["names"][n], value, f"{e['event_id']}.{i}",
                               e["ts"] + offset)


def _changed_model(rows: Rows, e: dict, model_id: str, name: str, value: float, point_id: str, ts: int) -> None:
    rows["annotations"].append((e["project"], e["run_id"], model_id, f"modeldb: {name} = {value!r} was computed "
                                "after this model changed; its stored snapshot may not reproduce it", "modeldb",
                                point_id, ts, ts))


def _tag_set(rows: Rows, e: dict, p: dict) -> None:
    rows["tags"].append((e["project"], e["run_id"], p["key"], p["value"], e["event_id"], e["ts"], e["ts"]))


def _annotated(rows: Rows, e: dict, p: dict) -> None:
    rows["annotations"].append((e["project"], e["run_id"], p["target_id"] or "", p["text"], p["author"],
                                e["event_id"], e["ts"], e["ts"]))


def _num(value: float | None) -> float:
    return NAN if value is None else value


def _action_row(e: dict, action_id: str, action: str, operator_class: str, *, operator_module: str = "",
                model_id: str | None = None, parent_action_id: str | None = None, stage_index: int | None = None,
                inputs: list | None = None, outputs: list | None = None, input_columns: list | None = None,
                output_columns: list | None = None, params: list | None = None, duration_ms: float = 0.0) -> tuple:
    params = params or []
    return (e["project"], e["experiment"], e["run_id"], e["seq"], action_id, action, operator_class, operator_module,
            model_id or "", parent_action_id or "", -1 if stage_index is None else stage_index, inputs or [],
            outputs or [], input_columns or [], output_columns or [], [q["key"] for q in params],
            [q["type"] for q in params], [q["value"] for q in params], [_num(q["num"]) for q in params],
            duration_ms, e["event_id"], e["ts"], e["ts"])


def _operator_applied(rows: Rows, e: dict, p: dict) -> None:
    ts = e["ts"]
    rows["actions"].append(_action_row(
        e, p["action_id"], p["action"], p["operator_class"], operator_module=p["operator_module"],
        model_id=p["model_id"], parent_action_id=p["parent_action_id"], stage_index=p["stage_index"],
        inputs=p["input_dataframe_ids"], outputs=p["output_dataframe_ids"], input_columns=p["input_columns"],
        output_columns=p["output_columns"], params=p["params"], duration_ms=p["duration_ms"]))
    rows["lineage"].extend((e["project"], e["run_id"], "action", edge["src"], edge["dst"], edge.get("path", ""),
                            p["action_id"], p["model_id"] or "", ts, ts) for edge in p["column_edges"])


def _dataframe_observed(rows: Rows, e: dict, p: dict) -> None:
    ts, cols = e["ts"], p["columns"]
    rows["dataframes"].append((e["project"], e["experiment"], e["run_id"], p["dataframe_id"], p["fingerprint"],
                               p["fingerprint_method"], p["source"], p["n_rows"],
                               p["n_columns"] if p["n_columns"] >= 0 else len(cols), [c["name"] for c in cols],
                               [c["type"] for c in cols], p["sample_keys"], p["sample_rows_json"], e["event_id"], ts,
                               ts))
    out = rows["dataframe_columns"]
    for position, column in enumerate(cols):
        st = column["stats"] or {}
        out.append((e["project"], e["run_id"], p["dataframe_id"], position, column["name"], column["type"],
                    _count(st.get("count")), _count(st.get("null_count")), _count(st.get("distinct_approx")),
                    _num(st.get("min")), _num(st.get("max")), _num(st.get("mean")), _num(st.get("std")),
                    st.get("top_values") or [], ts, ts))


def _count(value: int | None) -> int:
    return -1 if value is None else value


def _split(rows: Rows, e: dict, p: dict) -> None:
    params = [typed_param("weights", p["weights"]), typed_param("seed", p["seed"])]
    rows["actions"].append(_action_row(e, e["event_id"], "split", p["method"], inputs=p["input_dataframe_ids"],
                                       outputs=p["output_dataframe_ids"], params=params))


def _cross_validated(rows: Rows, e: dict, p: dict) -> None:
    ts, action_id = e["ts"], e["event_id"]
    rows["actions"].append(_action_row(e, action_id, "cross_validate", p["operator_class"], model_id=p["model_id"],
                                       inputs=[p["input_dataframe_id"]] if p["input_dataframe_id"] else []))
    for fold in p["folds"]:
        names = sorted(fold["scores"])
        rows["cv_folds"].append((e["project"], e["run_id"], action_id, p["operator_class"], p["model_id"] or "",
                                 fold["index"], fold["train_dataframe_id"] or "", fold["test_dataframe_id"] or "",
                                 names, [fold["scores"][n] for n in names], ts, ts))


def _search_completed(rows: Rows, e: dict, p: dict) -> None:
    ts, action_id = e["ts"], e["event_id"]
    rows["actions"].append(_action_row(e, action_id, "search", p["operator_class"], model_id=p["best_model_id"],
                                       params=[{"key": "scoring", "type": "str", "value": p["scoring"], "num": None}]))
    for c in p["candidates"]:
        params = c["params"]
        # Every scorer, test and train; an event from before schema v3 has the ranking scorer only.
        scores = c.get("scores") or [{"name": p["scoring"], "split": "test", "mean": c["mean_score"],
                                      "std": c["std_score"], "rank": c["rank"], "folds": c["fold_scores"]}]
        iteration, n_resources = c.get("iteration"), c.get("n_resources")
        rows["search_candidates"].append((
            e["project"], e["run_id"], action_id, p["operator_class"], p["scoring"], c["index"],
            [q["key"] for q in params], [q["value"] for q in params], [_num(q["num"]) for q in params],
            _num(c["mean_score"]), _num(c["std_score"]), -1 if c["rank"] is None else c["rank"], c["fold_scores"],
            1 if c["index"] == p["best_index"] else 0, p["best_model_id"] or "", ts, ts, p.get("refit") or "",
            -1 if iteration is None else iteration, -1 if n_resources is None else n_resources,
            [x["name"] for x in scores], [x["split"] for x in scores], [_num(x["mean"]) for x in scores],
            [_num(x["std"]) for x in scores], [-1 if x["rank"] is None else x["rank"] for x in scores],
            [x["folds"] for x in scores]))


def _model_stored(rows: Rows, e: dict, p: dict) -> None:
    ts, model_id = e["ts"], p["model_id"]
    rows["models"].append((e["project"], e["experiment"], e["run_id"], model_id, p["operator_class"],
                           p.get("operator_module", ""), p.get("action_id") or "", p.get("parent_model_id") or "",
                           p["uri"], p["format"], p["size_bytes"], p["train_dataframe_id"] or "", p["feature_names"],
                           e["event_id"], ts, ts))
    rows["model_internals"].extend((e["project"], e["run_id"], model_id, i["name"], i["shape"], i["labels"],
                                    i["values"], 1 if i["truncated"] else 0, ts, ts) for i in p["internals"])
    rows["lineage"].extend((e["project"], e["run_id"], "model", edge["src"], edge["dst"], edge.get("path", ""),
                            p.get("action_id") or "", model_id, ts, ts) for edge in p.get("column_lineage", ()))


def _predictions_logged(rows: Rows, e: dict, p: dict) -> None:
    ts, out = e["ts"], rows["predictions"]
    for r in p["rows"]:
        keys = sorted(r["slice_values"])
        out.append((e["project"], e["run_id"], p["model_id"], p["dataframe_id"], r["key"], r["prediction"],
                    _num(r["prediction_num"]), r["label"] or "", _num(r["label_num"]),
                    0 if r["label"] is None else 1, keys, [r["slice_values"][k] for k in keys], ts, ts))


def _artifact_stored(rows: Rows, e: dict, p: dict) -> None:
    rows["artifacts"].append((e["project"], e["run_id"], p["artifact_id"], p["name"], p["uri"], p["format"],
                              p["size_bytes"], p["checksum"], e["event_id"], e["ts"], e["ts"]))


_HANDLERS = {
    "RunStarted": _run_started,
    "RunEnded": _run_ended,
    "ParamLogged": _param_logged,
    "ParamsLogged": _params_logged,
    "MetricLogged": _metric_logged,
    "MetricsLogged": _metrics_logged,
    "TagSet": _tag_set,
    "Annotated": _annotated,
    "OperatorApplied": _operator_applied,
    "DataFrameObserved": _dataframe_observed,
    "Split": _split,
    "CrossValidated": _cross_validated,
    "SearchCompleted": _search_completed,
    "ModelStored": _model_stored,
    "PredictionsLogged": _predictions_logged,
    "ArtifactStored": _artifact_stored,
}
