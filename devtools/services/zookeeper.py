"""Apache ZooKeeper, standalone, from the Kafka distribution's jars: what ClickHouse needs for ON CLUSTER DDL
and replication. Its admin server is off and only the ``srvr`` four-letter command is allowed (the
readiness probe)."""
from __future__ import annotations

import socket
from pathlib import Path

from modeldb.devtools.services.jvm import jvm
from modeldb.devtools.services.process import Service, free_port, spawn, wait_ready


def start_zookeeper(workdir: Path, port: int | None = None, timeout: float = 60.0) -> Service:
    workdir = Path(workdir)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    command = jvm("ZooKeeper", workdir, "zookeeper.log",
                  ["-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=srvr"])
    port = port or free_port()
    proc = spawn(command + ["org.apache.zookeeper.server.ZooKeeperServerMain", str(port), str(workdir / "data")],
                 workdir, workdir / "stdout.log")

    def ready() -> bool:  # serving requests, not just listening (ClickHouse 18.16 crashes on a half-up ZooKeeper)
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"srvr")
            return b"Mode: standalone" in conn.recv(4096)

    wait_ready(ready, timeout, "zookeeper", proc, workdir / "zookeeper.log")
    return Service("zookeeper", proc.pid, port, str(workdir), f"zookeeper://127.0.0.1:{port}")
