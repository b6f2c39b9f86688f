"""The SQL sandbox: what a read-only query may do, decided by ClickHouse's own parser.

User SQL (``modeldb sql`` without ``--write``, ``modeldb query``, the named queries and every
dashboard page) reaches the warehouse through ``Warehouse.query(readonly=True)`` / ``frame``.
Before a statement runs, both backends ask ClickHouse 26's parser (chDB, in this process) for
its syntax tree, ``EXPLAIN AST``, and walk that tree. Nothing is decided by matching the SQL
text. The policy is deny-by-default: a node is allowed only when a rule below allows it.

* **Statements.** One statement: ``SELECT``, ``WITH … SELECT``, ``UNION`` / ``INTERSECT`` /
  ``EXCEPT`` of them, ``DESCRIBE TABLE`` and ``EXISTS TABLE``. ``SHOW`` is refused: its tree
  prints ``SHOW TABLES`` and ``SHOW DATABASES`` alike, so they cannot be told apart (use
  ``modeldb schema``). ``EXPLAIN``, DDL, DML, ``SET``, ``USE``, ``SYSTEM``… are refused.
* **Tables.** Every table reference (``FROM``, ``JOIN``, subqueries at any depth, CTEs,
  ``UNION`` branches, ``IN table``, ``view(…)``, ``DESCRIBE``, ``EXISTS``) must be unqualified
  or qualified with the warehouse's database. An unqualified name is a CTE or a table of that
  database: the backends make it the session's current database. Outside it only
  ``ALLOWED_FOREIGN_TABLES`` (``system.one``, ``system.numbers``, ``system.numbers_mt``) may be
  read: they generate rows and reveal nothing.
* **Table functions.** Only ``ALLOWED_TABLE_FUNCTIONS`` (row generators: ``numbers``,
  ``numbers_mt``, ``zeros``, ``zeros_mt``, ``values``, ``generateSeries``, ``generate_series``)
  and ``view(<select>)``, whose select is checked like any other. Every other table function
  (``file``, ``filesystem``, ``url``, ``s3``, ``oss``, ``cosn``, ``remote``, ``eval``, ``merge``…)
  is refused by not being on the list. The ClickHouse 18.16 server's own ``readonly=1`` refuses
  every table function on top (``Capabilities.readonly_table_functions``).
* **Functions.** A function is allowed when ClickHouse's own catalogue (``system.functions`` of
  the parsing chDB) knows it as a built-in (``origin = 'System'``; an alias counts as its target)
  and its documented category is one of ``SAFE_CATEGORIES``: pure computation on the values in
  the query (arithmetic, strings, dates, arrays, JSON, hashes, aggregates…). A few functions of
  the mixed "Other" category that only compute are allowed by name (``SAFE_OTHER``), as are the
  forms the parser itself makes (``lambda``, ``tuple``…). An aggregate function with combinators
  (``argMaxIf``, ``uniqExactMerge``) counts as its base function. Everything else is refused,
  whatever it is called: ``file()``, ``joinGet``, ``dictGet*``, ``hasColumnInTable``,
  ``getSetting``, introspection, ``ai*`` (they call out to a model API), user-defined functions,
  and any function added to ClickHouse later until someone reviews its category.
* **Clauses.** Any ``SETTINGS`` clause is refused (the tree does not name the settings, so no
  allow-list can be checked; this refuses ``allow_experimental_*`` and
  ``allow_introspection_functions`` with the rest). ``FORMAT`` and ``INTO OUTFILE`` are refused.
* **The tree itself.** A node kind not in ``_NODE_KINDS`` is refused, and so is a dump whose
  indentation or child counts do not add up (a backquoted name can hold a newline).

A query template with ``%(name)s`` placeholders is checked once, with a unique string literal
in place of each placeholder; it is trusted with any values only if every placeholder is a
literal in the tree (not in a comment or a name). Bound values are quoted literals
(``base.quote``), so they cannot change the statement's shape.

Every read also runs under ``SandboxLimits``: a time limit, a row and byte limit on the result
(``result_overflow_mode = 'throw'``) and a memory limit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from modeldb.core.exceptions import WarehouseError

if TYPE_CHECKING:
    from modeldb.core.config import Settings
from modeldb.warehouse.sandbox_tree import (PARSER_FORMS, SAFE_CATEGORIES, SAFE_OTHER, Catalogue, Node,  # noqa: F401
                                            parse_tree, refuse)

ALLOWED_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values",
                                     "generateSeries", "generate_series"})
ALLOWED_FOREIGN_TABLES = frozenset({("system", "one"), ("system", "numbers"), ("system", "numbers_mt")})

_IN_FUNCTIONS = frozenset({"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn",
                           "globalNotNullIn"})
# Why the best-known outside readers are refused, for a clearer line (the rule is the allow-list).
_REASONS = {
    "file": "reads a file on the server", "joinGet": "reads another table", "joinGetOrNull": "reads another table",
    "hasColumnInTable": "reads another table's metadata", "getSetting": "reads the server's settings",
    "catboostEvaluate": "loads a model file", "showCertificate": "reads the server's certificate",
}

# Every node kind the walk understands; anything else is refused.
_NODE_KINDS = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "TablesInSelectQuery",
    "TablesInSelectQueryElement", "TableExpression", "TableJoin", "ArrayJoin", "TableIdentifier", "Identifier",
    "Literal", "Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
    "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher", "Subquery", "WithElement", "OrderByElement",
    "SampleRatio", "Function", "WindowListElement", "WindowDefinition", "InterpolateElement", "ColumnsTransformerList",
    "ColumnsApplyTransformer", "ColumnsExceptTransformer", "ColumnsReplaceTransformer", "ColumnsReplaceTransformerReplacement",
    "DescribeQuery", "ExistsTableQuery", "QueryParameter",
})
_ROOTS = frozenset({"SelectWithUnionQuery", "DescribeQuery", "ExistsTableQuery"})


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for every read-only query, on both backends (ClickHouse settings, applied per query)."""

    timeout_s: float = 30.0                   # max_execution_time
    max_rows: int = 1_000_000                 # max_result_rows (named queries page up to 1,000,000)
    max_bytes: int = 512 * 1024 ** 2          # max_result_bytes, uncompressed
    max_memory: int = 2 * 1024 ** 3           # max_memory_usage, per query

    ENV = {"timeout_s": "MODELDB_SQL_TIMEOUT_S", "max_rows": "MODELDB_SQL_MAX_ROWS",
           "max_bytes": "MODELDB_SQL_MAX_BYTES", "max_memory": "MODELDB_SQL_MAX_MEMORY"}

    @classmethod
    def of(cls, settings: "Settings") -> "SandboxLimits":
        """The limits configured in ``settings`` (``MODELDB_SQL_*``, read by ``core/config.py``)."""
        return cls(settings.sql_timeout_s, settings.sql_max_rows, settings.sql_max_bytes, settings.sql_max_memory)

    def settings(self) -> dict[str, Any]:
        return {"max_execution_time": max(1, int(round(self.timeout_s))), "max_result_rows": int(self.max_rows),
                "max_result_bytes": int(self.max_bytes), "result_overflow_mode": "throw",
                "max_memory_usage": int(self.max_memory)}

    def clause(self) -> str:
        """The same settings as a SETTINGS clause (chDB has no per-query settings argument)."""
        return "SETTINGS " + ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}"
                                       for k, v in self.settings().items())


