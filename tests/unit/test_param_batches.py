"""``log_params`` sends one ``ParamsLogged`` event (schema v5), which stands for its params exactly:
the same rows and the same current state as one ``ParamLogged`` per key."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

import modeldb
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.core.events import typed_param
from modeldb.core.exceptions import DecodeError, TrackingError
from modeldb.producers import batching
from modeldb.stream_processors.current import CurrentState
from modeldb.stream_processors.materializer import COLUMNS, decode_and_validate, materialize
from tests.unit.events_factory import event, unbatched

EVENT_ID = COLUMNS["params"].index("event_id")
PARAMS = {"C": 0.5, "penalty": "l2", "max_iter": 100, "fit_intercept": True, "class_weight": None,
          "layers": [64, 32], "tol": float("nan")}


def encoded(e: dict) -> bytes:
    """A decoded event encoded again (its payload named by its type, as the tracker sends it)."""
    return codec.encode({**e, "payload": ("modeldb." + e["event_type"], e["payload"])})


def logged(tmp_path, params, then=None) -> list[dict]:
    modeldb.init(project="p", home=tmp_path, testing=True)
    with modeldb.start_run(name="params") as run:
        run.log_params(params)
        if then:
            then(run)
    modeldb.flush()
    return [codec.decode(r.payload) for r in read_records(Path(tmp_path) / "events.log")]


def test_log_params_is_one_event_that_takes_a_seq_per_param(tmp_path):
    records = logged(tmp_path, PARAMS, then=lambda run: run.log_param("after", 1))
    kinds = [e["event_type"] for e in records]
    assert kinds == ["RunStarted", "ParamsLogged", "ParamLogged", "RunEnded"]
    batch = records[1]
    assert [p["key"] for p in batch["payload"]["params"]] == list(PARAMS)
    assert batch["seq"] == 1 and records[2]["seq"] == 1 + len(PARAMS)
    expanded = unbatched(records)
    assert [e["seq"] for e in expanded] == list(range(len(expanded)))
    got = [e["payload"]["param"] for e in expanded if e["event_type"] == "ParamLogged"][:len(PARAMS)]
    assert repr(got) == repr([typed_param(k, v) for k, v in PARAMS.items()])  # repr: NaN equals NaN


def test_a_batch_gives_the_rows_and_the_state_its_params_give_one_by_one(tmp_path):
    records = logged(tmp_path, PARAMS)
    singles = unbatched(records)
    batched = materialize([(e, encoded(e)) for e in records])
    one_by_one = materialize([(e, encoded(e)) for e in singles])

    def key(rows):  # every column but the row's id
        return sorted((r[:EVENT_ID] + r[EVENT_ID + 1:] for r in rows["params"]), key=repr)

    assert len(batched["params"]) == len(PARAMS) and repr(key(batched)) == repr(key(one_by_one))
    state, single_state = CurrentState(None).rows(records), CurrentState(None).rows(singles)
    assert repr(state["run_state"][0][:-1]) == repr(single_state["run_state"][0][:-1])
    again = CurrentState(None)
    again.rows(records)
    assert not again.rows(records).get("run_state")  # a redelivered batch changes nothing


def test_a_newer_single_param_wins_over_the_batch_and_an_older_one_does_not(tmp_path):
    records = logged(tmp_path, {"C": 1.0, "tol": 0.1}, then=lambda run: run.log_param("C", 2.0))
    late = records[2]  # the single ParamLogged, logged after the batch
    columns = COLUMNS["run_state"]
    for order in (records, [records[0], late, records[1], records[3]]):
        row = dict(zip(columns, CurrentState(None).rows(order)["run_state"][0]))
        assert dict(zip(row["param_keys"], row["param_values"])) == {"C": "2.0", "tol": "0.1"}


def test_a_bad_param_logs_none_of_them_and_says_which(tmp_path):
    modeldb.init(project="p", home=tmp_path, testing=True)
    with modeldb.start_run(name="bad") as run:
        with pytest.raises(TrackingError, match="'x' \\* 70000|is 70000 bytes"):
            run.log_params({"ok": 1, "big": "x" * 70000})
        with pytest.raises(TrackingError, match="param"):
            run.log_params({"ok": 1, "": 2})
    modeldb.flush()
    kinds = [codec.decode(r.payload)["event_type"] for r in read_records(Path(tmp_path) / "events.log")]
    assert kinds == ["RunStarted", "RunEnded"]


def test_params_over_the_byte_bound_go_out_in_several_events(tmp_path):
    big = {f"k{i}": "v" * 60_000 for i in range(10)}  # about 600 KB of text
    records = logged(tmp_path, big)
    batches = [e for e in records if e["event_type"] in ("ParamsLogged", "ParamLogged")]
    assert len(batches) >= 3 and all(len(encoded(e)) < 2 * batching.MAX_BYTES for e in batches)
    keys = [p["payload"]["param"]["key"] for p in unbatched(records) if p["event_type"] == "ParamLogged"]
    assert keys == list(big) and [e["seq"] for e in unbatched(records)] == list(range(len(big) + 2))


def test_a_batch_with_a_key_twice_is_a_dead_letter_that_says_why():
    twice = event("ParamsLogged", params=[typed_param("C", 1.0), typed_param("C", 2.0)])
    with pytest.raises(DecodeError, match="key 'C' twice"):
        decode_and_validate(codec.encode(twice))
    empty = decode_and_validate(codec.encode(event("ParamsLogged", params=[])))
    assert not materialize([(empty, b"")]).get("params")
    assert math.isnan(typed_param("tol", float("nan"))["num"])
