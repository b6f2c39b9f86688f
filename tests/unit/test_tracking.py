"""The manual API against the real file transport, read back from the log."""
import math

import pytest

import modeldb
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.core.exceptions import TrackingError
from tests.unit.events_factory import unbatched


@pytest.fixture
def home(tmp_path):
    modeldb.init(project="unit", home=tmp_path)
    yield tmp_path
    modeldb.flush()


def events(home):
    modeldb.flush()
    return unbatched(codec.decode(r.payload) for r in read_records(home / "events.log", max_records=10**9))


def test_a_run_logs_every_action_in_order(home):
    with modeldb.start_run(name="baseline", tags={"team": "risk"}) as run:
        run.log_params({"C": 0.5, "n": 3, "flag": True, "kind": "l2", "layers": [64, 32], "none": None})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": 0.9, "f1": 0.8})
        run.set_tag("stage", "dev")
        run.annotate("looks fine")
        modeldb.log_metric("through_module_api", 1)
    got = events(home)
    assert [e["seq"] for e in got] == list(range(len(got)))
    assert got[0]["event_type"] == "RunStarted" and got[0]["payload"]["tags"] == {"team": "risk"}
    assert got[-1]["event_type"] == "RunEnded" and got[-1]["payload"]["status"] == "FINISHED"
    params = {e["payload"]["param"]["key"]: e["payload"]["param"] for e in got if e["event_type"] == "ParamLogged"}
    assert params["C"] == {"key": "C", "type": "float", "value": "0.5", "num": 0.5}
    assert params["flag"]["type"] == "bool" and params["flag"]["num"] == 1.0
    assert params["layers"] == {"key": "layers", "type": "json", "value": "[64, 32]", "num": None}
    assert params["none"]["type"] == "none"
    steps = [(e["payload"]["step"], e["payload"]["value"]) for e in got
             if e["event_type"] == "MetricLogged" and e["payload"]["name"] == "loss"]
    assert steps == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert {e["run_id"] for e in got} == {run.run_id}
    assert all(e["project"] == "unit" for e in got)


def test_an_exception_marks_the_run_failed_and_propagates(home):
    with pytest.raises(ZeroDivisionError):
        with modeldb.start_run(name="broken"):
            1 / 0
    ended = events(home)[-1]
    assert ended["payload"]["status"] == "FAILED"
    assert "ZeroDivisionError" in ended["payload"]["error"]


def test_a_branch_names_its_parent(home):
    with modeldb.start_run(name="parent") as parent:
        pass
    with modeldb.start_run(name="child", parent=parent, branch_seq=2):
        pass
    started = [e for e in events(home) if e["event_type"] == "RunStarted"]
    assert started[1]["payload"]["parent_run_id"] == parent.run_id
    assert started[1]["payload"]["branch_seq"] == 2


def test_non_finite_metrics_are_kept(home):
    with modeldb.start_run() as run:
        run.log_metric("loss", float("nan"))
        run.log_metric("loss", float("inf"), step=1)
    values = [e["payload"]["value"] for e in events(home) if e["event_type"] == "MetricLogged"]
    assert math.isnan(values[0]) and values[1] == math.inf


@pytest.mark.parametrize("call, message", [
    (lambda r: r.log_metric("acc", "high"), "not a number"),
    (lambda r: r.log_metric("acc", None), "not a number"),
    (lambda r: r.log_metric("acc", 1.0, step="x"), "step must be an integer"),
    (lambda r: r.log_metric("", 1.0), "metric name must be a non-empty string"),
    (lambda r: r.log_param("k" * 300, 1), "the limit is 250"),
    (lambda r: r.log_param("big", "x" * 70000), "param 'big' is 70000 bytes as text; the limit is 65536"),
    (lambda r: r.log_params([1, 2]), "takes a mapping"),
    (lambda r: r.annotate("  "), "non-empty text"),
])
def test_bad_input_is_refused_with_a_clear_error(home, call, message):
    with modeldb.start_run() as run:
        with pytest.raises(TrackingError, match=message):
            call(run)


def test_module_level_logging_without_a_run_is_a_clear_error(home):
    with pytest.raises(TrackingError, match="no active run"):
        modeldb.log_param("a", 1)


def test_unwritable_log_is_reported_at_first_use(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    modeldb.init(project="x", home=tmp_path, transport=f"file://{blocker}/events.log")
    from modeldb.core.exceptions import TransportError
    with pytest.raises(TransportError, match="cannot write the event log"):
        modeldb.start_run()
    modeldb.init(project="x", home=tmp_path)


def test_a_forked_child_logs_through_its_own_emitter(home):
    import os

    with modeldb.start_run(name="parent") as run:
        run.log_metric("before_fork", 1.0)
        pid = os.fork()
        if pid == 0:  # the child: log, then exit through the normal exit path
            try:
                run.log_metric("from_child", 2.0)
                modeldb.flush()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    names = [e["payload"]["name"] for e in events(home) if e["event_type"] == "MetricLogged"]
    assert sorted(names) == ["before_fork", "from_child"]


def _child_logs(run_id_holder):
    with modeldb.start_run(name="child-run") as run:
        for step in range(50):
            run.log_metric("child_loss", step, step=step)


def test_multiprocessing_children_deliver_their_events(home):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_logs, args=(None,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    got = [e for e in events(home) if e["event_type"] == "MetricLogged"]
    assert len(got) == 150
    assert sum(e["event_type"] == "RunEnded" for e in events(home)) == 3


def test_an_unencodable_event_is_kept_with_its_reason(home):
    with modeldb.start_run() as run:
        run.emit_action("MetricLogged", {"name": "x"})  # no value: does not fit the schema
        run.set_tag("path", "bad\udc80name")            # a lone surrogate is replaced, not lost
    modeldb.flush()
    kept = (home / "spill" / "unencodable.jsonl").read_text()
    assert "missing field 'value'" in kept
    tags = [e["payload"]["value"] for e in events(home) if e["event_type"] == "TagSet"]
    assert tags == ["bad?name"]


def test_a_step_beyond_64_bits_is_refused(home):
    with modeldb.start_run() as run:
        with pytest.raises(TrackingError, match="does not fit in 64 bits"):
            run.log_metric("loss", 1.0, step=2**70)
