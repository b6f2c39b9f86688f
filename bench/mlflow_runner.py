"""Run one of the MLflow comparison scripts in the MLflow virtualenv and read its JSON answer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_in_mlflow_venv(script: str, *args: str) -> dict | None:
    """Build the virtualenv once (``mlflow_venv.sh``), run ``script``; None (with the reason on stderr) on failure."""
    try:
        python = subprocess.run(["bash", str(HERE / "mlflow_venv.sh")], check=True, capture_output=True,
                                text=True).stdout.strip().splitlines()[-1]
    except (subprocess.CalledProcessError, IndexError) as exc:
        print(f"MLflow virtualenv could not be built: {exc}", file=sys.stderr)
        return None
    result = subprocess.run([python, str(HERE / script), *args], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"MLflow benchmark {script} failed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])
