"""The ``metrics`` rows of a processor batch, kept as columns for a columnar insert.

Single points (``MetricLogged``) are appended as row tuples, the cheapest per event. A batch of
points (``MetricsLogged``) is kept as it came: its columns and its indexes into its names and
links, with no per-point work at all until the insert. Then a backend takes the batch in the
form it reads fastest (``warehouse.base.ColumnBatch``):

- ``lists()``: one Python list per column (clickhouse-driver's columnar insert);
- ``arrow()``: a pyarrow Table built with numpy and Arrow's compute kernels, no Python object per
  point (chDB reads it through its ``Python()`` table function);
- ``native()``: one block of ClickHouse's Native format, bytes built column by column with no
  Python object per point (the server reads it over HTTP, ``FORMAT Native``).

A batch's points carry its ``event_id``; a second point of one name and step in the batch gets
``<event_id>.<i>``, so both stay rows, and a redelivered batch collapses onto its first copy.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, NamedTuple

from modeldb.stream_processors import native

# The metrics table's columns (materializer.COLUMNS["metrics"], which checks it is this).
NAMES = ("project", "name", "run_id", "step", "value", "model_id", "dataframe_id", "slice", "event_id", "ts", "ver")
_NO_LINK = ("", "", "")
# Their ClickHouse types (warehouse/ddl/0001_core.sql); the Native block and the Arrow schema use them.
TYPES = {"step": "Int64", "value": "Float64", "ts": "Int64", "ver": "UInt64"}


class _Batch(NamedTuple):
    project: str
    run_id: str
    event_id: str
    ts: int
    names: list[str]
    name_index: list[int]
    shapes: list[tuple[str, str, str]]  # per link: model_id, dataframe_id, slice
    link_index: list[int]  # empty: no link for any point
    steps: list[int]
    values: list[float]
    offsets: list[int]


class Points:
    __slots__ = ("rows", "batches")

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.batches: list[_Batch] = []

    def append(self, row: tuple) -> None:
        self.rows.append(row)

    def extend(self, rows: Iterable[tuple]) -> None:
        self.rows.extend(rows)

    def add_batch(self, e: dict, p: dict) -> None:
        shapes = [(x["model_id"] or "", x["dataframe_id"] or "", x["slice"]) for x in p["links"]]
        self.batches.append(_Batch(e["project"], e["run_id"], e["event_id"], e["ts"], p["names"], p["name_index"],
                                   shapes, p["link_index"], p["steps"], p["values"], p["ts_offsets"]))

    def __len__(self) -> int:
        return len(self.rows) + sum(len(b.values) for b in self.batches)

    # -- the two forms of the insert ---------------------------------------------------------------
    def lists(self) -> list[list]:
        """One list per column (``NAMES`` order): the batches' points, then the single rows."""
        import numpy as np

        out: list[list] = [[] for _ in NAMES]
        project, name, run_id, step, value, model, frame, slice_, event_id, ts, ver = out
        for b in self.batches:
            n = len(b.values)
            project += [b.project] * n
            name += b.names * n if len(b.names) == 1 else [b.names[i] for i in b.name_index]
            run_id += [b.run_id] * n
            step += b.steps
            value += b.values
            links = [b.shapes[i] for i in b.link_index] if b.link_index else [_NO_LINK] * n
            for column, part in zip((model, frame, slice_), zip(*links)):
                column += part
            event_id += _point_ids(b)
            times = (np.asarray(b.offsets, dtype=np.int64) + b.ts).tolist()
            ts += times
            ver += times
        if self.rows:
            for column, more in zip(out, zip(*self.rows)):
                column += more
        return out

    def arrow(self) -> Any:
        """The same columns as a pyarrow Table."""
        import pyarrow as pa

        tables = []
        if self.batches:
            tables.append(_batches_table(self.batches))
        if self.rows:
            tables.append(pa.table({c: list(v) for c, v in zip(NAMES, zip(*self.rows))}).cast(_schema()))
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def native(self) -> list[bytes]:
        """The same rows as one Native block, sorted by the table's key (``_native_block``)."""
        return _native_block(self)

    # -- as rows, for tests and counts -------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple]:
        return zip(*self.lists())

    def __getitem__(self, i: int) -> tuple:
        return list(self)[i]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Points)) else NotImplemented


