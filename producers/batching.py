"""Metric points queued together for one run go out as one ``MetricsLogged`` event.

The emitter's thread drains its queue in rounds. Within a round, ``PointBatcher`` holds each
run's ``MetricLogged`` events and turns them into one batch event (columns, see
``schemas/modeldb.MetricsLogged.avsc``) when the run's next other event comes (so each run's
events keep their order), when the batch reaches ``MAX_POINTS`` or ``MAX_BYTES``, or at the end
of the round. A run with a single point in the round sends it as it is. Nothing waits for a
batch to fill: a round takes what was queued, so the latency from ``log_metric`` to the
transport stays what it was.

The batch keeps its first point's envelope (event id, seq, producer) with the earliest ts, so
point i has ts = ts + ts_offsets[i] exactly, and the version of seq + i. Points are at most
4096 per batch, so those versions never repeat within one.
"""
from __future__ import annotations

from typing import Any, Iterator

MAX_POINTS = 4096
MAX_BYTES = 256 * 1024  # estimated as 24 bytes a point plus all its text: well under Kafka's 1 MB message
_NO_LINK = (None, None, "", False)


class PointBatcher:
    def __init__(self) -> None:
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._bytes: dict[str, int] = {}

    def add(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Hold a MetricLogged event; the run's batch event when it is full, else None."""
        run_id = event["run_id"]
        points = self._pending.setdefault(run_id, [])
        points.append(event)
        p = event["payload"][1]  # its text counted in full each time: over, never under, the batch's size
        get = p.get
        size = (self._bytes.get(run_id, 0) + 24 + len(get("name") or "") + len(get("slice") or "")
                + len(get("model_id") or "") + len(get("dataframe_id") or ""))
        self._bytes[run_id] = size
        if len(points) >= MAX_POINTS or size >= MAX_BYTES:
            return self.take(run_id)
        return None

    def take(self, run_id: str) -> dict[str, Any] | None:
        """The run's held points as one event (None if it holds none): before its next other event."""
        points = self._pending.pop(run_id, None)
        self._bytes.pop(run_id, None)
        return batch_event(points) if points else None

    def take_all(self) -> Iterator[dict[str, Any]]:
        for run_id in list(self._pending):
            batch = self.take(run_id)
            if batch is not None:
                yield batch


def batch_event(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One MetricsLogged event for a run's MetricLogged events, in their order (one stays as it is)."""
    first = points[0]
    if len(points) == 1:
        return first
    ts0 = min(e["ts"] for e in points)
    names: dict[str, int] = {}
    links: dict[tuple, int] = {}
    name_index, link_index, steps, values, offsets = [], [], [], [], []
    for e in points:  # .get: a malformed point (a tracker's bug) fails the batch's encoding, then its own
        p = e["payload"][1]
        name_index.append(names.setdefault(p.get("name"), len(names)))
        link_index.append(links.setdefault(
            (p.get("model_id"), p.get("dataframe_id"), p.get("slice", ""), p.get("model_changed", False)), len(links)))
        steps.append(p.get("step", 0))
        values.append(p.get("value"))
        offsets.append(e["ts"] - ts0)
    if len(links) == 1 and _NO_LINK in links:
        link_records, link_index = [], []
    else:
        link_records = [{"model_id": m, "dataframe_id": d, "slice": s, "model_changed": c} for m, d, s, c in links]
    payload = {"names": list(names), "links": link_records, "name_index": name_index, "link_index": link_index,
               "steps": steps, "values": values, "ts_offsets": offsets}
    # "_points": the events it stands for, which the emitter sends one by one if the batch cannot be encoded.
    return {**first, "event_type": "MetricsLogged", "ts": ts0, "payload": ("modeldb.MetricsLogged", payload),
            "_points": points}
