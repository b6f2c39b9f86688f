"""Process handling for the local services: spawn in a process group, wait until ready, stop the whole group.

Every service runs in a session of its own (``start_new_session``), so its pid is also its process-group id:
stopping it signals the group, which takes a JVM's or a server's children down with it. A ``Service`` holds
only plain values (it is written to ``state.json`` by ``modeldb services up``), so it is stopped by pid,
not through a ``Popen`` object.
"""
from __future__ import annotations

import os
import random
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


_LOWEST_PORT = 10000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range, which outgoing connections draw their local ports from."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, not handed out before by this process.

    ``bind(0)`` would pick from the ephemeral range, which every outgoing connection (a Kafka client's, a
    ClickHouse driver's) also draws from: a port picked before its server starts, as a cluster's second shard
    is, could be taken by such a connection in between. Below the range only a deliberate ``bind`` takes a
    port, and this process never hands the same one out twice.
    """
    candidates = list(range(_LOWEST_PORT, _ephemeral_low()))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise ServiceError(f"no free loopback port between {_LOWEST_PORT} and the ephemeral range")


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


def serve_http(cmd: list[str], env: dict[str, str], log: Path, timeout: float = 180,
               health: str = "/health") -> tuple[subprocess.Popen, str]:
    """Start the HTTP server ``cmd --port P`` (a free port) in ``log``'s folder, and return it with its
    URL once ``health`` answers 200 (``modeldb server``, ``mlflow server``, and the dashboard with
    ``/_stcore/health``); fail with its log's tail."""
    import urllib.request

    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=log.parent)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}{health}", timeout=2) as response:
            return response.status == 200

    try:
        wait_ready(healthy, timeout, cmd[0], proc, log)
    except ServiceError:
        proc.kill()
        raise
    return proc, url


def stop_process(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM, then SIGKILL if it has not left within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
