"""Warehouse at scale: every named query timed over 100,000 runs, on the ClickHouse server and on chDB.

The project is built through the real pipeline: producer processes log runs with the public API
(each: 20 params, 10 final metrics, a 100-step loss curve, and one model with its fit action,
features, lineage and two metrics) to Kafka; `modeldb process --engine confluent` workers
materialize them into a ClickHouse server. The same tables are then copied into chDB
(``remote()``), and each named query is timed (median of ``--repeats``) on both. With
``--mlflow``, ``bench/mlflow_search.py`` times MLflow's ``search_runs`` with a filter and an
order, and all runs as a DataFrame, on a 10,000-run SQLite store, and the ratios are printed.
Starts its own Kafka and ClickHouse; prints figures, asserts nothing.

    .venv/bin/python bench/warehouse_scale.py [--runs 100000] [--producers 2] [--workers 2] [--mlflow]
        [--data DIR] [--optimize]

With ``--data DIR`` the built warehouse (server data and the chDB copy) is kept in DIR, and a
later run with the same DIR and ``--runs`` times the queries again without rebuilding. Timings are
taken right after the load, before ClickHouse's background merges catch up; ``--optimize`` merges
every table first, for the steady state.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modeldb.devtools import services
from modeldb.core.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for mlflow_runner
from mlflow_runner import run_in_mlflow_venv  # noqa: E402

MODELDB = str(Path(sys.executable).with_name("modeldb"))
PROJECT = "scale"
IDLE_S = 60.0  # with the producers done, this long without a materialized event ends the build short


def produce(transport: str, home: str, first: int, count: int) -> None:
    """One producer process: ``count`` runs through the public API to Kafka."""
    import modeldb
    from modeldb.core.events import typed_param, uuid7

    modeldb.init(project=PROJECT, experiment="sweep", home=home, transport=transport)
    features = [f"f{k}" for k in range(10)]
    for i in range(first, first + count):
        rng = random.Random(i)
        with modeldb.start_run(name=f"run-{i:06d}", tags={"team": f"t{i % 5}"}) as run:
            params = {f"p{k}": (str(i % 10) if k == 0 else i % 7 if k == 1 else (i * k) % 100) for k in range(20)}
            run.log_params(params)
            for step in range(100):
                run.log_metric("loss", 1.0 / (step + 1) + rng.random() * 0.01, step=step)
            run.log_metrics({f"m{k}": rng.random() for k in range(10)})
            model_id, action_id = uuid7(), uuid7()
            run.emit_action("OperatorApplied", {
                "action_id": action_id, "action": "fit", "operator_class": "LogisticRegression",
                "operator_module": "sklearn.linear_model", "model_id": model_id,
                "params": [typed_param("C", 10 ** rng.uniform(-3, 2)), typed_param("max_iter", 100)],
                "input_dataframe_ids": [], "output_dataframe_ids": [], "input_columns": features,
                "output_columns": [], "column_edges": [], "parent_action_id": None, "stage_index": None,
                "duration_ms": 1.0})
            run.emit_action("ModelStored", {
                "model_id": model_id, "operator_class": "LogisticRegression", "uri": "", "format": "",
                "size_bytes": -1, "train_dataframe_id": None, "feature_names": features, "internals": [],
                "operator_module": "sklearn.linear_model", "action_id": action_id, "parent_model_id": None,
                "column_lineage": [{"src": f"raw_{k}", "dst": f, "path": f"raw_{k} > {f}"}
                                   for k, f in enumerate(features)]})
            run.log_metric("accuracy", rng.random(), model_id=model_id)
            run.log_metric("f1", rng.random(), model_id=model_id)
    modeldb.flush(300)


def build(args: argparse.Namespace, kafka: services.Service, clickhouse: services.Service, home: Path) -> dict:
    from modeldb.stream_processors.topics import ensure_topics

    topic = f"scale-{os.getpid()}"
    transport = f"kafka://127.0.0.1:{kafka.port}/{topic}"
    warehouse = clickhouse.warehouse_uri("scale")
    settings = Settings.load(env={}, home=home, transport=transport, warehouse=warehouse)
    ensure_topics(settings, partitions=4)
    env = dict(os.environ, MODELDB_HOME=str(home), MODELDB_TRANSPORT=transport, MODELDB_WAREHOUSE=warehouse,
               MODELDB_PROCESSOR_ENGINE="confluent", MODELDB_CONSUMER_GROUP="scale", MODELDB_BATCH_SIZE="20000")
    workers = [subprocess.Popen([MODELDB, "process"], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(home / f"worker-{w}.log", "ab")) for w in range(args.workers)]
    started = time.monotonic()
    per = args.runs // args.producers
    procs = [multiprocessing.Process(target=produce, args=(transport, str(home), p * per, per))
             for p in range(args.producers)]
    for proc in procs:
        proc.start()
    runs = per * args.producers
    expected = runs * (2 + 20 + 100 + 10 + 4)  # logged events; the emitter batches each run's points
    points = runs * (100 + 10 + 2)
    from modeldb.warehouse.factory import connect

    wh = connect(settings)
    last, done, progressed = 0, 0, time.monotonic()
    while done < expected:
        time.sleep(2)
        others, records = wh.query(
            "SELECT countIf(event_type NOT IN ('MetricLogged', 'MetricsLogged', 'ParamLogged', 'ParamsLogged')), "
            "count() FROM scale.events_raw").rows[0]
        stored = wh.query("SELECT count() FROM scale.metrics").scalar()
        params = wh.query("SELECT count() FROM scale.params").scalar()
        done = others + params + stored  # every logged event, a point or a param counted as one
        if done >= expected:  # raw counts include rows a rebalance replayed: count distinct rows to be sure
            params = wh.query("SELECT uniqExact(run_id, key) FROM scale.params").scalar()
            stored = wh.query("SELECT uniqExact(run_id, name, step, event_id) FROM scale.metrics").scalar()
            done = min(done, others + params + stored)
        rate = (done - last) / 2
        last = done
        print(f"  {time.monotonic() - started:6.0f}s  {done:>11,} / {expected:,} logged events materialized "
              f"({records:,} events on the topic so far; {stored:,} / {points:,} points; {rate:,.0f}/s)",
              file=sys.stderr)
        if rate:
            progressed = time.monotonic()
        # A big insert on a busy machine can take several polls: only a long silence means the rest is lost.
        if all(not p.is_alive() for p in procs) and time.monotonic() - progressed > IDLE_S and done < expected:
            codes = [p.exitcode for p in procs]
            print(f"  producers finished (exit codes {codes}) and nothing was materialized for {IDLE_S:.0f} s; "
                  "stopping short", file=sys.stderr)
            break
    produced = time.monotonic() - started
    for proc in procs:
        proc.join()
    for worker in workers:
        worker.terminate()
        worker.wait(30)
    return {"events": last, "seconds": produced, "rate": last / produced}


def copy_to_chdb(clickhouse: services.Service, home: Path):
    """The server's tables into chDB: exported with clickhouse-client, read back with file()."""
    from modeldb.warehouse.ddl import tables
    from modeldb.warehouse.factory import connect

    wh = connect(Settings.load(env={}, home=home, warehouse=f"chdb://{home}/chdb?database=scale"))
    for table, spec in tables().items():
        if spec.get("view") or any("AggregateFunction" in t for _, t, _ in spec["columns"]):
            continue  # the materialized views refill these as the source tables are copied
        dump = home / f"{table}.tsv"
        with open(dump, "wb") as out:
            subprocess.run(["clickhouse-client", "--port", str(clickhouse.port), "--query",
                            f"SELECT * FROM scale.`{table}` FORMAT TabSeparated"], stdout=out, check=True)
        structure = ", ".join(f"{name} {typ}" for name, typ, _ in spec["columns"])
        wh.query(f"INSERT INTO scale.`{table}` SELECT * FROM file('{dump}', 'TabSeparated', '{structure}')",
                 readonly=False)
        dump.unlink()
    return wh


