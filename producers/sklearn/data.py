"""Observing data: fingerprints, columns, cheap statistics, row keys and samples.

Supports numpy arrays, pandas DataFrames and Series, scipy sparse matrices and
plain sequences (a list of documents for a text vectorizer).

Fingerprint (blake2b-128 over shape, dtypes, column names and values):

* data up to ``FULL_HASH_BYTES`` (32 MiB) is hashed in full (method ``full``);
* larger data is hashed over ``SAMPLE_ROWS`` (4,096) evenly spaced rows,
  always including the first and the last, plus the shape and column names
  (method ``sampled:4096``). Two datasets with the same shape whose sampled
  rows are equal get the same fingerprint; the cost is independent of size.

Statistics are exact for data hashed in full with at most 100,000 rows, and
computed over the same 4,096 sampled rows otherwise; ``distinct_approx`` always counts over at most 4,096
rows. Only the first ``MAX_STATS_COLUMNS`` columns get statistics, and only
the first ``MAX_COLUMNS`` are listed (``n_columns`` has the full width).

Row keys identify rows across stages: the pandas index, or row positions,
carried through transforms (same rows, same order) and splits (the chosen
positions). The drill-down sample is the ``SAMPLE_KEYS`` rows whose keys hash
lowest, so a row sampled upstream stays sampled in every later stage and in
whichever side of a split it lands. A sample row keeps at most ``MAX_SAMPLE_FIELDS`` fields: the first
ones of a frame or a narrow array, the non-zero ones of a sparse matrix or a wider numeric array (what
an encoder set), so the drill-down can show what each stage added.
"""
from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from modeldb.producers.autolog.lineage import Provenance

FULL_HASH_BYTES = 32 << 20
SAMPLE_ROWS = 4096
STATS_FULL_ROWS = 100_000
SAMPLE_KEYS = 5
MAX_COLUMNS = 2000
MAX_STATS_COLUMNS = 200
MAX_SAMPLE_FIELDS = 50
TOP_VALUES = 5

@dataclass
class DataInfo:
    """What the tracker remembers about one observed dataset (alive as long as the data is)."""
    dataframe_id: str
    run_id: str
    fingerprint: str
    n_rows: int
    columns: list[str]
    keys: Any = None  # row keys aligned with rows; None means positions 0..n-1
    provenance: Provenance | None = None  # None: every column is its own source
    categorical: list[str] = field(default_factory=list)

    def key_array(self) -> np.ndarray:
        return np.arange(self.n_rows) if self.keys is None else np.asarray(self.keys)

    def sources(self, column: str) -> tuple[tuple[str, str], ...]:
        if self.provenance is None or column not in self.provenance:
            return ((column, column),)
        return self.provenance[column]


def kind_of(obj: Any) -> str | None:
    module = type(obj).__module__
    if isinstance(obj, np.ndarray):
        return "ndarray"
    if module.startswith("pandas"):
        name = type(obj).__name__
        return {"DataFrame": "frame", "Series": "series"}.get(name)
    if module.startswith("scipy.sparse") and hasattr(obj, "tocsr"):
        return "sparse"
    if isinstance(obj, (list, tuple)) and obj:
        return "sequence"
    return None


def n_rows_of(obj: Any) -> int:
    shape = getattr(obj, "shape", None)
    return int(shape[0]) if shape else len(obj)


# -- fingerprint ---------------------------------------------------------------

def _sample_positions(n: int) -> np.ndarray | None:
    if n <= SAMPLE_ROWS:
        return None
    return np.unique(np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64))


def _hash_values(h: "hashlib._Hash", values: np.ndarray) -> None:
    if values.dtype.kind in "biufcmM":
        h.update(np.ascontiguousarray(values).view(np.uint8).reshape(-1) if values.size else b"")
    else:
        import pandas as pd

        h.update(pd.util.hash_array(np.asarray(values, dtype=object).reshape(-1)).tobytes())


@dataclass
class Frame:
    """A uniform view of one dataset: columns, dtypes and a way to read (sampled) rows."""
    kind: str
    n_rows: int
    names: list[str]
    dtypes: list[str]
    nbytes: int
    columns: Callable[[np.ndarray | None], list[np.ndarray]]  # positions -> one array per column (stats width)
    rows: Callable[[np.ndarray], list[dict[str, Any]]]  # positions -> row dicts (sample)
    hash_into: Callable[["hashlib._Hash", np.ndarray | None], None]
    index: Any = None


