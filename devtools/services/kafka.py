"""Apache Kafka in KRaft combined mode (broker + controller), one node or a quorum, on loopback ports.

Each node has a work directory with its ``server.properties``, its data and its logs. The storage is
formatted once (``kafka.tools.StorageTool format``); a restarted node reuses it, so it rejoins its
quorum with its old data. Topics are auto-created; retention is unlimited (tests replay from offset 0).
"""
from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from modeldb.devtools.services.jvm import jvm
from modeldb.devtools.services.process import Service, ServiceError, free_port, spawn, wait_ready

_PROPERTIES = """process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={workdir}/data
num.partitions={partitions}
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
"""


def _properties(workdir: Path, node_id: int, broker: int, controller: int, voters: str, replicas: int,
                partitions: int) -> Path:
    props = workdir / "server.properties"
    props.write_text(_PROPERTIES.format(node_id=node_id, voters=voters, broker=broker, controller=controller,
                                        workdir=workdir, partitions=partitions, replicas=replicas,
                                        min_isr=min(2, replicas)))
    return props


def _cluster_id() -> str:
    # Kafka's own `StorageTool random-uuid` prints the same format, but costs a JVM start (~1 s) per cluster.
    cluster_id = "-"
    while cluster_id.startswith("-"):  # a leading dash reads as an option (Kafka's own Uuid avoids it too)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


def launch(workdir: Path, cluster_id: str) -> subprocess.Popen:
    """Format the node's storage once, then start it from its server.properties."""
    command = jvm("Kafka", workdir, "kafka.log", ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true"],
                  "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=WARN\n")
    props = workdir / "server.properties"
    if not (workdir / "data" / "meta.properties").exists():
        fmt = subprocess.run(command + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                             capture_output=True, text=True)
        if fmt.returncode != 0:
            raise ServiceError(f"kafka storage format failed: {fmt.stdout}{fmt.stderr}")
    return spawn(command + ["kafka.Kafka", str(props)], workdir, workdir / "stdout.log")


def wait_kafka(proc: subprocess.Popen, workdir: Path, bootstrap: str, brokers: int, timeout: float) -> None:
    """Wait until ``bootstrap`` reports at least ``brokers`` live brokers."""
    def ready() -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        return len(admin.list_topics(timeout=2).brokers) >= brokers

    wait_ready(ready, timeout, "kafka", proc, workdir / "kafka.log")


def start_kafka(workdir: Path, port: int | None = None, timeout: float = 90.0, partitions: int = 4) -> Service:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    broker, controller = port or free_port(), free_port()
    _properties(workdir, 1, broker, controller, f"1@127.0.0.1:{controller}", 1, partitions)
    proc = launch(workdir, _cluster_id())
    wait_kafka(proc, workdir, f"127.0.0.1:{broker}", 1, timeout)
    return Service("kafka", proc.pid, broker, str(workdir), f"kafka://127.0.0.1:{broker}")


def start_kafka_cluster(workdir: Path, nodes: int = 3, timeout: float = 180.0, partitions: int = 4) -> list[Service]:
    """``nodes`` combined broker+controller nodes in one KRaft quorum: replication factor ``nodes``,
    ``min.insync.replicas`` 2. Each node is a Service; ``restart`` brings a stopped one back."""
    workdir = Path(workdir)
    ports = [(free_port(), free_port()) for _ in range(nodes)]
    voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
    cluster_id, started = _cluster_id(), []
    try:
        for i, (broker, controller) in enumerate(ports):
            node = workdir / f"node-{i + 1}"
            node.mkdir(parents=True, exist_ok=True)
            _properties(node, i + 1, broker, controller, voters, nodes, partitions)
            proc = launch(node, cluster_id)
            started.append((proc, Service(f"kafka-{i + 1}", proc.pid, broker, str(node), f"kafka://127.0.0.1:{broker}")))
        bootstrap = ",".join(f"127.0.0.1:{b}" for b, _ in ports)
        for proc, service in started:
            wait_kafka(proc, Path(service.workdir), bootstrap, nodes, timeout)
    except Exception:
        for _, service in started:
            service.kill()
        raise
    return [service for _, service in started]


def restart_node(service: Service, timeout: float = 90.0) -> Service:
    """Start a stopped node again on its port, work directory and properties (a cluster node rejoins its quorum)."""
    if service.name == "kafka":
        return start_kafka(Path(service.workdir), port=service.port, timeout=timeout)
    workdir = Path(service.workdir)
    proc = launch(workdir, "")  # the storage is formatted already: the cluster id is not needed
    wait_kafka(proc, workdir, f"127.0.0.1:{service.port}", 1, timeout)
    return Service(service.name, proc.pid, service.port, service.workdir, service.url)