def optimize(wh) -> float:
    """Merge every table's parts now (``OPTIMIZE … FINAL``), as background merges would in time."""
    from modeldb.warehouse.ddl import tables

    started = time.monotonic()
    for table, spec in tables().items():
        if table != "events_raw" and not spec.get("view"):  # no named query reads events_raw, the biggest
            wh.execute(f"OPTIMIZE TABLE scale.`{table}` FINAL")
    return time.monotonic() - started


def timings(wh, repeats: int) -> dict[str, float]:
    from modeldb.warehouse import queries as Q
    from modeldb.warehouse.queries import mlflow_runs

    run_id = wh.query("SELECT run_id FROM scale.runs WHERE project = 'scale' LIMIT 1").scalar()
    model_id = wh.query("SELECT model_id FROM scale.models WHERE project = 'scale' LIMIT 2").rows
    fingerprint_run = run_id
    columns = [f"params.p{k}" for k in range(20)] + [f"metrics.m{k}" for k in range(10)]
    everything = columns + ["metrics.loss", "tags.team"]  # what MLflow returns with each run
    cases = {
        "projects": lambda: Q.PROJECTS.frame(wh),
        "project_metrics": lambda: Q.PROJECT_METRICS.frame(wh, project=PROJECT),
        "runs: filter+order+page": lambda: Q.search_runs(
            wh, PROJECT, where="params.p0 = '3' AND metrics.m0 > 0.5", order_by="metrics.m1 DESC", limit=100),
        "runs: OR filter, 30 columns": lambda: Q.search_runs(
            wh, PROJECT, where="params.p1 >= 5 OR tags.team = 't1'", columns=columns, limit=1000),
        "models (first page)": lambda: Q.search_models(wh, PROJECT),
        "models: filter+order": lambda: Q.search_models(
            wh, PROJECT, where="params.C > 1 AND metrics.accuracy > 0.9", order_by="metrics.f1 DESC", limit=100),
        "best_runs": lambda: Q.BEST_RUNS.frame(wh, project=PROJECT, metric="m0", limit=10),
        "best_models": lambda: Q.best_models(wh, PROJECT, "accuracy"),
        "metric_history": lambda: Q.METRIC_HISTORY.frame(wh, project=PROJECT, metric="loss", run_id=run_id),
        "run_params": lambda: Q.RUN_PARAMS.frame(wh, project=PROJECT, run_id=run_id),
        "param_vs_metric": lambda: Q.PARAM_VS_METRIC.frame(wh, project=PROJECT, param="p0", metric="m0"),
        "param_vs_metric_agg": lambda: Q.param_vs_metric_agg(wh, PROJECT, "p1", "m0", "median", "run"),
        "models_using_column (1,000 + total)": lambda: Q.models_using_column_page(wh, PROJECT, "raw_3", 1000),
        "compare_models": lambda: Q.compare_models(wh, PROJECT, model_id[0][0], model_id[1][0]),
        "version_tree": lambda: Q.version_tree(wh, PROJECT, fingerprint_run),
        # MLflow's two searches, with the same answer: every matching run (up to 1,000) with all its
        # params, latest metrics and tags, in the same order.
        "mlflow shape: filter_order": lambda: Q.search_runs(
            wh, PROJECT, where="params.p0 = '3' AND metrics.m0 > 0.5", order_by="metrics.m1 DESC",
            columns=everything, limit=1000),
        "mlflow shape: filter_order_2": lambda: Q.search_runs(
            wh, PROJECT, where="metrics.m0 > 0.9", order_by="params.p1 ASC", columns=everything, limit=1000),
        # The same two searches as ``modeldb server`` runs them for an MLflow client: the state rows'
        # arrays of params, metrics and tags, as dicts, in MLflow's order (its tie-break included).
        "mlflow endpoint: filter_order": lambda: mlflow_runs.search(
            wh, [PROJECT], "params.p0 = '3' and metrics.m0 > 0.5", ["metrics.m1 DESC"], "ACTIVE_ONLY", 0, 1000),
        "mlflow endpoint: filter_order_2": lambda: mlflow_runs.search(
            wh, [PROJECT], "metrics.m0 > 0.9", ["params.p1 ASC"], "ACTIVE_ONLY", 0, 1000),
        # Whole answers: their time is mostly the size of the answer.
        "whole: all runs as DataFrame": lambda: Q.search_runs(wh, PROJECT, columns=everything, limit=1_000_000),
        "whole: every model": lambda: Q.MODELS.frame(wh, project=PROJECT),
        "whole: models_using_column": lambda: Q.MODELS_USING_COLUMN.frame(wh, project=PROJECT, column="raw_3"),
    }
    out = {}
    for name, case in cases.items():
        case()  # warm caches
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            case()
            seconds.append(time.perf_counter() - started)
        out[name] = statistics.median(seconds) * 1000
        print(f"  {name}: {out[name]:.1f} ms", file=sys.stderr)
    return out


