"""Forked children deliver every event, whenever the fork happens (issue 16, case 3).

Each trial forks right after ``start_run``, while the parent's emitter thread may be building its
encoder or writing a batch, and counts every event of the run in the file log, exactly.
"""
from __future__ import annotations

import multiprocessing
from collections import Counter

import modeldb
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from tests.unit.events_factory import unbatched

PER_TASK = 8


def _log(i):
    for step in range(PER_TASK):
        modeldb.log_metric(f"m{i}", float(step), step=step)
    return i


def _events(log_path):
    return unbatched(codec.decode(r.payload) for r in read_records(log_path, max_records=10**9) if r.error is None)


def _check(tmp_path, run_ids, tasks):
    events = _events(tmp_path / "events.log")
    assert not (tmp_path / "spill" / "unencodable.jsonl").exists()
    by_run = Counter(e["run_id"] for e in events if e["event_type"] == "MetricLogged")
    assert by_run == {run_id: tasks * PER_TASK for run_id in run_ids}
    keys = Counter((e["run_id"], e["payload"]["name"], e["payload"]["step"]) for e in events
                   if e["event_type"] == "MetricLogged")
    assert set(keys.values()) == {1}  # each exactly once


def test_pools_forked_right_after_start_run_deliver_every_event(tmp_path):
    trials, tasks = 20, 12
    ctx = multiprocessing.get_context("fork")
    run_ids = []
    for trial in range(trials):
        modeldb.init(project="fork", home=tmp_path, transport=f"file://{tmp_path}/events.log")  # a fresh emitter
        with modeldb.start_run(name=f"t{trial}") as run:
            with ctx.Pool(3) as pool:  # leaving `with` terminates the workers (SIGTERM): no exit hook runs
                assert pool.map(_log, range(tasks)) == list(range(tasks))
        run_ids.append(run.run_id)
    assert modeldb.flush() == 0
    _check(tmp_path, run_ids, tasks)


def test_pools_closed_and_joined_deliver_every_event_too(tmp_path):
    ctx = multiprocessing.get_context("fork")
    run_ids = []
    for trial in range(20):
        modeldb.init(project="fork", home=tmp_path, transport=f"file://{tmp_path}/events.log")
        with modeldb.start_run(name=f"c{trial}") as run:
            with ctx.Pool(3) as pool:
                assert pool.map(_log, range(6)) == list(range(6))
                pool.close()
                pool.join()
        run_ids.append(run.run_id)
    assert modeldb.flush() == 0
    _check(tmp_path, run_ids, 6)


def test_a_forked_process_right_after_start_run_delivers_every_event(tmp_path):
    ctx = multiprocessing.get_context("fork")
    run_ids = []
    for trial in range(5):
        modeldb.init(project="fork", home=tmp_path, transport=f"file://{tmp_path}/events.log")
        with modeldb.start_run(name=f"p{trial}") as run:
            procs = [ctx.Process(target=_log, args=(i,)) for i in range(2)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(30)
                assert p.exitcode == 0
        run_ids.append(run.run_id)
    assert modeldb.flush() == 0
    _check(tmp_path, run_ids, 2)