# --- the policy --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    kind: str  # "select", "describe" or "exists"


def check_tree(root: Node, database: str, catalogue: Catalogue) -> Checked:
    """Raise ``ReadOnlyError`` unless every node of the tree is allowed (see the module docstring)."""
    if root.kind not in _ROOTS:
        name = root.kind.removesuffix("Query")
        if name.startswith(("Show", "Explain", "Exists", "Describe")):
            raise refuse(f"{name} is not allowed on the read-only path (allowed: SELECT, DESCRIBE TABLE, "
                         "EXISTS TABLE; `modeldb schema` lists the tables)")
        raise refuse(f"{name} statements are not allowed on the read-only path (allowed: SELECT, "
                     "DESCRIBE TABLE, EXISTS TABLE); use `modeldb sql --write` to change data on purpose")
    if root.kind == "ExistsTableQuery":
        names = [c.text for c in root.children if c.kind == "Identifier"]
        if len(names) != len(root.children) or len(names) not in (1, 2):
            raise refuse("EXISTS needs a table name")
        _table(".".join(names), database)
        return Checked("exists")
    _walk(root, database, catalogue, parent=None)
    return Checked("select" if root.kind == "SelectWithUnionQuery" else "describe")


def _walk(node: Node, database: str, catalogue: Catalogue, parent: Node | None) -> None:
    kind = node.kind
    if kind == "Set":
        raise refuse("a SETTINGS clause is not allowed (the sandbox sets the query's limits itself)")
    if kind not in _NODE_KINDS:
        raise refuse(f"{kind} is not allowed in a read-only query")
    if kind == "SelectWithUnionQuery" and len(node.children) != 1:
        extra = node.children[1:]
        if any(c.kind == "Set" for c in extra):
            raise refuse("a SETTINGS clause is not allowed (the sandbox sets the query's limits itself)")
        if any(c.kind == "Literal" for c in extra):
            raise refuse("INTO OUTFILE is not allowed (a read-only query writes no files)")
        raise refuse("a FORMAT clause is not allowed (choose the output format with --format)")
    if kind == "TableIdentifier":
        _table(node.text, database)
    elif kind == "Function":
        name = node.text
        if parent is not None and parent.kind == "TableExpression":
            _table_function(node, database, catalogue)
            return
        if not catalogue.allows(name):
            reason = _REASONS.get(name) or _reason(name, catalogue)
            raise refuse(f"function {name}() is not allowed ({reason})")
        if name in _IN_FUNCTIONS:
            args = node.children[0].children if node.children else []
            if len(args) == 2 and args[1].kind == "Identifier":
                _table(args[1].text, database)  # `x IN table`
    for child in node.children:
        _walk(child, database, catalogue, node)


