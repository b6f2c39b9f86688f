"""The best model on a slice: "Which model performed best on American customers?" or "… on wines with proline > 1000?"

Prediction rows carry the values of their slice columns as text (``slice_keys`` / ``slice_values``):
a categorical column's value, or a numeric column's value written as a number. A slice predicate
is parsed here, deny-by-default, by a small grammar, and compiled to SQL: nothing of the user's text
reaches the warehouse except through ``quote``.

    predicate  := or
    or         := and ("OR" and)*
    and        := not ("AND" not)*
    not        := "NOT" not | "(" or ")" | "1" | comparison
    comparison := column ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") literal
                | column ["NOT"] "IN" "(" literal ("," literal)* ")"
                | column ["NOT"] "BETWEEN" number "AND" number
                | column ["NOT"] "LIKE" string
                | column "IS" ["NOT"] "NULL"
    column     := name | `back-quoted name`      (a slice column of the project)
    literal    := number | 'string'

Compared with a number, a column is read as a number (``toFloat64OrNull``), so ``age > 60`` and
``proline >= 1000.5`` work on numeric columns; compared with a string, as text (``country = 'US'``).
A row without a value for the column (or whose value is not a number, in a numeric comparison) does
not match. Anything else (a function call, a subquery, an unknown column, ``;``) is refused with a
``SliceError`` that names the problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modeldb.warehouse.base import Warehouse, bind, quote
from modeldb.warehouse.queries.base import MODEL_ATTRIBUTES, render
from modeldb.warehouse.queries.filters import FilterError

METRICS = {
    "accuracy": ("avg(prediction = label)", False),
    "error_rate": ("avg(prediction != label)", True),
    "rmse": ("sqrt(avg(pow(prediction_num - label_num, 2)))", True),
    "mae": ("avg(abs(prediction_num - label_num))", True),
}
MAX_PREDICATE = 4000
MAX_DEPTH = 50


class SliceError(FilterError):
    """A slice predicate that cannot be used; the message says why and where."""


def slice_columns(warehouse: Warehouse, project: str) -> dict[str, bool]:
    """Slice column -> whether all its values are numeric."""
    rows = warehouse.query(render("""
        SELECT k, min(isNotNull(toFloat64OrNull(v))) AS numeric
        FROM {db}.predictions
        ARRAY JOIN slice_keys AS k, slice_values AS v
        WHERE project = %(project)s
        GROUP BY k
        ORDER BY k""", warehouse), {"project": project}).rows
    return {k: bool(numeric) for k, numeric in rows}


# -- the predicate language ------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>`(?:[^`\\]|\\.)+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)
)""", re.X)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "IS", "NULL"}
_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, keyword, op, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise SliceError(f"unexpected {text[at:].strip()[:20]!r} at character {at + 1} of {text!r}")
        kind = match.lastgroup or ""
        value, start = match[kind], match.start(kind)
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        out.append(_Token(kind, value, start))
        at = match.end()
    out.append(_Token("end", "", len(text)))
    return out


def _string(token: _Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)|''", lambda m: m[1] if m[1] is not None else "'", body)


def _name(token: _Token) -> str:
    return re.sub(r"\\(.)", r"\1", token.text[1:-1]) if token.kind == "quoted" else token.text