def view(obj: Any, kind: str, names: list[str] | None) -> Frame:
    if kind == "frame":
        return _frame_view(obj)
    if kind == "series":
        return _series_view(obj, names)
    if kind == "sparse":
        return _sparse_view(obj, names)
    if kind == "sequence":
        return _array_view(np.asarray(obj, dtype=object), names)
    return _array_view(obj, names)


def _frame_view(df: Any) -> Frame:
    names = [str(c) for c in df.columns]
    dtypes = [str(t) for t in df.dtypes]

    def columns(pos: np.ndarray | None) -> list[np.ndarray]:
        part = df.iloc[:, :MAX_STATS_COLUMNS]
        if pos is not None:
            part = part.iloc[pos]
        return [part.iloc[:, i].to_numpy() for i in range(part.shape[1])]

    def rows(pos: np.ndarray) -> list[dict[str, Any]]:
        part = df.iloc[pos, :MAX_SAMPLE_FIELDS]
        return [dict(zip(names, (_plain(v) for v in values))) for values in part.itertuples(index=False, name=None)]

    def hash_into(h: Any, pos: np.ndarray | None) -> None:
        part = df if pos is None else df.iloc[pos]
        for i in range(part.shape[1]):
            _hash_values(h, part.iloc[:, i].to_numpy())

    nbytes = int(df.memory_usage(index=False, deep=False).sum())
    return Frame("frame", len(df), names, dtypes, nbytes, columns, rows, hash_into, df.index)


def _series_view(s: Any, names: list[str] | None) -> Frame:
    name = names[0] if names else (str(s.name) if s.name is not None else "y")
    values = s.to_numpy()
    frame = _array_view(values, [name])
    frame.kind, frame.index = "series", s.index
    frame.dtypes = [str(s.dtype)]
    return frame


def _array_view(a: np.ndarray, names: list[str] | None) -> Frame:
    two_d = a.ndim >= 2
    width = int(np.prod(a.shape[1:])) if two_d else 1
    flat = a.reshape(a.shape[0], width) if two_d and a.ndim > 2 else a
    if names is None or len(names) != width:
        names = [f"x{i}" for i in range(width)] if two_d else ["y"]

    def columns(pos: np.ndarray | None) -> list[np.ndarray]:
        part = flat if pos is None else flat[pos]
        if not two_d:
            return [part]
        return [part[:, i] for i in range(min(width, MAX_STATS_COLUMNS))]

    def rows(pos: np.ndarray) -> list[dict[str, Any]]:
        part = flat[pos]
        if not two_d:
            return [{names[0]: _plain(v)} for v in part]
        if width <= MAX_SAMPLE_FIELDS or part.dtype.kind not in "biuf":
            return [dict(zip(names, (_plain(v) for v in r[:MAX_SAMPLE_FIELDS]))) for r in part]
        # wider than a sample row holds: its non-zero fields, as a sparse row shows, so the one-hot slot
        # that is set (say, column 120 of an encoded matrix) is kept wherever it is
        return [{names[i]: _plain(r[i]) for i in np.flatnonzero(r)[:MAX_SAMPLE_FIELDS]} for r in part]

    def hash_into(h: Any, pos: np.ndarray | None) -> None:
        _hash_values(h, flat if pos is None else flat[pos])

    dtype = str(a.dtype)
    return Frame("ndarray", a.shape[0], names, [dtype] * width, int(a.nbytes), columns, rows, hash_into)


