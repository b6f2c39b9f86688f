"""The two pieces of the SQL sandbox that read ClickHouse's output: the ``EXPLAIN AST`` dump as a
tree, and ``system.functions`` as a catalogue of which functions only compute.

The policy that uses them, and why, is in ``sandbox.py``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from modeldb.core.exceptions import ReadOnlyError

READONLY_CODE = 164

SAFE_CATEGORIES = frozenset({
    "Aggregate Functions", "Arithmetic", "Arrays", "Bit", "Bitmap", "Comparison", "Conditional",
    "Dates and Times", "Distance", "Encoding", "Encryption", "Financial", "Geo", "Geo Polygon", "Hash",
    "IP Address", "JSON", "Logical", "Map", "Mathematical", "Null", "NumericIndexedVector", "QBit",
    "Random Number", "Rounding", "String", "String Replacement", "String Search", "String Splitting",
    "Time Window", "Tuple", "Type Conversion", "URL", "UUID",
})
# "Other" mixes pure helpers with functions that read the server; these only compute (or wait:
# sleep is bounded by the time limit).
SAFE_OTHER = frozenset({
    "bar", "byteSize", "countDigits", "currentDatabase", "finalizeAggregation", "formatReadableDecimalSize",
    "formatReadableQuantity", "formatReadableSize", "formatReadableTimeDelta", "identity", "ignore",
    "initializeAggregation", "isConstant", "materialize", "neighbor", "parseReadableSize",
    "parseReadableSizeOrNull", "parseReadableSizeOrZero", "parseTimeDelta", "rowNumberInAllBlocks",
    "rowNumberInBlock", "runningAccumulate", "runningDifference", "runningDifferenceStartingWithFirstValue",
    "sleep", "sleepEachRow", "toColumnTypeName", "toTypeName", "transform", "version", "visibleWidth",
    "MACNumToString", "MACStringToNum", "MACStringToOUI", "blockSize", "throwIf",
})
PARSER_FORMS = frozenset({"lambda", "tuple", "array", "arrayElement", "tupleElement", "in", "notIn",
                          "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn",
                          "and", "or", "not", "CAST", "_CAST", "exists"})
_COMBINATORS = ("SimpleState", "MergeState", "OrDefault", "Distinct", "Resample", "ForEach", "ArgMax", "ArgMin",
                "OrNull", "Tuple", "Merge", "State", "Array", "Null", "Map", "If")


def refuse(what: str) -> ReadOnlyError:
    return ReadOnlyError(f"refused: {what}", READONLY_CODE)


# --- the tree -------------------------------------------------------------------------------------

@dataclass
class Node:
    kind: str
    text: str          # the rest of the line: a name, a literal, "(alias x)" stripped
    children: list["Node"]


_LINE = re.compile(r"^( *)([A-Za-z_]+)(?: (.*))?$")
_CHILDREN = re.compile(r" \(children (\d+)\)$")
_ALIAS = re.compile(r" \(alias [^()]*\)$")


def parse_tree(dump: str) -> Node:
    """The tree from ``EXPLAIN AST`` text, refusing any dump whose structure does not add up."""
    lines = [line for line in dump.split("\n") if line != ""]
    stack: list[tuple[int, Node, int]] = []  # (depth, node, declared children)
    root: Node | None = None
    for line in lines:
        counted = _CHILDREN.search(line)
        declared = int(counted[1]) if counted else 0
        match = _LINE.match(line[:counted.start()] if counted else line)
        if not match:
            raise refuse("the query's syntax tree has a line the sandbox cannot read")
        depth, kind, rest = len(match[1]), match[2], match[3] or ""
        text = _ALIAS.sub("", rest)
        node = Node(kind, text, [])
        while stack and stack[-1][0] >= depth:
            _close(stack.pop())
        if not stack:
            if root is not None or depth != 0:
                raise refuse("the query's syntax tree has more than one root")
            root = node
        else:
            if depth != stack[-1][0] + 1:
                raise refuse("the query's syntax tree is not well nested")
            stack[-1][1].children.append(node)
        stack.append((depth, node, declared))
    while stack:
        _close(stack.pop())
    if root is None:
        raise refuse("the query has no statement")
    return root


def _close(entry: tuple[int, Node, int]) -> None:
    if len(entry[1].children) != entry[2]:
        raise refuse("the query's syntax tree is not well formed")


# --- the function catalogue --------------------------------------------------------------------

@dataclass(frozen=True)
class Catalogue:
    """ClickHouse's own list of functions: name -> (category, is_aggregate), aliases resolved."""

    exact: dict[str, tuple[str, bool]]
    folded: dict[str, tuple[str, bool]]  # case-insensitive functions, by lower-case name

    @classmethod
    def load(cls, rows: list[list[str]]) -> "Catalogue":
        raw = {r[0]: r for r in rows}  # name, is_aggregate, case_insensitive, alias_to, categories, origin
        exact, folded = {}, {}
        for name, (_, aggregate, insensitive, alias_to, category, origin) in raw.items():
            if origin != "System":
                continue
            target = raw.get(alias_to) if alias_to else None
            if target is not None:
                category, aggregate = target[4], target[1]
            entry = (category, aggregate == "1")
            exact[name] = entry
            if insensitive == "1":
                folded[name.lower()] = entry
        return cls(exact, folded)

    def lookup(self, name: str) -> tuple[str, bool] | None:
        return self.exact.get(name) or self.folded.get(name.lower())

    def allows(self, name: str) -> bool:
        if name in PARSER_FORMS or name in SAFE_OTHER:
            return True
        entry = self.lookup(name)
        if entry is not None:
            return entry[0] in SAFE_CATEGORIES
        base = _strip_combinators(name, self)
        return base is not None and base[0] in SAFE_CATEGORIES


def _strip_combinators(name: str, catalogue: Catalogue) -> tuple[str, bool] | None:
    """An aggregate function with combinator suffixes (``argMaxIf``): its base function's entry."""
    for suffix in _COMBINATORS:
        if name.endswith(suffix) and len(name) > len(suffix):
            head = name[: -len(suffix)]
            entry = catalogue.lookup(head)
            if entry is not None and entry[1]:
                return entry
            found = _strip_combinators(head, catalogue)
            if found is not None:
                return found
    return None
