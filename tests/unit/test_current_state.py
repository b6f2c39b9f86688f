"""The current state's merge: the same row for the same events in any order and repetition, and
the version rule that keeps a late writer's stale row from winning after a hand-off."""
from __future__ import annotations

import math
import random

from modeldb.core import codec
from modeldb.core.events import typed_param
from modeldb.stream_processors.current import JUMP, CurrentState, ModelState, RunState
from modeldb.stream_processors.materializer import COLUMNS
from tests.unit.events_factory import event

TS = 1_700_000_000_000_000


def decoded(event_type: str, ts: int, seq: int, **payload) -> dict:
    built = event(event_type, seq=seq, **payload)
    built["ts"] = ts
    return codec.decode(codec.encode(built))


def run_events() -> list[dict]:
    """One run's events, as a script would send them: a start, params, a metric history, tags, a fit, a
    stored model, a model metric, a sliced metric (not in the state), and the end."""
    out = [decoded("RunStarted", TS, 0, name="logreg", tags={"team": "risk"})]
    out.append(decoded("ParamLogged", TS + 1, 1, param=typed_param("C", 0.1)))
    out.append(decoded("ParamLogged", TS + 2, 2, param=typed_param("C", 1.0)))  # the same key again: newer wins
    out.append(decoded("ParamLogged", TS + 3, 3, param=typed_param("penalty", "l2")))
    out += [decoded("MetricLogged", TS + 10 + step, 4 + step, name="loss", value=1.0 / (step + 1), step=step,
                    model_id=None, slice="") for step in range(5)]
    out.append(decoded("MetricLogged", TS + 20, 9, name="acc", value=0.9, step=0, model_id="m1", slice=""))
    out.append(decoded("MetricLogged", TS + 21, 10, name="acc", value=0.5, step=0, model_id="m1",
                       slice="country = 'US'"))
    out.append(decoded("OperatorApplied", TS + 15, 13, params=[typed_param("C", 1.0), typed_param("tol", 0.01)]))
    out.append(decoded("OperatorApplied", TS + 16, 14, action="predict", params=[]))  # not a fit: no model row change
    out.append(decoded("ModelStored", TS + 17, 15, size_bytes=42))
    out.append(decoded("TagSet", TS + 22, 11, key="team", value="fraud"))
    out.append(decoded("RunEnded", TS + 30, 12, status="FINISHED"))
    return out


def merged(events: list[dict], batches: int = 1) -> tuple[dict, dict]:
    state = CurrentState(None)
    runs, models = {}, {}
    size = max(1, math.ceil(len(events) / batches))
    for start in range(0, len(events), size):
        rows = state.rows(events[start:start + size])
        runs.update({r[2]: r for r in rows["run_state"]})
        models.update({r[3]: r for r in rows["model_state"]})
    return runs, models


def without_ver(row: tuple) -> tuple:
    return row[:-1]


def test_the_row_holds_the_latest_of_everything():
    runs, models = merged(run_events())
    row = dict(zip(COLUMNS["run_state"], runs["run-1"]))
    assert (row["name"], row["status"], row["experiment"]) == ("logreg", "FINISHED", "e")
    assert dict(zip(row["param_keys"], row["param_values"])) == {"C": "1.0", "penalty": "l2"}
    assert dict(zip(row["param_keys"], row["param_nums"]))["C"] == 1.0
    assert math.isnan(dict(zip(row["param_keys"], row["param_nums"]))["penalty"])
    assert dict(zip(row["metric_keys"], row["metric_values"])) == {"acc": 0.9, "loss": 0.2}  # the sliced 0.5 is not
    assert dict(zip(row["metric_keys"], row["metric_steps"])) == {"acc": 0, "loss": 4}
    assert dict(zip(row["tag_keys"], row["tag_values"])) == {"team": "fraud"}
    assert row["param_keys"] == sorted(row["param_keys"]) and row["started_ts"] == TS
    model = dict(zip(COLUMNS["model_state"], models["m1"]))
    assert (model["operator_class"], model["size_bytes"], model["features"], model["run_id"]) == \
        ("LogisticRegression", 42, 1, "run-1")
    assert dict(zip(model["param_keys"], model["param_nums"])) == {"C": 1.0, "tol": 0.01}
    assert dict(zip(model["metric_keys"], model["metric_values"])) == {"acc": 0.9}
    assert model["created_ts"] == TS + 17  # when the snapshot was stored


