"""Observing Spark DataFrames without collecting them.

What the driver reads for free (no Spark job):

* the schema: names, types, and the ``ml_attr`` metadata Spark ML writes on
  vector columns, which names each slot (``age``, ``country_vec_US``); sample
  rows carry a named vector as ``{slot name: value}`` (``rows_json``);
* the plan and the input files, for the fingerprint.

What runs as Spark jobs, on the cluster, on the tracker's background thread,
each bounded:

* for a *source* frame (one no tracked stage produced): one pass for the row
  count and an order-independent content hash (``count_job``); one for column
  statistics over at most ``STATS_ROWS`` rows chosen by key hash
  (``stats_job``); one filter that brings the ``CANDIDATES`` rows with the
  smallest keys, and nothing else, to the driver (``sample_candidates``);
* for each side of a split of at most ``EXACT_SPLIT_ROWS`` rows: one pass for
  its count and for which of the parent's candidates landed in it.

A stage's output needs no job: it keeps its input's count, and shows the
same rows, computed by applying the stage to the input's sample rows as a
tiny local DataFrame (``small_frame``, ``collect_keyed``).

The row key is ``xxhash64`` over the source frame's atomic columns. Spark ML
stages append columns and keep the old ones, so every derived frame can
compute the same key. ``key_column`` makes a column of the user's the key.

Fingerprints:

* a file source: its plan plus each input file's path, size and modification
  time (method ``files``), no scan;
* an in-memory source: the content hash from the count's pass (method
  ``content``), or the plan alone when counting is off (``plan``);
* a derived frame: its input's fingerprint plus the stage, its params and
  (for a fitted model) the fingerprint of the data it was fitted on (method
  ``derived``), so re-running a pipeline on the same data gives the same
  fingerprints.
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
CANDIDATES = 50  # sampled at a source, so that each side of a split still shows rows of its own
STATS_ROWS = 100_000  # column statistics cover at most about this many rows, chosen by key hash
EXACT_SPLIT_ROWS = 200_000  # split sides of bigger data get an estimated count and no sample of their own
CATEGORICAL_MAX_DISTINCT = 50
NUMERIC = ("double", "float", "int", "bigint", "smallint", "tinyint")
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
    numeric: list[str] = field(default_factory=list)  # the source's numeric columns (slices such as age > 60)
    n_rows: int = -1
    candidates: list[tuple[Any, list]] | None = None  # sampled (key, row values), smallest keys first
    sample_df: Any = None  # the shown sample rows as a tiny local DataFrame, to apply the next stage to
    source: "FrameInfo | None" = None  # the source frame this one derives from

    def sources(self, column: str) -> tuple[tuple[str, str], ...]:
        if self.provenance is None or column not in self.provenance:
            return ((column, column),)
        return self.provenance[column]

    @property
    def root(self) -> "FrameInfo":
        return self.source if self.source is not None else self


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
        return F.col(f"`{info.key_column}`").cast("string")
    return F.xxhash64(*[F.col(f"`{c}`") for c in info.key_columns])  # a long: cheap to compare and filter


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


def count_job(df: Any, info: FrameInfo, *, candidates: list[Any] = ()) -> dict[str, Any]:
    """One pass: the row count, an order-independent content hash, and which ``candidates`` keys are present."""
    from pyspark.sql import functions as F

    aggs = [F.count(F.lit(1)).alias("n")]
    if info.key_columns:
        h = F.xxhash64(*[F.col(c) for c in info.key_columns])
        aggs += [F.sum(F.pmod(h, F.lit(16777213))).alias("h_sum"), F.bit_xor(h).alias("h_xor")]
    if candidates:
        key = key_expr(info)
        aggs.append(F.collect_set(F.when(key.isin(list(candidates)), key)).alias("present"))
    row = df.agg(*aggs).first().asDict()
    content = [row["n"], row.get("h_sum"), row.get("h_xor")] if "h_sum" in row else None
    return {"n_rows": int(row["n"]), "content": content, "present": set(row.get("present") or ())}


def stats_job(df: Any, columns: list[tuple[str, str]], info: FrameInfo, n_rows: int) -> tuple[dict, int]:
    """Per-column statistics over at most ``STATS_ROWS`` rows chosen by key hash (all rows when fewer):
    count, nulls, min, max, mean, std, approximate distinct values. Returns (stats, rows they cover)."""
    from pyspark.sql import functions as F

    stat_columns = [(n, t) for n, t in columns if t in ATOMIC][:MAX_STATS_COLUMNS]
    if not stat_columns:
        return {}, 0
    step = max(1, -(-n_rows // STATS_ROWS)) if n_rows > 0 else 1
    data = df
    if step > 1 and info.key_columns:
        data = df.where(F.pmod(F.xxhash64(*[F.col(c) for c in info.key_columns]), F.lit(step)) == 0)
    aggs = [F.count(F.lit(1)).alias("n")]
    for i, (name, kind) in enumerate(stat_columns):
        c = F.col(f"`{name}`")
        aggs += [F.count(c).alias(f"c{i}"), F.approx_count_distinct(c, 0.05).alias(f"d{i}")]
        if kind in ("double", "float", "int", "bigint", "smallint", "tinyint"):
            x = c.cast("double")
            aggs += [F.min(x).alias(f"lo{i}"), F.max(x).alias(f"hi{i}"), F.avg(x).alias(f"m{i}"),
                     F.stddev_samp(x).alias(f"s{i}")]
    row = data.agg(*aggs).first().asDict()
    covered = int(row["n"])
    stats = {}
    for i, (name, kind) in enumerate(stat_columns):
        count = row.get(f"c{i}")
        stats[name] = {
            "count": count, "null_count": covered - count if count is not None else None,
            "distinct_approx": row.get(f"d{i}"), "min": _finite(row.get(f"lo{i}")), "max": _finite(row.get(f"hi{i}")),
            "mean": _finite(row.get(f"m{i}")), "std": _finite(row.get(f"s{i}")), "top_values": [],
        }
    return stats, covered


def sample_candidates(df: Any, info: FrameInfo, n_rows: int, k: int = CANDIDATES) -> list[tuple[Any, list]]:
    """The rows with the ``k`` smallest keys; only those rows come back to the driver.

    With a known row count and a hashed key this is a filter (keys below a threshold that keeps
    about ``4 k`` rows), not a sort; otherwise a top-k.
    """
    from pyspark.sql import functions as F

    key = key_expr(info).alias("__modeldb_key")
    rows_df = df.select(key, *[F.col(f"`{n}`") for n in df.columns]).where(F.col("__modeldb_key").isNotNull())
    if info.key_column is None and n_rows > 8 * k:
        threshold = int(-(1 << 63) + min(1.0, 4 * k / n_rows) * float(1 << 64))
        rows = rows_df.where(F.col("__modeldb_key") <= F.lit(threshold)).collect()
        if len(rows) >= k:
            return sorted(((r[0], list(r)[1:]) for r in rows), key=lambda kv: kv[0])[:k]
    rows = rows_df.orderBy("__modeldb_key").limit(k).collect()
    return [(r[0], list(r)[1:]) for r in rows]


def collect_keyed(small: Any, info: FrameInfo) -> list[tuple[Any, list]]:
    """(key, values) of every row of a tiny DataFrame (a sample with a stage applied), in key order."""
    from pyspark.sql import functions as F

    rows = small.select(key_expr(info).alias("__modeldb_key"), *[F.col(f"`{n}`") for n in small.columns]).collect()
    return sorted(((r[0], list(r)[1:]) for r in rows), key=lambda kv: kv[0])


def small_frame(spark: Any, schema: Any, rows: list[tuple[Any, list]]) -> Any:
    """The sampled rows as a local DataFrame with this schema (and so its ML metadata)."""
    return spark.createDataFrame([tuple(values) for _, values in rows], schema=schema)


def rows_json(names: list[str], rows: list[tuple[Any, list]], slots: dict[str, list[str]] | None = None,
              added: Any = ()) -> list[str]:
    """The sample rows as JSON objects, for the drill-down.

    A vector whose slots are named (``slots``, from ``ml_attr``) becomes ``{slot name: value}``, so
    the drill-down can say ``features[country_vec_US]`` rather than ``features[5]``. At most
    ``MAX_SAMPLE_FIELDS`` fields are kept, the ``added`` ones (the columns the stages appended to
    the source) first: a wide source would otherwise push every derived column out of the sample.
    """
    slots = slots or {}
    kept = _kept_fields(names, set(added))
    return [json.dumps({n: plain(v, slots.get(n)) for n, v in zip(names, values) if n in kept}, default=str,
                       allow_nan=False) for _, values in rows]


def _kept_fields(names: list[str], added: set[str]) -> set[str]:
    if len(names) <= MAX_SAMPLE_FIELDS:
        return set(names)
    ordered = [n for n in names if n in added] + [n for n in names if n not in added]
    return set(ordered[:MAX_SAMPLE_FIELDS])


def plain(value: Any, slot_names: list[str] | None = None) -> Any:
    """A JSON-able stand-in for a Spark value: vectors as lists (the first slots of a long one), or as
    ``{slot name: value}`` when ``slot_names`` names every slot."""
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    to_array = getattr(value, "toArray", None)
    if to_array is not None:
        if slot_names and len(slot_names) == int(getattr(value, "size", -1)):
            return _named_slots(value, slot_names)
        values = [float(v) for v in to_array()[:MAX_VECTOR_SAMPLE]]
        return [v if math.isfinite(v) else None for v in values]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value[:MAX_VECTOR_SAMPLE]]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in list(value.items())[:MAX_VECTOR_SAMPLE]}
    return str(value)


def _named_slots(vector: Any, names: list[str]) -> dict[str, float | None]:
    """Every slot of a short vector; of a long one, its non-zero slots (the one-hot slot that is set,
    wherever it is), at most ``MAX_VECTOR_SAMPLE``. A sparse vector is read by its indices, never densified."""
    if hasattr(vector, "indices"):  # SparseVector
        pairs = list(zip(vector.indices.tolist(), vector.values.tolist()))
        if len(names) <= MAX_VECTOR_SAMPLE:
            stored = dict(pairs)
            pairs = [(i, stored.get(i, 0.0)) for i in range(len(names))]
    else:
        array = vector.toArray()
        pairs = [(i, array[i]) for i in range(len(names)) if len(names) <= MAX_VECTOR_SAMPLE or array[i] != 0]
    out: dict[str, float | None] = {}
    for i, v in pairs[:MAX_VECTOR_SAMPLE]:
        v = float(v)
        out[names[int(i)]] = v if math.isfinite(v) else None
    return out


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
