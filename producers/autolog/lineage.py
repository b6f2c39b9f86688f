"""Column lineage, the same for every framework: which output columns came from which inputs.

An output column is derived from the input column it names: exactly (``age``), after a
``stage__`` prefix (``num__age``), or as the longest ``_``-separated prefix (``country_US``
from ``country``, a Spark vector slot ``country_vec_US`` from ``country_vec``). An output
that names no input (``pca0``) is derived from every input. Provenance composes these
edges, so each column knows the source columns it comes from, with the path between them.
How a framework names its outputs stays with its tracker.
"""
from __future__ import annotations

from typing import Protocol, Sequence

MAX_EDGES = 5000
MAX_SOURCES_PER_COLUMN = 64
MAX_MODEL_EDGES = 5000
MAX_EDGES_PER_SOURCE = 20

Provenance = dict[str, tuple[tuple[str, str], ...]]  # column -> ((source column, path), ...)


class Sourced(Protocol):
    """Observed data that can say where each of its columns comes from."""

    def sources(self, column: str) -> tuple[tuple[str, str], ...]: ...


class Featured(Sourced, Protocol):
    columns: Sequence[str]


def derive(input_columns: list[str], output_columns: list[str]) -> dict[str, list[str]]:
    """For each output column, the input columns it was derived from."""
    inputs = set(input_columns)
    everything = list(input_columns)
    out: dict[str, list[str]] = {}
    for name in output_columns:
        out[name] = named_source(name, inputs) or everything
    return out


def named_source(name: str, inputs: set[str]) -> list[str]:
    candidates = [name]
    if "__" in name:
        candidates.append(name.split("__", 1)[1])
    for candidate in candidates:
        if candidate in inputs:
            return [candidate]
    for candidate in candidates:
        parts = candidate.split("_")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = "_".join(parts[:cut])
            if prefix in inputs:
                return [prefix]
    return []


def edges(derivation: dict[str, list[str]]) -> list[dict[str, str]]:
    out = []
    for dst, sources in derivation.items():
        for src in sources:
            if len(out) >= MAX_EDGES:
                return out
            if src != dst:
                out.append({"src": src, "dst": dst, "path": ""})
    return out


def provenance(source: Sourced | None, derivation: dict[str, list[str]]) -> Provenance:
    """Compose: each output column's original sources, with the path through ``source``'s columns.

    Outputs derived from every input (``pca0``…) share one list; its sources are gathered once.
    """
    out: Provenance = {}
    shared: dict[int, tuple[tuple[str, str], ...]] = {}
    for dst, direct in derivation.items():
        gathered = shared.get(id(direct))
        if gathered is None:
            found: dict[str, str] = {}
            for src in direct:
                for origin, path in (source.sources(src) if source is not None else ((src, src),)):
                    found.setdefault(origin, path)
                    if len(found) >= MAX_SOURCES_PER_COLUMN:
                        break
                if len(found) >= MAX_SOURCES_PER_COLUMN:
                    break
            gathered = tuple(found.items())
            if len(direct) > 1:
                shared[id(direct)] = gathered
        out[dst] = tuple((origin, path if path.endswith(f" > {dst}") or path == dst else f"{path} > {dst}")
                         for origin, path in gathered)
    return out


def model_lineage(features: Featured | None) -> list[dict[str, str]]:
    """For a model fitted on ``features``: (source column → feature, path) edges, bounded."""
    if features is None:
        return []
    out: list[dict[str, str]] = []
    per_source: dict[str, int] = {}
    for feature in features.columns:
        for origin, path in features.sources(feature):
            seen = per_source.get(origin, 0)
            if seen >= MAX_EDGES_PER_SOURCE:
                continue
            per_source[origin] = seen + 1
            out.append({"src": origin, "dst": feature, "path": path})
            if len(out) >= MAX_MODEL_EDGES:
                return out
    return out
