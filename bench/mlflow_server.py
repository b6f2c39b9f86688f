"""MLflow's client against MLflow's own server and against ``modeldb server``, in the same run.

    .venv/bin/python bench/mlflow_server.py [--runs 1000] [--search-runs 10000] [--repeats 5]

1. Logging: ``--runs`` runs through the MLflow client's fluent API (10 params, a 20-step loss
   logged one ``log_metric`` at a time, 5 final metrics: 24 requests a run), into a fresh
   ``mlflow server`` (SQLite, one worker) and into a fresh ``modeldb server`` (embedded default).
   Then ``modeldb sql`` counts the runs that arrived.
2. Searching: ``mlflow_search.py``'s three queries (two filtered and ordered searches, and every
   run as a DataFrame) at ``--search-runs`` runs. MLflow's store is the one ``mlflow_search.py``
   builds and keeps (``~/.cache/modeldb/mlflow-scale``), served by ``mlflow server``; ours is the
   same runs loaded into ``modeldb server`` through the MLflow client (``log_batch``, 4 threads).
   Both answers are compared (row counts, first five runs).

Prints each figure next to MLflow's, as a ratio. Every server runs on this machine's 2 cores, one
at a time, and the client in the MLflow virtualenv (``bench/mlflow_venv.sh``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mlflow_runner import HERE, run_in_mlflow_venv

from modeldb.devtools import services
from modeldb.devtools.services.process import serve_http, stop_process

MODELDB = str(Path(sys.executable).with_name("modeldb"))


def mlflow_python() -> str:
    return subprocess.run(["bash", str(HERE / "mlflow_venv.sh")], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def start(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    return serve_http(command, env, log)


def client(*args: str) -> dict:
    print(f"  client: {' '.join(args[:2])}…", file=sys.stderr, flush=True)
    done = subprocess.run([mlflow_python(), str(HERE / "mlflow_server_client.py"), *args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"mlflow_server_client.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELDB_"))}


def mlflow_server(store: Path, work: Path) -> tuple[subprocess.Popen, str]:
    work.mkdir(parents=True, exist_ok=True)
    return start([str(Path(mlflow_python()).with_name("mlflow")), "server", "--backend-store-uri", f"sqlite:///{store}",
                  "--artifacts-destination", str(work / "artifacts"), "--host", "127.0.0.1", "--workers", "1"],
                 plain_env(), work / "mlflow-server.log")


def modeldb_server(home: Path) -> tuple[subprocess.Popen, str]:
    home.mkdir(parents=True, exist_ok=True)
    return start([MODELDB, "server"], {**plain_env(), "MODELDB_HOME": str(home)}, home / "server.log")


def count_runs(home: Path, project: str) -> int:
    done = subprocess.run([MODELDB, "sql", "--format", "json", f"SELECT count() AS n FROM current_runs WHERE "
                           f"project = '{project}'"], capture_output=True, text=True,
                          env={**plain_env(), "MODELDB_HOME": str(home)})
    return int(json.loads(done.stdout)[0]["n"]) if done.returncode == 0 else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--search-runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modeldb-mlflow-bench-"))
    home = work / "modeldb"

    print(f"1. logging {args.runs} runs through the MLflow client", file=sys.stderr)
    server, url = mlflow_server(work / "mlflow-log.db", work / "mlflow-log")
    theirs_log = client("log", url, "--runs", str(args.runs))
    stop_process(server)
    server, url = modeldb_server(home)
    ours_log = client("log", url, "--runs", str(args.runs))
    print(f"\nlogging {args.runs} runs, {theirs_log['requests']:,} requests (MLflow client, fluent API)")
    print(f"  mlflow server    {theirs_log['seconds']:8.1f} s  {theirs_log['runs_per_s']:7.1f} runs/s")
    print(f"  modeldb server   {ours_log['seconds']:8.1f} s  {ours_log['runs_per_s']:7.1f} runs/s  "
          f"({theirs_log['seconds'] / ours_log['seconds']:.2f}x MLflow's speed)", flush=True)

    print(f"2. search_runs at {args.search_runs} runs", file=sys.stderr)
    ours_load = client("load", url, "--runs", str(args.search_runs))
    print(f"  loading {args.search_runs} runs into modeldb server with log_batch (4 threads): "
          f"{ours_load['seconds']:.1f} s ({ours_load['runs_per_s']:.0f} runs/s)", flush=True)
    ours_search = client("search", url, "--repeats", str(args.repeats))
    stop_process(server)
    print(f"  runs of the logging phase in modeldb sql: {count_runs(home, 'bench-logging')}", flush=True)
    built = run_in_mlflow_venv("mlflow_search.py", "--runs", str(args.search_runs), "--workdir",
                               str(services.cache_dir() / "mlflow-scale"), "--repeats", "1")
    if built is None:
        sys.exit("could not build MLflow's store (mlflow_search.py)")
    server, url = mlflow_server(services.cache_dir() / "mlflow-scale" / "mlflow.db", work / "mlflow-search")
    theirs_search = client("search", url, "--repeats", str(args.repeats))
    stop_process(server)
    print(f"\nsearch_runs at {args.search_runs} runs, through each server (median of {args.repeats})")
    for name, theirs in theirs_search.items():
        ours = ours_search[name]
        same = "same answer" if (ours["rows"], ours["first_ids"]) == (theirs["rows"], theirs["first_ids"]) else (
            f"DIFFERENT: ours {ours['rows']} rows {ours['first_ids']}, MLflow {theirs['rows']} {theirs['first_ids']}")
        print(f"  {name:<20} mlflow {theirs['median'] * 1000:8.1f} ms   modeldb {ours['median'] * 1000:8.1f} ms   "
              f"{theirs['median'] / ours['median']:6.1f}x faster   ({theirs['rows']} rows, {same})")


if __name__ == "__main__":
    main()
