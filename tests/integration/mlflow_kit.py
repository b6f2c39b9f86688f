"""What the MLflow tests share: the pinned MLflow's virtualenv, and servers started and stopped."""
from __future__ import annotations

import subprocess
from pathlib import Path

from modeldb.devtools.services.process import serve_http, stop_process

ROOT = Path(__file__).resolve().parents[2]
READY_S = 180  # a bound on a server's start, checked by polling /health, never waited out


def build_mlflow_venv() -> str:
    """The pinned MLflow's python (``bench/mlflow_venv.sh`` builds the venv once, then only checks it)."""
    built = subprocess.run(["bash", str(ROOT / "bench" / "mlflow_venv.sh")], capture_output=True, text=True,
                           timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    return built.stdout.strip().splitlines()[-1]


def serve(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start a server and return it once /health answers (or fail with its log)."""
    return serve_http(command, env, log, READY_S)


stop = stop_process
