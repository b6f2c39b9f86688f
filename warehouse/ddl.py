"""The DDL source as plain data: ordered migrations, each a list of statements.

Nothing here does I/O against a warehouse; ``warehouse.migrate`` runs the steps
on any backend. Files are ``ddl/NNNN_name.sql``; statements end with ``;`` on
a line end; ``{db}`` is replaced by the database name. A ``-- @table name:
meaning`` comment documents the next table, and ``-- @column table.name:
meaning`` (or ``-- @column name: meaning`` for a name shared by many tables)
documents a column; ``modeldb schema`` prints them. ``-- @transient name`` marks
a table a migration builds and then renames into place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE_DOC = re.compile(r"^-- @table (\w+): (.+)$", re.M)
_COLUMN_DOC = re.compile(r"^-- @column ([\w.]+): (.+)$", re.M)
_TRANSIENT = re.compile(r"^-- @transient (\w+)$", re.M)
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{db\}\.(\w+) \((.*?)\) ENGINE", re.S)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    def render(self, database: str) -> list[str]:
        return [s.replace("{db}", f"`{database}`") for s in self.statements]


def _split(sql: str) -> tuple[str, ...]:
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return tuple(s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip())


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files("modeldb.warehouse").joinpath("ddl").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], _split(entry.read_text())))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"DDL migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


@lru_cache(maxsize=1)
def tables() -> dict[str, dict]:
    """Every table with its meaning and columns ``[(name, type, meaning)]``, parsed from the DDL."""
    texts = [entry.read_text() for entry in sorted(resources.files("modeldb.warehouse").joinpath("ddl").iterdir(),
                                                    key=lambda e: e.name) if _FILE.match(entry.name)]
    column_docs = dict(doc for text in texts for doc in _COLUMN_DOC.findall(text))
    transient = {name for text in texts for name in _TRANSIENT.findall(text)}  # built, then renamed away
    out: dict[str, dict] = {}
    for text in texts:
        docs = dict(_TABLE_DOC.findall(text))
        for name, body in _CREATE.findall(text):
            if name in transient:
                continue
            cols = []
            for line in body.splitlines():
                line = line.strip().rstrip(",")
                if line and not line.startswith("--"):
                    col, _, typ = line.partition(" ")
                    meaning = column_docs.get(f"{name}.{col}") or column_docs.get(col, "")
                    cols.append((col, typ.strip(), meaning))
            out[name] = {"doc": docs.get(name, ""), "columns": cols}
    return out
