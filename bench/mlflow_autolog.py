"""Overhead of ``mlflow.sklearn.autolog()`` on the workloads of bench/sklearn_workloads.py.

Runs in its own virtualenv (MLflow never goes into the project's .venv):

    PY=$(bench/mlflow_venv.sh | tail -n1)
    $PY bench/mlflow_autolog.py --repeats 5 [--workloads digits_logreg,grid_search_12] [--warmup 1]

Prints one JSON object to stdout, everything else to stderr:

    {"mlflow_version": "3.17.2",
     "workloads": {name: {"plain_s": [...], "tracked_s": [...]}}}

How the comparison is made, so that it is fair:

* Tracking goes to a SQLite store (``sqlite:///<tmp>/mlflow.db``, MLflow 3's
  default kind of backend; no server) with artifacts on local disk, all in a
  temporary directory removed at the end. The store's schema is created, and
  the experiment made, before anything is timed.
* Each workload's ``prepare()`` runs once, untimed; every repetition gets the
  same data.
* Plain and tracked repetitions are interleaved in ABBA order (plain, tracked,
  tracked, plain, ...) so slow drift of a shared machine hits both alike.
  ``gc.collect()`` runs, untimed, before every repetition.
* Plain: ``mlflow.sklearn.autolog(disable=True)`` is called (untimed) first.
  In this MLflow that also reverts autolog's patches, so plain repetitions run
  unpatched scikit-learn, exactly as in a process without MLflow.
* Tracked: ``mlflow.sklearn.autolog(silent=True)`` with MLflow's defaults
  otherwise (models, signatures, datasets and post-training metrics logged;
  up to 5 child runs for a search) is called (untimed) first; it (re)applies
  the patches. The timed region is ``with mlflow.start_run(): run(data)``: the
  repetition runs in its own active run, and creating and ending that run is
  counted, since autolog would otherwise create one itself inside ``fit``.
  Ending the run also flushes anything MLflow logs in the background.
* ``--warmup`` (default 1) untimed repetitions of each kind run first, per
  workload, so one-time costs (lazy imports, the first patching) stay out of
  the figures. ``--warmup 0`` counts them in the first repetitions.
* BLAS/OpenMP threads are left as the environment sets them, and logged to
  stderr. Pin them the same way for this and our own benchmark: on a 2-core
  machine the default (2 threads each for numpy's and scipy's OpenBLAS and
  for OpenMP) made digits_logreg 10-100x slower and very noisy, so run both
  with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``.
* MLflow telemetry is switched off, and MLflow/alembic logging and Python
  warnings are silenced; the process's stdout is pointed at stderr while the
  benchmark runs, so only the final JSON reaches the real stdout.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git warning when MLflow looks for a repo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn_workloads import WORKLOADS  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def log_threads() -> None:
    try:
        import sklearn.linear_model  # noqa: F401  (loads scipy's BLAS too, so it is listed)
        from threadpoolctl import threadpool_info
    except ImportError:
        return
    pools = [f"{i['internal_api']}={i.get('num_threads')}" for i in threadpool_info()]
    log("thread pools: " + (", ".join(pools) or "none loaded"))


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "git", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions of each kind per workload")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions of each kind first (default 1)")
    args = parser.parse_args()
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names or args.repeats < 1 or args.warmup < 0:
        parser.error(f"unknown workloads {unknown}" if unknown else "need workloads, --repeats >= 1, --warmup >= 0")

    # Keep the real stdout for the JSON; everything written to fd 1 meanwhile goes to stderr.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    quiet()
    import mlflow
    import mlflow.sklearn
    quiet()  # again: importing MLflow may configure its own loggers

    tmp = Path(tempfile.mkdtemp(prefix="mlflow-autolog-bench-"))
    try:
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        experiment_id = mlflow.create_experiment("autolog-bench", artifact_location=(tmp / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=experiment_id)
        log(f"mlflow {mlflow.__version__}, store {mlflow.get_tracking_uri()}")
        log_threads()

        def plain(run, data) -> float:
            mlflow.sklearn.autolog(disable=True, silent=True)
            gc.collect()
            t0 = time.perf_counter()
            run(data)
            return time.perf_counter() - t0

        def tracked(run, data) -> float:
            mlflow.sklearn.autolog(silent=True)
            gc.collect()
            t0 = time.perf_counter()
            with mlflow.start_run():
                run(data)
            return time.perf_counter() - t0

        results: dict[str, dict[str, list[float]]] = {}
        for name in names:
            prepare, run = WORKLOADS[name]
            log(f"{name}: prepare")
            data = prepare()
            for _ in range(args.warmup):
                plain(run, data)
                tracked(run, data)
            plain_s: list[float] = []
            tracked_s: list[float] = []
            for i in range(args.repeats):
                order = ((plain, plain_s), (tracked, tracked_s))
                for timed, sink in (order if i % 2 == 0 else order[::-1]):
                    sink.append(timed(run, data))
            mlflow.sklearn.autolog(disable=True, silent=True)
            results[name] = {"plain_s": plain_s, "tracked_s": tracked_s}
            p, t = statistics.median(plain_s), statistics.median(tracked_s)
            log(f"{name}: median plain {p:.4f}s, tracked {t:.4f}s ({(t / p - 1) * 100:+.1f}%)")
            del data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(json.dumps({"mlflow_version": mlflow.__version__, "workloads": results}), file=real_stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
