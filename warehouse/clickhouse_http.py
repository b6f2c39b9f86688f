"""The server's HTTP interface, used for one thing: inserting a Native block (the metric points).

clickhouse-driver writes a columnar insert value by value, which costs about as much as the
server's own work on the rows. Over HTTP, ``INSERT … FORMAT Native`` takes a block that the
stream processor built with no Python object per value (``ColumnBatch.native()``), and the server
parses it as its own format. Everything else (queries, DDL, other inserts) stays on the native
protocol.

The port is ``?http_port=`` in the warehouse URI, 8123 by default (8443 with TLS) as on a standard
server, and ``http_port=0`` turns this path off. The same hosts are tried in the same order as the
native protocol's, with the same user and password (HTTP basic authentication, which every server
version reads).
"""
from __future__ import annotations

import base64
import http.client
import ssl
import urllib.parse
from typing import Mapping, Sequence

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import error_code

TIMEOUT_S = 300.0


class Unreachable(Exception):
    """No host answered on the HTTP port (the caller falls back to the native protocol)."""


class HttpInserter:
    def __init__(self, hosts: Sequence[str], port: int, *, secure: bool, verify: bool, user: str, password: str,
                 database: str, settings: Mapping[str, object], where: str):
        self.hosts = list(hosts)
        self.port = port
        self.secure = secure
        self.verify = verify
        self.database = database
        self.settings = dict(settings)
        self.where = where
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Content-Type": "application/octet-stream"}
        self._conn: http.client.HTTPConnection | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.hosts[0]}:{self.port}"

    def _connect(self, host: str) -> http.client.HTTPConnection:
        if not self.secure:
            return http.client.HTTPConnection(host, self.port, timeout=TIMEOUT_S)
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, self.port, timeout=TIMEOUT_S, context=context)

    def insert(self, table: str, columns: Sequence[str], block: Sequence[bytes]) -> None:
        """Insert one Native block; raise ``Unreachable`` if no host answers, ``WarehouseError`` if the
        server refuses the insert."""
        query = f"INSERT INTO `{self.database}`.`{table}` ({', '.join(columns)}) FORMAT Native"
        path = "/?" + urllib.parse.urlencode({"query": query, "database": self.database, **self.settings})
        status, body = self._post(path, block)
        if status != 200:
            message = body.decode(errors="replace").split("Stack trace")[0].strip()
            raise WarehouseError(f"ClickHouse ({self.where}, HTTP): {message}", error_code(message))

    def _post(self, path: str, block: Sequence[bytes]) -> tuple[int, bytes]:
        """POST on the open connection; on a broken one, once more on each host in turn."""
        headers = {**self._headers, "Content-Length": str(sum(map(len, block)))}
        attempts = ([None] if self._conn is not None else []) + self.hosts
        for host in attempts:
            if host is not None:
                self.close()
                self._conn = self._connect(host)
            try:
                self._conn.request("POST", path, body=iter(block), headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.close()
        raise Unreachable(f"no answer on {self.url}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
