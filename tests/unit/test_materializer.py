import math

import pytest

from modeldb.core import codec
from modeldb.core.events import EVENT_TYPES
from modeldb.core.exceptions import DecodeError
from modeldb.stream_processors.materializer import COLUMNS, decode_and_validate, materialize
from modeldb.warehouse.ddl import tables
from tests.unit.events_factory import event


def test_materializer_columns_exist_in_the_ddl():
    ddl = tables()
    for table, columns in COLUMNS.items():
        assert table in ddl and not ddl[table].get("view"), table
        assert set(columns) == {c for c, _, _ in ddl[table]["columns"]}, table


def test_every_event_lands_in_events_raw_and_rows_match_columns():
    batch = [(codec.decode(codec.encode(event(t, seq=i))), codec.encode(event(t, seq=i)))
             for i, t in enumerate(EVENT_TYPES)]
    rows = materialize(batch)
    assert len(rows["events_raw"]) == len(EVENT_TYPES)
    for table, items in rows.items():
        for row in items:
            assert len(row) == len(COLUMNS[table]), table


def test_metric_and_param_rows():
    e = codec.decode(codec.encode(event("MetricLogged", value=float("nan"), step=7)))
    rows = materialize([(e, b"\xc3\x01" + b"\x00" * 8)])
    metric = dict(zip(COLUMNS["metrics"], rows["metrics"][0]))
    assert metric["step"] == 7 and math.isnan(metric["value"]) and metric["ver"] == e["ts"]
    p = codec.decode(codec.encode(event("ParamLogged")))
    param = dict(zip(COLUMNS["params"], materialize([(p, b"")])["params"][0]))
    assert (param["key"], param["value"], param["num"], param["is_num"]) == ("C", "1.0", 1.0, 1)


def test_redelivery_produces_identical_rows():
    data = codec.encode(event("ParamLogged"))
    once = materialize([(decode_and_validate(data), data)])
    twice = materialize([(decode_and_validate(data), data)] * 2)
    for table in once:
        assert set(twice[table]) == set(once[table])


def test_validation_rejects_an_empty_run_id():
    with pytest.raises(DecodeError, match="empty run_id"):
        decode_and_validate(codec.encode(event("TagSet", run_id="")))


def test_raw_row_and_fast_path_rows_are_exact():
    import base64

    from modeldb.core.events import typed_param

    data = codec.encode(event("MetricLogged", value=0.25, step=3, model_id="m1", slice=""))
    e = decode_and_validate(data)
    rows = materialize([(e, data)])
    raw = dict(zip(COLUMNS["events_raw"], rows["events_raw"][0]))
    assert raw["body"] == base64.b64encode(data).decode() and raw["schema_fingerprint"] == data[2:10].hex()
    assert (raw["producer_framework"], raw["ver"], raw["ts"]) == ("", e["ts"], e["ts"])
    ts = e["ts"]
    assert rows["metrics"] == [("p", "loss", "run-1", 3, 0.25, "m1", "", "", e["event_id"], ts, ts)]
    assert rows["projects"] == [("p", ts, ts)]
    none = decode_and_validate(codec.encode(event("ParamLogged", param=typed_param("k", None))))
    rows = materialize([(none, data)])
    ts = none["ts"]
    assert rows["params"] == [("p", "run-1", "k", "none", "", 0.0, 0, none["event_id"], ts, ts)]
