"""The current state: one row per run and one per model, merged by the run's owner at write time.

Every event of a run carries its run id as the Kafka key, so one worker owns the run (the
worker of its partition; the local runner for the file log). The owner keeps the state of the
runs it wrote lately in memory; a run it has not seen is first read back from the warehouse.
It merges each event into the state and writes the whole row of every run and model that
changed, with the batch's other rows, before the batch is committed.

**The merge.** Metrics are kept under their canonical name (``core.metric_names``: Spark's
``areaUnderROC`` and scikit-learn's ``roc_auc_score`` are ``roc_auc``), with the name the winning
point was logged under. Each field is last-writer-wins by the version of the event that set it,
``(ts << 12) | (seq mod 4096)``; a metric by ``(step, version)``, so its latest value is the
point with the highest step, then the newest. A batch of points (MetricsLogged) merges as its
points would one by one: point i has the version of an event with ts + its offset and seq + i.
An attribute set by two kinds of event is decided the same way (the newest RunEnded sets the
status; ModelStored's attributes win over a fit's). A merge of the same events in any order, any
number of times, gives the same row.

**Which row wins.** Rows are ``ReplacingMergeTree(ver)``: the highest ``ver`` is the row.
The owner writes ``ver = ver it read or wrote last + 1``, and ``+ JUMP`` (2**20) when it reads a
run from the warehouse (taking the run over, after a restart or a rebalance). A worker that lost
the run and still writes a batch late (its stale state lacks what the new owner merged since)
writes at most its own ``ver + 1``: lower than the new owner's first write, which was ``+ JUMP``
above every row the old owner had written before the hand-off. And the new owner always writes
that batch's runs again: their events were not committed, so they come to it again.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable

from modeldb.core.metric_names import canonical
from modeldb.stream_processors.materializer import COLUMNS, FIT_ACTIONS, Rows
from modeldb.warehouse.base import Warehouse, quote

JUMP = 1 << 20
NAN = float("nan")
CAPACITY = 20_000  # runs (and as many models) kept in memory per worker; the rest are read back when needed
_LOAD_CHUNK = 2_000


def version(event: dict) -> int:
    return (event["ts"] << 12) | (event["seq"] & 4095)


@dataclass
class RunState:
    project: str
    run_id: str
    experiment: str = ""
    name: str = ""
    error: str = ""
    parent_run_id: str = ""
    branch_seq: int = -1
    user: str = ""
    source: str = ""
    ended_status: str = ""
    started_ts: int = 0
    ended_ts: int = 0
    duration_ms: float = 0.0
    started_ver: int = 0
    ended_ver: int = 0
    params: dict[str, tuple[int, str, float]] = field(default_factory=dict)  # key -> (ver, value, num)
    metrics: dict[str, tuple[int, int, float, str]] = field(default_factory=dict)  # canonical name -> (step, ver, value, logged as)
    tags: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (ver, value)
    ver: int = 0

    @property
    def status(self) -> str:
        return self.ended_status if self.ended_ver else ("RUNNING" if self.started_ver else "")

    def row(self) -> tuple:
        return (self.project, self.experiment, self.run_id, self.name, self.status, self.error, self.parent_run_id,
                self.branch_seq, self.user, self.source, self.started_ts, self.ended_ts, self.duration_ms,
                *_param_arrays(self.params), *_metric_arrays(self.metrics), *_arrays(self.tags, (1, 0)),
                self.started_ver, self.ended_ver, self.ver)

    @classmethod
    def of_row(cls, r: tuple) -> "RunState":
        (project, experiment, run_id, name, status, error, parent, branch_seq, user, source, started_ts, ended_ts,
         duration_ms, pk, pv, pn, pvers, mk, mv, ms, mvers, mnames, tk, tv, tvers, started_ver, ended_ver, ver) = r
        return cls(project, run_id, experiment, name, error, parent, branch_seq, user, source,
                   status if ended_ver else "", started_ts, ended_ts, duration_ms, started_ver, ended_ver,
                   _params_of(pk, pv, pn, pvers), _metrics_of(mk, mv, ms, mvers, mnames),
                   {k: (int(v), x) for k, x, v in zip(tk, tv, tvers)}, int(ver))


@dataclass
class ModelState:
    project: str
    model_id: str
    run_id: str = ""
    experiment: str = ""
    operator_class: str = ""
    operator_module: str = ""
    action_id: str = ""
    parent_model_id: str = ""
    uri: str = ""
    format: str = ""
    size_bytes: int = -1
    train_dataframe_id: str = ""
    feature_names: list[str] = field(default_factory=list)
    created_ts: int = 0
    stored_ver: int = 0
    params: dict[str, tuple[int, str, float]] = field(default_factory=dict)
    metrics: dict[str, tuple[int, int, float, str]] = field(default_factory=dict)
    ver: int = 0

    def row(self) -> tuple:
        return (self.project, self.experiment, self.run_id, self.model_id, self.operator_class, self.operator_module,
                self.action_id, self.parent_model_id, self.uri, self.format, self.size_bytes, self.train_dataframe_id,
                self.feature_names, len(self.feature_names), self.created_ts,
                *_param_arrays(self.params), *_metric_arrays(self.metrics), self.stored_ver, self.ver)

    @classmethod
    def of_row(cls, r: tuple) -> "ModelState":
        (project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent, uri, fmt, size,
         train, features, _n, created_ts, pk, pv, pn, pvers, mk, mv, ms, mvers, mnames, stored_ver, ver) = r
        return cls(project, model_id, run_id, experiment, operator_class, operator_module, action_id, parent, uri, fmt,
                   size, train, list(features), created_ts, stored_ver,
                   _params_of(pk, pv, pn, pvers), _metrics_of(mk, mv, ms, mvers, mnames), int(ver))


def _arrays(entries: dict, order: tuple[int, ...]) -> list[list]:
    """The keys, sorted, then one parallel array per position of the entries' tuples, in ``order``."""
    keys = sorted(entries)
    return [keys, *([entries[k][i] for k in keys] for i in order)]


