"""Observing Spark DataFrames without collecting them.

What the driver reads for free (no Spark job):

* the schema: names, types, and the ``ml_attr`` metadata Spark ML writes on
  vector columns, which names each slot (``age``, ``country_vec_US``);
* the plan and the input files, for the fingerprint.

What runs as Spark jobs, on the cluster, off the user's thread (see
``Observations``), each bounded:

* one aggregate over a *source* frame (one not produced by a tracked stage):
  the row count, per-column count, nulls, min, max, mean, std and
  ``approx_count_distinct`` for the first ``MAX_STATS_COLUMNS`` columns, and an
  order-independent content hash (``count_rows=False`` or
  ``column_stats=False`` turn parts of it off);
* the drill-down sample: the ``SAMPLE_KEYS`` rows whose row key is smallest,
  a top-k over one column. Derived frames select the same keys with a filter
  Spark pushes below the stages, so the same rows appear in every stage.

The row key is ``xxhash64`` over the source frame's atomic columns. Spark ML
stages append columns and keep the old ones, so every derived frame can
compute the same key. ``key_column`` makes a column of the user's the key.

Fingerprints:

* a file source: its plan plus each input file's path, size and modification
  time (method ``files``), no scan;
* an in-memory source: the content hash from the same aggregate as the count
  (method ``content``), or the plan alone when counting is off (``plan``);
* a derived frame: its input's fingerprint plus the stage and its params
  (method ``derived``), so re-running a pipeline on the same data gives the
  same fingerprints.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_STATS_COLUMNS = 50
MAX_COLUMNS = 2000
MAX_SAMPLE_FIELDS = 50
MAX_VECTOR_SAMPLE = 20
SAMPLE_KEYS = 5
CATEGORICAL_MAX_DISTINCT = 50
ATOMIC = ("string", "double", "float", "int", "bigint", "smallint", "tinyint", "boolean", "date", "timestamp",
          "timestamp_ntz", "binary")
_EXPR_ID = re.compile(r"#\d+L?")


@dataclass
class FrameInfo:
    """What the tracker remembers about one observed DataFrame (as long as the DataFrame object lives)."""
    dataframe_id: str
    run_id: str
    fingerprint: str
    columns: list[str]
    key_columns: list[str]  # the source's atomic columns: the row key is xxhash64 over them
    key_column: str | None = None  # a user's key column, used as is
    provenance: dict[str, tuple[tuple[str, str], ...]] | None = None
    slots: dict[str, list[str]] = field(default_factory=dict)  # vector column -> slot names
    categorical: list[str] = field(default_factory=list)
    n_rows: int = -1
    sample_keys: list[str] | None = None  # the source's sampled keys, shared by every derived frame
    source: "FrameInfo | None" = None  # the source frame this one derives from
    sampled_from: "FrameInfo | None" = None  # whose sample keys this frame shows: the source, or a split side

    def sources(self, column: str) -> tuple[tuple[str, str], ...]:
        if self.provenance is None or column not in self.provenance:
            return ((column, column),)
        return self.provenance[column]

    @property
    def root(self) -> "FrameInfo":
        return self.source if self.source is not None else self

    @property
    def sample_root(self) -> "FrameInfo":
        return self.sampled_from if self.sampled_from is not None else self.root


def type_name(data_type: Any) -> str:
    name = data_type.simpleString()
    return "vector" if type(data_type).__name__ == "VectorUDT" else name


def schema_columns(df: Any) -> list[tuple[str, str]]:
    return [(f.name, type_name(f.dataType)) for f in df.schema.fields]


def vector_slots(df: Any) -> dict[str, list[str]]:
    """Vector column -> the name of each slot, from Spark ML's ``ml_attr`` metadata (``col[i]`` when unnamed)."""
    out: dict[str, list[str]] = {}
    for f in df.schema.fields:
        if type(f.dataType).__name__ != "VectorUDT":
            continue
        attr = (f.metadata or {}).get("ml_attr") or {}
        size = attr.get("num_attrs")
        names: dict[int, str] = {}
        for group in (attr.get("attrs") or {}).values():
            for a in group:
                if "idx" in a:
                    names[int(a["idx"])] = str(a.get("name", f"{f.name}[{a['idx']}]"))
        if size is None:
            size = max(names) + 1 if names else 0
        out[f.name] = [names.get(i, f"{f.name}[{i}]") for i in range(int(size))]
    return out


def key_expr(info: FrameInfo) -> Any:
    from pyspark.sql import functions as F

    if info.key_column is not None:
        return F.col(info.key_column).cast("string")
    return F.xxhash64(*[F.col(c) for c in info.key_columns]).cast("string")


def has_key(info: FrameInfo, df_columns: list[str]) -> bool:
    present = set(df_columns)
    if info.key_column is not None:
        return info.key_column in present
    return bool(info.key_columns) and all(c in present for c in info.key_columns)


