"""``modeldb server`` against MLflow's own server: the same client script, the same answers.

The pinned MLflow (``bench/mlflow_venv.sh``, its own virtualenv) runs
``mlflow_scripts/differential.py`` against a real ``mlflow server`` (SQLite, proxied artifacts) and
against ``modeldb server`` on the embedded default. Every answer the client got back must be equal,
field by field; the script leaves out only ids and the times the servers chose. Then the runs logged
through MLflow must answer in ``modeldb sql``, next to the events the script sent.
"""
from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from modeldb.devtools.services import free_port
from tests.integration.conftest import MODELDB, cli_env, unique
from tests.integration.mlflow_kit import build_mlflow_venv, serve, stop

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).with_name("mlflow_scripts") / "differential.py"


@pytest.fixture(scope="module")
def mlflow_python() -> str:
    return build_mlflow_venv()


def differences(ours: object, theirs: object, where: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                found.append(f"{where}/{key}: only in {'ours' if key in ours else 'MLflow'}")
            else:
                found += differences(ours[key], theirs[key], f"{where}/{key}")
        return found
    return [] if ours == theirs else [f"{where}: ours {ours!r}, MLflow {theirs!r}"]


def run_script(mlflow_python: str, url: str, where: Path, server_log: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELDB_"))}
    ran = subprocess.run([mlflow_python, str(SCRIPT), url, str(where / "answers.json")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stderr[-4000:] + (server_log.read_text()[-3000:] if server_log else "")
    return json.loads((where / "answers.json").read_text())


@pytest.fixture(scope="module")
def theirs(mlflow_python, tmp_path_factory) -> dict:
    """The answers MLflow's own server gives (SQLite, proxied artifacts)."""
    where = tmp_path_factory.mktemp("mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELDB_"))}
    reference, url = serve([str(Path(mlflow_python).with_name("mlflow")), "server", "--backend-store-uri",
                            f"sqlite:///{where}/mlflow.db", "--artifacts-destination", str(where / "artifacts"),
                            "--host", "127.0.0.1", "--workers", "1"], env, where / "server.log")
    try:
        return run_script(mlflow_python, url, where)
    finally:
        stop(reference)


def ours_on(mlflow_python: str, where: Path, **settings: str) -> dict:
    """The answers ``modeldb server`` gives with these ``MODELDB_*`` settings; its log has no traceback."""
    server, url = serve([MODELDB, "server"], cli_env(MODELDB_TESTING="1", **settings), where / "server.log")
    try:
        answers = run_script(mlflow_python, url, where, where / "server.log")
    finally:
        stop(server)
    assert "Traceback" not in (where / "server.log").read_text()
    return answers


@pytest.fixture(scope="module")
def answers(mlflow_python, theirs, tmp_path_factory):
    """On the embedded default: (ours, MLflow's, our server's home)."""
    where = tmp_path_factory.mktemp("modeldb")
    return ours_on(mlflow_python, where, MODELDB_HOME=str(where / "home")), theirs, where / "home"


def test_every_answer_equals_mlflows(answers):
    ours, theirs, _ = answers
    assert set(ours) == set(theirs)
    found = differences(ours, theirs)
    assert not found, "\n".join(found)


def test_the_answers_are_not_empty(answers):
    """Equal answers must also be the right ones: the script's own counts, on our side."""
    ours, _, _ = answers
    assert ours["parent"]["params"] == {"alpha": "0.5", "solver": "lbfgs", "max_iter": "100"}
    assert ours["loss_history"] == [[step, 1.0 / (step + 1)] for step in range(5)]
    assert len(ours["searches"]["'' []"]) == 12  # parent, its two children, batch and eight grid runs
    assert ours["errors"]["missing run"] == "RESOURCE_DOES_NOT_EXIST"
    assert ours["autolog"]["params"]["C"] == "0.5"
    assert ours["artifact_text"] == "hello"


def test_the_runs_answer_in_modeldb_sql(answers):
    ours, _, home = answers
    env = cli_env(MODELDB_HOME=str(home), MODELDB_TESTING="1")
    sql = ("SELECT name, params['depth'] AS depth, metrics['rmse'] AS rmse, tags['stage'] AS stage, status "
           "FROM current_runs WHERE project = 'diff-main' ORDER BY name")
    done = subprocess.run([MODELDB, "sql", "--format", "json", sql], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    batch = rows["batch"]  # RunStarted's name; MLflow's rename is the mlflow.runName tag
    assert (batch["depth"], batch["rmse"], batch["stage"], batch["status"]) == ("6", 0.6, "tuning", "FAILED")
    assert {f"grid-{i}" for i in range(8)} <= set(rows)
    assert rows["parent"]["status"] == "FINISHED"


def test_on_kafka_and_a_clickhouse_server_every_answer_equals_mlflows(mlflow_python, theirs, confluent_pipeline,
                                                                     tmp_path):
    """Writes go to Kafka, a `modeldb process` worker materializes them, reads wait for its commits."""
    settings = confluent_pipeline.settings
    ours = ours_on(mlflow_python, tmp_path, MODELDB_HOME=str(tmp_path / "home"), MODELDB_TRANSPORT=settings.transport,
                   MODELDB_WAREHOUSE=settings.warehouse, MODELDB_CONSUMER_GROUP=settings.consumer_group)
    found = differences(ours, theirs)
    assert not found, "\n".join(found)


def _call(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def test_writes_while_kafka_is_down_spill_and_replay_into_the_warehouse(confluent_pipeline, tmp_path):
    """The server answers every write with Kafka unreachable; what it could not deliver is spilled,
    and `modeldb replay` sends it on to the real topic, where the worker materializes the run."""
    settings = confluent_pipeline.settings
    dead = f"kafka://127.0.0.1:{free_port()}/{confluent_pipeline.topic}"
    home = tmp_path / "home"
    env = cli_env(MODELDB_HOME=str(home), MODELDB_TESTING="1", MODELDB_TRANSPORT=dead,
                  MODELDB_WAREHOUSE=settings.warehouse, MODELDB_DELIVERY_TIMEOUT_S="2")
    server, url = serve([MODELDB, "server"], env, tmp_path / "server.log")
    try:
        experiment = _call(url, "experiments/create", {"name": unique("spilled")})["experiment_id"]
        run = _call(url, "runs/create", {"experiment_id": experiment, "run_name": "while-down",
                                         "start_time": 1_700_000_000_000})["run"]["info"]
        _call(url, "runs/log-batch", {"run_id": run["run_id"], "params": [{"key": "alpha", "value": "0.5"}],
                                      "metrics": [{"key": "rmse", "value": 0.25, "timestamp": 1_700_000_000_001,
                                                   "step": s} for s in range(3)]})
        _call(url, "runs/update", {"run_id": run["run_id"], "status": "FINISHED", "end_time": 1_700_000_001_000})
    finally:
        stop(server)
    spill = home / "spill" / "events.log"
    assert spill.exists() and spill.stat().st_size > 0, "nothing was spilled"
    replay = subprocess.run([MODELDB, "replay"], env=cli_env(MODELDB_HOME=str(home), MODELDB_TRANSPORT=settings.transport),
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    confluent_pipeline.settle()
    rows = confluent_pipeline.warehouse.query(
        f"SELECT name, status, param_values, metric_values, metric_steps FROM `{confluent_pipeline.warehouse.database}`"
        f".run_state FINAL WHERE run_id = '{run['run_id']}'").rows
    assert rows == [("while-down", "FINISHED", ["0.5"], [0.25], [2])]


def test_the_runs_answer_in_modeldb_query_with_nested_runs_as_the_version_tree(answers):
    _, _, home = answers
    env = cli_env(MODELDB_HOME=str(home), MODELDB_TESTING="1")

    def query(*args: str) -> list[dict]:
        done = subprocess.run([MODELDB, "query", *args, "project=diff-main", "--format", "json"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    found = query("runs", "where=params.kernel = 'rbf' AND metrics.acc > 0.6", "columns=params.C,metrics.acc",
                  "order_by=metrics.acc DESC")
    assert [row["name"] for row in found] == ["grid-4", "grid-3"]  # acc = 0.5 + i / 20, kernel rbf for i < 5
    parent = next(row["run_id"] for row in query("runs", "where=run.name = 'parent'"))
    tree = query("version_tree", f"run_id={parent}")
    assert sorted(row["name"] for row in tree if row["depth"] == 1) == ["child-0", "child-1"], tree
