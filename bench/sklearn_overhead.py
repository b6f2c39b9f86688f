"""What autolog adds to scikit-learn work, as a ratio against plain scikit-learn in the same process.

Workloads (``bench/sklearn_workloads.py``): a LogisticRegression on
``load_digits``; a 12-candidate GridSearchCV over a scaler + logistic
regression pipeline; a 1,000,000-row StandardScaler + SGDClassifier pipeline.
Each is timed plain and tracked, interleaved, ``--repeats`` times; tracked
time is what the user waits for (the emitter encodes and writes in the
background). Events go to the embedded file log, models to the artifact store.

With ``--mlflow``, the same workloads run under ``mlflow.sklearn.autolog()``
in a separate virtualenv (``bench/mlflow_venv.sh`` builds it once), and the
added seconds are compared. Prints figures; asserts nothing.

BLAS and OpenMP run one thread each (unless OMP_NUM_THREADS is already set):
on two shared cores their default thread pools oversubscribe the machine and
turn a 0.1 s fit into a 10 s one, which would drown the overhead measured.

    .venv/bin/python bench/sklearn_overhead.py [--repeats 5] [--mlflow]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("OMP_NUM_THREADS", "1"))

import argparse  # noqa: E402
import statistics
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mlflow_runner import run_in_mlflow_venv  # noqa: E402
from sklearn_workloads import WORKLOADS  # noqa: E402

import modeldb  # noqa: E402
import modeldb.sklearn  # noqa: E402


def timed(run, data) -> float:
    started = time.perf_counter()
    run(data)
    return time.perf_counter() - started


def measure(repeats: int, names: list[str]) -> dict[str, dict[str, list[float]]]:
    out = {}
    for name in names:
        prepare, run = WORKLOADS[name]
        data = prepare()
        run(data)  # warm-up: imports, caches
        plain, tracked = [], []
        for _ in range(repeats):
            plain.append(timed(run, data))
            modeldb.sklearn.autolog()
            tracked.append(timed(run, data))
            modeldb.sklearn.disable()
            modeldb.flush()
        out[name] = {"plain_s": plain, "tracked_s": tracked}
        print(f"  {name}: plain {statistics.median(plain):.3f}s, tracked {statistics.median(tracked):.3f}s",
              file=sys.stderr)
    return out


def mlflow(repeats: int, names: list[str]) -> dict | None:
    return run_in_mlflow_venv("mlflow_autolog.py", "--repeats", str(repeats), "--workloads", ",".join(names))


def report(ours: dict, theirs: dict | None) -> None:
    print(f"\n{'workload':<18} {'plain s':>9} {'autolog s':>10} {'ratio':>7} {'added s':>9}"
          + (f" {'mlflow added s':>15} {'mlflow/ours':>12}" if theirs else ""))
    for name, got in ours.items():
        plain, tracked = statistics.median(got["plain_s"]), statistics.median(got["tracked_s"])
        line = f"{name:<18} {plain:>9.3f} {tracked:>10.3f} {tracked / plain:>7.3f} {tracked - plain:>9.3f}"
        if theirs and name in theirs["workloads"]:
            m = theirs["workloads"][name]
            added = statistics.median(m["tracked_s"]) - statistics.median(m["plain_s"])
            ours_added = max(tracked - plain, 1e-3)
            line += f" {added:>15.3f} {added / ours_added:>12.1f}"
        print(line)
    if theirs:
        print(f"(MLflow {theirs.get('mlflow_version')}; 'mlflow/ours' = MLflow's added time over ours)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--mlflow", action="store_true", help="also measure mlflow.sklearn.autolog()")
    args = parser.parse_args()
    names = [n for n in args.workloads.split(",") if n]
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}; choose from {', '.join(WORKLOADS)}")
    home = Path(tempfile.mkdtemp(prefix="modeldb-bench-"))
    modeldb.init(project="bench", home=home, transport=f"file://{home}/events.log")
    print(f"measuring {len(names)} workload(s), {args.repeats} repeats each, {os.environ['OMP_NUM_THREADS']} "
          f"BLAS/OpenMP thread(s), events in {home}", file=sys.stderr)
    ours = measure(args.repeats, names)
    theirs = mlflow(args.repeats, names) if args.mlflow else None
    report(ours, theirs)


if __name__ == "__main__":
    main()
