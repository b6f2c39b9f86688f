"""Local development services: Apache Kafka (KRaft) and ClickHouse server.

Both run from installed binaries, on free loopback ports, in a work
directory of their own:

* Kafka: Apache Kafka's jars from Maven Central (resolved once with ``mvn``
  into ``~/.cache/modeldb/kafka-<version>``), run in KRaft combined mode
  (broker + controller) on the machine's Java 17. Version 3.9.1: it is
  KRaft-capable and still speaks the old protocol versions that Faust's
  aiokafka client uses (Kafka 4.0 removed them, KIP-896).
* ClickHouse: Debian's ``clickhouse-server`` (18.16), started in the
  foreground with a generated ``<yandex>`` config in the work directory.

Used by ``modeldb services up|down|status`` and by the integration tests.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from modeldb.core.exceptions import ModelDBError

KAFKA_VERSION = "3.9.1"
CLICKHOUSE_BIN = "/usr/sbin/clickhouse-server"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>modeldb.local</groupId><artifactId>kafka-dist</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""


class ServiceError(ModelDBError):
    """A local service could not be fetched, started or reached."""


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modeldb"


def kafka_libs(version: str = KAFKA_VERSION, quiet: bool = True) -> Path:
    """Resolve Kafka's jars from Maven Central once; later calls reuse the cache."""
    target = cache_dir() / f"kafka-{version}"
    libs = target / "libs"
    if (target / ".complete").exists():
        return libs
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch Apache Kafka from Maven Central: apt-get install maven")
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(_POM.format(version=version))
    cmd = ["mvn", "-B", "-f", str(target / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"mvn could not fetch Kafka {version}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    (target / ".complete").write_text(version)
    return libs


def _wait(check, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode}; log tail:\n{_tail(log)}")
        try:
            if check():
                return
        except Exception as exc:  # not ready yet
            last = exc
        time.sleep(0.25)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s ({last}); log tail:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
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

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except OSError:
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            try:
                os.waitpid(self.pid, os.WNOHANG)
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


@dataclass(frozen=True)
class ClusterSpec:
    """One server's place in a local ClickHouse cluster: one replica per shard, ZooKeeper for DDL and replication."""
    name: str
    shard_ports: tuple[int, ...]  # the tcp port of each shard's server, in shard order
    shard: int  # this server's shard, 1-based
    zookeeper_port: int

    def xml(self) -> str:
        shards = "".join(f"<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host>"
                         f"<port>{port}</port></replica></shard>" for port in self.shard_ports)
        return f"""
  <remote_servers><{self.name}>{shards}</{self.name}></remote_servers>
  <zookeeper><node><host>127.0.0.1</host><port>{self.zookeeper_port}</port></node></zookeeper>
  <macros><shard>{self.shard:02d}</shard><replica>replica-{self.shard:02d}</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"""


def _clickhouse_config(workdir: Path, tcp: int, http: int, interserver: int, cluster: ClusterSpec | None = None) -> Path:
    data = workdir / "data"
    for sub in ("tmp", "user_files", "format_schemas"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "users.xml").write_text("""<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default>
            <readonly><readonly>1</readonly></readonly></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
         <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
          <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
""")
    config = workdir / "config.xml"
    config.write_text(f"""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{workdir}/server.log</log><errorlog>{workdir}/server.err.log</errorlog>
          <size>100M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <path>{data}/</path>
  <tmp_path>{data}/tmp/</tmp_path>
  <user_files_path>{data}/user_files/</user_files_path>
  <format_schema_path>{data}/format_schemas/</format_schema_path>
  <users_config>{workdir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>{cluster.xml() if cluster else ""}
</yandex>
""")
    return config


def start_clickhouse(workdir: Path, port: int | None = None, timeout: float = 60.0,
                     cluster: ClusterSpec | None = None) -> Service:
    if not Path(CLICKHOUSE_BIN).exists():
        raise ServiceError(f"{CLICKHOUSE_BIN} not found: apt-get install clickhouse-server")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tcp = port or free_port()
    config = _clickhouse_config(workdir, tcp, free_port(), free_port(), cluster)
    log = workdir / "stdout.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([CLICKHOUSE_BIN, f"--config-file={config}"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)

    def ready() -> bool:
        from clickhouse_driver import Client

        # Not listening yet raises here, quietly; the driver would log a traceback for every attempt.
        socket.create_connection(("127.0.0.1", tcp), timeout=1).close()
        client = Client("127.0.0.1", port=tcp, connect_timeout=1)
        try:
            return client.execute("SELECT 1")[0][0] == 1
        finally:
            client.disconnect()

    _wait(ready, timeout, "clickhouse-server", proc, workdir / "server.err.log")
    return Service("clickhouse", proc.pid, tcp, str(workdir), f"clickhouse://default@127.0.0.1:{tcp}/modeldb")


def _log4j(workdir: Path, logfile: str, extra: str = "") -> None:
    """A log4j config for a JVM service: warnings and up into ``workdir/logfile``."""
    (workdir / "log4j.properties").write_text(f"""log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={workdir}/{logfile}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
{extra}""")


def start_zookeeper(workdir: Path, port: int | None = None, timeout: float = 60.0) -> Service:
    """Apache ZooKeeper from the Kafka distribution's jars: what ClickHouse needs for ON CLUSTER DDL and replication."""
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found: ZooKeeper needs Java 17 (apt-get install openjdk-17-jre-headless)")
    libs = kafka_libs()
    workdir = Path(workdir)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    _log4j(workdir, "zookeeper.log")
    log = workdir / "stdout.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [java, "-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=srvr",
             f"-Dlog4j.configuration=file:{workdir}/log4j.properties", "-cp", f"{libs}/*",
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(port), str(workdir / "data")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)

    def ready() -> bool:  # serving requests, not just listening (ClickHouse 18.16 crashes on a half-up ZooKeeper)
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"srvr")
            return b"Mode: standalone" in conn.recv(4096)

    _wait(ready, timeout, "zookeeper", proc, workdir / "zookeeper.log")
    return Service("zookeeper", proc.pid, port, str(workdir), f"zookeeper://127.0.0.1:{port}")


