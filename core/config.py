"""Settings: built once from arguments, then the environment, then defaults.

This is the only module that reads ``MODELDB_*`` environment variables.
Secrets (Kafka SASL password, ClickHouse password) are kept in ``Secret``
so that they never show up in a repr, a log line or an error message.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from modeldb.core.exceptions import ConfigError

SCHEMES = {"file", "kafka", "chdb", "clickhouse", "clickhouses"}
TRANSPORT_SCHEMES = {"file", "kafka"}
WAREHOUSE_SCHEMES = {"chdb", "clickhouse", "clickhouses"}
DEFAULT_TOPIC = "modeldb.events"


class Secret:  # pydantic's SecretStr does this, but pydantic is only a transitive dependency (of streamlit)
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
        self._value = value or ""

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Uri:
    """A parsed backend URI. ``password`` is a Secret; ``redacted`` is safe to print."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    path: str
    username: str
    password: Secret
    query: Mapping[str, str]
    raw_redacted: str

    @property
    def redacted(self) -> str:
        return self.raw_redacted


def parse_uri(uri: str, *, setting: str, allowed: set[str], default_port: int | None = None) -> Uri:
    """Parse and validate a backend URI, naming ``setting`` in every error."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ConfigError(
            f"{setting}: {_safe(uri)!r} is not a URI; expected one of "
            + ", ".join(f"{s}://…" for s in sorted(allowed))
        )
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if "@" in uri.split("://", 1)[1] and "@" not in parts.netloc:
        # A password with an unencoded / ? or # splits the URI in the wrong place; never echo it.
        raise ConfigError(f"{setting}: the credentials in the URI contain '/', '?' or '#'; URL-encode them "
                          "(e.g. with urllib.parse.quote) or pass the password separately")
    if scheme not in allowed:
        raise ConfigError(
            f"{setting}: unsupported scheme {scheme!r} in {_safe(uri)!r}; expected one of "
            + ", ".join(f"{s}://" for s in sorted(allowed))
        )
    netloc = parts.netloc
    username, password = "", ""
    if "@" in netloc:
        creds, netloc = netloc.rsplit("@", 1)
        username, _, password = creds.partition(":")
        username, password = unquote(username), unquote(password)
    hosts: list[tuple[str, int]] = []
    for item in filter(None, netloc.split(",")):
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if not host:
            host, port = item, ""
        if port and not port.isdigit():
            raise ConfigError(f"{setting}: a port in {_safe(uri)!r} is not a number")
        if not port and default_port is None:
            raise ConfigError(f"{setting}: {host!r} in {_safe(uri)!r} needs a port")
        hosts.append((host, int(port) if port else int(default_port)))  # type: ignore[arg-type]
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    redacted_netloc = parts.netloc
    if password:
        redacted_netloc = f"{username}:***@{netloc}"
    redacted = f"{scheme}://{redacted_netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return Uri(scheme, tuple(hosts), unquote(parts.path), username, Secret(password), query, redacted)


def _safe(uri: Any) -> str:
    """Strip credentials from a URI-ish value before it goes into an error message."""
    text = str(uri)
    if "@" in text:
        scheme, sep, rest = text.rpartition("://")
        return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"
    return text


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: Secret = field(default_factory=lambda: Secret(""))
    ssl_ca_location: str = ""

    def librdkafka_config(self) -> dict[str, str]:
        conf = {"security.protocol": self.protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password.get()
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        return conf


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything ModelDB is configured by. Build with ``Settings.load``.

    Its repr shows redacted URIs only: ``modeldb.init()`` returns it, and a
    notebook prints what a cell returns.
    """

    home: Path
    transport: str
    warehouse: str
    project: str = "default"
    experiment: str = "default"
    clickhouse_password: Secret = field(default_factory=lambda: Secret(""))
    clickhouse_cluster: str = ""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    consumer_group: str = "modeldb-processor"
    processor_engine: str = "confluent"  # the faster on metric points: see the README
    batch_size: int = 5000
    batch_seconds: float = 0.5
    batch_bytes: int = 4 * 1024 ** 2  # a processor batch's records, at most (a batch of points is many rows)
    log_format: str = "text"
    fault_pause_before_commit_s: float = 0.0
    max_param_bytes: int = 65536
    delivery_timeout_s: float = 30.0
    exit_flush_timeout_s: float = 10.0
    artifacts: str = ""
    sql_timeout_s: float = 30.0  # the SQL sandbox's limits on every read-only query (warehouse/sandbox.py)
    sql_max_rows: int = 1_000_000
    sql_max_bytes: int = 512 * 1024 ** 2
    sql_max_memory: int = 2 * 1024 ** 3
    testing: bool = False  # MODELDB_TESTING=1 (the test suite): a tracker error raises instead of being logged

    @property
    def spill_path(self) -> Path:
        return self.home / "spill" / "events.log"

    @property
    def deadletter_path(self) -> Path:
        return self.home / "deadletter.jsonl"

    @property
    def transport_uri(self) -> Uri:
        return parse_uri(self.transport, setting="MODELDB_TRANSPORT", allowed=TRANSPORT_SCHEMES, default_port=9092)

    @property
    def warehouse_uri(self) -> Uri:
        return parse_uri(self.warehouse, setting="MODELDB_WAREHOUSE", allowed=WAREHOUSE_SCHEMES, default_port=9000)

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.describe().items()) + ")"

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def describe(self) -> dict[str, str]:
        """Settings safe to print: URIs redacted, secrets masked."""
        return {
            "home": str(self.home),
            "transport": self.transport_uri.redacted,
            "warehouse": self.warehouse_uri.redacted,
            "artifacts": self.artifacts,
            "project": self.project,
            "experiment": self.experiment,
        }

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Arguments first, then ``MODELDB_*`` environment variables, then defaults."""
        env = os.environ if env is None else env
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")

        def pick(name: str, default: Any) -> Any:
            if overrides.get(name) is not None:
                return overrides[name]
            value = env.get(f"MODELDB_{name.upper()}")
            return default if value in (None, "") else value

        home = Path(pick("home", Path.cwd() / ".modeldb")).expanduser().absolute()
        settings = cls(
            home=home,
            transport=str(pick("transport", f"file://{home}/events.log")),
            warehouse=str(pick("warehouse", f"chdb://{home}/warehouse")),
            project=str(pick("project", "default")),
            experiment=str(pick("experiment", "default")),
            clickhouse_password=_secret(pick("clickhouse_password", "")),
            clickhouse_cluster=str(pick("clickhouse_cluster", "")),
            kafka_security=overrides.get("kafka_security") or KafkaSecurity(
                protocol=env.get("MODELDB_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
                sasl_mechanism=env.get("MODELDB_KAFKA_SASL_MECHANISM", ""),
                sasl_username=env.get("MODELDB_KAFKA_SASL_USERNAME", ""),
                sasl_password=Secret(env.get("MODELDB_KAFKA_SASL_PASSWORD", "")),
                ssl_ca_location=env.get("MODELDB_KAFKA_SSL_CA_LOCATION", ""),
            ),
            consumer_group=str(pick("consumer_group", "modeldb-processor")),
            processor_engine=str(pick("processor_engine", "confluent")),
            batch_size=_number(pick("batch_size", 5000), int, "MODELDB_BATCH_SIZE", minimum=1),
            batch_seconds=_number(pick("batch_seconds", 0.5), float, "MODELDB_BATCH_SECONDS", minimum=0.001),
            batch_bytes=_number(pick("batch_bytes", 4 * 1024 ** 2), int, "MODELDB_BATCH_BYTES", minimum=1),
            log_format=str(pick("log_format", "text")).lower(),
            # Fault injection for the crash tests: a processor sleeps this long between writing a
            # batch and committing its offsets, so a SIGKILL can land exactly there.
            fault_pause_before_commit_s=_number(pick("fault_pause_before_commit_s", 0.0), float,
                                                "MODELDB_FAULT_PAUSE_BEFORE_COMMIT_S", minimum=0.0),
            max_param_bytes=_number(pick("max_param_bytes", 65536), int, "MODELDB_MAX_PARAM_BYTES", minimum=16),
            delivery_timeout_s=_number(pick("delivery_timeout_s", 30.0), float, "MODELDB_DELIVERY_TIMEOUT_S", minimum=0.1),
            exit_flush_timeout_s=_number(pick("exit_flush_timeout_s", 10.0), float, "MODELDB_EXIT_FLUSH_TIMEOUT_S", minimum=0.0),
            artifacts=str(pick("artifacts", f"file://{home}/artifacts")),
            **_sql_limits(pick),
            testing=str(pick("testing", "0")).strip().lower() in ("1", "true", "yes"),
        )
        # Validate URIs now, so a typo fails at init and not at the first event.
        settings.transport_uri
        settings.warehouse_uri
        if settings.processor_engine not in ("faust", "confluent"):
            raise ConfigError(f"MODELDB_PROCESSOR_ENGINE must be faust or confluent, got {settings.processor_engine!r}")
        if settings.log_format not in ("text", "json"):
            raise ConfigError(f"MODELDB_LOG_FORMAT must be text or json, got {settings.log_format!r}")
        for name in ("project", "experiment"):
            value = getattr(settings, name)
            if not value or len(value) > 200 or any(c in value for c in "\n\r\t\x00"):
                raise ConfigError(f"{name} {value!r} must be 1–200 characters with no control characters")
        return settings


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(str(value or ""))


def _sql_limits(pick: Callable[[str, Any], Any]) -> dict[str, Any]:
    """The SQL sandbox's limits (``MODELDB_SQL_*``), each positive."""
    return {
        "sql_timeout_s": _number(pick("sql_timeout_s", 30.0), float, "MODELDB_SQL_TIMEOUT_S", minimum=0.001),
        "sql_max_rows": _number(pick("sql_max_rows", 1_000_000), int, "MODELDB_SQL_MAX_ROWS", minimum=1),
        "sql_max_bytes": _number(pick("sql_max_bytes", 512 * 1024 ** 2), int, "MODELDB_SQL_MAX_BYTES", minimum=1),
        "sql_max_memory": _number(pick("sql_max_memory", 2 * 1024 ** 3), int, "MODELDB_SQL_MAX_MEMORY", minimum=1),
    }


def _number(value: Any, kind: type, name: str, minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number
