"""Avro schema-resolution check: can a reader with schema R read data written with W?

Used by the compatibility test: every released writer schema (``schemas/released``)
must stay readable by the current schema, so events already on a topic or in a
log never become undecodable. Follows the Avro spec's resolution rules.
"""
from __future__ import annotations

from typing import Any

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


def _collect(node: Any, names: dict[str, Any], namespace: str = "") -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, names, namespace)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed", "error"):
            name = node["name"]
            ns = node.get("namespace", namespace)
            full = name if "." in name or not ns else f"{ns}.{name}"
            names[full] = node
            names.setdefault(full.rsplit(".", 1)[-1], node)
            namespace = full.rsplit(".", 1)[0] if "." in full else ns
        for key in ("fields", "items", "values"):
            if key in node:
                _collect(node[key], names, namespace)
        if isinstance(kind, (dict, list)):
            _collect(kind, names, namespace)
        if "fields" in node:
            for f in node["fields"]:
                _collect(f["type"], names, namespace)


def _resolve(node: Any, names: dict[str, Any]) -> Any:
    if isinstance(node, str) and node in names:
        return names[node]
    if isinstance(node, str) and node.rsplit(".", 1)[-1] in names:
        return names[node.rsplit(".", 1)[-1]]
    if isinstance(node, dict) and isinstance(node.get("type"), (dict, list)) or (
            isinstance(node, dict) and isinstance(node.get("type"), str) and node["type"] in names):
        return _resolve(node["type"], names)
    return node


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "union"
    if isinstance(node, dict):
        return node["type"] if isinstance(node["type"], str) else _kind(node["type"])
    return node


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# fastavro (1.13) resolves schemas only while reading a record and has no static reader/writer check; the Apache
# avro package has one (avro.compatibility) but is not a dependency, so the spec's rules are written out here.
def problems(writer: Any, reader: Any) -> list[str]:
    """Every reason ``reader`` cannot read data written by ``writer`` (empty if compatible)."""
    wn: dict[str, Any] = {}
    rn: dict[str, Any] = {}
    _collect(writer, wn)
    _collect(reader, rn)
    out: list[str] = []
    _check(writer, reader, wn, rn, "$", out, set())
    return out


def _matches(w: Any, r: Any, wn: dict, rn: dict) -> bool:
    return not _check_quiet(w, r, wn, rn)


def _check_quiet(w: Any, r: Any, wn: dict, rn: dict) -> list[str]:
    out: list[str] = []
    _check(w, r, wn, rn, "$", out, set())
    return out


def _check(w: Any, r: Any, wn: dict, rn: dict, path: str, out: list[str], seen: set) -> None:
    w, r = _resolve(w, wn), _resolve(r, rn)
    wk, rk = _kind(w), _kind(r)
    if wk == "union":
        for branch in w:
            _check(branch, r, wn, rn, f"{path}|{_label(branch)}", out, seen)
        return
    if rk == "union":
        if isinstance(w, dict) and "name" in w:
            # Named types resolve to the reader branch of the same name (Avro spec).
            same = [b for b in r if isinstance(_resolve(b, rn), dict)
                    and _short(_resolve(b, rn).get("name", "")) == _short(w["name"])]
            if same:
                _check(w, same[0], wn, rn, path, out, seen)
                return
        if not any(_matches(w, branch, wn, rn) for branch in r):
            out.append(f"{path}: writer type {_label(w)} matches no branch of the reader's union")
        return
    if wk in _PROMOTIONS or wk in ("null", "boolean", "double"):
        if rk != wk and rk not in _PROMOTIONS.get(wk, set()):
            out.append(f"{path}: writer {wk} cannot be read as {rk}")
        return
    if wk != rk:
        out.append(f"{path}: writer {wk} cannot be read as {rk}")
        return
    if wk == "array":
        _check(w["items"], r["items"], wn, rn, f"{path}[]", out, seen)
    elif wk == "map":
        _check(w["values"], r["values"], wn, rn, f"{path}{{}}", out, seen)
    elif wk == "enum":
        missing = set(w["symbols"]) - set(r["symbols"])
        if missing and "default" not in r:
            out.append(f"{path}: enum {r['name']} lost symbols {sorted(missing)}")
    elif wk == "fixed":
        if w.get("size") != r.get("size"):
            out.append(f"{path}: fixed {r['name']} changed size")
    elif wk == "record":
        if _short(w["name"]) != _short(r["name"]) and _short(w["name"]) not in map(_short, r.get("aliases", [])):
            out.append(f"{path}: record {w['name']} cannot be read as {r['name']}")
            return
        key = (w["name"], r["name"])
        if key in seen:
            return
        seen.add(key)
        wfields = {f["name"]: f for f in w["fields"]}
        for f in r["fields"]:
            candidates = [f["name"], *f.get("aliases", [])]
            match = next((wfields[c] for c in candidates if c in wfields), None)
            if match is None:
                if "default" not in f:
                    out.append(f"{path}.{f['name']}: new field in {_short(r['name'])} has no default")
            else:
                _check(match["type"], f["type"], wn, rn, f"{path}.{f['name']}", out, seen)


def _label(node: Any) -> str:
    if isinstance(node, dict):
        return node.get("name", node.get("type")) if isinstance(node.get("type"), str) else "complex"
    return str(node)
