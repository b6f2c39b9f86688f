"""Turn a dataset into a ``DataFrameObserved`` event once per run, and remember it."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from modeldb.core.events import uuid7
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.autolog.lineage import Provenance
from modeldb.producers.autolog.registry import Registry
from modeldb.producers.sklearn import data as D

CATEGORICAL_MAX_DISTINCT = 50


class Observer:
    def __init__(self) -> None:
        self.registry = Registry()

    def known(self, obj: Any) -> D.DataInfo | None:
        return self.registry.get(obj) if obj is not None else None

    def observe(self, obj: Any, run: Any, *, keys: Any = None, names: list[str] | None = None,
                provenance: Provenance | None = None, source: str = "") -> D.DataInfo | None:
        """Emit a ``DataFrameObserved`` for ``obj`` unless this run has seen this very object already."""
        kind = D.kind_of(obj)
        if kind is None:
            return None
        earlier = self.registry.get(obj)
        if earlier is not None and earlier.run_id == run.run_id:
            return earlier
        if earlier is not None:  # seen in an earlier run: same rows and lineage, new observation
            keys = earlier.keys if keys is None else keys
            names = earlier.columns if names is None else names
            provenance = earlier.provenance if provenance is None else provenance
        frame = D.view(obj, kind, names)
        fingerprint, method = D.fingerprint(frame)
        stats = D.column_stats(frame, sampled=method != "full" or frame.n_rows > D.STATS_FULL_ROWS)
        if keys is None and frame.index is not None and not _is_default_range(frame.index) \
                and frame.index.is_unique:  # repeated labels cannot tell rows apart: positions can
            keys = frame.index
        info = D.DataInfo(uuid7(), run.run_id, fingerprint, frame.n_rows, list(frame.names), keys, provenance)
        positions = D.positional_sample(frame.n_rows) if keys is None else D.sample_positions(info.key_array())
        sample = frame.rows(positions)
        columns = []
        for i, name in enumerate(frame.names[:D.MAX_COLUMNS]):
            st = stats[i] if i < len(stats) else None
            columns.append({"name": name, "type": frame.dtypes[i], "stats": st})
            if st and st["top_values"] and (st["distinct_approx"] or 0) <= CATEGORICAL_MAX_DISTINCT:
                info.categorical.append(name)
        run.emit_action("DataFrameObserved", bounded("DataFrameObserved", {
            "dataframe_id": info.dataframe_id, "fingerprint": fingerprint, "fingerprint_method": method,
            "source": source, "n_rows": frame.n_rows, "n_columns": len(frame.names), "columns": columns,
            "sample_keys": [str(k) for k in _plain_keys(positions if keys is None else np.asarray(keys)[positions])],
            "sample_rows_json": [json.dumps(r, default=str, allow_nan=False) for r in sample],
        }))
        self.registry.put(obj, info)
        return info


def _is_default_range(index: Any) -> bool:
    return type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1


def _plain_keys(keys: np.ndarray) -> list[Any]:
    return [k.item() if isinstance(k, np.generic) else k for k in keys]