def mlflow(runs: int, repeats: int) -> dict | None:
    workdir = services.cache_dir() / "mlflow-scale"
    return run_in_mlflow_venv("mlflow_search.py", "--runs", str(runs), "--workdir", str(workdir),
                              "--repeats", str(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mlflow", action="store_true")
    parser.add_argument("--mlflow-runs", type=int, default=10_000)
    parser.add_argument("--optimize", action="store_true",
                        help="merge every table before timing (steady state), rather than right after the load")
    parser.add_argument("--data", help="keep the built warehouse here, and reuse it when it is already built")
    args = parser.parse_args()
    home = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="modeldb-scale-"))
    home.mkdir(parents=True, exist_ok=True)
    marker = home / f"built-{args.runs}.json"
    reuse = marker.exists()
    kafka = None if reuse else services.start_kafka(home / "kafka")
    clickhouse = services.start_clickhouse(home / "clickhouse")
    try:
        if reuse:
            built = json.loads(marker.read_text())
            print(f"reusing the {args.runs:,} runs built in {home}", file=sys.stderr)
        else:
            print(f"building {args.runs:,} runs through Kafka ({args.producers} producers, {args.workers} workers)…",
                  file=sys.stderr)
            built = build(args, kafka, clickhouse, home)
            kafka.stop()
            kafka = None
        from modeldb.warehouse.factory import connect

        server = connect(Settings.load(env={}, home=home,
                                       warehouse=clickhouse.warehouse_uri("scale")))
        sizes = dict(server.query("SELECT 'runs', uniqExact(run_id) FROM scale.experiments UNION ALL "
                                  "SELECT 'metric points', count() FROM scale.metrics UNION ALL "
                                  "SELECT 'params', count() FROM scale.params").rows)
        if args.optimize:
            print(f"merged every table on the server in {optimize(server):.0f}s", file=sys.stderr)
        print("timing the named queries on the ClickHouse server…", file=sys.stderr)
        on_server = timings(server, args.repeats)
        if reuse:
            chdb = connect(Settings.load(env={}, home=home, warehouse=f"chdb://{home}/chdb?database=scale"))
        else:
            print("copying into chDB…", file=sys.stderr)
            chdb = copy_to_chdb(clickhouse, home)
            marker.write_text(json.dumps(built))
        if args.optimize:
            print(f"merged every table on chDB in {optimize(chdb):.0f}s", file=sys.stderr)
        print("timing the named queries on chDB…", file=sys.stderr)
        on_chdb = timings(chdb, args.repeats)
    finally:
        clickhouse.stop()
        if kafka:
            kafka.stop()
    print(f"\nbuilt: {built['events']:,} events in {built['seconds']:.0f}s ({built['rate']:,.0f} events/s end to end); "
          + ", ".join(f"{k}: {v:,}" for k, v in sizes.items()))
    width = max(len(name) for name in on_server) + 1
    print(f"\n{'named query':<{width}} {'ClickHouse ms':>14} {'chDB ms':>9}")
    for name in on_server:
        print(f"{name:<{width}} {on_server[name]:>14.1f} {on_chdb[name]:>9.1f}")
    if args.mlflow:
        theirs = mlflow(args.mlflow_runs, args.repeats)
        if theirs:
            ours_runs = sizes.get("runs", 0)
            same = ours_runs == theirs["runs"]
            print(f"\nMLflow {theirs['mlflow_version']} (SQLite) at {theirs['runs']:,} runs vs ModelDB at "
                  f"{ours_runs:,} runs{'' if same else ' (NOT the same size: run with --runs ' + str(theirs['runs']) + ' for an equal comparison)'}:")
            print(f"{'ModelDB query':<32} {'MLflow ms':>10} {'ClickHouse ms':>14} {'ratio':>7} {'chDB ms':>9} {'ratio':>7}")
            for theirs_name, ours_name in (("filter_order", "mlflow shape: filter_order"),
                                           ("filter_order_2", "mlflow shape: filter_order_2"),
                                           ("filter_order", "mlflow endpoint: filter_order"),
                                           ("filter_order_2", "mlflow endpoint: filter_order_2"),
                                           ("all_runs_dataframe", "whole: all runs as DataFrame")):
                if theirs_name not in theirs["queries"]:
                    continue
                ms = theirs["queries"][theirs_name]["median"] * 1000
                print(f"{ours_name:<32} {ms:>10,.0f} {on_server[ours_name]:>14.1f} {ms / on_server[ours_name]:>6.0f}x "
                      f"{on_chdb[ours_name]:>9.1f} {ms / on_chdb[ours_name]:>6.0f}x")


if __name__ == "__main__":
    main()
