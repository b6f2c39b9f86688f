"""One MLflow client script, run against MLflow's own server and against ``modeldb server``.

Run with the pinned MLflow's python (``bench/mlflow_venv.sh``)::

    python differential.py http://127.0.0.1:5000 OUT.json

It logs experiments, runs, params, metrics with steps, tags, nested runs, ``log_batch``, datasets,
an artifact and ``mlflow.sklearn.autolog()`` on a small model, then asks every question back
through the client: ``get_run``, metric histories, ``search_runs`` with filters and orders that
MLflow documents, ``search_experiments``, and requests that must fail. It writes everything the
client got back, with ids replaced by the names the script gave them and the times the server chose
left out, so the two servers' files can be compared field by field. The times the script chose
(start times, metric timestamps) are kept.
"""
from __future__ import annotations

import json
import sys
import warnings

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

warnings.filterwarnings("ignore")
URI, OUT = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(URI)
client = MlflowClient(URI)
labels: dict[str, str] = {}
BASE = 1_700_000_000_000  # the start times this script gives its searched runs, 1 s apart


def label(run_id: str, name: str) -> str:
    labels[run_id] = name
    return run_id


def named(value):
    """Ids replaced by their labels, anywhere in a string."""
    if isinstance(value, str):
        for run_id, name in labels.items():
            value = value.replace(run_id, name)
        return value
    if isinstance(value, list):
        return [named(v) for v in value]
    if isinstance(value, dict):
        return {named(k): named(v) for k, v in value.items()}
    return value


def run_answer(run_id: str, keep_times: bool = False) -> dict:
    run = client.get_run(run_id)
    info = {"run_name": run.info.run_name, "status": run.info.status, "lifecycle_stage": run.info.lifecycle_stage,
            "user_id": run.info.user_id, "artifact_uri": run.info.artifact_uri.split("/", 2)[-1],
            "ended": run.info.end_time is not None}
    if keep_times:
        info["start_time"] = run.info.start_time
    tags = {k: v for k, v in run.data.tags.items() if k != "mlflow.source.git.commit"}
    inputs = sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type, [(t.key, t.value) for t in d.tags])
                    for d in (run.inputs.dataset_inputs if run.inputs else []))
    return named({"info": info, "params": run.data.params, "metrics": run.data.metrics, "tags": tags, "inputs": inputs})


def failure(call) -> str:
    try:
        call()
    except MlflowException as exc:
        return exc.error_code
    return "no error"


def history(run_id: str, key: str, keep_times: bool) -> list:
    points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp, m.value))
    return [(m.step, m.value, m.timestamp) if keep_times else (m.step, m.value) for m in points]


answers: dict = {}

# -- experiments ---------------------------------------------------------------------------
eid = client.create_experiment("diff-main", tags={"team": "risk"})
other = client.create_experiment("diff-other")
client.set_experiment_tag(other, "stage", "dev")
experiment = client.get_experiment_by_name("diff-main")
answers["experiment"] = {"name": experiment.name, "stage": experiment.lifecycle_stage, "tags": experiment.tags,
                         "by_id": client.get_experiment(eid).name}
client.rename_experiment(other, "diff-renamed")
answers["experiments"] = [e.name for e in client.search_experiments(filter_string="name LIKE 'diff-%'")]
answers["experiments_by_tag"] = [e.name for e in client.search_experiments(filter_string="tags.stage = 'dev'")]
answers["experiment_order"] = [e.name for e in client.search_experiments(filter_string="name LIKE 'diff-%'",
                                                                          order_by=["name DESC"])]

# -- fluent runs: params, metrics with steps, tags, nested runs, an artifact ----------------
mlflow.set_experiment("diff-main")
with mlflow.start_run(run_name="parent") as parent:
    label(parent.info.run_id, "parent")
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"solver": "lbfgs", "max_iter": 100})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.91, "f1": 0.88})
    mlflow.set_tags({"team": "risk", "owner": "ana"})
    mlflow.log_text("hello", "notes/hello.txt")
    for i in range(2):
        with mlflow.start_run(run_name=f"child-{i}", nested=True) as child:
            label(child.info.run_id, f"child-{i}")
            mlflow.log_param("fold", i)
            mlflow.log_metric("acc", 0.8 + i / 10)
answers["parent"] = run_answer(parent.info.run_id)
answers["children"] = [run_answer(run_id) for run_id, name in labels.items() if name.startswith("child")]
answers["loss_history"] = history(parent.info.run_id, "loss", keep_times=False)
answers["artifacts"] = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(parent.info.run_id, "notes")]
answers["artifact_text"] = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/notes/hello.txt")