def _repeats(b: _Batch, steps: Any = None, names: Any = None) -> list[int]:
    """The points that repeat an earlier point's name and step in the batch (``steps`` and
    ``names``: the batch's steps and name indexes as arrays, if the caller has them)."""
    import numpy as np

    n = len(b.values)
    if n < 2:
        return []
    steps = np.asarray(b.steps, dtype=np.int64) if steps is None else steps
    names = (np.asarray(b.name_index) if b.name_index else np.zeros(n, np.int64)) if names is None else names
    order = np.lexsort((steps, names))  # by name, then step; stable, so the first of equals stays plain
    same = (steps[order][1:] == steps[order][:-1]) & (names[order][1:] == names[order][:-1])
    return order[1:][same].tolist()


def _point_ids(b: _Batch) -> list[str]:
    """Each point's ``event_id``: the batch's, and for the second and later point of one name and
    step in the batch, ``<event_id>.<i>`` (so they stay rows of their own). The same batch always
    gives the same ids, so a redelivered batch collapses onto its first copy."""
    ids = [b.event_id] * len(b.values)
    for i in _repeats(b):
        ids[i] = f"{b.event_id}.{i}"
    return ids


def _schema() -> Any:
    import pyarrow as pa

    types = {"Int64": pa.int64(), "Float64": pa.float64(), "UInt64": pa.uint64()}
    return pa.schema([(c, types[TYPES[c]] if c in TYPES else pa.string()) for c in NAMES])


def _batches_table(batches: list[_Batch]) -> Any:  # size: one vectorized step per column, kept together
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = np.array([len(b.values) for b in batches], dtype=np.int64)
    batch_of = pa.array(np.repeat(np.arange(len(batches), dtype=np.int32), lengths))

    def per_batch(values: list) -> Any:
        return pc.take(pa.array(values, pa.string()), batch_of)

    def indexed(index_lists: list, dictionaries: list) -> Any:
        """Each batch's indexes into its own list, into one concatenated dictionary."""
        offsets = np.cumsum([0] + [len(d) for d in dictionaries[:-1]])
        index = np.concatenate([np.asarray(ix, dtype=np.int64) + off for ix, off in zip(index_lists, offsets)])
        return pc.take(pa.array([v for d in dictionaries for v in d], pa.string()), pa.array(index))

    names = indexed([b.name_index if len(b.names) > 1 else [0] * len(b.values) for b in batches],
                    [b.names for b in batches])
    shapes = [b.shapes + [_NO_LINK] for b in batches]  # the last one: a batch with no link_index
    links = [b.link_index or [len(b.shapes)] * len(b.values) for b in batches]
    link_columns = [indexed(links, [[s[k] for s in shape] for shape in shapes]) for k in range(3)]
    event_id = pa.array([i for b in batches for i in _point_ids(b)], pa.string())
    ts = np.repeat(np.array([b.ts for b in batches], dtype=np.int64), lengths) + \
        np.concatenate([np.asarray(b.offsets, dtype=np.int64) for b in batches])
    columns = {"project": per_batch([b.project for b in batches]), "name": names,
               "run_id": per_batch([b.run_id for b in batches]),
               "step": pa.array(np.concatenate([np.asarray(b.steps, dtype=np.int64) for b in batches])),
               "value": pa.array(np.concatenate([np.asarray(b.values, dtype=np.float64) for b in batches])),
               "model_id": link_columns[0], "dataframe_id": link_columns[1], "slice": link_columns[2],
               "event_id": event_id, "ts": pa.array(ts), "ver": pa.array(ts.astype(np.uint64))}
    return pa.table(columns, schema=_schema())


# -- the Native block ------------------------------------------------------------------------------
# The metric points as one Native block, in the order of the table's sort key.
#
# ClickHouse sorts every inserted block by the table's ``ORDER BY`` unless it finds it sorted
# already. For the metric points that sort is most of the server's work: a block of 1,000,000 points
# took 1.5–1.7 s to insert as it came and 0.5 s sorted (ClickHouse 18.16, measured with
# ``bench/foundation.py``'s points). So the block is sorted here, where it is cheap: each string
# column is a small dictionary and one integer code per point, ranked by the strings' bytes, and
# numpy sorts the codes. The sorted columns are then written run by run: after the sort, a run's id
# or a metric's name repeats over long runs of points, and a run is one copy of its encoding.
#
# Any order gives the same table; the sort only saves the server's time.

