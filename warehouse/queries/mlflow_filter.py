"""MLflow's ``search_runs`` filter and order grammar, parsed and compiled to SQL over ``current_runs``.

The first piece of issue 20's MLflow-compatible server: a client's ``filter_string`` and
``order_by`` become a WHERE condition and ORDER BY terms over the current-state row's parallel
arrays, the same SQL on every backend. The grammar is MLflow's (``mlflow.utils.search_utils``):

    metrics.acc > 0.9 and params.alpha = '0.1' and tags."my tag" LIKE 'a%' and attributes.status IN ('FINISHED')

* clauses joined by AND only (MLflow has no OR, no NOT, no parentheses around clauses);
* entities ``metrics``/``metric``, ``params``/``param``/``parameter``/``parameters``,
  ``tags``/``tag``, ``attributes``/``attribute``/``attr``/``run``; a key is a plain identifier, or
  quoted in backquotes or double quotes;
* metrics compare with numbers (``= != < <= > >=``); params and tags with strings (``= != LIKE
  ILIKE``) or ``IS NULL`` / ``IS NOT NULL``; the attributes ``run_id``, ``run_name``, ``status``
  and ``user_id`` with strings (``= != LIKE ILIKE``; ``run_id`` also ``IN``/``NOT IN``), ``start_time`` and ``end_time``
  (milliseconds) with numbers.

Deny by default: a tokenizer reads the text into tokens and a parser accepts only those shapes;
anything else is a ``FilterError`` that names the problem. Strings reach the SQL only through
``quote()``, numbers only as the float the parser read, keys only through ``quote()``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from modeldb.core.metric_names import canonical
from modeldb.warehouse.base import quote
from modeldb.warehouse.queries.filters import FilterError, lookup

_ENTITIES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
}
# A run's MLflow name is its mlflow.runName tag where one is set (MLflow renames a run through it).
_TEXT_ATTRIBUTES = {"run_id": "run_id", "run_name": f"ifNull({lookup('tag', 'mlflow.runName', True)}, name)",
                    "status": "status", "user_id": "user"}
_NUMBER_ATTRIBUTES = {"start_time": "intDiv(started_ts, 1000)", "created": "intDiv(started_ts, 1000)",
                      "end_time": "if(ended_ts = 0, NULL, intDiv(ended_ts, 1000))"}
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
_TEXT_OPS = {"=", "!=", "LIKE", "ILIKE"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<backquoted>`[^`]+`)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[.,()])
""", re.X)
MAX_FILTER = 10_000  # characters; a longer filter is refused before it is read


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