def start_clickhouse_cluster(workdir: Path, name: str = "modeldb", shards: int = 2) -> list[Service]:
    """ZooKeeper plus one ClickHouse server per shard, all on loopback; the first server is the entry point."""
    workdir = Path(workdir)
    zookeeper = start_zookeeper(workdir / "zookeeper")
    ports = tuple(free_port() for _ in range(shards))
    started = [zookeeper]
    try:
        for shard, port in enumerate(ports, 1):
            spec = ClusterSpec(name, ports, shard, zookeeper.port)
            started.append(start_clickhouse(workdir / f"clickhouse-{shard}", port=port, cluster=spec))
    except Exception:
        for service in reversed(started):
            service.stop()
        raise
    return started


def _kafka_properties(workdir: Path, node_id: int, broker: int, controller: int, voters: str, replicas: int,
                      partitions: int) -> Path:
    props = workdir / "server.properties"
    props.write_text(f"""process.roles=broker,controller
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
min.insync.replicas={min(2, replicas)}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min(2, replicas)}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
""")
    return props


def _kafka_jvm(workdir: Path) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found: Kafka needs Java 17 (apt-get install openjdk-17-jre-headless)")
    libs = kafka_libs()
    _log4j(workdir, "kafka.log", "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=WARN\n")
    return [java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{workdir}/log4j.properties", "-cp", f"{libs}/*"]


def _cluster_id() -> str:
    cluster_id = "-"
    while cluster_id.startswith("-"):  # a leading dash reads as an option (Kafka's own Uuid avoids it too)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


def _launch_kafka(workdir: Path, cluster_id: str) -> subprocess.Popen:
    """Format the node's storage once, then start it from its server.properties."""
    jvm = _kafka_jvm(workdir)
    props = workdir / "server.properties"
    if not (workdir / "data" / "meta.properties").exists():
        fmt = subprocess.run(jvm + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                             capture_output=True, text=True)
        if fmt.returncode != 0:
            raise ServiceError(f"kafka storage format failed: {fmt.stdout}{fmt.stderr}")
    with open(workdir / "stdout.log", "ab") as out:
        return subprocess.Popen(jvm + ["kafka.Kafka", str(props)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)


def _wait_kafka(proc: subprocess.Popen, workdir: Path, bootstrap: str, brokers: int, timeout: float) -> None:
    def ready() -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        return len(admin.list_topics(timeout=2).brokers) >= brokers

    _wait(ready, timeout, "kafka", proc, workdir / "kafka.log")


def start_kafka(workdir: Path, port: int | None = None, timeout: float = 90.0, partitions: int = 4) -> Service:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    broker, controller = port or free_port(), free_port()
    _kafka_properties(workdir, 1, broker, controller, f"1@127.0.0.1:{controller}", 1, partitions)
    proc = _launch_kafka(workdir, _cluster_id())
    _wait_kafka(proc, workdir, f"127.0.0.1:{broker}", 1, timeout)
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
            _kafka_properties(node, i + 1, broker, controller, voters, nodes, partitions)
            proc = _launch_kafka(node, cluster_id)
            started.append((proc, Service(f"kafka-{i + 1}", proc.pid, broker, str(node), f"kafka://127.0.0.1:{broker}")))
        bootstrap = ",".join(f"127.0.0.1:{b}" for b, _ in ports)
        for proc, service in started:
            _wait_kafka(proc, Path(service.workdir), bootstrap, nodes, timeout)
    except Exception:
        for _, service in started:
            service.kill()
        raise
    return [service for _, service in started]


def restart(service: Service, timeout: float = 90.0) -> Service:
    """Start a stopped service again on the same port and work directory (for fault tests)."""
    if service.name == "kafka":
        return start_kafka(Path(service.workdir), port=service.port, timeout=timeout)
    if service.name.startswith("kafka-"):  # a cluster node: same properties, same quorum
        workdir = Path(service.workdir)
        proc = _launch_kafka(workdir, "")
        _wait_kafka(proc, workdir, f"127.0.0.1:{service.port}", 1, timeout)
        return Service(service.name, proc.pid, service.port, service.workdir, service.url)
    return start_clickhouse(Path(service.workdir), port=service.port, timeout=timeout)


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
