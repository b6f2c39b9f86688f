"""The local service launchers without starting anything: the public names, and the configs they write."""
from __future__ import annotations

from modeldb.devtools import services
from modeldb.devtools.services.clickhouse import ClusterSpec, _config
from modeldb.devtools.services.kafka import _cluster_id, _properties

PUBLIC = ("Service", "cache_dir", "down", "free_port", "restart", "start_clickhouse", "start_clickhouse_cluster",
          "start_kafka", "start_kafka_cluster", "status", "stop", "up", "kafka_libs", "KAFKA_VERSION", "ClusterSpec",
          "ServiceError")


def test_every_name_the_cli_tests_and_benchmarks_use_is_on_the_one_door():
    assert [name for name in PUBLIC if not hasattr(services, name)] == []


def test_kafka_properties_for_a_quorum(tmp_path):
    text = _properties(tmp_path, 2, 9001, 9002, "1@127.0.0.1:1,2@127.0.0.1:9002", 3, 4).read_text()
    assert "node.id=2\n" in text and "controller.quorum.voters=1@127.0.0.1:1,2@127.0.0.1:9002\n" in text
    assert "default.replication.factor=3\n" in text and "min.insync.replicas=2\n" in text
    assert f"log.dirs={tmp_path}/data\n" in text
    assert not _cluster_id().startswith("-")


def test_clickhouse_config_names_its_cluster_and_zookeeper(tmp_path):
    spec = ClusterSpec("modeldb", (9101, 9102), 2, 2181)
    text = _config(tmp_path, 9102, 8123, 9009, spec).read_text()
    assert "<tcp_port>9102</tcp_port>" in text and "<port>2181</port>" in text
    assert "<shard>02</shard><replica>replica-02</replica>" in text and text.count("<shard><internal") == 2
    assert (tmp_path / "users.xml").exists() and (tmp_path / "data" / "tmp").is_dir()
    assert "<remote_servers>" not in _config(tmp_path, 9102, 8123, 9009).read_text()


def test_state_of_no_services_is_empty(tmp_path):
    assert services.status(tmp_path) == [] and services.down(tmp_path) == []



def test_free_ports_stay_out_of_the_ephemeral_range_and_are_never_handed_out_twice():
    import socket

    from modeldb.devtools.services.process import _ephemeral_low

    ports = [services.free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(10000 <= port < _ephemeral_low() for port in ports)
    for port in ports[:5]:  # and each one is bindable when it is handed out
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