def _param_arrays(params: dict) -> list[list]:
    return _arrays(params, (1, 2, 0))  # (ver, value, num) -> keys, values, nums, vers


def _metric_arrays(metrics: dict) -> list[list]:
    return _arrays(metrics, (2, 0, 1, 3))  # (step, ver, value, logged as) -> keys, values, steps, vers, names


def _params_of(keys: list, values: list, nums: list, vers: list) -> dict:
    return {k: (int(v), x, n) for k, x, n, v in zip(keys, values, nums, vers)}


def _metrics_of(keys: list, values: list, steps: list, vers: list, names: list) -> dict:
    """A row's metrics, by canonical name. A row written before names were canonical (``names``
    empty, keys as logged) is re-keyed here; of two of its keys in one family, the later point wins."""
    out: dict[str, tuple[int, int, float, str]] = {}
    for k, x, s, v, n in zip(keys, values, steps, vers, names or keys):
        _later(out, canonical(k), (int(s), int(v), x, n or k))
    return out


def _later(entries: dict, key: str, entry: tuple) -> bool:
    """Keep ``entry`` under ``key`` if it is newer (by its tuple order) than what is there."""
    old = entries.get(key)
    if old is not None and old >= entry:
        return False
    entries[key] = entry
    return True


def _smaller(a: int, b: int) -> int:
    return b if not a or (b and b < a) else a


def _merge_run(run: RunState, event: dict, v: int, latest: dict | None) -> bool:  # size: a branch per event type
    """Merge one event into its run; True when the row changed."""
    kind, p = event["event_type"], event["payload"]
    changed = False
    if event["experiment"] > run.experiment:
        run.experiment, changed = event["experiment"], True
    if kind == "RunStarted":
        if v > run.started_ver:
            run.name, run.parent_run_id, run.user, run.source = p["name"], p["parent_run_id"] or "", p["user"], p["source"]
            run.branch_seq = -1 if p["branch_seq"] is None else p["branch_seq"]
            run.started_ts, run.started_ver, changed = event["ts"], v, True
        for key, value in p["tags"].items():
            changed |= _later(run.tags, key, (v, value))
    elif kind == "RunEnded":
        if v > run.ended_ver:
            run.ended_status, run.error, run.duration_ms = p["status"], p["error"] or "", p["duration_ms"]
            run.ended_ts, run.ended_ver, changed = event["ts"], v, True
    elif kind == "ParamLogged":
        q = p["param"]
        changed |= _later(run.params, q["key"], (v, q["value"], NAN if q["num"] is None else q["num"]))
    elif kind == "ParamsLogged":  # param i merges as a ParamLogged with seq + i
        ts, seq = event["ts"] << 12, event["seq"]
        for i, q in enumerate(p["params"]):
            changed |= _later(run.params, q["key"], (ts | ((seq + i) & 4095), q["value"],
                                                     NAN if q["num"] is None else q["num"]))
    elif kind == "MetricLogged":
        if not p["slice"]:
            changed |= _later(run.metrics, canonical(p["name"]), (p["step"], v, p["value"], p["name"]))
    elif kind == "MetricsLogged":
        for name, entry in latest[""].items():
            changed |= _later(run.metrics, canonical(name), (*entry, name))
    elif kind == "TagSet":
        changed |= _later(run.tags, p["key"], (v, p["value"]))
    return changed


