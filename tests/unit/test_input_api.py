"""Strict API input: every violation is a ``TrackingError`` at the call, naming the input.

The cases are the ones probing found (issue 16, "Why" 9): numbers beyond the float range,
non-integral steps, values whose own ``repr`` fails, the two kinds of bool-like and bytes-like
values, logging to an ended run, names in ``start_run``, and ``init()`` while threads log.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import modeldb
from modeldb.core.exceptions import TrackingError
from tests.unit.test_tracking import events, home  # noqa: F401  (the same fixture and reader)


class BadRepr:
    def __repr__(self):
        raise RuntimeError("repr exploded")


class BadStr:
    def __str__(self):
        raise RuntimeError("str exploded")


class BadFloat:
    def __float__(self):
        raise RuntimeError("float exploded")


@pytest.mark.parametrize("call, message", [
    (lambda r: r.log_metric("m", 10**400), "metric 'm': value .* too large for a float"),
    (lambda r: r.log_metric("m", BadFloat()), "metric 'm': value .* is not a number"),
    (lambda r: r.log_metric("m", 1.0, step=float("inf")), "metric 'm': step must be an integer, got inf"),
    (lambda r: r.log_metric("m", 1.0, step=float("nan")), "step must be an integer"),
    (lambda r: r.log_metric("m", 1.0, step=1.7), "step must be an integer, got 1.7"),
    (lambda r: r.log_metric("m", 1.0, step=3.0), "step must be an integer, got 3.0"),
    (lambda r: r.log_metric("m", 1.0, step="3"), "step must be an integer, got '3'"),
    (lambda r: r.log_metric("m", 1.0, step=True), "step must be an integer, got True"),
    (lambda r: r.log_metric("m", 1.0, step=np.float64(2)), "step must be an integer"),
    (lambda r: r.log_metric("m", 1.0, model_id=7), "model_id and dataframe_id must be strings"),
    (lambda r: r.log_metric("m", 1.0, slice=None), "slice a string"),
    (lambda r: r.log_param("p", 10**5000), "param 'p': the integer is too large to store"),
    (lambda r: r.log_param("p", -(10**400)), "param 'p': the integer is too large to store"),
    (lambda r: r.log_param("p", BadRepr()), r"param 'p': its value cannot be turned into text \(RuntimeError"),
    (lambda r: r.log_param("p", [BadRepr()]), "param 'p': its value cannot be turned into text"),
    (lambda r: r.log_params({"p": BadRepr()}), "param 'p'"),
    (lambda r: r.set_tag("t", BadStr()), "tag 't': its value cannot be turned into text"),
    (lambda r: r.annotate("note", target_id=5), "target_id must be a string or None"),
    (lambda r: r.end("DONE"), "FINISHED, FAILED or KILLED"),
])
def test_each_violation_is_a_tracking_error_naming_the_input(home, call, message):
    with modeldb.start_run() as run:
        with pytest.raises(TrackingError, match=message):
            call(run)


@pytest.mark.parametrize("value", [True, np.bool_(True), b"1.5", bytearray(b"1.5"), memoryview(b"1.5"), "1.5", None])
def test_bool_like_and_bytes_like_values_are_never_metrics(home, value):
    """One rule per kind: ``bool`` and ``numpy.bool_`` alike, ``bytes``, ``bytearray`` and ``memoryview`` alike."""
    with modeldb.start_run() as run:
        with pytest.raises(TrackingError, match="is not a number"):
            run.log_metric("m", value)


def test_bool_like_params_are_bools_and_bytes_like_params_are_the_repr_of_their_bytes(home):
    with modeldb.start_run() as run:
        run.log_params({"a": True, "b": np.bool_(False), "c": b"xy", "d": bytearray(b"xy"), "e": memoryview(b"xy")})
    params = {e["payload"]["param"]["key"]: e["payload"]["param"] for e in events(home) if e["event_type"] == "ParamLogged"}
    assert params["a"] == {"key": "a", "type": "bool", "value": "true", "num": 1.0}
    assert params["b"] == {"key": "b", "type": "bool", "value": "false", "num": 0.0}
    assert {params[k]["value"] for k in "cde"} == {"b'xy'"} and {params[k]["type"] for k in "cde"} == {"repr"}


def test_integral_steps_of_any_integer_type_are_stored_exactly(home):
    with modeldb.start_run() as run:
        run.log_metric("m", 1.0, step=np.int64(3))
        run.log_metric("m", np.float32(2.5), step=np.uint8(4))
        run.log_metric("m", 2**60, step=2**62)
    got = [(e["payload"]["step"], e["payload"]["value"]) for e in events(home) if e["event_type"] == "MetricLogged"]
    assert got == [(3, 1.0), (4, 2.5), (2**62, float(2**60))]


def test_an_ended_run_refuses_more_logging(home):
    run = modeldb.start_run(name="done")
    run.log_metric("m", 1.0)
    run.end()
    for call in (lambda: run.log_metric("m", 2.0), lambda: run.log_metrics({"m": 2.0}), lambda: run.log_param("p", 1),
                 lambda: run.log_params({"p": 1}), lambda: run.set_tag("t", "x"), lambda: run.annotate("late")):
        with pytest.raises(TrackingError, match="run 'done' has ended \\(FINISHED\\)"):
            call()
    run.end()  # ending twice stays a no-op
    kinds = [e["event_type"] for e in events(home)]
    assert kinds == ["RunStarted", "MetricLogged", "RunEnded"]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": 12345}, "run name must be a non-empty string, got 12345"),
    ({"name": ""}, "run name must be a non-empty string"),
    ({"name": "n" * 251}, "the limit is 250"),
    ({"project": 7}, "project name must be a non-empty string"),
    ({"experiment": ["x"]}, "experiment name must be a non-empty string"),
    ({"branch_seq": 1.5}, "branch_seq must be an integer, got 1.5"),
    ({"parent": 99}, "parent must be a Run or a run id string"),
    ({"tags": ["a"]}, "tags must be a mapping"),
    ({"tags": {"": "x"}}, "tag name must be a non-empty string"),
])
def test_start_run_checks_its_arguments_before_any_event(home, kwargs, message):
    with pytest.raises(TrackingError, match=message):
        modeldb.start_run(**kwargs)
    assert events(home) == []
    assert not (home / "spill" / "unencodable.jsonl").exists()


def test_init_while_other_threads_log_loses_and_refuses_nothing(tmp_path):
    modeldb.init(project="swap", home=tmp_path)
    run = modeldb.start_run(name="swapping")
    errors: list[BaseException] = []
    per_thread = 3000

    def log(thread: int) -> None:
        try:
            for step in range(per_thread):
                run.log_metric(f"t{thread}", float(step), step=step)
        except BaseException as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        modeldb.init(project="swap", home=tmp_path)
    for t in threads:
        t.join()
    run.end()
    assert errors == []
    got = events(tmp_path)
    metrics = {(e["payload"]["name"], e["payload"]["step"]) for e in got if e["event_type"] == "MetricLogged"}
    assert len(metrics) == 4 * per_thread  # every one arrived (a copy across the swap would collapse by event_id)
    assert len({e["event_id"] for e in got if e["event_type"] == "MetricLogged"}) == 4 * per_thread
