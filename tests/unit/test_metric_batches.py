"""Batched metric points (MetricsLogged): the emitter batches on its own, a batch is the same as its
points sent one by one (rows, current state), a redelivered batch doubles nothing, a broken one is a
dead letter with its reason."""
from __future__ import annotations

import math
import random
from pathlib import Path

import fastavro
import pytest

import modeldb
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.core.exceptions import DecodeError, TrackingError
from modeldb.producers import batching, tracking
from modeldb.stream_processors.current import CurrentState
from modeldb.stream_processors.materializer import COLUMNS, decode_and_validate, materialize
from tests.unit.events_factory import event, unbatched

TS = 1_700_000_000_000_000
EVENT_ID = COLUMNS["metrics"].index("event_id")


def logged_points(n: int, run_id: str = "run-1", seq: int = 0, seed: int = 3) -> list[dict]:
    """MetricLogged events of one run as the tracker builds them: consecutive seqs, rising ts, a few names,
    models and a slice, repeated steps."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        e = event("MetricLogged", run_id=run_id, seq=seq + i, name=rng.choice(["loss", "acc", "f1"]),
                  value=rng.choice([rng.random(), float("nan"), float("inf")]), step=rng.randint(0, 5),
                  model_id=rng.choice([None, "m1", "m2"]), slice=rng.choice(["", "", "country = 'US'"]),
                  dataframe_id=rng.choice([None, "df1"]))
        e["ts"] = TS + 10 * i + rng.randint(0, 9)
        out.append(e)
    return out


def wire(e: dict) -> dict:
    e = {k: v for k, v in e.items() if k != "_points"}
    return decode_and_validate(codec.encode(e))


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_a_batch_stands_for_its_points_exactly():
    singles = logged_points(300)
    batch = wire(batching.batch_event(singles))
    assert batch["event_type"] == "MetricsLogged" and batch["seq"] == 0
    expanded = unbatched([batch])
    assert [(p["payload"]["name"], p["payload"]["step"], p["payload"]["model_id"], p["payload"]["slice"],
             p["payload"]["dataframe_id"], p["ts"], p["seq"]) for p in expanded] == \
        [(p["payload"][1]["name"], p["payload"][1]["step"], p["payload"][1]["model_id"], p["payload"][1]["slice"],
          p["payload"][1]["dataframe_id"], p["ts"], p["seq"]) for p in singles]
    assert same([p["payload"]["value"] for p in expanded], [p["payload"][1]["value"] for p in singles])


@pytest.mark.parametrize("n, seq", [(400, 0), (400, 4000), (30, 4090), (3, 0)])  # numpy's path and the small one
def test_a_batch_gives_the_rows_and_the_state_its_points_give_one_by_one(n, seq):
    singles = logged_points(n, seq=seq, seed=n + seq)
    decoded = [wire(e) for e in singles]
    sent = batching.batch_event(singles)
    batch = wire(sent)
    one_by_one = materialize([(e, codec.encode(single)) for e, single in zip(decoded, singles)])
    batched = materialize([(batch, codec.encode({k: v for k, v in sent.items() if k != "_points"}))])
    assert len(batched["metrics"]) == n and len(batched["events_raw"]) == 1

    def key(rows):  # every column but the point's id, in the points' order
        return sorted((tuple(r[:EVENT_ID]) + tuple(r[EVENT_ID + 1:]) for r in rows["metrics"]), key=repr)

    assert same(key(batched), key(one_by_one))
    keys = [(r[1], r[3], r[EVENT_ID]) for r in batched["metrics"]]  # name, step, id: the rows' identity
    assert len(set(keys)) == n and keys[0][2] == batch["event_id"]  # repeated (name, step) stay two rows
    one = CurrentState(None).rows(decoded)
    runs = {r[2]: r[:-1] for r in one["run_state"]}
    models = {r[3]: r[:-1] for r in one["model_state"]}
    got = CurrentState(None).rows([batch])
    assert same({r[2]: r[:-1] for r in got["run_state"]}, runs)
    assert same({r[3]: r[:-1] for r in got["model_state"]}, models) and set(models) <= {"m1", "m2"}
    assert models or n < 10


def test_a_redelivered_batch_materializes_to_the_same_rows_and_merges_to_nothing_new():
    sent = {k: v for k, v in batching.batch_event(logged_points(50)).items() if k != "_points"}
    data = codec.encode(sent)
    batch = decode_and_validate(data)
    first, again = materialize([(batch, data)]), materialize([(batch, data)])
    assert same(list(first["metrics"]), list(again["metrics"]))  # same sorting keys: the table collapses them
    state = CurrentState(None)
    assert state.rows([batch])["run_state"]
    assert not state.rows([batch]).get("run_state")


def test_a_broken_batch_is_a_dead_letter_that_says_why():
    good = batching.batch_event(logged_points(5))
    payload = good["payload"][1]
    cases = {"3 steps for 5 values": {"steps": payload["steps"][:3]},
             "a name_index outside its": {"name_index": [0, 0, 0, 0, 99]},
             "a negative ts_offset": {"ts_offsets": [0, -1, 0, 0, 0]},
             "link_index for 5 values": {"link_index": [0]}}
    for reason, change in cases.items():
        broken = {**good, "payload": ("modeldb.MetricsLogged", {**payload, **change})}
        with pytest.raises(DecodeError, match=reason):
            wire(broken)


def test_the_emitter_batches_a_burst_of_points_per_run_and_keeps_each_runs_order(tmp_path):
    modeldb.init(project="p", home=tmp_path, testing=True)
    try:
        with modeldb.start_run(name="a") as a, modeldb.start_run(name="b") as b:
            with tracking.emitter()._lock:  # the thread waits, so the burst is queued together whatever the speed
                for step in range(3000):
                    a.log_metric("loss", 1 / (step + 1), step=step)
                    b.log_metric("loss", 2 / (step + 1), step=step)
                    if step == 1500:
                        a.log_param("half", True)
        modeldb.flush()
    finally:
        modeldb.flush()
    records = [codec.decode(r.payload) for r in read_records(Path(tmp_path) / "events.log", max_records=10**9)]
    batches = [e for e in records if e["event_type"] == "MetricsLogged"]
    assert max(len(e["payload"]["values"]) for e in batches) >= 500  # rounds of 2,000 events over two runs
    assert all(len(e["payload"]["values"]) <= batching.MAX_POINTS for e in batches)
    logged = unbatched(records)
    for run in (a, b):
        mine = [e for e in logged if e["run_id"] == run.run_id]
        assert [e["seq"] for e in mine] == list(range(len(mine)))  # every event once, in the order logged
        steps = [e["payload"]["step"] for e in mine if e["event_type"] == "MetricLogged"]
        assert steps == list(range(3000))
    kinds = [e["event_type"] for e in logged if e["run_id"] == a.run_id]
    assert kinds.index("ParamLogged") == 1 + 1501  # after RunStarted and steps 0…1500, before 1501


def test_log_curve_is_one_event_per_curve_and_takes_a_seq_per_point(tmp_path):
    modeldb.init(project="p", home=tmp_path, testing=True)
    with modeldb.start_run(name="curve") as run:
        run.log_curve("loss", [1.0, 0.5, 0.25], model_id="m1")
        run.log_curve("loss", [float(i) for i in range(batching.MAX_POINTS + 1)])
        run.log_metric("acc", 0.9)
        with pytest.raises(TrackingError, match="is not a number"):
            run.log_curve("loss", [1.0, "x"])
    modeldb.flush()
    records = [codec.decode(r.payload) for r in read_records(Path(tmp_path) / "events.log")]
    curves = [e for e in records if e["event_type"] == "MetricsLogged"]
    assert [len(e["payload"]["values"]) for e in curves] == [3, batching.MAX_POINTS, 1]
    assert curves[0]["payload"]["links"][0]["model_id"] == "m1"
    assert [e["seq"] for e in curves] == [1, 4, 4 + batching.MAX_POINTS]
    assert [e["payload"]["steps"][0] for e in curves] == [0, 0, batching.MAX_POINTS]
    acc = next(e for e in records if e["event_type"] == "MetricLogged")
    assert acc["seq"] == 5 + batching.MAX_POINTS


def test_the_compiled_codec_packs_and_unpacks_a_batchs_values_like_fastavro():
    import io

    batch = batching.batch_event(logged_points(1000, seed=9))
    batch = {k: v for k, v in batch.items() if k != "_points"}
    data = codec.encode(batch)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, codec.event_schema(), batch)
    assert data[codec.HEADER_LEN:] == buf.getvalue()  # the packed block is what fastavro writes
    assert same(codec.decode(data)["payload"]["values"],
                codec._decode_fastavro(data)["payload"]["values"])
    with pytest.raises(DecodeError):
        codec.decode(data[:len(data) - 4000])  # cut inside the values: fastavro decides, and refuses


def test_the_points_give_the_same_columns_as_lists_and_as_arrow():
    from modeldb.stream_processors import points

    assert points.NAMES == COLUMNS["metrics"]
    sent = [batching.batch_event(logged_points(80, run_id=f"r{k}", seed=k)) for k in range(3)]
    sent += [batching.batch_event([e]) for e in logged_points(5, run_id="single")]  # one point: a MetricLogged
    decoded = [wire(e) for e in sent]
    rows = materialize([(e, codec.encode({k: v for k, v in s.items() if k != "_points"}))
                        for e, s in zip(decoded, sent)])
    got = rows["metrics"]
    assert len(got) == 3 * 80 + 5 and len(got.rows) == 5
    table = got.arrow()
    assert table.column_names == list(COLUMNS["metrics"])
    assert same([table.column(c).to_pylist() for c in table.column_names], got.lists())


def test_a_batch_is_cut_at_its_byte_bound_when_its_points_carry_long_text():
    batcher = batching.PointBatcher()
    long_slice = "country = '" + "x" * 5000 + "'"
    full = [batcher.add(event("MetricLogged", seq=i, slice=long_slice)) for i in range(200)]
    batches = [b for b in full if b is not None]
    assert batches and all(len(codec.encode({k: v for k, v in b.items() if k != "_points"})) < 1024 ** 2
                           for b in batches)
    assert sum(len(b["payload"][1]["values"]) for b in batches) + len(batcher.take("run-1")["_points"]) == 200


def read_native(data: bytes) -> tuple[list[tuple[str, str]], list[tuple]]:
    """A Native block back into its columns and rows (the test's own reader of the format)."""
    import struct

    pos = 0

    def varint() -> int:
        nonlocal pos
        n = shift = 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return n

    def string() -> str:
        nonlocal pos
        n = varint()
        pos += n
        return data[pos - n:pos].decode()

    n_columns, n_rows = varint(), varint()
    header, columns = [], []
    for _ in range(n_columns):
        name, type_ = string(), string()
        header.append((name, type_))
        if type_ == "String":
            columns.append([string() for _ in range(n_rows)])
        else:
            fmt = {"Int64": "<q", "UInt64": "<Q", "Float64": "<d"}[type_]
            columns.append([v for (v,) in struct.iter_unpack(fmt, data[pos:pos + 8 * n_rows])])
            pos += 8 * n_rows
    assert pos == len(data), "bytes left after the block"
    return header, list(zip(*columns))


def test_the_native_block_holds_the_same_rows_sorted_by_the_tables_key():
    import re

    from modeldb.stream_processors.points import SORT_KEY

    ddl = (Path(codec.__file__).parents[1] / "warehouse" / "ddl" / "0001_core.sql").read_text()
    order_by = re.search(r"TABLE IF NOT EXISTS \{db\}\.metrics \(.*?ORDER BY \(([^)]*)\)", ddl, re.S)[1]
    assert SORT_KEY == tuple(c.strip() for c in order_by.split(","))
    sent = [batching.batch_event(logged_points(80, run_id=f"r{k}", seed=k)) for k in (3, 1, 2)]
    sent += [batching.batch_event([e]) for e in logged_points(5, run_id="single")]
    sent.append(batching.batch_event([dict(e, project="Ä-project") for e in logged_points(20, run_id="r1", seed=9)]))
    decoded = [wire(e) for e in sent]
    got = materialize([(e, codec.encode({k: v for k, v in s.items() if k != "_points"}))
                       for e, s in zip(decoded, sent)])["metrics"]
    header, rows = read_native(b"".join(got.native()))
    assert header == [(c, {"step": "Int64", "value": "Float64", "ts": "Int64", "ver": "UInt64"}.get(c, "String"))
                      for c in COLUMNS["metrics"]]
    key = [COLUMNS["metrics"].index(c) for c in SORT_KEY]
    by_key = lambda r: tuple(r[i].encode() if isinstance(r[i], str) else r[i] for i in key)  # noqa: E731
    assert [by_key(r) for r in rows] == sorted(by_key(r) for r in rows)  # bytes order, as ClickHouse compares
    assert same(sorted(rows, key=repr), sorted(list(got), key=repr))
    assert any(r[COLUMNS["metrics"].index("event_id")].count(".") for r in rows)  # repeated steps kept apart
