"""The MLflow client's side of ``bench/mlflow_server.py``: log, load and search through a tracking server.

Runs in the MLflow virtualenv (``bench/mlflow_venv.sh``), against any server that speaks MLflow's
REST API, and prints one JSON object on its last line of stdout:

    python mlflow_server_client.py log URI --runs 1000
        N runs the way a training script logs them with the fluent API: start_run, log_params
        (10 params), log_metric 20 times (one request each, as MLflow sends them), log_metrics
        (5 final metrics), end_run. {"seconds": s, "runs_per_s": r, "requests": n}
    python mlflow_server_client.py load URI --runs 10000 [--threads 4]
        N runs into the experiment "scale", each the runs of ``mlflow_search.py`` (20 params, 10
        final metrics, a 100-step loss, one log_batch between create_run and set_terminated), with
        the client's "View run" line (a get_run after each run) switched off: this is set-up.
    python mlflow_server_client.py search URI [--repeats 5]
        ``mlflow_search.py``'s three queries on the experiment "scale", through the server,
        interleaved round-robin, the median of each.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlflow_search import EXPERIMENT, log, quiet, run_payload, timed  # noqa: E402

STEPS = 20


def log_runs(uri: str, runs: int) -> dict:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-logging")
    started = time.perf_counter()
    for i in range(runs):
        with mlflow.start_run(run_name=f"run-{i:04d}"):
            mlflow.log_params({f"p{k}": (i * k) % 10 for k in range(10)})
            for step in range(STEPS):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({f"m{k}": (i + k) % 100 / 100 for k in range(5)})
        if (i + 1) % 100 == 0:
            log(f"log: {i + 1}/{runs} runs, {time.perf_counter() - started:.1f} s")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "runs_per_s": runs / seconds, "requests": runs * (STEPS + 4)}


def load_runs(uri: str, runs: int, threads: int) -> dict:
    # Setting up, not measured as a user's logging: the client's "View run" line after each run
    # costs a get_run, which on the embedded default waits for a catch-up.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    exp_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)

    def one(i: int) -> None:
        params, metrics = run_payload(i)
        run_id = client.create_run(exp_id, run_name=f"run-{i:05d}").info.run_id
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, "FINISHED")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for done, _ in enumerate(pool.map(one, range(runs)), 1):
            if done % 1000 == 0:
                log(f"load: {done}/{runs} runs, {time.perf_counter() - started:.1f} s")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "runs_per_s": runs / seconds}


def search(uri: str, repeats: int) -> dict:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    queries = {
        "filter_order": lambda: client.search_runs(
            [exp_id], filter_string="params.p0 = '3' and metrics.m0 > 0.5", order_by=["metrics.m1 DESC"],
            max_results=1000),
        "filter_order_2": lambda: client.search_runs(
            [exp_id], filter_string="metrics.m0 > 0.9", order_by=["params.p1 ASC"], max_results=1000),
        "all_runs_dataframe": lambda: mlflow.search_runs(experiment_ids=[exp_id], max_results=100000),
    }
    results: dict[str, dict] = {name: {"seconds": [], "rows": None} for name in queries}
    for _ in range(repeats):
        for name, query in queries.items():
            seconds, out, _timed_out = timed(query, 900)
            results[name]["seconds"].append(seconds)
            results[name]["rows"] = len(out)
            results[name]["first_ids"] = [r.info.run_name for r in out[:5]] if isinstance(out, list) else None
    for name, result in results.items():
        result["median"] = statistics.median(result["seconds"])
        log(f"search {name}: median {result['median'] * 1000:.1f} ms, {result['rows']} rows")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("log", "load", "search"))
    parser.add_argument("uri")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    quiet()
    if args.what == "log":
        answer = log_runs(args.uri, args.runs)
    elif args.what == "load":
        answer = load_runs(args.uri, args.runs, args.threads)
    else:
        answer = search(args.uri, args.repeats)
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
