"""ClickHouse server: Debian's ``clickhouse-server`` (18.16), in the foreground, from a generated config.

The ``<yandex>`` config and users file are written into the work directory; the server listens on
loopback only, on free ports, as user ``default`` without a password. A cluster is one replica per
shard plus a ZooKeeper for ``ON CLUSTER`` DDL and replication; ``ClusterSpec`` is one server's place in it.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from modeldb.devtools.services.process import Service, ServiceError, free_port, spawn, stop, wait_ready
from modeldb.devtools.services.zookeeper import start_zookeeper

CLICKHOUSE_BIN = "/usr/sbin/clickhouse-server"

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default>
            <readonly><readonly>1</readonly></readonly></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
         <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
          <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""

_CONFIG = """<?xml version="1.0"?>
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
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>{cluster}
</yandex>
"""


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


def _config(workdir: Path, tcp: int, http: int, interserver: int, cluster: ClusterSpec | None = None) -> Path:
    data = workdir / "data"
    for sub in ("tmp", "user_files", "format_schemas"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "users.xml").write_text(_USERS)
    config = workdir / "config.xml"
    config.write_text(_CONFIG.format(workdir=workdir, data=data, tcp=tcp, http=http, interserver=interserver,
                                     cluster=cluster.xml() if cluster else ""))
    return config


def start_clickhouse(workdir: Path, port: int | None = None, timeout: float = 60.0,
                     cluster: ClusterSpec | None = None, http_port: int | None = None) -> Service:
    if not Path(CLICKHOUSE_BIN).exists():
        raise ServiceError(f"{CLICKHOUSE_BIN} not found: apt-get install clickhouse-server")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tcp, http = port or free_port(), http_port or free_port()
    config = _config(workdir, tcp, http, free_port(), cluster)
    proc = spawn([CLICKHOUSE_BIN, f"--config-file={config}"], workdir, workdir / "stdout.log")

    def ready() -> bool:
        from clickhouse_driver import Client

        # Not listening yet raises here, quietly; the driver would log a traceback for every attempt.
        socket.create_connection(("127.0.0.1", tcp), timeout=1).close()
        client = Client("127.0.0.1", port=tcp, connect_timeout=1)
        try:
            return client.execute("SELECT 1")[0][0] == 1
        finally:
            client.disconnect()

    wait_ready(ready, timeout, "clickhouse-server", proc, workdir / "server.err.log")
    service = Service("clickhouse", proc.pid, tcp, str(workdir), "", http)
    service.url = service.warehouse_uri("modeldb")
    return service


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
        stop(started)
        raise
    return started
