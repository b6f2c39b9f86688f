"""Build one valid event of every type, for tests that need real encoded records."""
from __future__ import annotations

from modeldb.core.events import EVENT_TYPES, envelope, typed_param

PRODUCER = {"host": "h", "pid": 1, "library": "modeldb", "library_version": "0", "framework": None,
            "framework_version": None}

PAYLOADS = {
    "RunStarted": {"name": "r", "parent_run_id": "p", "branch_seq": 3, "user": "u", "source": "s.py", "tags": {"a": "b"}},
    "RunEnded": {"status": "FINISHED", "error": None, "duration_ms": 12.5},
    "DataFrameObserved": {"dataframe_id": "df1", "fingerprint": "abc", "fingerprint_method": "full", "source": "x.csv",
                          "n_rows": 10, "columns": [{"name": "age", "type": "int64", "stats": {
                              "count": 10, "null_count": 0, "distinct_approx": 5, "min": 1.0, "max": 9.0,
                              "mean": 4.0, "std": 1.0, "top_values": ["3"]}}],
                          "sample_keys": ["0"], "sample_rows_json": ['{"age": 3}'], "n_columns": 1},
    "OperatorApplied": {"action_id": "a1", "action": "fit", "operator_class": "LogisticRegression",
                        "operator_module": "sklearn.linear_model", "model_id": "m1",
                        "params": [typed_param("C", 1.0)], "input_dataframe_ids": ["df1"],
                        "output_dataframe_ids": [], "input_columns": ["age"], "output_columns": [],
                        "column_edges": [{"src": "age", "dst": "age_scaled", "path": ""}], "parent_action_id": None,
                        "stage_index": 0, "duration_ms": 1.0},
    "Split": {"method": "train_test_split", "input_dataframe_ids": ["df1"], "weights": [0.75, 0.25], "seed": 7,
              "output_dataframe_ids": ["df2", "df3"]},
    "CrossValidated": {"operator_class": "cross_validate", "model_id": None, "input_dataframe_id": "df1", "n_folds": 2,
                       "folds": [{"index": 0, "train_dataframe_id": None, "test_dataframe_id": None,
                                  "scores": {"accuracy": 0.9}}]},
    "SearchCompleted": {"operator_class": "GridSearchCV", "scoring": "accuracy",
                        "candidates": [{"index": 0, "params": [typed_param("C", 1)], "mean_score": 0.9,
                                        "std_score": 0.01, "rank": 1, "fold_scores": [0.9, 0.9],
                                        "scores": [{"name": "accuracy", "split": "test", "mean": 0.9, "std": 0.01,
                                                    "rank": 1, "folds": [0.9, 0.9]}],
                                        "iteration": None, "n_resources": None}],
                        "best_index": 0, "best_model_id": "m1", "refit": "accuracy"},
    "MetricLogged": {"name": "loss", "value": 0.5, "step": 3, "model_id": None, "dataframe_id": None, "slice": "",
                     "model_changed": False},
    "ParamLogged": {"param": typed_param("C", 1.0)},
    "TagSet": {"key": "team", "value": "risk"},
    "Annotated": {"text": "note", "target_id": None, "author": "me"},
    "ArtifactStored": {"artifact_id": "a", "name": "plot.png", "uri": "file:///x", "format": "png", "size_bytes": 3,
                       "checksum": "c"},
    "ModelStored": {"model_id": "m1", "operator_class": "LogisticRegression", "uri": "file:///m", "format": "pickle",
                    "size_bytes": 10, "train_dataframe_id": "df1", "feature_names": ["age"],
                    "internals": [{"name": "coef_", "shape": [1], "values": [0.3], "labels": ["age"], "truncated": False}],
                    "operator_module": "sklearn.linear_model", "action_id": "a1", "parent_model_id": None,
                    "column_lineage": [{"src": "age", "dst": "age_scaled", "path": "age > age_scaled"}]},
    "PredictionsLogged": {"model_id": "m1", "dataframe_id": "df3", "rows": [
        {"key": "0", "prediction": "1", "prediction_num": 1.0, "label": "1", "label_num": 1.0,
         "slice_values": {"country": "US"}}]},
    "MetricsLogged": {"names": ["loss", "acc"], "links": [{"model_id": "m1", "dataframe_id": "df3", "slice": "",
                                                           "model_changed": False}],
                      "name_index": [0, 0, 1], "link_index": [], "steps": [0, 1, 0], "values": [0.9, 0.5, 0.75],
                      "ts_offsets": [0, 10, 20]},
    "ParamsLogged": {"params": [typed_param("C", 1.0), typed_param("penalty", "l2"), typed_param("warm", None)]},
}
assert set(PAYLOADS) == set(EVENT_TYPES)
# The event types each released schema knows (a release writes only those).
RELEASED_TYPES = {"v1": EVENT_TYPES[:-2], "v2": EVENT_TYPES[:-2], "v3": EVENT_TYPES[:-2], "v4": EVENT_TYPES[:-1],
                  "v5": EVENT_TYPES}


def event(event_type: str, run_id: str = "run-1", seq: int = 0, project: str = "p", **payload_overrides):
    payload = dict(PAYLOADS[event_type], **payload_overrides)
    return envelope(event_type, payload, project=project, experiment="e", run_id=run_id, seq=seq, producer=PRODUCER)


def unbatched(events):
    """Events as logged: each MetricsLogged batch expanded back into the MetricLogged events of its
    points (point i: seq + i, ts + its offset, id ``<event_id>.<i>``), each ParamsLogged into its
    ParamLogged events (param i: seq + i), everything else as it is."""
    out = []
    for e in events:
        if e["event_type"] == "ParamsLogged":
            out += [{**e, "event_id": f"{e['event_id']}.{i}", "event_type": "ParamLogged", "seq": e["seq"] + i,
                     "payload": {"param": param}} for i, param in enumerate(e["payload"]["params"])]
            continue
        if e["event_type"] != "MetricsLogged":
            out.append(e)
            continue
        p = e["payload"]
        for i, (n, step, value, offset) in enumerate(zip(p["name_index"], p["steps"], p["values"], p["ts_offsets"])):
            link = p["links"][p["link_index"][i]] if p["link_index"] else {
                "model_id": None, "dataframe_id": None, "slice": "", "model_changed": False}
            out.append({**e, "event_id": f"{e['event_id']}.{i}", "event_type": "MetricLogged", "seq": e["seq"] + i,
                        "ts": e["ts"] + offset, "payload": {"name": p["names"][n], "value": value, "step": step,
                                                            **link}})
    return out