def _reason(name: str, catalogue: Catalogue) -> str:
    entry = catalogue.lookup(name)
    if entry is None:
        return "not a ClickHouse built-in function the sandbox knows"
    return f"category {entry[0] or 'unclassified'!r} is not on the sandbox's list of computation-only functions"


def _table_function(node: Node, database: str, catalogue: Catalogue) -> None:
    name = node.text
    allowed = ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS | {"view"}))
    if name == "view":
        args = node.children[0].children if node.children else []
        if len(args) != 1 or args[0].kind != "SelectWithUnionQuery":
            raise refuse("view() takes one SELECT")
        _walk(args[0], database, catalogue, node)
        return
    if name not in ALLOWED_TABLE_FUNCTIONS:
        raise refuse(f"table function {name}() is not allowed (allowed: {allowed})")
    for child in node.children:
        _walk(child, database, catalogue, node)


def _table(name: str, database: str) -> None:
    parts = name.split(".")
    if len(parts) == 1:
        return  # a CTE, or a table of the current database, which the backend makes the warehouse's
    if len(parts) == 2:
        db, table = parts
        if db == database or (db, table) in ALLOWED_FOREIGN_TABLES:
            return
        if db.lower() in ("system", "information_schema") or db == "_temporary_and_external_tables":
            raise refuse(f"table {db}.{table} is not allowed: only the warehouse's database `{database}` "
                         "may be read (and system.one, system.numbers)")
        raise refuse(f"database {db} is not allowed: only the warehouse's database `{database}` may be read")
    raise refuse(f"table name {name!r} is not allowed (a dotted name that cannot be told apart)")


# --- parsing through chDB ---------------------------------------------------------------------

_SENTINEL = "__modeldb_sandbox_param_{}__"


