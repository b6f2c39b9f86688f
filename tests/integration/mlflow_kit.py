"""What the MLflow tests share: the pinned MLflow's virtualenv, and servers started and stopped."""
from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from modeldb.devtools.services import free_port

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
    port = free_port()
    handle = open(log, "w")
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=handle, stderr=subprocess.STDOUT,
                               cwd=log.parent)
    handle.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"{command[0]} did not answer /health in {READY_S} s: {log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