def _latest_points(event: dict) -> dict[str, dict[str, tuple[int, int, float]]]:
    """A MetricsLogged batch's newest point per metric name, for the run ('') and for each model:
    the entries its points would give one by one as MetricLogged events (point i has the version
    ``((ts + offset) << 12) | ((seq + i) mod 4096)``). A sliced point counts for neither.

    The newest is the highest step, then the highest version. Versions share ``ts``, so they rank
    as ``(offset, (seq + i) mod 4096)`` do: one sort over (owner and name, step, offset, seq) finds
    every winner at once, whatever the number of names; versions are computed for the winners only."""
    p = event["payload"]
    values = p["values"]
    latest: dict[str, dict[str, tuple[int, int, float]]] = {"": {}}
    if not values:
        return latest
    names, link_index = p["names"], p["link_index"]
    owners = [""]
    if link_index:
        models = [None if x["slice"] else (x["model_id"] or "") for x in p["links"]]
        owners += sorted({m for m in models if m})
        code = {m: k for k, m in enumerate(owners)}
        link_owner = [-1 if m is None else code[m] for m in models]  # -1: sliced, 0: the run's only
    else:
        link_owner = None
    winners = (_winners_small if len(values) <= 32 else _winners)(p, event["seq"], link_owner, len(names))
    ts, seq, offsets, steps = event["ts"], event["seq"], p["ts_offsets"], p["steps"]
    for key, i in winners:
        owner = owners[key // len(names)]
        latest.setdefault(owner, {})[names[key % len(names)]] = (
            steps[i], ((ts + offsets[i]) << 12) | ((seq + i) & 4095), values[i])
    return latest


def _winners_small(p: dict, seq: int, link_owner: list[int] | None, n_names: int) -> list[tuple[int, int]]:
    """``_winners`` one point at a time: cheaper than numpy's fixed cost on a few points."""
    steps, offsets, name_index, link_index = p["steps"], p["ts_offsets"], p["name_index"], p["link_index"]
    best: dict[int, tuple] = {}
    for i, k in enumerate(name_index):
        rank = (steps[i], offsets[i], (seq + i) & 4095, i)
        owner = 0 if link_owner is None else link_owner[link_index[i]]
        if owner < 0:
            continue
        keys = (k,) if owner == 0 else (k, owner * n_names + k)
        for key in keys:
            if key not in best or rank > best[key]:
                best[key] = rank
    return [(key, rank[3]) for key, rank in best.items()]


def _winners(p: dict, seq: int, link_owner: list[int] | None, n_names: int) -> list[tuple[int, int]]:
    """The newest point of each (owner, name) as ``(owner * n_names + name, point index)``: the run
    (owner 0) takes every unsliced point, a model its own."""
    import numpy as np

    name_index = np.asarray(p["name_index"], np.int64)
    n = len(name_index)
    index = np.arange(n, dtype=np.int64)
    if link_owner is None:
        rows, keys = index, name_index
    else:
        owner = np.asarray(link_owner, np.int64)[np.asarray(p["link_index"], np.int64)]
        run_rows, model_rows = np.flatnonzero(owner >= 0), np.flatnonzero(owner > 0)
        rows = np.concatenate([run_rows, model_rows])
        keys = np.concatenate([name_index[run_rows], owner[model_rows] * n_names + name_index[model_rows]])
    seqs = (index + (seq & 4095)) & 4095
    order = np.lexsort((seqs[rows], np.asarray(p["ts_offsets"], np.int64)[rows],
                        np.asarray(p["steps"], np.int64)[rows], keys))
    ranked = keys[order]
    last = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    return list(zip(ranked[last].tolist(), rows[order[last]].tolist()))


def _merge_model(model: ModelState, event: dict, v: int, latest: dict | None) -> bool:
    kind, p = event["event_type"], event["payload"]
    changed = False
    if event["run_id"] != model.run_id and (not model.run_id or event["run_id"] < model.run_id):
        model.run_id, model.experiment, changed = event["run_id"], event["experiment"], True
    if kind == "MetricLogged":
        return _later(model.metrics, canonical(p["name"]), (p["step"], v, p["value"], p["name"])) or changed
    if kind == "MetricsLogged":
        for name, entry in latest[model.model_id].items():
            changed |= _later(model.metrics, canonical(name), (*entry, name))
        return changed
    if kind == "OperatorApplied":
        for q in p["params"]:
            changed |= _later(model.params, q["key"], (v, q["value"], NAN if q["num"] is None else q["num"]))
        if not model.stored_ver:  # until a snapshot is stored, the model is what its first fit says
            if not model.action_id or p["action_id"] < model.action_id:
                model.operator_class, model.operator_module = p["operator_class"], p["operator_module"]
                model.action_id, changed = p["action_id"], True
            created = _smaller(model.created_ts, event["ts"])
            if created != model.created_ts:
                model.created_ts, changed = created, True
    elif kind == "ModelStored" and v > model.stored_ver:
        model.operator_class, model.operator_module = p["operator_class"], p.get("operator_module", "")
        model.action_id, model.parent_model_id = p.get("action_id") or "", p.get("parent_model_id") or ""
        model.uri, model.format, model.size_bytes = p["uri"], p["format"], p["size_bytes"]
        model.train_dataframe_id, model.feature_names = p["train_dataframe_id"] or "", list(p["feature_names"])
        model.created_ts, model.stored_ver, changed = event["ts"], v, True
    return changed


def _models_of(event: dict, latest: dict | None) -> tuple[str, ...]:
    """The models an event adds to (none, mostly one; a batch of points may link several)."""
    kind, p = event["event_type"], event["payload"]
    if kind == "MetricLogged":
        return (p["model_id"],) if p["model_id"] and not p["slice"] else ()
    if kind == "MetricsLogged":
        return tuple(m for m in latest if m)
    if kind == "OperatorApplied":
        return (p["model_id"],) if p["model_id"] and p["action"] in FIT_ACTIONS else ()
    if kind == "ModelStored":
        return (p["model_id"],)
    return ()


class CurrentState:
    """A worker's current-state rows: merge a batch's events, read back what it does not hold."""

    def __init__(self, warehouse: Warehouse | None, capacity: int = CAPACITY):
        self.warehouse = warehouse
        self.capacity = capacity
        self._runs: OrderedDict[tuple[str, str], RunState] = OrderedDict()
        self._models: OrderedDict[tuple[str, str], ModelState] = OrderedDict()
        self._stale = False

    def forget(self) -> None:
        """Partitions moved, or a write failed: read every run back before writing it again.

        Safe from another thread (a consumer's rebalance callback): the next merge drops the cache.
        """
        self._stale = True

    def rows(self, events: Iterable[dict[str, Any]]) -> Rows:
        if self._stale:
            self._stale = False
            self._runs.clear()
            self._models.clear()
        events = list(events)
        latest = [_latest_points(e) if e["event_type"] == "MetricsLogged" else None for e in events]
        model_ids = [_models_of(e, points) for e, points in zip(events, latest)]
        self._load(RunState, self._runs, "run_state", "run_id", {(e["project"], e["run_id"]) for e in events})
        self._load(ModelState, self._models, "model_state", "model_id",
                   {(e["project"], m) for e, ms in zip(events, model_ids) for m in ms})
        dirty_runs: dict[tuple[str, str], RunState] = {}
        dirty_models: dict[tuple[str, str], ModelState] = {}
        for event, models, points in zip(events, model_ids, latest):
            v = version(event)
            run = self._runs[(event["project"], event["run_id"])]
            if _merge_run(run, event, v, points):
                dirty_runs[(run.project, run.run_id)] = run
            for model_id in models:
                model = self._models[(event["project"], model_id)]
                if _merge_model(model, event, v, points):
                    dirty_models[(model.project, model_id)] = model
        rows = Rows()
        for state in dirty_runs.values():
            state.ver += 1
            rows["run_state"].append(state.row())
        for model_state in dirty_models.values():
            model_state.ver += 1
            rows["model_state"].append(model_state.row())
        self._trim(self._runs)
        self._trim(self._models)
        return rows

    def _load(self, kind: type, cache: OrderedDict, table: str, id_column: str, keys: set[tuple[str, str]]) -> None:
        missing = [k for k in keys if k not in cache]
        for key in keys - set(missing):
            cache.move_to_end(key)
        if not missing:
            return
        found: dict[tuple[str, str], Any] = {}
        if self.warehouse is not None:
            found = self._read(kind, table, id_column, missing)
        for key in missing:
            state = found.get(key) or kind(key[0], key[1])
            state.ver += JUMP  # taking the run over: above every row written before (see the module docstring)
            cache[key] = state

    def _read(self, kind: type, table: str, id_column: str, keys: list[tuple[str, str]]) -> dict:
        assert self.warehouse is not None
        by_project: dict[str, list[str]] = {}
        for project, ident in keys:
            by_project.setdefault(project, []).append(ident)
        found = {}
        columns = ", ".join(f"`{c}`" for c in COLUMNS[table])
        for project, ids in by_project.items():
            for start in range(0, len(ids), _LOAD_CHUNK):
                chunk = ", ".join(quote(i) for i in ids[start:start + _LOAD_CHUNK])
                result = self.warehouse.query(
                    f"SELECT {columns} FROM `{self.warehouse.database}`.{table} FINAL "
                    f"WHERE project = {quote(project)} AND {id_column} IN ({chunk})", readonly=False)
                for row in result.rows:
                    state = kind.of_row(row)
                    found[(project, getattr(state, id_column))] = state
        return found

    def _trim(self, cache: OrderedDict) -> None:
        while len(cache) > self.capacity:
            cache.popitem(last=False)
