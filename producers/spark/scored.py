"""Which model produced the column an evaluator scores, however the scored frame was reshaped after.

A tracked model's output frame is registered by identity (``Tracker.outputs``). Users evaluate
other frames too: the output of a pipeline that ends in ``IndexToString`` or a
``SQLTransformer``, ``predictions.select("prediction", "label")``, a filter of it, a column
renamed. Spark keeps a column's expression id (``prediction#138``) through every projection,
filter and later stage that does not recompute it, and a rename shows in the analyzed plan as
``prediction#138 AS pred#142``. So each model output's new columns are remembered by expression
id, and an evaluated frame the tracker does not know is followed back: the evaluator's column's
id in that frame, through the renames in its plan, to a remembered model output.

Reading a frame's output attributes is one call into the driver's JVM, no Spark job. The last
``MAX_REMEMBERED`` outputs are kept (their DataFrame handles, not data): the prediction rows
behind a metric are the scored frame's rows, logged once per model and frame.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

MAX_REMEMBERED = 64
MAX_RENAMES = 8
EVALUATED_COLUMNS = ("predictionCol", "rawPredictionCol")


def output_ids(df: Any) -> dict[str, str]:
    """Column name -> expression id of a frame's output attributes (empty when the plan is not reachable)."""
    try:
        text = df._jdf.queryExecution().analyzed().output().mkString("\u0001")
    except Exception:  # noqa: BLE001 - Spark Connect, or a frame of a stopped session
        return {}
    out = {}
    for attr in text.split("\u0001") if text else ():
        name, _, ident = attr.rpartition("#")
        if name:
            out[name] = ident.rstrip("L")
    return out


def _plan(df: Any) -> str | None:
    """``df``'s analyzed plan as text (expression ids included); None if Spark cannot give it."""
    try:
        return df._jdf.queryExecution().analyzed().toString()
    except Exception:  # noqa: BLE001
        return None


def _renamed_from(plan: str, name: str, ident: str) -> str | None:
    """The expression id ``name#ident`` was an alias of, in the plan (``x#1 AS name#ident``)."""
    found = re.search(rf"#(\d+)L? AS {re.escape(name)}#{ident}L?\b", plan)
    return found.group(1) if found else None


def _name_of(plan: str, ident: str) -> str | None:
    """The column name that expression id ``ident`` has in the plan."""
    found = re.search(rf"([^\s\[\](),]+)#{ident}L?\b", plan)
    return found.group(1) if found else None


class Scored:
    """Model outputs by the expression ids of the columns the model added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # expr id -> (Output, scored df)

    def remember(self, df: Any, output: Any, new_columns: list[str]) -> None:
        ids = output_ids(df)
        with self._lock:
            for column in new_columns:
                if column in ids:
                    self._by_id[ids[column]] = (output, df)
                    self._by_id.move_to_end(ids[column])
            while len(self._by_id) > MAX_REMEMBERED * 4:
                self._by_id.popitem(last=False)

    def find(self, df: Any, evaluator: Any, get: Any) -> tuple[Any, Any] | None:
        """(Output, scored df) behind the column ``evaluator`` reads in ``df``; None if no model made it."""
        with self._lock:
            if not self._by_id:
                return None
        ids = output_ids(df)
        names = [get(evaluator, p) for p in EVALUATED_COLUMNS]
        plan: str | None = None  # read from Spark once, and only if a rename must be followed
        for name in [n for n in names if isinstance(n, str) and n in ids]:
            name_now, ident = name, ids[name]
            for _ in range(MAX_RENAMES):
                with self._lock:
                    hit = self._by_id.get(ident)
                if hit is not None:
                    return hit
                plan = plan if plan is not None else _plan(df)
                ident = _renamed_from(plan, name_now, ident) if plan is not None else None
                if ident is None:
                    break
                name_now = _name_of(plan, ident) or name_now
        return None
