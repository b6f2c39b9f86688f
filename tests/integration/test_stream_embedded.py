"""The same stream operations on the embedded default (file log + chDB), through the CLI as a user runs them.

chDB allows one data directory per process, so every step is its own `modeldb` process.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

from modeldb.core import codec
from modeldb.core.eventlog import EventLogWriter, frame, read_records
from modeldb.core.events import envelope, producer_info
from tests.integration import loadgen
from tests.integration.conftest import cli_env, run_cli
from tests.integration.stream_harness import REPO
from tests.unit.events_factory import unbatched


def test_status_dlq_and_rebuild_on_the_embedded_default(tmp_path):
    home = tmp_path / "home"
    env = {"MODELDB_HOME": str(home)}
    load = subprocess.run([sys.executable, "-m", "tests.integration.loadgen", "emb", "12", "15", "0"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=cli_env(**env))
    assert load.returncode == 0, load.stderr
    # What the script sent, counted on the log itself: records (a burst of points is one) and points.
    sent = [codec.decode(r.payload) for r in read_records(home / "events.log", max_records=10**9) if r.error is None]
    sent = [e for e in sent if e["project"] == "emb"]
    batches = [e for e in sent if e["event_type"] == "MetricsLogged"]
    assert len(unbatched(sent)) == 12 * loadgen.events_per_run(15) and batches  # every call, and batched
    writer = EventLogWriter(home / "events.log")
    writer.append(frame(b"garbage") + frame(codec.current_header() + b"\xff\xff"))
    writer.close()
    # A letter an older processor refused by mistake: it decodes with this code.
    refused = codec.encode(envelope("MetricLogged", {"name": "late", "value": 1.0, "step": 0, "model_id": None,
                                                     "dataframe_id": None, "slice": ""}, project="emb",
                                    experiment="load", run_id="late-run", seq=0,
                                    producer=producer_info().as_record()))
    with open(home / "deadletter.jsonl", "a") as fh:
        fh.write(json.dumps({"ts": time.time(), "reason": "simulated old bug", "source": "old", "partition": 0,
                             "offset": 0, "size": len(refused), "original_b64": base64.b64encode(refused).decode()})
                 + "\n")

    processed = run_cli("process", "--once", **env)
    assert processed.returncode == 0 and "2 dead letters" in processed.stderr, processed.stderr
    status = run_cli("status", "--json", **env)
    assert status.returncode == 0, status.stdout + status.stderr  # embedded mode needs no running worker
    figures = json.loads(status.stdout)
    assert figures["events_stored"] == len(sent) and figures["metric_points_stored"] == 12 * 16
    points = run_cli("sql", "SELECT count() FROM (SELECT run_id, name, step FROM modeldb.metrics "
                     "GROUP BY run_id, name, step)", "--format", "csv", **env)
    assert points.stdout.split() == ["count()", str(12 * 16)], points.stdout + points.stderr  # 15 loss steps and acc, per run
    assert figures["dead_letters"] == 3 and figures["lag_bytes"] == 0 and figures["problems"] == []

    letters = [json.loads(line) for line in run_cli("dlq", "list", "--json", **env).stdout.splitlines()]
    assert [item["status"] for item in letters] == ["ready to retry", "undecodable", "undecodable"]
    assert "shorter than the 10-byte single-object header" in letters[1]["reason"] and letters[1]["source"].endswith("events.log")
    shown = run_cli("dlq", "show", "1", **env)
    assert '"name": "late"' in shown.stdout
    retried = run_cli("dlq", "retry", "1", **env)
    assert retried.returncode == 0 and "re-sent 1 dead letter(s)" in retried.stderr, retried.stderr
    bad = run_cli("dlq", "retry", "2", **env)
    assert bad.returncode == 1 and "1 still undecodable" in bad.stderr
    assert run_cli("dlq", "show", "99", **env).stderr.count("no dead letter with id 99") == 1
    letters = [json.loads(line) for line in run_cli("dlq", "list", "--json", **env).stdout.splitlines()]
    assert letters[0]["status"] == "materialized"  # the list caught up with the log before answering

    rebuilt_dir = tmp_path / "rebuilt"
    rebuilt = run_cli("rebuild", "--into", f"chdb://{rebuilt_dir}", **env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt {len(sent) + 1:,} events" in rebuilt.stderr
    again = run_cli("rebuild", "--into", f"chdb://{rebuilt_dir}", **env)
    assert again.returncode == 2 and "already holds events" in again.stderr
    unknown = run_cli("rebuild", "--table", "nope", **env)
    assert unknown.returncode == 2 and "unknown table(s) nope" in unknown.stderr
    questions = ["SELECT run_id, name, status, param_keys, param_values, metric_keys, metric_values, tag_values "
                 "FROM modeldb.current_runs ORDER BY run_id",
                 "SELECT run_id, name, step, value FROM modeldb.metrics FINAL ORDER BY run_id, name, step",
                 "SELECT count(), uniqExact(event_id) FROM modeldb.events_raw"]
    for sql in questions:
        live = run_cli("sql", sql, "--format", "csv", **env)
        copy = run_cli("sql", sql, "--format", "csv", MODELDB_WAREHOUSE=f"chdb://{rebuilt_dir}", **env)
        assert live.returncode == 0 and copy.returncode == 0, live.stderr + copy.stderr
        assert live.stdout == copy.stdout and live.stdout.count("\n") > 1


def test_status_names_a_broker_that_is_down_in_one_line(tmp_path):
    env = {"MODELDB_HOME": str(tmp_path), "MODELDB_TRANSPORT": "kafka://127.0.0.1:1/events"}
    fresh = run_cli("status", "--json", **env)
    assert "no ModelDB tables yet: run `modeldb migrate`" in fresh.stdout
    assert run_cli("migrate", **env).returncode == 0
    text = run_cli("status", **env)
    assert text.returncode == 1 and "Traceback" not in text.stdout + text.stderr, text.stderr
    assert "broker" in text.stdout and "down" in text.stdout and "lag — events" in text.stdout
    figures = json.loads(run_cli("status", "--json", **env).stdout)
    assert figures["broker_health"]["ok"] is False and any("broker" in p for p in figures["problems"])
    assert figures["warehouse_health"]["ok"] is True  # the rest is still reported