def tokens(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise FilterError(f"a filter is a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER:
        raise FilterError(f"the filter is {len(text)} characters; the limit is {MAX_FILTER}")
    out, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise FilterError(f"unexpected {text[at:at + 10]!r} at character {at} of the filter")
        if match.lastgroup != "space":
            out.append(Token(match.lastgroup or "", match[0], at))
        at = match.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text, self.items, self.i = text, tokens(text), 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.items[j] if j < len(self.items) else None

    def take(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError(f"the filter ends where {what} should follow")
        self.i += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.i += 1
            return True
        return False

    def reference(self) -> tuple[str, str]:
        head = self.take("an entity such as metrics.<key>")
        if head.kind != "word" or head.text.lower() not in _ENTITIES:
            raise FilterError(f"{head.text!r} at character {head.at}: a clause starts with metrics., params., "
                              "tags. or attributes.")
        dot = self.take("'.'")
        if dot.text != ".":
            raise FilterError(f"expected '.' after {head.text!r} at character {dot.at}")
        key = self.take("a key")
        if key.kind == "word":
            name = key.text
        elif key.kind in ("backquoted", "string") and key.text[0] in '`"':
            name = key.text[1:-1]
        else:
            raise FilterError(f"{key.text!r} at character {key.at} is not a key; quote odd keys in backquotes")
        return _ENTITIES[head.text.lower()], name

    def operator(self) -> str:
        if self.word("IS"):
            negated = self.word("NOT")
            if not self.word("NULL"):
                raise FilterError("IS must be followed by NULL or NOT NULL")
            return "IS NOT NULL" if negated else "IS NULL"
        if self.word("NOT"):
            if not self.word("IN"):
                raise FilterError("NOT is allowed only in NOT IN")
            return "NOT IN"
        for word in ("LIKE", "ILIKE", "IN"):
            if self.word(word):
                return word
        token = self.take("a comparison")
        if token.kind != "op":
            raise FilterError(f"{token.text!r} at character {token.at} is not a comparison")
        return "!=" if token.text == "<>" else token.text

    def string(self) -> str:
        token = self.take("a quoted string")
        if token.kind != "string":
            raise FilterError(f"{token.text!r} at character {token.at}: expected a quoted string")
        return token.text[1:-1]

    def number(self) -> float:
        token = self.take("a number")
        if token.kind != "number":
            raise FilterError(f"{token.text!r} at character {token.at}: expected a number")
        value = float(token.text)
        if not math.isfinite(value):
            raise FilterError(f"{token.text!r} at character {token.at} is not a finite number")
        return value

    def strings(self) -> list[str]:
        if self.take("'('").text != "(":
            raise FilterError("IN takes a parenthesised list of quoted strings")
        values = [self.string()]
        while (token := self.take("')'")).text == ",":
            values.append(self.string())
        if token.text != ")":
            raise FilterError(f"{token.text!r} at character {token.at}: expected ',' or ')' in the IN list")
        return values


def _lookup(kind: str, key: str) -> tuple[str, str]:
    """The SQL that reads ``key`` from the row's arrays as text (NULL when missing), and its 'present' test."""
    name = canonical(key) if kind == "metric" else key
    return lookup(kind, name, True), f"indexOf({kind}_keys, {quote(name)}) > 0"


def _text_test(column: str, op: str, value: str) -> str:
    if op == "LIKE":
        return f"{column} LIKE {quote(value)}"
    if op == "ILIKE":  # lower() LIKE lower(): ClickHouse 18.16 has no ILIKE
        return f"lower({column}) LIKE lower({quote(value)})"
    return f"{column} {op} {quote(value)}"


def _clause(parser: _Parser) -> str:
    kind, key = parser.reference()
    op = parser.operator()
    if kind == "metric":
        if op not in _NUMBER_OPS:
            raise FilterError(f"metrics.{key}: metrics compare with = != < <= > >=, not {op}")
        column, _ = _lookup(kind, key)
        return f"{column} {op} {quote(parser.number())}"
    if kind in ("param", "tag"):
        column, present = _lookup(kind, key)
        if op in ("IS NULL", "IS NOT NULL"):
            return f"NOT ({present})" if op == "IS NULL" else present
        if op not in _TEXT_OPS:
            raise FilterError(f"{kind}s.{key}: {kind}s compare with = != LIKE ILIKE or IS [NOT] NULL, not {op}")
        return _text_test(column, op, parser.string())
    if key in _NUMBER_ATTRIBUTES:
        if op not in _NUMBER_OPS:
            raise FilterError(f"attributes.{key}: compare it with = != < <= > >=, not {op}")
        return f"{_NUMBER_ATTRIBUTES[key]} {op} {quote(parser.number())}"
    if key not in _TEXT_ATTRIBUTES:
        raise FilterError(f"attributes.{key}: runs are searched by {', '.join(sorted(_TEXT_ATTRIBUTES | _NUMBER_ATTRIBUTES))}")
    column = _TEXT_ATTRIBUTES[key]
    if op in ("IN", "NOT IN"):
        if key != "run_id":  # MLflow's own rule
            raise FilterError(f"attributes.{key}: only run_id compares with a list (IN, NOT IN)")
        return f"{column} {op} ({', '.join(quote(v) for v in parser.strings())})"
    if op not in _TEXT_OPS:
        raise FilterError(f"attributes.{key}: compare it with = != LIKE ILIKE IN NOT IN, not {op}")
    return _text_test(column, op, parser.string())


def compile_filter(text: str) -> str:
    """An MLflow ``filter_string`` as a SQL condition over ``current_runs`` ('' for no filter)."""
    parser = _Parser(text)
    if not parser.items:
        return ""
    clauses = [_clause(parser)]
    while parser.peek() is not None:
        if not parser.word("AND"):
            token = parser.take("AND")
            raise FilterError(f"{token.text!r} at character {token.at}: clauses are joined by AND "
                              "(MLflow's grammar has no OR)")
        clauses.append(_clause(parser))
    return " AND ".join(f"({c})" for c in clauses)


def compile_order(order_by: list[str]) -> str:
    """MLflow's ``order_by`` list as ORDER BY terms, then MLflow's own tie-break: start time
    (newest first) and run id. A run without the key sorts last in either direction."""
    if not isinstance(order_by, list) or not all(isinstance(o, str) for o in order_by):
        raise FilterError("order_by is a list of strings such as 'metrics.acc DESC'")
    terms = []
    for item in order_by:
        parser = _Parser(item)
        kind, key = parser.reference()
        direction = "DESC" if parser.word("DESC") else "ASC"
        if direction == "ASC":
            parser.word("ASC")
        if parser.peek() is not None:
            raise FilterError(f"order_by {item!r}: expected '<entity>.<key> [ASC|DESC]'")
        if kind == "attribute":
            if key in _NUMBER_ATTRIBUTES:
                column = _NUMBER_ATTRIBUTES[key]
            elif key in _TEXT_ATTRIBUTES:
                column = _TEXT_ATTRIBUTES[key]
            else:
                raise FilterError(f"order_by attributes.{key}: runs are ordered by "
                                  f"{', '.join(sorted(_TEXT_ATTRIBUTES | _NUMBER_ATTRIBUTES))}")
        else:
            column = _lookup(kind, key)[0]
        terms.append(f"isNull({column}) ASC, {column} {direction}")
    terms += ["started_ts DESC", "run_id ASC"]
    return ", ".join(terms)


@dataclass(frozen=True)
class ExperimentClause:
    """One clause of a ``search_experiments`` filter: ``name LIKE 'a%'``, ``tags.team = 'risk'``,
    ``creation_time > 1700000000000``."""
    kind: str  # 'attribute' or 'tag'
    key: str
    op: str
    value: str | float


_EXPERIMENT_TEXT = {"name"}
_EXPERIMENT_NUMBERS = {"creation_time", "last_update_time"}


def experiment_filter(text: str) -> list[ExperimentClause]:
    """MLflow's ``search_experiments`` filter, parsed: clauses joined by AND, on the attributes
    ``name`` (= != LIKE ILIKE), ``creation_time`` and ``last_update_time`` (numbers), and tags
    (= != LIKE ILIKE). An attribute may be written bare (``name = 'x'``)."""
    parser = _Parser(text)
    clauses: list[ExperimentClause] = []
    while parser.peek() is not None:
        if clauses and not parser.word("AND"):
            token = parser.take("AND")
            raise FilterError(f"{token.text!r} at character {token.at}: clauses are joined by AND")
        following = parser.peek(1)
        if following is not None and following.text == ".":
            kind, key = parser.reference()
        else:
            kind, key = "attribute", parser.take("an attribute").text
        if kind not in ("attribute", "tag"):
            raise FilterError(f"experiments are filtered by attributes and tags, not {kind}s")
        op = parser.operator()
        if kind == "attribute" and key in _EXPERIMENT_NUMBERS:
            if op not in _NUMBER_OPS:
                raise FilterError(f"{key}: compare it with = != < <= > >=, not {op}")
            clauses.append(ExperimentClause(kind, key, op, parser.number()))
            continue
        if kind == "attribute" and key not in _EXPERIMENT_TEXT:
            raise FilterError(f"attributes.{key}: experiments are searched by name, creation_time, last_update_time")
        if op not in _TEXT_OPS:
            raise FilterError(f"{key}: compare it with = != LIKE ILIKE, not {op}")
        clauses.append(ExperimentClause(kind, key, op, parser.string()))
    return clauses
