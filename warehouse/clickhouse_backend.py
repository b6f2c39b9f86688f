"""ClickHouse server backend through clickhouse-driver (native protocol).

Limits: tested against the Debian ``clickhouse-server`` 18.16 and newer.
Read-only queries use the server's ``readonly=1`` setting, so the server
itself refuses anything that writes. Several hosts in the URI are tried in
order (``alt_hosts``). ``clickhouses://`` or ``?secure=1`` turns on TLS;
``?verify=0`` skips certificate checks (for self-signed test servers only).
"""
from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence

from modeldb.core.config import Secret, Uri
from modeldb.core.exceptions import ReadOnlyError, WarehouseError, WarehouseUnavailable
from modeldb.warehouse.base import Capabilities, Result, bind

READONLY_CODE = 164


class ClickHouseWarehouse:
    def __init__(self, client: Any, database: str, description: str, version: str, cluster: str | None = None):
        self._client = client
        self.database = database
        self.cluster = cluster
        # Cluster mode: subqueries over Distributed tables run as GLOBAL IN/JOIN; inserts reach every
        # shard before they return, so offsets are committed only for rows that are really stored.
        self._read_settings = {"distributed_product_mode": "global"} if cluster else {}
        self._insert_settings = {"insert_distributed_sync": 1} if cluster else {}
        self.description = description
        self.capabilities = Capabilities("clickhouse", version, embedded=False, server_readonly=True)
        self._lock = threading.Lock()  # one native connection: one statement at a time (the dashboard has threads)

    @classmethod
    def connect(cls, uri: Uri, password: Secret, database: str | None = None,
                cluster: str | None = None) -> "ClickHouseWarehouse":
        from clickhouse_driver import Client

        if not uri.hosts:
            raise WarehouseError("MODELDB_WAREHOUSE: clickhouse:// needs a host, e.g. clickhouse://localhost:9000/modeldb")
        (host, port), *alternates = uri.hosts
        database = database or uri.path.strip("/") or "modeldb"
        secure = uri.scheme == "clickhouses" or uri.query.get("secure") in ("1", "true")
        client = Client(
            host=host, port=port, user=uri.username or "default",
            password=uri.password.get() or password.get(),
            database="default", secure=secure, verify=uri.query.get("verify", "1") not in ("0", "false"),
            alt_hosts=",".join(f"{h}:{p}" for h, p in alternates) or None,
            connect_timeout=5, send_receive_timeout=300, client_name="modeldb",
        )
        description = f"{uri.redacted.split('?')[0].rsplit('/', 1)[0]}/{database}"
        try:
            version = client.execute("SELECT version()")[0][0]
            client.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`" + (f" ON CLUSTER `{cluster}`" if cluster else ""))
        except Exception as exc:
            client.disconnect()
            raise _translate(exc, description) from None
        if cluster:
            description += f" (cluster {cluster})"
        return cls(client, database, description, version, cluster)

    def execute(self, sql: str) -> None:
        try:
            with self._lock:
                self._client.execute(sql)
        except Exception as exc:
            raise _translate(exc, self.description) from None

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            with self._lock:
                self._client.execute(
                    f"INSERT INTO `{self.database}`.`{table}` ({', '.join(columns)}) VALUES", list(rows),
                    settings=self._insert_settings)
        except Exception as exc:
            raise _translate(exc, self.description) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        sql = bind(sql, params).strip().rstrip(";")
        settings = dict(self._read_settings, readonly=1) if readonly else dict(self._read_settings)
        try:
            with self._lock:
                rows, meta = self._client.execute(sql, with_column_types=True, settings=settings)
        except Exception as exc:
            raise _translate(exc, self.description) from None
        return Result([m[0] for m in meta], [m[1] for m in meta], [tuple(r) for r in rows])

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.query(sql, params).to_pandas()  # columnar fetch measured no faster: the server dominates

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()


def _translate(exc: Exception, where: str) -> WarehouseError:
    from clickhouse_driver import errors

    if isinstance(exc, errors.ServerException):
        message = str(exc.message).split("Stack trace")[0].strip()
        if exc.code == READONLY_CODE:
            return ReadOnlyError(f"refused: this path is read-only ({message.splitlines()[0]}); "
                                 "use `modeldb sql --write` to change data on purpose", exc.code)
        return WarehouseError(f"ClickHouse ({where}): {message}", exc.code)
    if isinstance(exc, (errors.NetworkError, errors.SocketTimeoutError, ConnectionError, OSError, EOFError)):
        return WarehouseUnavailable(f"cannot reach ClickHouse at {where}: {exc}. Is the server running?")
    if isinstance(exc, errors.Error):
        return WarehouseError(f"ClickHouse ({where}): {exc}", getattr(exc, "code", None))
    return WarehouseError(f"ClickHouse ({where}): {type(exc).__name__}: {exc}")
