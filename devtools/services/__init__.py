"""Local development services: Apache Kafka (KRaft), ClickHouse server and ZooKeeper, and their lifecycle.

Each runs from installed binaries, on free loopback ports, in a work directory of its own. This module is
the one door (``modeldb services up|down|status``, the integration tests, the benchmarks); each job
lives in a small module of its own:

* ``process``: the ``Service`` record, process groups, readiness waits, free ports;
* ``jvm``: Kafka's jars from Maven Central (one POM, cached), the java command, log4j;
* ``kafka``: KRaft combined-mode nodes, single or as a quorum;
* ``zookeeper``: a standalone ZooKeeper for ClickHouse clusters;
* ``clickhouse``: Debian's ``clickhouse-server`` (18.16) from a generated ``<yandex>`` config.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from modeldb.devtools.services.clickhouse import CLICKHOUSE_BIN, ClusterSpec, start_clickhouse, start_clickhouse_cluster
from modeldb.devtools.services.jvm import KAFKA_VERSION, cache_dir, kafka_libs
from modeldb.devtools.services.kafka import restart_node, start_kafka, start_kafka_cluster
from modeldb.devtools.services.process import Service, ServiceError, free_port, stop
from modeldb.devtools.services.zookeeper import start_zookeeper

__all__ = [
    "CLICKHOUSE_BIN", "KAFKA_VERSION", "ClusterSpec", "Service", "ServiceError", "cache_dir", "down", "free_port",
    "kafka_libs", "restart", "start_clickhouse", "start_clickhouse_cluster", "start_kafka", "start_kafka_cluster",
    "start_zookeeper", "status", "stop", "up",
]


def restart(service: Service, timeout: float = 90.0) -> Service:
    """Start a stopped service again on the same port and work directory (for fault tests)."""
    if service.name == "kafka" or service.name.startswith("kafka-"):
        return restart_node(service, timeout=timeout)
    if service.name == "zookeeper":
        return start_zookeeper(Path(service.workdir), port=service.port, timeout=timeout)
    return start_clickhouse(Path(service.workdir), port=service.port, timeout=timeout,
                            http_port=service.http_port or None)


# -- `modeldb services up|down|status` -------------------------------------------------------------

def _state_file(home: Path) -> Path:
    return home / "services" / "state.json"


def up(home: Path) -> list[Service]:
    existing = [s for s in status(home) if s.alive()]
    if existing:
        return existing
    root = home / "services"
    services = [start_kafka(root / "kafka"), start_clickhouse(root / "clickhouse")]
    _state_file(home).write_text(json.dumps([asdict(s) for s in services], indent=1))
    return services


def status(home: Path) -> list[Service]:
    path = _state_file(home)
    if not path.exists():
        return []
    return [Service(**item) for item in json.loads(path.read_text())]


def down(home: Path) -> list[Service]:
    services = status(home)
    for service in services:
        service.stop()
    _state_file(home).unlink(missing_ok=True)
    return services
