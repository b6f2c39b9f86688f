"""Keep tracker events well under Kafka's default 1 MB message limit.

A very wide model (thousands of one-hot features) would otherwise produce a
``ModelStored`` or ``OperatorApplied`` event that no broker with default
settings accepts, and that could then only sit in the spill file. The lists
that grow with width are halved, largest first, until the event's estimated
encoded size fits; internals keep their ``truncated`` flag honest.
"""
from __future__ import annotations

from typing import Any

MAX_EVENT_BYTES = 512 * 1024
SHRINKABLE = {
    "ModelStored": ("feature_names", "column_lineage", "internals"),
    "OperatorApplied": ("input_columns", "output_columns", "column_edges", "params"),
    "DataFrameObserved": ("columns", "sample_rows_json"),
}


def size(value: Any) -> int:  # an estimate on purpose: encoding every candidate event to measure it costs more
    """Roughly the Avro-encoded size: strings by length, numbers as 8 bytes."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        return sum(size(v) + 2 for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(size(v) for v in value) + 2
    return 8


def bounded(event_type: str, payload: dict[str, Any], limit: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    keys = SHRINKABLE.get(event_type)
    if not keys:
        return payload
    for _ in range(40):
        if size(payload) <= limit:
            break
        largest = max(keys, key=lambda k: size(payload.get(k) or []))
        if largest == "internals":
            for internal in payload["internals"]:
                for field in ("values", "labels"):
                    if len(internal[field]) > 1:
                        internal[field] = internal[field][: len(internal[field]) // 2]
                        internal["truncated"] = True
        elif len(payload[largest]) > 1:
            payload[largest] = payload[largest][: len(payload[largest]) // 2]
        else:
            break
    return payload