# -- the client API: log_batch with explicit timestamps, a rename, a failed run ----------------
batch = client.create_run(eid, run_name="batch", start_time=BASE, tags={"kind": "batch"})
label(batch.info.run_id, "batch")
client.log_batch(batch.info.run_id,
                 metrics=[Metric("rmse", 1.5 - step / 10, BASE + step, step) for step in range(10)],
                 params=[Param("depth", "6"), Param("eta", "0.3")], tags=[RunTag("stage", "tuning")])
client.log_batch(batch.info.run_id, metrics=[Metric("rmse", 9.0, BASE + 100, 3)])  # an old step, later: not latest
client.update_run(batch.info.run_id, name="batch-renamed")
client.set_terminated(batch.info.run_id, status="FAILED", end_time=BASE + 5000)
answers["batch"] = run_answer(batch.info.run_id, keep_times=True)
answers["rmse_history"] = history(batch.info.run_id, "rmse", keep_times=True)

# -- runs to search, 1 s apart -------------------------------------------------------------
for i in range(8):
    run = client.create_run(eid, run_name=f"grid-{i}", start_time=BASE + 1000 * (i + 1),
                            tags={"model": "lr" if i % 2 else "svm", "mlflow.user": "ana" if i < 4 else "bo"})
    label(run.info.run_id, f"grid-{i}")
    client.log_batch(run.info.run_id, metrics=[Metric("acc", 0.5 + i / 20, BASE, 0)],
                     params=[Param("C", str(10 ** (i - 4))), Param("kernel", "rbf" if i < 5 else "linear")])
    if i != 7:
        client.set_terminated(run.info.run_id, status="FINISHED" if i != 3 else "KILLED", end_time=BASE + 100_000)
searches = [
    ("", []),
    ("metrics.acc > 0.7", ["metrics.acc DESC"]),
    ("params.kernel = 'rbf'", ["params.C ASC"]),
    ("params.kernel != 'rbf' and metrics.acc >= 0.75", []),
    ("tags.model = 'lr'", ["attributes.start_time ASC"]),
    ("tags.model LIKE 's%'", ["metrics.acc ASC"]),
    ("tags.model ILIKE 'S%'", []),
    ("attributes.status = 'KILLED'", []),
    ("attributes.status = 'FINISHED'", ["attributes.run_name ASC"]),
    ("attributes.status != 'FINISHED'", ["attributes.run_name ASC"]),
    ("attributes.run_name LIKE 'grid-%'", ["attributes.run_name DESC"]),
    ("attributes.run_name = 'batch-renamed'", []),
    ("attributes.user_id = 'bo'", []),
    (f"attributes.start_time > {BASE + 4500}", ["attributes.start_time DESC"]),
    ("metrics.rmse < 2", []),
    ("params.depth IS NULL and tags.kind IS NOT NULL", []),
    ("tags.`mlflow.runName` = 'grid-2'", []),
    ("metrics.\"acc\" = 0.55", []),
    ("", ["metrics.acc DESC", "attributes.run_name ASC"]),
    ("", ["params.kernel DESC", "metrics.acc ASC"]),
]
grids = [run_id for run_id, name in labels.items() if name in ("grid-1", "grid-6")]
searches.append((f"attributes.run_id IN ('{grids[0]}', '{grids[1]}')", []))
searches.append((f"attributes.run_id NOT IN ('{grids[0]}') and tags.model = 'lr'", []))
answers["searches"] = {
    named(f"{f!r} {o!r}"): named([r.info.run_id for r in client.search_runs([eid], f, order_by=o)])
    for f, o in searches}
pages, token = [], None
while True:
    page = client.search_runs([eid], "attributes.run_name LIKE 'grid-%'", max_results=3, page_token=token,
                              order_by=["attributes.run_name ASC"])
    pages.append(named([r.info.run_id for r in page]))
    token = page.token
    if not token:
        break
answers["pages"] = pages

# -- deletion ------------------------------------------------------------------------------
grid0 = next(run_id for run_id, name in labels.items() if name == "grid-0")
client.delete_run(grid0)
answers["deleted"] = {
    "active": len(client.search_runs([eid], "attributes.run_name LIKE 'grid-%'")),
    "all": len(client.search_runs([eid], "attributes.run_name LIKE 'grid-%'", run_view_type=3)),
    "only": named([r.info.run_id for r in client.search_runs([eid], "", run_view_type=2)]),
    "stage": client.get_run(grid0).info.lifecycle_stage,
    "log_to_deleted": failure(lambda: client.log_param(grid0, "late", "1")),
}
client.restore_run(grid0)
answers["restored"] = client.get_run(grid0).info.lifecycle_stage

