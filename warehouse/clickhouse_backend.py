"""ClickHouse server backend through clickhouse-driver (native protocol).

Limits: tested against the Debian ``clickhouse-server`` 18.16 and newer.
Read-only queries pass the SQL sandbox first (``sandbox.py``): the statement is
parsed by ClickHouse 26 in this process (chDB; the server, 18.16, has no usable
``EXPLAIN AST``) and checked deny-by-default. A statement 26 cannot parse is
refused even if the server would take it. The server's own ``readonly=1`` stays
as a second fence, with the sandbox's limits as per-query settings. On 18.16
``readonly=1`` refuses every table function, even the sandbox's ``numbers()``
(``Capabilities.readonly_table_functions``). The connection's current database
is the warehouse's, so an unqualified table name means that database. Several hosts in the URI are tried in
order (``alt_hosts``). ``clickhouses://`` or ``?secure=1`` turns on TLS;
``?verify=0`` skips certificate checks (for self-signed test servers only).
The metric points are inserted over the server's HTTP port as Native blocks
(``clickhouse_http.py``; ``?http_port=``, 8123 by default, 0 for off); if that port
does not answer, they go over the native protocol, with one warning.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Mapping, Sequence

from modeldb.core.config import Secret, Uri
from modeldb.core.exceptions import ReadOnlyError, WarehouseError, WarehouseUnavailable
from modeldb.warehouse.base import Capabilities, ColumnBatch, Result, bind
from modeldb.warehouse.clickhouse_http import HttpInserter, Unreachable
from modeldb.warehouse.sandbox import Sandbox, SandboxLimits, limit_error

READONLY_CODE = 164
log = logging.getLogger(__name__)


class ClickHouseWarehouse:
    def __init__(self, client: Any, database: str, description: str, version: str, cluster: str | None = None,
                 limits: SandboxLimits | None = None, http: HttpInserter | None = None):
        self._client = client
        self._http = http
        self._http_lock = threading.Lock()
        self.database = database
        self.cluster = cluster
        # Cluster mode: subqueries over Distributed tables run as GLOBAL IN/JOIN; inserts reach every
        # shard before they return, so offsets are committed only for rows that are really stored.
        self._read_settings = {"distributed_product_mode": "global"} if cluster else {}
        self._insert_settings = {"insert_distributed_sync": 1} if cluster else {}
        self.description = description
        major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
        # readonly=1 allows harmless table functions from 20.x on; 18.16 forbids them all
        self.capabilities = Capabilities("clickhouse", version, embedded=False, server_readonly=True,
                                         readonly_table_functions=major >= 20, maps=major >= 22,
                                         parallel_final=major >= 22)  # ClickHouse's PR 36396
        from modeldb.warehouse import chdb_backend  # the parser, loaded when the first query is checked

        self.sandbox = Sandbox(database, chdb_backend.parse, limits or SandboxLimits())
        self._lock = threading.Lock()  # one native connection: one statement at a time (the dashboard has threads)

    @classmethod
    def connect(cls, uri: Uri, password: Secret, database: str | None = None,
                cluster: str | None = None, limits: SandboxLimits | None = None) -> "ClickHouseWarehouse":
        from clickhouse_driver import Client

        if not uri.hosts:
            raise WarehouseError("MODELDB_WAREHOUSE: clickhouse:// needs a host, e.g. clickhouse://localhost:9000/modeldb")
        (host, port), *alternates = uri.hosts
        database = database or uri.path.strip("/") or "modeldb"
        secure = uri.scheme == "clickhouses" or uri.query.get("secure") in ("1", "true")
        options = dict(
            host=host, port=port, user=uri.username or "default",
            password=uri.password.get() or password.get(),
            secure=secure, verify=uri.query.get("verify", "1") not in ("0", "false"),
            alt_hosts=",".join(f"{h}:{p}" for h, p in alternates) or None,
            connect_timeout=5, send_receive_timeout=300, client_name="modeldb",
        )
        client = Client(database="default", **options)
        description = f"{uri.redacted.split('?')[0].rsplit('/', 1)[0]}/{database}"
        try:
            version = client.execute("SELECT version()")[0][0]
            client.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`" + (f" ON CLUSTER `{cluster}`" if cluster else ""))
        except Exception as exc:
            client.disconnect()
            raise _translate(exc, description) from None
        client.disconnect()
        client = Client(database=database, **options)  # unqualified names: the warehouse's tables
        if cluster:
            description += f" (cluster {cluster})"
        http = _http_inserter(uri, options, database, description, cluster)
        return cls(client, database, description, version, cluster, limits, http)

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

    def insert_columns(self, table: str, columns: Sequence[str], data: ColumnBatch) -> None:
        if not len(data):
            return
        if self._http is not None:
            try:
                with self._http_lock:
                    self._http.insert(table, columns, data.native())
                return
            except Unreachable as exc:
                self._insert_lists(table, columns, data)  # the server is down: this raises, and HTTP stays on
                log.warning("ClickHouse's HTTP port does not answer (%s), but its native port does: metric points "
                            "now go over the native protocol, which is slower. Set ?http_port= in "
                            "MODELDB_WAREHOUSE to the server's HTTP port, or ?http_port=0 to silence this.", exc)
                self._http = None
                return
        self._insert_lists(table, columns, data)

    def _insert_lists(self, table: str, columns: Sequence[str], data: ColumnBatch) -> None:
        try:
            with self._lock:
                self._client.execute(
                    f"INSERT INTO `{self.database}`.`{table}` ({', '.join(columns)}) VALUES", data.lists(),
                    columnar=True, settings=self._insert_settings)
        except Exception as exc:
            raise _translate(exc, self.description) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        bound = bind(sql, params).strip().rstrip(";")
        if readonly:
            self.sandbox.check(sql, params)  # refuses with ReadOnlyError; a template is checked once
            settings = {**self._read_settings, **self.sandbox.limits.settings(), "readonly": 1}
        else:
            settings = dict(self._read_settings)
        sql = bound
        try:
            with self._lock:
                rows, meta = self._client.execute(sql, with_column_types=True, settings=settings)
        except Exception as exc:
            error = _translate(exc, self.description)
            raise (limit_error(error, self.sandbox.limits) if readonly else error) from None
        return Result([m[0] for m in meta], [m[1] for m in meta], [tuple(r) for r in rows])

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.query(sql, params).to_pandas()  # columnar fetch measured no faster: the server dominates

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
        with self._http_lock:
            if self._http is not None:
                self._http.close()


def _http_inserter(uri: Uri, options: dict, database: str, where: str, cluster: str | None) -> HttpInserter | None:
    raw = uri.query.get("http_port", "8443" if options["secure"] else "8123")
    if not raw.isdigit() or int(raw) > 65535:
        raise WarehouseError(f"MODELDB_WAREHOUSE: http_port={raw!r} is not a port number (0 turns HTTP inserts off)")
    if int(raw) == 0:
        return None
    hosts = [h for h, _ in uri.hosts]
    settings = {"insert_distributed_sync": 1} if cluster else {}
    return HttpInserter(hosts, int(raw), secure=options["secure"], verify=options["verify"], user=options["user"],
                        password=options["password"], database=database, settings=settings, where=where)


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
