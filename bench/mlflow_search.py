"""Search latency of MLflow's SQLite tracking store with many runs in one experiment.

Runs in its own virtualenv (MLflow never goes into the project's .venv):

    PY=$(bench/mlflow_venv.sh | tail -n1)
    $PY bench/mlflow_search.py --runs 10000 --workdir DIR [--repeats 5] [--timeout 900]

Prints one JSON object to stdout, everything else to stderr:

    {"mlflow_version": "3.17.2", "runs": N, "build_s": float | null,
     "build_runs_per_s": float | null,
     "queries": {name: {"seconds": [...], "median": s, "rows": n, ...}}}

The store:

* ``sqlite:///DIR/mlflow.db`` (no server), artifacts under ``DIR/artifacts``.
* One experiment, "scale", with N FINISHED runs. Run i has
  - 20 params p0..p19: p0 = str(i % 10), p1 = str(i % 7), pk = str((i * k) % 100);
  - 10 final metrics m0..m9, floats in [0, 1) from ``random.Random(i)``;
  - a 100-step metric "loss" (steps 0..99), 1/(step+1) + uniform(-0.01, 0.01) noise.
  That is 130 entities, so each run is one ``MlflowClient.log_batch`` call
  (limits: 1000 metrics, 100 params, 1000 entities per call), between
  ``create_run`` and ``set_terminated`` -- the fastest public client API.
* If DIR/mlflow.db already holds an active experiment "scale" with exactly N
  runs, all FINISHED, it is reused and ``build_s`` is null. Otherwise
  DIR/mlflow.db and DIR/artifacts are removed and the store is rebuilt.

The queries, each timed ``--repeats`` times; the repetitions are interleaved
round-robin (a, b, c, a, b, c, ...) so slow drift hits all alike, and
``gc.collect()`` runs, untimed, before each. No untimed warm-up: the first
repetition of the first query includes opening the database cold.

* filter_order: ``client.search_runs([exp], "params.p0 = '3' and metrics.m0 > 0.5",
  order_by=["metrics.m1 DESC"], max_results=1000)``
* all_runs_dataframe: ``mlflow.search_runs(experiment_ids=[exp], max_results=100000)``,
  every run as a pandas DataFrame (MLflow pages through in pages of 10,000).
* filter_order_2: ``client.search_runs([exp], "metrics.m0 > 0.9",
  order_by=["params.p1 ASC"], max_results=1000)``

``--timeout S`` (default 900): a repetition still running after S seconds is
abandoned; its time is recorded as S with ``"timed_out": true`` on the query
(so the figure is a lower bound) and no further repetitions of that query run.
The query runs in a daemon thread; an abandoned one keeps running in the
background until the process exits.

MLflow telemetry is switched off, MLflow/alembic/SQLAlchemy logging and Python
warnings are silenced, and the process's stdout is pointed at stderr while the
benchmark runs, so only the final JSON reaches the real stdout.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

EXPERIMENT = "scale"
N_PARAMS = 20
N_METRICS = 10
LOSS_STEPS = 100
PROGRESS_EVERY = 500
T0_MS = 1_700_000_000_000  # fixed base timestamp for metric values


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "git", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_payload(i: int):
    """Params, metrics (final + loss curve) of run i, as MLflow entities."""
    from mlflow.entities import Metric, Param

    params = [Param("p0", str(i % 10)), Param("p1", str(i % 7))]
    params += [Param(f"p{k}", str((i * k) % 100)) for k in range(2, N_PARAMS)]
    rng = random.Random(i)
    ts = T0_MS + i * 1000
    metrics = [Metric(f"m{k}", rng.random(), ts, 0) for k in range(N_METRICS)]
    metrics += [Metric("loss", 1.0 / (s + 1) + rng.uniform(-0.01, 0.01), ts + s, s) for s in range(LOSS_STEPS)]
    return params, metrics


def existing_store_ok(db: Path, n: int) -> bool:
    """True if db has an active experiment EXPERIMENT with exactly n runs, all FINISHED."""
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
                (EXPERIMENT,),
            ).fetchone()
            if row is None:
                log(f"{db}: no active experiment {EXPERIMENT!r}")
                return False
            counts = dict(con.execute(
                "SELECT status, COUNT(*) FROM runs WHERE experiment_id = ? GROUP BY status", (row[0],),
            ).fetchall())
        finally:
            con.close()
    except sqlite3.Error as e:
        log(f"{db}: unreadable ({e})")
        return False
    if counts == {"FINISHED": n}:
        return True
    log(f"{db}: experiment {EXPERIMENT!r} has runs by status {counts}, want {{'FINISHED': {n}}}")
    return False


def build(client, artifacts: Path, n: int) -> str:
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    t0 = last = time.perf_counter()
    for i in range(n):
        params, metrics = run_payload(i)
        run = client.create_run(exp_id, run_name=f"run-{i:05d}")
        run_id = run.info.run_id
        # 20 params + 110 metrics = 130 entities: within one log_batch call's limits.
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, "FINISHED")
        done = i + 1
        if done % PROGRESS_EVERY == 0 or done == n:
            now = time.perf_counter()
            chunk = PROGRESS_EVERY if done % PROGRESS_EVERY == 0 else done % PROGRESS_EVERY
            log(f"build: {done}/{n} runs, {now - t0:.1f}s, "
                f"{done / (now - t0):.1f} runs/s overall, {chunk / (now - last):.1f} runs/s last {chunk}")
            last = now
    return exp_id


def timed(fn, timeout: float):
    """(seconds, result, timed_out) of fn(), abandoning it after timeout seconds."""
    box: dict = {}

    def target():
        try:
            t0 = time.perf_counter()
            box["result"] = fn()
            box["seconds"] = time.perf_counter() - t0
        except BaseException as e:  # noqa: BLE001 -- re-raised in the caller
            box["error"] = e

    gc.collect()
    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        return float(timeout), None, True
    if "error" in box:
        raise box["error"]
    return box["seconds"], box["result"], False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, required=True, help="runs in the experiment")
    parser.add_argument("--workdir", type=Path, required=True, help="holds mlflow.db and artifacts/")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions of each query")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds after which a query repetition is abandoned (recorded as a lower bound)")
    args = parser.parse_args()
    if args.runs < 1 or args.repeats < 1 or args.timeout <= 0:
        parser.error("need --runs >= 1, --repeats >= 1, --timeout > 0")

    # Keep the real stdout for the JSON; everything written to fd 1 meanwhile goes to stderr.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    quiet()
    import mlflow
    from mlflow.tracking import MlflowClient
    quiet()  # again: importing MLflow may configure its own loggers

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db, artifacts = workdir / "mlflow.db", workdir / "artifacts"
    uri = f"sqlite:///{db}"

    reuse = existing_store_ok(db, args.runs)
    if not reuse:
        if db.exists() or artifacts.exists():
            log(f"removing {db} and {artifacts} to rebuild")
        db.unlink(missing_ok=True)
        shutil.rmtree(artifacts, ignore_errors=True)

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    quiet()  # the first store access runs alembic, which may reset logging
    log(f"mlflow {mlflow.__version__}, store {uri}")

    build_s = rate = None
    if reuse:
        exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
        log(f"reusing experiment {EXPERIMENT!r} (id {exp_id}) with {args.runs} finished runs")
    else:
        log(f"building experiment {EXPERIMENT!r} with {args.runs} runs")
        t0 = time.perf_counter()
        exp_id = build(client, artifacts, args.runs)
        build_s = time.perf_counter() - t0
        rate = args.runs / build_s
        log(f"build: {build_s:.1f}s, {rate:.1f} runs/s, db {db.stat().st_size / 1e6:.1f} MB")

    queries = {
        "filter_order": lambda: client.search_runs(
            [exp_id], filter_string="params.p0 = '3' and metrics.m0 > 0.5",
            order_by=["metrics.m1 DESC"], max_results=1000),
        "all_runs_dataframe": lambda: mlflow.search_runs(experiment_ids=[exp_id], max_results=100000),
        "filter_order_2": lambda: client.search_runs(
            [exp_id], filter_string="metrics.m0 > 0.9", order_by=["params.p1 ASC"], max_results=1000),
    }
    results: dict[str, dict] = {name: {"seconds": [], "rows": None} for name in queries}
    for rep in range(args.repeats):
        for name, fn in queries.items():
            res = results[name]
            if res.get("timed_out"):
                continue
            seconds, out, timed_out = timed(fn, args.timeout)
            res["seconds"].append(seconds)
            if timed_out:
                res["timed_out"] = True
                log(f"{name} #{rep + 1}: still running after {args.timeout:.0f}s, abandoned (lower bound)")
                continue
            rows = len(out)
            if res["rows"] is not None and res["rows"] != rows:
                log(f"{name} #{rep + 1}: WARNING {rows} rows, earlier {res['rows']}")
            res["rows"] = rows
            log(f"{name} #{rep + 1}: {seconds:.4f}s, {rows} rows")
    for name, res in results.items():
        res["median"] = statistics.median(res["seconds"])
        log(f"{name}: median {res['median']:.4f}s over {len(res['seconds'])}, {res['rows']} rows"
            + (" (timed out: lower bound)" if res.get("timed_out") else ""))

    out = {"mlflow_version": mlflow.__version__, "runs": args.runs, "build_s": build_s,
           "build_runs_per_s": rate, "queries": results}
    print(json.dumps(out), file=real_stdout, flush=True)
    real_stdout.close()
    if any(r.get("timed_out") for r in results.values()):
        # An abandoned query thread may still be inside SQLite; don't wait for it.
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