def _sparse_view(m: Any, names: list[str] | None) -> Frame:
    csr = m.tocsr()
    width = csr.shape[1]
    if names is None or len(names) != width:
        names = [f"x{i}" for i in range(width)]

    def columns(pos: np.ndarray | None) -> list[np.ndarray]:
        part = csr if pos is None else csr[pos]
        part = part[:, :MAX_STATS_COLUMNS].toarray()
        return [part[:, i] for i in range(part.shape[1])]

    def rows(pos: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for p in pos:  # indptr slicing: works for csr_matrix and csr_array alike
            start, end = csr.indptr[int(p)], csr.indptr[int(p) + 1]
            pairs = sorted(zip(csr.indices[start:end].tolist(), csr.data[start:end].tolist()))[:MAX_SAMPLE_FIELDS]
            out.append({names[i]: _plain(v) for i, v in pairs})
        return out

    def hash_into(h: Any, pos: np.ndarray | None) -> None:
        part = csr if pos is None else csr[pos]
        part = part.copy()
        part.sort_indices()
        for arr in (part.indptr, part.indices, part.data):
            _hash_values(h, arr)

    nbytes = int(csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes)
    return Frame("sparse", csr.shape[0], names, [str(csr.dtype)] * width, nbytes, columns, rows, hash_into)


def fingerprint(frame: Frame) -> tuple[str, str]:
    pos = None if frame.nbytes <= FULL_HASH_BYTES else _sample_positions(frame.n_rows)
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([frame.kind, frame.n_rows, frame.names, frame.dtypes]).encode())
    frame.hash_into(h, pos)
    return h.hexdigest(), "full" if pos is None else f"sampled:{SAMPLE_ROWS}"


# -- statistics ----------------------------------------------------------------

def column_stats(frame: Frame, sampled: bool) -> list[dict[str, Any] | None]:
    pos = _sample_positions(frame.n_rows) if sampled else None
    distinct_pos = _sample_positions(frame.n_rows)
    out: list[dict[str, Any] | None] = []
    columns = frame.columns(pos)
    distinct_columns = columns if distinct_pos is None or pos is not None else frame.columns(distinct_pos)
    with warnings.catch_warnings():  # pandas/numpy deprecation noise must not reach the user's output
        warnings.simplefilter("ignore")
        for values, few in zip(columns, distinct_columns):
            out.append(_stats(values, few))
    return out


def _stats(values: np.ndarray, few: np.ndarray) -> dict[str, Any]:
    stats: dict[str, Any] = {"count": None, "null_count": None, "distinct_approx": None, "min": None, "max": None,
                             "mean": None, "std": None, "top_values": []}
    if values.dtype.kind in "biuf":
        as_float = values.astype(np.float64, copy=False)
        nulls = int(np.isnan(as_float).sum()) if values.dtype.kind == "f" else 0
        stats["null_count"], stats["count"] = nulls, int(values.shape[0] - nulls)
        if stats["count"]:
            finite = as_float if not nulls else as_float[~np.isnan(as_float)]
            with np.errstate(all="ignore"):
                stats.update(min=_finite(finite.min()), max=_finite(finite.max()), mean=_finite(finite.mean()),
                             std=_finite(finite.std()))
        stats["distinct_approx"] = int(np.unique(few).shape[0])
        return stats
    import pandas as pd

    series = pd.Series(few.astype(object) if few.dtype.kind not in "OSU" else few)
    nulls = int(pd.isna(values).sum()) if values.dtype.kind in "O" else 0
    stats["null_count"], stats["count"] = nulls, int(values.shape[0] - nulls)
    counts = series.value_counts(dropna=True)
    stats["distinct_approx"] = int(counts.shape[0])
    stats["top_values"] = [str(v)[:100] for v in counts.index[:TOP_VALUES]]
    return stats


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


# -- sample rows -----------------------------------------------------------------

def _key_hashes(keys: np.ndarray) -> np.ndarray:
    if keys.dtype.kind in "iu":
        x = keys.astype(np.uint64)
        with np.errstate(over="ignore"):  # splitmix64 finaliser
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return x ^ (x >> np.uint64(31))
    import pandas as pd

    return pd.util.hash_array(np.asarray(keys, dtype=object))


@lru_cache(maxsize=16)
def positional_sample(n: int) -> np.ndarray:
    """``sample_positions(arange(n))``, cached: most data is keyed by position."""
    positions = sample_positions(np.arange(n))
    positions.flags.writeable = False
    return positions


def sample_positions(keys: np.ndarray, k: int = SAMPLE_KEYS) -> np.ndarray:
    """Positions of the ``k`` rows whose keys hash lowest (a bottom-k sample, stable under subsetting)."""
    if keys.shape[0] <= k:
        return np.arange(keys.shape[0])
    hashes = _key_hashes(keys)
    pos = np.argpartition(hashes, k)[:k]
    return pos[np.argsort(hashes[pos], kind="stable")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"