class Sandbox:
    """One warehouse's policy: its database, its limits, and the templates already checked.

    ``parse(sql)`` is this process's chDB parser (``chdb_backend.parse``): it runs a parse-only
    statement and returns its text output.
    """

    TEMPLATES_REMEMBERED = 512

    def __init__(self, database: str, parse: Callable[[str], str], limits: SandboxLimits | None = None):
        self.database = database
        self.limits = limits or SandboxLimits()
        self._parse = parse
        self._checked: dict[tuple[str, bool], Checked] = {}  # insertion-ordered, bounded

    def check(self, template: str, params: Mapping[str, Any] | None = None) -> Checked:
        """Check a statement, once per template: with ``params``, its ``%(name)s`` placeholders are
        bound (``base.bind``); without, the text runs as it is and is checked as it is."""
        key = (template, bool(params))
        found = self._checked.get(key)
        if found is not None:
            return found
        checked = self._check(template, bool(params))
        self._checked[key] = checked
        if len(self._checked) > self.TEMPLATES_REMEMBERED:
            del self._checked[next(iter(self._checked))]
        return checked

    def _check(self, template: str, bound: bool) -> Checked:
        from modeldb.warehouse.base import _PARAM, quote

        count = iter(range(10 ** 9))
        sentinels: list[str] = []

        def sentinel(_: re.Match) -> str:
            sentinels.append(_SENTINEL.format(next(count)))
            return quote(sentinels[-1])

        sql = (_PARAM.sub(sentinel, template) if bound else template).strip().rstrip(";")
        tree = parse_tree(self.explain(sql))
        checked = check_tree(tree, self.database, catalogue(self._parse))
        literals = " ".join(_literals(tree))
        for name in sentinels:
            if literals.count(name) != 1:
                raise refuse("a %(name)s placeholder must stand where a value goes, not in a comment or a name")
        return checked

    def explain(self, sql: str) -> str:
        """``EXPLAIN AST`` of the statement as ClickHouse formats it standalone (one statement only)."""
        from modeldb.warehouse.base import quote

        try:
            single = self._parse(f"SELECT formatQuerySingleLine({quote(sql)})").rstrip("\n")
        except WarehouseError as exc:
            if "Multi-statements" in str(exc) or "MULTISTATEMENT" in str(exc).upper():
                raise refuse("Multi-statements are not allowed: send one statement at a time") from None
            raise
        return self._parse(f"EXPLAIN AST {single}")


def _literals(node: Node) -> list[str]:
    out = [node.text] if node.kind == "Literal" else []
    for child in node.children:
        out.extend(_literals(child))
    return out


_catalogues: dict[int, Catalogue] = {}


def catalogue(parse: Callable[[str], str]) -> Catalogue:
    """This process's function catalogue, read once from the parsing chDB."""
    if not _catalogues:
        text = parse("SELECT name, is_aggregate, case_insensitive, alias_to, categories, origin "
                     "FROM system.functions")
        _catalogues[0] = Catalogue.load([line.split("\t") for line in text.split("\n") if line])
    return _catalogues[0]


def statement_kind(sql: str, parse: Callable[[str], str]) -> str | None:
    """``"select"`` when ``sql`` is one SELECT-like statement by ClickHouse's parse, else None.

    ``parse``: this process's chDB parser (``chdb_backend.parse``), passed in so this module needs no backend.
    """
    sandbox = Sandbox("", parse)
    try:
        return "select" if parse_tree(sandbox.explain(sql.strip().rstrip(";"))).kind == "SelectWithUnionQuery" else None
    except WarehouseError:
        return None


_LIMIT_ERRORS = {159: ("time", "timeout_s"), 396: ("result size", "max_rows"), 158: ("result size", "max_rows"),
                 241: ("memory", "max_memory")}


def limit_error(exc: WarehouseError, limits: SandboxLimits) -> WarehouseError:
    """A query stopped by a sandbox limit, as one line naming the limit and how to change it."""
    found = _LIMIT_ERRORS.get(exc.code or 0)
    if found is None:
        return exc
    what, field = found
    detail = str(exc).split("DB::Exception: ")[-1].split(". (")[0].split("\n")[0].strip()
    bound = {"time": f"{limits.timeout_s:g} s", "result size": f"{limits.max_rows:,} rows or {limits.max_bytes:,} bytes",
             "memory": f"{limits.max_memory:,} bytes"}[what]
    return WarehouseError(f"stopped: the query went over the sandbox's {what} limit ({bound}; "
                          f"{SandboxLimits.ENV[field]}): {detail}", exc.code)