def test_any_order_and_any_repetition_give_the_same_row():
    events = run_events()
    expected_runs, expected_models = merged(events)
    rng = random.Random(7)
    for trial in range(30):
        shuffled = events + rng.sample(events, rng.randint(0, len(events)))  # redeliveries
        rng.shuffle(shuffled)
        runs, models = merged(shuffled, batches=rng.randint(1, 6))
        assert {k: without_ver(v) for k, v in runs.items()} == {k: without_ver(v) for k, v in expected_runs.items()}
        assert {k: without_ver(v) for k, v in models.items()} == \
            {k: without_ver(v) for k, v in expected_models.items()}, trial


def test_a_metric_keeps_the_highest_step_even_when_older_points_come_later():
    late = [decoded("MetricLogged", TS + 100 - step, step, name="loss", value=float(step), step=step, model_id=None,
                    slice="") for step in range(4)]  # step 3 has the oldest ts
    runs, _ = merged(late)
    row = dict(zip(COLUMNS["run_state"], runs["run-1"]))
    assert (row["metric_values"], row["metric_steps"]) == ([3.0], [3])


def test_a_redelivered_batch_writes_nothing_new():
    state = CurrentState(None)
    events = run_events()
    assert state.rows(events)["run_state"]
    again = state.rows(events)
    assert not again.get("run_state") and not again.get("model_state")


def test_a_row_read_back_from_the_warehouse_merges_like_the_state_it_came_from():
    events = run_events()
    runs, models = merged(events)
    assert RunState.of_row(runs["run-1"]).row() == runs["run-1"]
    assert ModelState.of_row(models["m1"]).row() == models["m1"]


class Warehouse:
    """The rows written so far, read back like ``run_state FINAL``: the highest ver of each run wins."""

    database = "db"

    def __init__(self):
        self.rows: dict[str, list[tuple]] = {"run_state": [], "model_state": []}

    def write(self, rows) -> None:
        for table in self.rows:
            self.rows[table].extend(rows.get(table, []))

    def final(self, table: str, position: int) -> dict:
        best: dict = {}
        for row in self.rows[table]:
            if row[position] not in best or row[-1] >= best[row[position]][-1]:  # a tie: the last inserted
                best[row[position]] = row
        return best


class ReadingBack(CurrentState):
    def __init__(self, warehouse: Warehouse):
        super().__init__(None)
        self.store = warehouse

    def _load(self, kind, cache, table, id_column, keys):
        position = COLUMNS[table].index(id_column)
        found = self.store.final(table, position)
        for key in keys:
            if key not in cache:
                state = kind.of_row(found[key[1]]) if key[1] in found else kind(key[0], key[1])
                state.ver += JUMP
                cache[key] = state
            cache.move_to_end(key)


def test_a_late_writer_after_a_hand_off_cannot_win_with_stale_state():
    events = run_events()
    store = Warehouse()
    old = ReadingBack(store)
    store.write(old.rows(events[:4]))  # committed
    stale = old.rows(events[4:8])  # merged, not yet written when the partition moves
    new = ReadingBack(store)
    store.write(new.rows(events[4:]))  # the new owner gets the uncommitted events again, and more
    store.write(stale)  # the old owner's batch lands late
    for n in range(3):  # and it may write a few more before it learns it lost the partition
        store.write(old.rows([decoded("TagSet", TS + 5, 90 + n, key=f"late{n}", value="x")]))
    winner = store.final("run_state", 2)["run-1"]
    assert without_ver(winner) == without_ver(merged(events)[0]["run-1"])


def test_forget_reads_every_run_back_before_writing_it_again():
    store = Warehouse()
    state = ReadingBack(store)
    store.write(state.rows(run_events()[:3]))
    first = store.final("run_state", 2)["run-1"][-1]
    state.forget()
    store.write(state.rows(run_events()[3:5]))
    assert store.final("run_state", 2)["run-1"][-1] >= first + JUMP
