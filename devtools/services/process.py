"""Process handling for the local services: spawn in a process group, wait until ready, stop the whole group.

Every service runs in a session of its own (``start_new_session``), so its pid is also its process-group id:
stopping it signals the group, which takes a JVM's or a server's children down with it. A ``Service`` holds
only plain values (it is written to ``state.json`` by ``modeldb services up``), so it is stopped by pid,
not through a ``Popen`` object.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from modeldb.core.exceptions import ModelDBError


class ServiceError(ModelDBError):
    """A local service could not be fetched, started or reached."""


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], workdir: Path, log: Path) -> subprocess.Popen:
    """Start ``cmd`` in ``workdir`` as the leader of a new process group, its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                                start_new_session=True)


def wait_ready(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``check`` until it returns true; fail early, with the log's tail, if the process exits."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode}; log tail:\n{tail(log)}")
        try:
            if check():
                return
        except Exception as exc:  # not ready yet
            last = exc
        time.sleep(0.25)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s ({last}); log tail:\n{tail(log)}")


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@dataclass
class Service:
    name: str
    pid: int
    port: int
    workdir: str
    url: str
    http_port: int = 0  # ClickHouse's HTTP port (0: none)

    def warehouse_uri(self, database: str) -> str:
        """ClickHouse's ``MODELDB_WAREHOUSE`` for ``database``, with its HTTP port (the metric points' path)."""
        return f"clickhouse://default@127.0.0.1:{self.port}/{database}?http_port={self.http_port}"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the process group, then SIGKILL after ``timeout``."""
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except OSError:
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            try:
                os.waitpid(self.pid, os.WNOHANG)  # reap it if it is our child, or it stays a zombie (alive)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if self.alive():
            self.kill()

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def stop(services: list[Service]) -> None:
    """Stop ``services``, the last started first (servers before the ZooKeeper or quorum they lean on)."""
    for service in reversed(services):
        service.stop()
