"""The MLflow server's parts that need no service: request fields, experiments, page tokens, artifact paths."""
from __future__ import annotations

import asyncio
import json

import pytest

from modeldb.server import protocol as p
from modeldb.server.artifacts import Artifacts
from modeldb.server.events import param_record
from modeldb.server.experiments import DEFAULT_ID, Experiments, experiment_id, like
from modeldb.server.search import _experiment_order, _offset, _token
from modeldb.warehouse.queries.filters import FilterError
from modeldb.warehouse.queries.mlflow_filter import ExperimentClause, experiment_filter


def test_fields_are_checked_as_mlflow_checks_them():
    assert p.text({"run_id": "abc"}, "run_id") == "abc"
    with pytest.raises(p.MlflowError, match="Missing value for required parameter 'run_id'") as caught:
        p.text({}, "run_id")
    assert (caught.value.code, caught.value.status) == ("INVALID_PARAMETER_VALUE", 400)
    with pytest.raises(p.MlflowError, match="must be a string"):
        p.text({"run_id": 5}, "run_id")
    assert p.integer({"step": "12"}, "step") == 12 and p.integer({}, "step", default=0) == 0
    for bad in (True, 1.5, "x", 1 << 63):
        with pytest.raises(p.MlflowError):
            p.integer({"step": bad}, "step")
    assert p.number("NaN", "m") != p.number("NaN", "m") and p.number("-Infinity", "m") == float("-inf")
    for bad in ("x", True, None, [1]):
        with pytest.raises(p.MlflowError, match="must be a number"):
            p.number(bad, "m")
    assert p.key("train/loss: fold 1", "metric") == "train/loss: fold 1"
    for bad in ("", "a" * 251, "/abs", "a/../b", None, "bad|name", "new\nline", "semi;colon"):
        with pytest.raises(p.MlflowError):
            p.key(bad, "param")
    assert p.value_text("x" * 7000, "param", "k", p.MAX_PARAM_VALUE) == "x" * 6000  # MLflow's server cuts too
    assert p.metric_json(float("inf")) == "Infinity" and p.metric_json(0.5) == 0.5


def test_params_keep_their_text_and_gain_a_number():
    assert param_record("C", "0.1") == {"key": "C", "type": "str", "value": "0.1", "num": 0.1}
    assert param_record("solver", "lbfgs")["num"] is None
    assert param_record("x", "nan")["num"] != param_record("x", "nan")["num"]  # the text says NaN: a NaN number


def test_experiments_are_projects_with_stable_ids(tmp_path):
    projects = [{"project": "default", "first_ts": 5_000, "last_ts": 9_000},
                {"project": "churn", "first_ts": 1_000, "last_ts": 2_000}]
    store = Experiments(tmp_path / "experiments.json", "default", lambda: projects)
    assert store.get(DEFAULT_ID)["name"] == "Default" and store.get(DEFAULT_ID)["project"] == "default"
    churn = experiment_id("churn", "default")
    assert store.by_name("churn")["experiment_id"] == churn == experiment_id("churn", "default")
    new = store.create("fresh", {"team": "risk"})
    with pytest.raises(p.MlflowError) as caught:
        store.create("churn", {})
    assert caught.value.code == "RESOURCE_ALREADY_EXISTS"
    store.rename(churn, "churn-2")
    store.set_stage(new, "deleted")
    again = Experiments(tmp_path / "experiments.json", "default", lambda: projects)  # a restart reads the file
    assert again.get(churn)["name"] == "churn-2" and again.get(churn)["project"] == "churn"
    assert [e["name"] for e in again.search("DELETED_ONLY")] == ["fresh"]
    assert again.get(new)["tags"] == {"team": "risk"}
    with pytest.raises(p.MlflowError) as caught:
        again.get("123")
    assert caught.value.code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(p.MlflowError, match="Cannot delete the default experiment"):
        again.set_stage(DEFAULT_ID, "deleted")


def test_experiment_filters_are_parsed_not_matched():
    assert experiment_filter("name LIKE 'diff-%' and tags.team = 'risk'") == [
        ExperimentClause("attribute", "name", "LIKE", "diff-%"), ExperimentClause("tag", "team", "=", "risk")]
    assert experiment_filter("attributes.creation_time > 5")[0].value == 5.0
    for bad in ("name = 'a' or name = 'b'", "metrics.m > 1", "lifecycle_stage = 'x'", "name > 'a'", "name = x"):
        with pytest.raises(FilterError):
            experiment_filter(bad)
    assert like("a%_c").match("abbxc") and not like("a%").match("ba") and like("A%", case=False).match("abc")
    assert like("50.0%").match("50.0 percent") and not like("50.0").match("5000")  # the dot is literal


def test_page_tokens_round_trip_and_foreign_ones_are_refused():
    assert _offset({"page_token": _token(40)}) == 40 and _offset({}) == 0
    for bad in ("!!", "eyJ4IjogMX0=", _token(-1).replace("LTE", "LTE")):
        with pytest.raises(p.MlflowError, match="Invalid page token"):
            _offset({"page_token": bad})
    assert _experiment_order(["name DESC"]) == [("name", True), ("experiment_id", False)]
    with pytest.raises(p.MlflowError, match="Invalid order_by"):
        _experiment_order(["name; DROP"])


def test_artifact_paths_stay_inside_the_store(tmp_path):
    stored = []
    artifacts = Artifacts(tmp_path, lambda *event: stored.append(event))

    async def chunks():
        yield b"hel"
        yield b"lo"

    asyncio.run(artifacts.upload("1/run1/artifacts/notes/a.txt", chunks()))
    assert artifacts.file("1/run1/artifacts/notes/a.txt").read_bytes() == b"hello"
    assert stored[0][:2] == ("run1", "notes/a.txt") and stored[0][3] == 5
    assert artifacts.listing("1/run1/artifacts") == {"files": [{"path": "notes", "is_dir": True}]}
    for bad in ("../x", "1/../../etc/passwd", "/etc/passwd", "a//b", "a\\b", "a/./b", ""):
        with pytest.raises(p.MlflowError, match="Invalid artifact path"):
            artifacts.file(bad)
    with pytest.raises(p.MlflowError) as caught:
        artifacts.file("1/run1/artifacts/none.txt")
    assert caught.value.code == "RESOURCE_DOES_NOT_EXIST"
    assert json.loads(json.dumps(p.invalid("x").body())) == {"error_code": "INVALID_PARAMETER_VALUE", "message": "x"}