# -- requests that must fail ---------------------------------------------------------------
answers["errors"] = {
    "missing run": failure(lambda: client.get_run("0123456789abcdef0123456789abcdef")),
    "changed param": failure(lambda: client.log_param(batch.info.run_id, "depth", "7")),
    "same param again": failure(lambda: client.log_param(batch.info.run_id, "depth", "6")),
    "bad filter": failure(lambda: client.search_runs([eid], "metrics.acc >> 1")),
    "or filter": failure(lambda: client.search_runs([eid], "metrics.acc > 1 or metrics.acc < 0")),
    "status in a list": failure(lambda: client.search_runs([eid], "attributes.status IN ('FINISHED')")),
    "bad order": failure(lambda: client.search_runs([eid], "", order_by=["metrics.acc SIDEWAYS"])),
    "missing experiment": failure(lambda: client.get_experiment("987654321")),
    "experiment by missing name": failure(lambda: mlflow.tracking.MlflowClient(URI).get_experiment_by_name("nope")),
    "duplicate experiment": failure(lambda: client.create_experiment("diff-main")),
    "too many params": failure(lambda: client.log_batch(
        batch.info.run_id, params=[Param(f"p{i}", "1") for i in range(101)])),
}

# -- bad requests, sent raw: the status and error code each server answers ----------------------
import requests  # noqa: E402  (MLflow's own dependency)


def raw(method: str, path: str, **kwargs) -> list:
    response = requests.request(method, f"{URI}{path}", timeout=60, **kwargs)
    try:
        code = response.json().get("error_code")
    except ValueError:
        code = None
    return [response.status_code, code, "Traceback" in response.text]


api = "/api/2.0/mlflow"
answers["raw"] = {
    "not json": raw("POST", f"{api}/runs/log-parameter", data=b"{not json", headers={"Content-Type": "application/json"}),
    "no run id": raw("POST", f"{api}/runs/log-parameter", json={"key": "a", "value": "1"}),
    "metric not a number": raw("POST", f"{api}/runs/log-metric", json={
        "run_id": batch.info.run_id, "key": "m", "value": "x", "timestamp": BASE, "step": 0}),
    "101 params": raw("POST", f"{api}/runs/log-batch", json={
        "run_id": batch.info.run_id, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}),
    "1001 metrics": raw("POST", f"{api}/runs/log-batch", json={
        "run_id": batch.info.run_id, "metrics": [{"key": "m", "value": 1, "timestamp": BASE, "step": i}
                                                 for i in range(1001)]}),
    "bad tag name": raw("POST", f"{api}/runs/set-tag", json={"run_id": batch.info.run_id, "key": "bad|name",
                                                               "value": "x"}),
    "param too long": raw("POST", f"{api}/runs/log-parameter", json={
        "run_id": batch.info.run_id, "key": "long", "value": "x" * 6001}),
    "missing run": raw("GET", f"{api}/runs/get", params={"run_id": "0123456789abcdef0123456789abcdef"}),
    "missing experiment": raw("GET", f"{api}/experiments/get", params={"experiment_id": "987654321"}),
    "bad max_results": raw("POST", f"{api}/runs/search", json={"experiment_ids": [eid], "max_results": 50001}),
    "bad page token": raw("POST", f"{api}/runs/search", json={"experiment_ids": [eid], "page_token": "!!"}),
    "sql in a filter": raw("POST", f"{api}/runs/search", json={
        "experiment_ids": [eid], "filter": "metrics.acc > 0 or 1=1; SELECT * FROM file('/etc/passwd')"}),
    "artifact outside": raw("GET", "/api/2.0/mlflow-artifacts/artifacts/..%2F..%2Fetc/passwd"),
}
answers["long param kept"] = len(client.get_run(batch.info.run_id).data.params["long"])

# -- mlflow.sklearn.autolog() on a small model ------------------------------------------------
import numpy as np  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

mlflow.sklearn.autolog(log_models=False, silent=True)
X, y = load_iris(return_X_y=True)
with mlflow.start_run(run_name="autolog") as run:
    label(run.info.run_id, "autolog")
    LogisticRegression(max_iter=200, C=0.5).fit(X, y)
mlflow.sklearn.autolog(disable=True)
auto = run_answer(run.info.run_id)
auto["metrics"] = {k: round(v, 10) for k, v in auto["metrics"].items()}
answers["autolog"] = auto
answers["autolog_artifacts"] = sorted(f.path for f in client.list_artifacts(run.info.run_id))

with open(OUT, "w", encoding="utf-8") as handle:
    json.dump(answers, handle, indent=1, sort_keys=True, default=repr)
print("ok", len(labels), "runs")