# The metrics table's ORDER BY (warehouse/ddl/0001_core.sql; a unit test checks they agree).
SORT_KEY = ("project", "name", "run_id", "step", "event_id")
_NUMPY = {"Int64": "<i8", "UInt64": "<u8", "Float64": "<f8"}


class _Dictionary:
    """A string column's distinct values, each with a code in order of first sight."""
    __slots__ = ("values", "codes")

    def __init__(self) -> None:
        self.values: list[str] = []
        self.codes: dict[str, int] = {}

    def code(self, value: str) -> int:
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
        return found

    def ranks(self) -> Any:
        """Each code's place in the values' byte order (how ClickHouse compares a ``String``)."""
        import numpy as np

        order = sorted(range(len(self.values)), key=lambda i: self.values[i].encode())
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        return ranks

    def encode(self, codes: Any) -> list[bytes]:
        """The column for these codes, as parts: one copy of a value's encoding per run of it."""
        import numpy as np

        encoded = [native.string(v) for v in self.values]
        if len(codes) == 0:
            return []
        starts = np.flatnonzero(np.diff(codes)) + 1
        if len(starts) > len(codes) // 4:  # few repeats: value by value
            return [b"".join(map(encoded.__getitem__, codes.tolist()))]
        bounds = np.concatenate(([0], starts, [len(codes)]))
        return [b"".join([encoded[c] * n for c, n in zip(codes[bounds[:-1]].tolist(), np.diff(bounds).tolist())])]


def _native_block(points: Points) -> list[bytes]:
    """One Native block of the points, sorted by the table's key (see "The Native block" above)."""
    import numpy as np

    dictionaries = {c: _Dictionary() for c in NAMES if c not in TYPES}
    codes: dict[str, list] = {c: [] for c in NAMES}
    for b in points.batches:
        _batch_codes(b, dictionaries, codes)
    if points.rows:
        for c, values in zip(NAMES, zip(*points.rows)):
            if c in dictionaries:
                codes[c].append(np.fromiter(map(dictionaries[c].code, values), dtype=np.int64, count=len(values)))
            else:
                codes[c].append(np.asarray(values, dtype=_NUMPY[TYPES[c]]))
    columns = {c: np.concatenate(parts) if parts else np.empty(0, dtype=np.int64) for c, parts in codes.items()}
    keys = [dictionaries[c].ranks()[columns[c]] if c in dictionaries else columns[c] for c in SORT_KEY]
    order = np.lexsort(keys[::-1])  # lexsort's last key is the first
    out = []
    for c in NAMES:
        sorted_ = columns[c][order]
        data = dictionaries[c].encode(sorted_) if c in dictionaries else [sorted_.astype(_NUMPY[TYPES[c]]).tobytes()]
        out.append((c, TYPES.get(c, "String"), data))
    return native.block(out, len(order))


def _batch_codes(b: Any, dictionaries: dict[str, _Dictionary], codes: dict[str, list]) -> None:
    """One batch's points as codes (string columns) and arrays (numbers), appended per column."""
    import numpy as np

    n = len(b.values)
    for column, value in (("project", b.project), ("run_id", b.run_id)):
        codes[column].append(np.full(n, dictionaries[column].code(value), dtype=np.int64))
    name_index = np.asarray(b.name_index, dtype=np.int64) if len(b.names) > 1 else np.zeros(n, dtype=np.int64)
    names = np.array([dictionaries["name"].code(v) for v in b.names], dtype=np.int64)
    codes["name"].append(names[name_index])
    steps = np.asarray(b.steps, dtype=np.int64)
    shapes = b.shapes if b.link_index else [_NO_LINK]
    link_index = np.asarray(b.link_index, dtype=np.int64) if b.link_index else np.zeros(n, dtype=np.int64)
    for k, column in enumerate(("model_id", "dataframe_id", "slice")):
        local = np.array([dictionaries[column].code(s[k]) for s in shapes], dtype=np.int64)
        codes[column].append(local[link_index])
    ids = np.full(n, dictionaries["event_id"].code(b.event_id), dtype=np.int64)
    for i in _repeats(b, steps, name_index):
        ids[i] = dictionaries["event_id"].code(f"{b.event_id}.{i}")
    codes["event_id"].append(ids)
    codes["step"].append(steps)
    codes["value"].append(np.asarray(b.values, dtype=np.float64))
    times = np.asarray(b.offsets, dtype=np.int64) + b.ts
    codes["ts"].append(times)
    codes["ver"].append(times.astype(np.uint64))