def plan_text(df: Any) -> str:
    """The analyzed plan without expression ids, which differ between sessions."""
    try:
        return _EXPR_ID.sub("#", df._jdf.queryExecution().analyzed().toString())
    except Exception:  # noqa: BLE001 - Spark Connect frames have no JVM plan here
        return ",".join(f"{n}:{t}" for n, t in schema_columns(df))


def input_file_status(df: Any) -> list[tuple[str, int, int]]:
    """(path, size, modification time) of each input file, read from the file system's metadata."""
    try:
        files = sorted(df.inputFiles())
    except Exception:  # noqa: BLE001
        return []
    if not files:
        return []
    out = []
    try:
        jvm, conf = df.sparkSession._jvm, df.sparkSession._jsc.hadoopConfiguration()
        for path in files[:10_000]:
            p = jvm.org.apache.hadoop.fs.Path(path)
            st = p.getFileSystem(conf).getFileStatus(p)
            out.append((path, int(st.getLen()), int(st.getModificationTime())))
    except Exception:  # noqa: BLE001 - a store without status: the paths alone
        out = [(path, -1, -1) for path in files]
    return out


def digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def stats_job(df: Any, columns: list[tuple[str, str]], key_columns: list[str], *, count_rows: bool,
              column_stats: bool) -> dict[str, Any]:
    """One aggregate over ``df``: the count, column statistics and a content hash. Returns plain values."""
    from pyspark.sql import functions as F

    aggs = []
    if count_rows:
        aggs.append(F.count(F.lit(1)).alias("n"))
        if key_columns:
            h = F.xxhash64(*[F.col(c) for c in key_columns])
            aggs += [F.sum(F.pmod(h, F.lit(16777213))).alias("h_sum"), F.bit_xor(h).alias("h_xor")]
    stat_columns = [(n, t) for n, t in columns if t in ATOMIC][:MAX_STATS_COLUMNS] if column_stats else []
    for i, (name, kind) in enumerate(stat_columns):
        c = F.col(name)
        aggs += [F.count(c).alias(f"c{i}"), F.approx_count_distinct(c, 0.05).alias(f"d{i}")]
        if kind in ("double", "float", "int", "bigint", "smallint", "tinyint"):
            x = c.cast("double")
            aggs += [F.min(x).alias(f"lo{i}"), F.max(x).alias(f"hi{i}"), F.avg(x).alias(f"m{i}"),
                     F.stddev_samp(x).alias(f"s{i}")]
    if not aggs:
        return {"n_rows": -1, "content": None, "stats": {}}
    row = df.agg(*aggs).first().asDict()
    n = row.get("n")
    stats = {}
    for i, (name, kind) in enumerate(stat_columns):
        count = row.get(f"c{i}")
        stats[name] = {
            "count": count, "null_count": (n - count) if n is not None and count is not None else None,
            "distinct_approx": row.get(f"d{i}"), "min": _finite(row.get(f"lo{i}")), "max": _finite(row.get(f"hi{i}")),
            "mean": _finite(row.get(f"m{i}")), "std": _finite(row.get(f"s{i}")), "top_values": [],
        }
    content = [n, row.get("h_sum"), row.get("h_xor")] if "h_sum" in row else None
    return {"n_rows": -1 if n is None else int(n), "content": content, "stats": stats}


def sample_keys(df: Any, info: FrameInfo, k: int = SAMPLE_KEYS) -> list[str]:
    """The ``k`` smallest row keys: one top-k job, five values back to the driver."""
    from pyspark.sql import functions as F

    key = key_expr(info).alias("__modeldb_key")
    rows = df.select(key).where(F.col("__modeldb_key").isNotNull()).orderBy("__modeldb_key").limit(k).collect()
    return [r[0] for r in rows]


def sample_rows(df: Any, info: FrameInfo, keys: list[str]) -> tuple[list[str], list[str]]:
    """The rows with these keys (a filter Spark pushes below the stages), in key order, as JSON."""
    if not keys:
        return [], []
    from pyspark.sql import functions as F

    names = df.columns[:MAX_SAMPLE_FIELDS]
    rows = df.select(key_expr(info).alias("__modeldb_key"), *[F.col(f"`{n}`") for n in names]) \
        .where(F.col("__modeldb_key").isin(keys)).limit(len(keys) * 4).collect()
    by_key: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = r.asDict()
        by_key.setdefault(d.pop("__modeldb_key"), {n: plain(d[n]) for n in names})
    found = [k for k in keys if k in by_key]
    return found, [json.dumps(by_key[k], default=str, allow_nan=False) for k in found]


def plain(value: Any) -> Any:
    """A JSON-able stand-in for a Spark value: vectors as lists (the first slots of a long one)."""
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    to_array = getattr(value, "toArray", None)
    if to_array is not None:
        values = [float(v) for v in to_array()[:MAX_VECTOR_SAMPLE]]
        return [v if math.isfinite(v) else None for v in values]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value[:MAX_VECTOR_SAMPLE]]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in list(value.items())[:MAX_VECTOR_SAMPLE]}
    return str(value)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
