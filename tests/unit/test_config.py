import pytest

from modeldb.core.config import Settings, parse_uri
from modeldb.core.exceptions import ConfigError


def test_arguments_beat_environment_beat_defaults(tmp_path):
    env = {"MODELDB_PROJECT": "from-env", "MODELDB_EXPERIMENT": "exp-env", "MODELDB_HOME": str(tmp_path)}
    s = Settings.load(env=env, project="from-arg")
    assert s.project == "from-arg"
    assert s.experiment == "exp-env"
    assert s.transport == f"file://{tmp_path}/events.log"
    assert s.warehouse == f"chdb://{tmp_path}/warehouse"
    assert s.batch_size == 5000


@pytest.mark.parametrize("uri, message", [
    ("localhost:9092", "is not a URI"),
    ("http://x:1/t", "unsupported scheme 'http'"),
    ("kafka://host:abc/t", "a port in 'kafka://host:abc/t' is not a number"),
])
def test_bad_transport_uris_are_named(tmp_path, uri, message):
    with pytest.raises(ConfigError, match=message) as info:
        Settings.load(env={}, home=tmp_path, transport=uri)
    assert "MODELDB_TRANSPORT" in str(info.value)


def test_a_warehouse_uri_cannot_be_a_transport(tmp_path):
    with pytest.raises(ConfigError, match="MODELDB_TRANSPORT: unsupported scheme 'chdb'"):
        Settings.load(env={}, home=tmp_path, transport="chdb:///x")


def test_numbers_are_validated(tmp_path):
    with pytest.raises(ConfigError, match="MODELDB_BATCH_SIZE must be a int"):
        Settings.load(env={"MODELDB_BATCH_SIZE": "lots"}, home=tmp_path)
    with pytest.raises(ConfigError, match="at least 1"):
        Settings.load(env={"MODELDB_BATCH_SIZE": "0"}, home=tmp_path)


def test_secrets_never_print(tmp_path):
    s = Settings.load(env={"MODELDB_KAFKA_SASL_PASSWORD": "hunter2", "MODELDB_CLICKHOUSE_PASSWORD": "sesame"},
                      home=tmp_path, warehouse="clickhouse://alice:s3cret@db:9000/modeldb")
    for text in (repr(s), str(s), str(s.describe()), repr(s.warehouse_uri)):
        assert "hunter2" not in text and "sesame" not in text
    assert "s3cret" not in str(s.describe()) and "s3cret" not in repr(s.warehouse_uri)
    assert s.kafka_security.librdkafka_config() == {"security.protocol": "PLAINTEXT"}
    assert s.warehouse_uri.password.get() == "s3cret"


def test_errors_do_not_leak_credentials(tmp_path):
    with pytest.raises(ConfigError) as info:
        Settings.load(env={}, home=tmp_path, warehouse="mysql://bob:topsecret@db:1/x")
    assert "topsecret" not in str(info.value)


def test_uri_parsing_multiple_hosts_and_default_port():
    uri = parse_uri("kafka://a:1,b/topic", setting="X", allowed={"kafka"}, default_port=9092)
    assert uri.hosts == (("a", 1), ("b", 9092))
    assert uri.path == "/topic"


def test_unknown_override_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(env={}, home=tmp_path, colour="blue")


def test_settings_repr_is_redacted(tmp_path):
    s = Settings.load(env={}, home=tmp_path, warehouse="clickhouse://admin:hunter2@db:9000/modeldb")
    assert "hunter2" not in repr(s) and "admin:***@db:9000" in repr(s)


@pytest.mark.parametrize("uri", ["clickhouse://admin:s3cr/et@db:9000/x", "clickhouse://admin:9876/5432@db/x",
                                 "clickhouse://admin:pa?ss@db:9000/x"])
def test_unencoded_special_characters_in_passwords_are_not_echoed(tmp_path, uri):
    with pytest.raises(ConfigError, match="URL-encode") as info:
        Settings.load(env={}, home=tmp_path, warehouse=uri)
    assert "et@" not in str(info.value) and "5432" not in str(info.value) and "pa?ss" not in str(info.value)
