"""The metric points as one Native block, in the order of the table's sort key.

ClickHouse sorts every inserted block by the table's ``ORDER BY`` unless it finds it sorted
already. For the metric points that sort is most of the server's work: a block of 1,000,000 points
took 1.5–1.7 s to insert as it came and 0.5 s sorted (ClickHouse 18.16, measured with
``bench/foundation.py``'s points). So the block is sorted here, where it is cheap: each string
column is a small dictionary and one integer code per point, ranked by the strings' bytes, and
numpy sorts the codes. The sorted columns are then written run by run: after the sort, a run's id
or a metric's name repeats over long runs of points, and a run is one copy of its encoding.

Any order gives the same table; the sort only saves the server's time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modeldb.stream_processors import native
from modeldb.stream_processors.points import NAMES, TYPES, _NO_LINK, _repeats

if TYPE_CHECKING:
    from modeldb.stream_processors.points import Points

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


def native_block(points: "Points") -> list[bytes]:
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
