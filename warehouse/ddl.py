"""The DDL source as plain data: ordered migrations, each a list of statements.

Nothing here does I/O against a warehouse; ``warehouse.migrate`` runs the steps
on any backend. Files are ``ddl/NNNN_name.sql``; statements end with ``;`` on
a line end; ``{db}`` is replaced by the database name (and ``{metric_aliases}``,
``{metric_canonicals}`` by the metric-name mapping of ``core.metric_names``). A ``-- @table name:
meaning`` comment documents the next table, and ``-- @column table.name:
meaning`` (or ``-- @column name: meaning`` for a name shared by many tables)
documents a column; ``modeldb schema`` prints them. ``-- @transient name`` marks
a table a migration builds and then renames into place; a table that a later
``DROP TABLE IF EXISTS`` removes is no longer listed. ``-- @when maps`` (or
``-- @when !maps``) right before a statement runs it only on backends whose
``Capabilities.maps`` is true (or false): the same storage, with Map sugar where
the backend has Map.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from modeldb.core.metric_names import aliases
from modeldb.warehouse.base import quote

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE_DOC = re.compile(r"^-- @table (\w+): (.+)$", re.M)
_COLUMN_DOC = re.compile(r"^-- @column ([\w.]+): (.+)$", re.M)
_TRANSIENT = re.compile(r"^-- @transient (\w+)$", re.M)
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{db\}\.(\w+) \((.*?)\) ENGINE", re.S)
_VIEW = re.compile(r"CREATE VIEW IF NOT EXISTS \{db\}\.(\w+) AS\s+SELECT (.*?)\s+FROM \{db\}\.(\w+)", re.S)
_DROP = re.compile(r"^DROP TABLE IF EXISTS \{db\}\.(\w+);", re.M)
_WHEN = re.compile(r"^-- @when (!?)(\w+)\s*$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    conditions: tuple[tuple[str, bool] | None, ...] = ()  # per statement: (capability, wanted) or None

    def render(self, database: str, capabilities: object = None) -> list[str]:
        """The statements for a backend; without ``capabilities``, every statement (for checks)."""
        out = []
        for i, statement in enumerate(self.statements):
            condition = self.conditions[i] if i < len(self.conditions) else None
            if condition is not None and capabilities is not None:
                name, wanted = condition
                if bool(getattr(capabilities, name)) != wanted:
                    continue
            out.append(_placed(statement).replace("{db}", f"`{database}`"))
        return out


def _mapping() -> tuple[str, str]:
    """The metric-name mapping (``core.metric_names``) as two parallel SQL array literals: aliases, canonical names."""
    mapping = sorted(aliases().items())
    return ("[" + ", ".join(quote(k) for k, _ in mapping) + "]", "[" + ", ".join(quote(v) for _, v in mapping) + "]")


def canonical_sql(column: str) -> str:
    """SQL for the canonical name of the metric named by ``column`` (itself when no family lists it)."""
    names, canonicals = _mapping()
    return f"transform({column}, {names}, {canonicals}, {column})"


def _placed(statement: str) -> str:
    """``{metric_aliases}`` and ``{metric_canonicals}``: the metric-name mapping, rendered into a statement."""
    if "{metric_" not in statement:
        return statement
    names, canonicals = _mapping()
    return statement.replace("{metric_aliases}", names).replace("{metric_canonicals}", canonicals)


def _split(sql: str) -> tuple[tuple[str, ...], tuple[tuple[str, bool] | None, ...]]:
    statements: list[str] = []
    conditions: list[tuple[str, bool] | None] = []
    current: list[str] = []
    condition: tuple[str, bool] | None = None
    for line in sql.splitlines():
        stripped = line.strip()
        when = _WHEN.match(stripped)
        if when and not "".join(current).strip():
            condition = (when[2], not when[1])
            continue
        if stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.endswith(";"):
            text = "\n".join(current).strip().rstrip(";").strip()
            if text:
                statements.append(text)
                conditions.append(condition)
            current, condition = [], None
    text = "\n".join(current).strip()
    if text:
        statements.append(text)
        conditions.append(condition)
    return tuple(statements), tuple(conditions)


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files("modeldb.warehouse").joinpath("ddl").iterdir():
        match = _FILE.match(entry.name)
        if match:
            statements, conditions = _split(entry.read_text())
            found.append(Migration(int(match[1]), match[2], statements, conditions))
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
        for name in _DROP.findall(text):
            out.pop(name, None)
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
        for name, select, source in _VIEW.findall(text):  # a view: the columns it selects, typed by its table
            typed = {c: (t, m) for c, t, m in out.get(source, {}).get("columns", [])}
            cols = []
            for expression in _top_level(select):
                col = expression.split(" AS ")[-1].strip()
                typ, meaning = typed.get(col, (expression.split("'")[1] if "CAST(" in expression else "", ""))
                cols.append((col, typ, column_docs.get(f"{name}.{col}") or meaning or column_docs.get(col, "")))
            if len(cols) > len(out.get(name, {}).get("columns", [])):  # the Map variant, where there are two
                out[name] = {"doc": docs.get(name, ""), "columns": cols, "view": True}
    return out


def _top_level(select: str) -> list[str]:
    """A select list split at its top-level commas."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(select):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(select[start:i].strip())
            start = i + 1
    out.append(select[start:].strip())
    return out
