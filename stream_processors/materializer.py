"""The materializer core: decoded events in, warehouse rows out.

Pure: no I/O, no clocks, no knowledge of where events came from. The Faust
app (Kafka) and the local runner (file log) both call ``decode_and_validate``
then ``materialize``, then hand the rows to the batching sink.

Every row carries the event's ts as ``ver``, and every table's sorting key
makes a redelivered event collapse onto its first copy (see the DDL), so
materializing the same event twice changes no answer.
"""
from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any, Iterable

from modeldb import codec
from modeldb.events import EVENT_TYPES
from modeldb.exceptions import DecodeError

COLUMNS: dict[str, tuple[str, ...]] = {
    "events_raw": ("event_id", "event_type", "schema_version", "ts", "project", "experiment", "run_id", "seq",
                   "producer_host", "producer_pid", "producer_library", "producer_library_version",
                   "producer_framework", "producer_framework_version", "schema_fingerprint", "body", "ver"),
    "projects": ("project", "last_ts", "ver"),
    "experiments": ("project", "experiment", "run_id", "started_ts", "ver"),
    "runs": ("project", "experiment", "run_id", "event_type", "event_id", "name", "parent_run_id", "branch_seq",
             "user", "source", "status", "error", "duration_ms", "ts", "ver"),
    "params": ("project", "run_id", "key", "type", "value", "num", "is_num", "event_id", "ts", "ver"),
    "metrics": ("project", "name", "run_id", "step", "value", "model_id", "dataframe_id", "slice", "event_id", "ts", "ver"),
    "tags": ("project", "run_id", "key", "value", "event_id", "ts", "ver"),
    "annotations": ("project", "run_id", "target_id", "text", "author", "event_id", "ts", "ver"),
    "run_summary": ("project", "experiment", "run_id", "kind", "key", "value_str", "value_num", "step", "ts", "ver"),
}


def decode_and_validate(data: bytes) -> dict[str, Any]:
    """Decode one record and check the envelope; raise ``DecodeError`` with the reason."""
    event = codec.decode(data)
    for name in ("event_id", "run_id", "project", "experiment"):
        if not event.get(name):
            raise DecodeError(f"invalid event: empty {name}")
    if event["event_type"] not in EVENT_TYPES:
        raise DecodeError(f"invalid event: unknown event_type {event['event_type']!r}")
    if event["ts"] <= 0 or event["seq"] < 0:
        raise DecodeError(f"invalid event: ts {event['ts']} / seq {event['seq']} out of range")
    return event


class Rows(dict):
    """table -> list of row tuples in ``COLUMNS[table]`` order."""

    def __missing__(self, key: str) -> list:
        value: list = []
        self[key] = value
        return value

    def count(self) -> int:
        return sum(len(v) for v in self.values())


def materialize(events: Iterable[tuple[dict[str, Any], bytes]]) -> Rows:
    rows = Rows()
    last_activity: dict[str, int] = defaultdict(int)
    raw, summary = rows["events_raw"], rows["run_summary"]
    for event, data in events:
        ts, ver = event["ts"], event["ts"]
        project, experiment, run_id, event_id = event["project"], event["experiment"], event["run_id"], event["event_id"]
        producer = event["producer"]
        raw.append((event_id, event["event_type"], event["schema_version"], ts, project, experiment, run_id,
                    event["seq"], producer["host"], producer["pid"], producer["library"], producer["library_version"],
                    producer["framework"] or "", producer["framework_version"] or "",
                    data[2:10].hex(), base64.b64encode(data).decode(), ver))
        if ts > last_activity[project]:
            last_activity[project] = ts
        handler = _HANDLERS.get(event["event_type"])
        if handler is not None:
            handler(rows, event, event["payload"], summary)
    rows["projects"].extend((p, ts, ts) for p, ts in last_activity.items())
    return rows


def _s(event: dict, kind: str, key: str, value_str: str, value_num: float, step: int = 0) -> tuple:
    return (event["project"], event["experiment"], event["run_id"], kind, key, value_str, value_num, step,
            event["ts"], event["ts"])


def _run_started(rows: Rows, e: dict, p: dict, summary: list) -> None:
    ts = e["ts"]
    rows["runs"].append((e["project"], e["experiment"], e["run_id"], "RunStarted", e["event_id"], p["name"],
                         p["parent_run_id"] or "", -1 if p["branch_seq"] is None else p["branch_seq"],
                         p["user"], p["source"], "RUNNING", "", 0.0, ts, ts))
    rows["experiments"].append((e["project"], e["experiment"], e["run_id"], ts, ts))
    summary.extend([
        _s(e, "run", "name", p["name"], 0.0),
        _s(e, "run", "status", "RUNNING", 0.0),
        _s(e, "run", "started_ts", "", float(ts)),
        _s(e, "run", "parent_run_id", p["parent_run_id"] or "", 0.0),
        _s(e, "run", "user", p["user"], 0.0),
    ])
    for key, value in p["tags"].items():
        rows["tags"].append((e["project"], e["run_id"], key, value, e["event_id"], ts, ts))
        summary.append(_s(e, "tag", key, value, 0.0))


def _run_ended(rows: Rows, e: dict, p: dict, summary: list) -> None:
    ts = e["ts"]
    rows["runs"].append((e["project"], e["experiment"], e["run_id"], "RunEnded", e["event_id"], "", "", -1, "", "",
                         p["status"], p["error"] or "", p["duration_ms"], ts, ts))
    summary.extend([
        _s(e, "run", "status", p["status"], 0.0),
        _s(e, "run", "ended_ts", "", float(ts)),
        _s(e, "run", "duration_ms", "", float(p["duration_ms"])),
    ])


def _param_logged(rows: Rows, e: dict, p: dict, summary: list) -> None:
    param = p["param"]
    num = param["num"]
    rows["params"].append((e["project"], e["run_id"], param["key"], param["type"], param["value"],
                           0.0 if num is None else num, 0 if num is None else 1, e["event_id"], e["ts"], e["ts"]))
    summary.append(_s(e, "param", param["key"], param["value"], 0.0 if num is None else num))


def _metric_logged(rows: Rows, e: dict, p: dict, summary: list) -> None:
    rows["metrics"].append((e["project"], p["name"], e["run_id"], p["step"], p["value"], p["model_id"] or "",
                            p["dataframe_id"] or "", p["slice"], e["event_id"], e["ts"], e["ts"]))
    if not p["slice"]:
        summary.append(_s(e, "metric", p["name"], "", p["value"], p["step"]))


def _tag_set(rows: Rows, e: dict, p: dict, summary: list) -> None:
    rows["tags"].append((e["project"], e["run_id"], p["key"], p["value"], e["event_id"], e["ts"], e["ts"]))
    summary.append(_s(e, "tag", p["key"], p["value"], 0.0))


def _annotated(rows: Rows, e: dict, p: dict, summary: list) -> None:
    rows["annotations"].append((e["project"], e["run_id"], p["target_id"] or "", p["text"], p["author"],
                                e["event_id"], e["ts"], e["ts"]))


# Actions without a table of their own yet are kept in events_raw and can be
# re-materialized with `modeldb rebuild` once their tables exist.
_HANDLERS = {
    "RunStarted": _run_started,
    "RunEnded": _run_ended,
    "ParamLogged": _param_logged,
    "MetricLogged": _metric_logged,
    "TagSet": _tag_set,
    "Annotated": _annotated,
}