class _Parser:
    """Recursive descent over the tokens; ``column(name, numeric)`` turns a slice column into SQL."""

    def __init__(self, text: str, known: dict[str, str]):
        self.text, self.known, self.tokens, self.i = text, known, _tokens(text), 0
        self.used: dict[str, str] = {}  # the slice columns the predicate names -> their aliases

    def parse(self) -> str:
        sql = self._or(0)
        if self._peek().kind != "end":
            self._fail("expected AND, OR or the end")
        return sql

    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _fail(self, expected: str) -> None:
        token = self._peek()
        found = "the end" if token.kind == "end" else repr(token.text)
        raise SliceError(f"{expected}, found {found} at character {token.at + 1} of {self.text!r}")

    def _keyword(self, word: str) -> bool:
        if self._peek().kind == "keyword" and self._peek().text == word:
            self.i += 1
            return True
        return False

    def _op(self, op: str) -> bool:
        if self._peek().kind == "op" and self._peek().text == op:
            self.i += 1
            return True
        return False

    def _or(self, depth: int) -> str:
        parts = [self._and(depth)]
        while self._keyword("OR"):
            parts.append(self._and(depth))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self, depth: int) -> str:
        parts = [self._not(depth)]
        while self._keyword("AND"):
            parts.append(self._not(depth))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise SliceError(f"a slice predicate nests at most {MAX_DEPTH} deep")
        if self._keyword("NOT"):
            return f"NOT ({self._not(depth + 1)})"
        if self._op("("):
            inner = self._or(depth + 1)
            if not self._op(")"):
                self._fail("expected ')'")
            return f"({inner})"
        token, after = self._peek(), self.tokens[min(self.i + 1, len(self.tokens) - 1)]
        if token.kind == "number" and token.text in ("1", "0") and (
                after.kind == "end" or after.text in ("AND", "OR", ")")):
            self.i += 1
            return token.text  # 1: every row, 0: none
        return self._comparison()

    def _column(self) -> str:
        token = self._take()
        if token.kind not in ("name", "quoted"):
            self.i -= 1
            self._fail("expected a slice column")
        name = _name(token)
        if name not in self.known:
            listed = ", ".join(self.known) or "none (no labelled prediction rows with slice columns in this project)"
            raise SliceError(f"the slice predicate {self.text!r} names {name!r}, a column the stored predictions do "
                             f"not have; slice columns of this project: {listed}")
        self.used[name] = self.known[name]
        return self.known[name]

    def _literal(self) -> tuple[str, bool]:
        token = self._take()
        if token.kind == "number":
            return quote(float(token.text)), True
        if token.kind == "string":
            return quote(_string(token)), False
        self.i -= 1
        self._fail("expected a number or a 'quoted string'")
        raise AssertionError  # unreachable: _fail raises

    def _comparison(self) -> str:  # size: one branch per form of the grammar's comparison
        column = self._column()
        negate = self._keyword("NOT")
        token = self._peek()
        if not negate and self._keyword("IS"):
            negated = self._keyword("NOT")
            if not self._keyword("NULL"):
                self._fail("expected NULL")
            return f"({column} {'!=' if negated else '='} '')"  # a row without a value has ''
        if self._keyword("IN"):
            if not self._op("("):
                self._fail("expected '(' after IN")
            values = [self._literal()]
            while self._op(","):
                values.append(self._literal())
            if not self._op(")"):
                self._fail("expected ',' or ')'")
            kinds = {numeric for _, numeric in values}
            if len(kinds) > 1:
                raise SliceError(f"IN mixes numbers and strings in {self.text!r}")
            target = _typed(column, kinds.pop())
            return f"({target} {'NOT IN' if negate else 'IN'} ({', '.join(v for v, _ in values)}))"
        if self._keyword("BETWEEN"):
            low, low_numeric = self._literal()
            if not self._keyword("AND"):
                self._fail("expected AND in BETWEEN")
            high, high_numeric = self._literal()
            if low_numeric != high_numeric:
                raise SliceError(f"BETWEEN mixes a number and a string in {self.text!r}")
            target = _typed(column, low_numeric)
            return f"({'NOT ' if negate else ''}({target} >= {low} AND {target} <= {high}))"
        if self._keyword("LIKE"):
            pattern, numeric = self._literal()
            if numeric:
                raise SliceError(f"LIKE takes a 'quoted pattern' in {self.text!r}")
            return f"({column} {'NOT LIKE' if negate else 'LIKE'} {pattern})"
        if negate or token.kind != "op" or token.text not in _COMPARISONS:
            self._fail("expected a comparison (=, !=, <, <=, >, >=, IN, BETWEEN, LIKE or IS NULL)")
        self.i += 1
        value, numeric = self._literal()
        return f"({_typed(column, numeric)} {_COMPARISONS[token.text]} {value})"


def _typed(column: str, numeric: bool) -> str:
    return f"toFloat64OrNull({column})" if numeric else column


def compile_predicate(predicate: str, columns: list[str]) -> tuple[str, dict[str, str]]:
    """``(sql, {column: alias})``: the predicate as SQL over the aliases ``s0, s1, …`` of the slice
    columns it names (each the row's value as text)."""
    if not isinstance(predicate, str) or not predicate.strip():
        raise SliceError("give a slice predicate such as \"country = 'US'\" or 'age > 60' (or '1' for all rows)")
    if len(predicate) > MAX_PREDICATE:
        raise SliceError(f"a slice predicate has at most {MAX_PREDICATE} characters")
    parser = _Parser(predicate, {name: f"s{i}" for i, name in enumerate(columns)})
    return parser.parse(), parser.used

def best_on_slice(warehouse: Warehouse, project: str, predicate: str = "1", metric: str = "accuracy",
                  min_rows: int = 1, limit: int = 20) -> Any:
    """Every model with labelled predictions in ``project``, ranked by ``metric`` on the rows matching ``predicate``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    condition, used = compile_predicate(predicate, list(slice_columns(warehouse, project)))
    exposed = "".join(f", argMax(slice_values[indexOf(slice_keys, {quote(name)})], ver) AS {alias}"
                      for name, alias in used.items())
    expression, lower_is_better = METRICS[metric]
    sql = bind(render(f"""
        SELECT model_id, operator_class, run_id, parent_model_id, rows, {metric}
        FROM (
            SELECT model_id, count() AS rows, {expression} AS {metric}
            FROM (
                SELECT model_id, dataframe_id, key,
                       argMax(prediction, ver) AS prediction, argMax(label, ver) AS label,
                       argMax(prediction_num, ver) AS prediction_num, argMax(label_num, ver) AS label_num
                       {exposed}
                FROM {{db}}.predictions
                WHERE project = %(project)s AND has_label = 1
                GROUP BY model_id, dataframe_id, key
            )
            WHERE __PREDICATE__
            GROUP BY model_id
            HAVING rows >= %(min_rows)s
        ) AS scored
        ANY LEFT JOIN {MODEL_ATTRIBUTES} USING model_id
        ORDER BY {metric} {'ASC' if lower_is_better else 'DESC'}, model_id
        LIMIT %(limit)s""", warehouse), {"project": project, "min_rows": int(min_rows), "limit": int(limit)})
    return warehouse.query(sql.replace("__PREDICATE__", condition)).to_pandas()
