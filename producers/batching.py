"""Metric points queued together for one run go out as one ``MetricsLogged`` event.

``log_metric`` queues a bare point, a tuple (see ``Point``): no envelope and no event id. The
emitter's thread drains its queue in rounds. Within a round, ``PointBatcher`` holds each run's
points and turns them into one batch event (columns, see ``schemas/modeldb.MetricsLogged.avsc``)
when the run's next other event comes (so each run's events keep their order), when the batch
reaches ``MAX_POINTS`` or ``MAX_BYTES``, or at the end of the round. A point alone in its round
goes out as a ``MetricLogged`` event, given its envelope then. Nothing waits for a batch to fill:
a round takes what was queued, so the latency from ``log_metric`` to the transport stays what it
was. A tracker's own ``MetricLogged`` event (a dict, ``Run.emit_action``) is batched the same way.

The batch takes its first point's seq and the earliest ts, so point i has ts = ts + ts_offsets[i]
exactly, and the version of seq + i. Its event id is made when it is built: one per batch, never
one per point. Points are at most 4096 per batch, so those versions never repeat within one.
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from modeldb.core.events import SCHEMA_VERSION, uuid7

MAX_POINTS = 4096
MAX_BYTES = 256 * 1024  # estimated as 24 bytes a point plus all its text: well under Kafka's 1 MB message
NO_LINK = (None, None, "", False)  # (model_id, dataframe_id, slice, model_changed) of a plain point


class Point(NamedTuple):
    """A metric point as ``log_metric`` queues it (built as a plain tuple there: it is the hot path).
    ``head`` is the run's ``(project, experiment, run_id, producer)``, shared by all its points."""
    head: tuple
    seq: int
    ts: int
    name: Any
    value: Any
    step: Any
    link: tuple


def as_point(event: dict[str, Any] | tuple) -> tuple:
    """A queued point as a ``Point``: a tuple as it is, a tracker's MetricLogged dict taken apart
    (``.get``: a malformed one fails its encoding later, and is kept as unencodable)."""
    if type(event) is tuple:
        return event
    get = event["payload"][1].get
    return ((event["project"], event["experiment"], event["run_id"], event["producer"]), event["seq"], event["ts"],
            get("name"), get("value"), get("step", 0),
            (get("model_id"), get("dataframe_id"), get("slice", ""), get("model_changed", False)))


def _envelope(head: tuple, seq: int, ts: int, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    project, experiment, run_id, producer = head
    return {"event_id": uuid7(), "event_type": event_type, "schema_version": SCHEMA_VERSION, "ts": ts,
            "project": project, "experiment": experiment, "run_id": run_id, "seq": seq, "producer": producer,
            "payload": ("modeldb." + event_type, payload)}


def point_event(point: dict[str, Any] | tuple) -> dict[str, Any]:
    """A point sent alone: its MetricLogged event (a tracker's dict stays as it is)."""
    if type(point) is not tuple:
        return point
    head, seq, ts, name, value, step, (model_id, dataframe_id, slice_, changed) = point
    return _envelope(head, seq, ts, "MetricLogged", {
        "name": name, "value": value, "step": step, "model_id": model_id, "dataframe_id": dataframe_id,
        "slice": slice_, "model_changed": changed})


class PointBatcher:
    def __init__(self) -> None:
        self._pending: dict[str, list] = {}
        self._bytes: dict[str, int] = {}

    def add(self, event: dict[str, Any] | tuple) -> dict[str, Any] | None:
        """Hold a point; the run's batch event when it is full, else None."""
        point = event if type(event) is tuple else as_point(event)  # a dict is held as it is: sent alone, it is sent unchanged
        run_id = point[0][2]
        points = self._pending.get(run_id)
        if points is None:
            points = self._pending[run_id] = []
        points.append(event)
        name, link = point[3], point[6]  # its text counted in full each time: over, never under, the batch's size
        size = self._bytes.get(run_id, 0) + 24 + (len(name) if type(name) is str else 0)
        if link is not NO_LINK:
            size += sum(len(t) for t in link[:3] if type(t) is str)
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


def batch_event(points: list) -> dict[str, Any]:
    """One MetricsLogged event for a run's points (tuples, or MetricLogged dicts), in their order;
    one point is its MetricLogged event."""
    if len(points) == 1:
        return point_event(points[0])
    rows = [p if type(p) is tuple else as_point(p) for p in points]
    ts0 = min(p[2] for p in rows)
    names: dict[Any, int] = {}
    links: dict[tuple, int] = {}
    name_index = [names.setdefault(p[3], len(names)) for p in rows]
    link_index = [links.setdefault(p[6], len(links)) for p in rows]
    if len(links) == 1 and NO_LINK in links:
        link_records: list[dict] = []
        link_index = []
    else:
        link_records = [{"model_id": m, "dataframe_id": d, "slice": s, "model_changed": c} for m, d, s, c in links]
    payload = {"names": list(names), "links": link_records, "name_index": name_index, "link_index": link_index,
               "steps": [p[5] for p in rows], "values": [p[4] for p in rows], "ts_offsets": [p[2] - ts0 for p in rows]}
    first = points[0]
    if type(first) is tuple:
        batch = _envelope(first[0], first[1], ts0, "MetricsLogged", payload)
    else:
        batch = {**first, "event_type": "MetricsLogged", "ts": ts0, "payload": ("modeldb.MetricsLogged", payload)}
    # "_points": the points it stands for, which the emitter sends one by one if the batch cannot be encoded.
    batch["_points"] = points
    return batch
