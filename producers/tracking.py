"""The manual tracking API: ``init``, ``start_run`` and the ``Run`` it yields.

Logging never blocks the training loop: every ``log_*`` call validates its
input, builds an event dict (a metric point: a bare tuple, ``batching.Point``)
and queues it on the process-wide ``Emitter``.
Bad input raises ``TrackingError`` (a ``ValueError``) naming the problem.

Rules worth knowing:

* Param values are typed (int, float, bool, str, none, json, repr). A value
  whose text is longer than ``max_param_bytes`` (64 KiB by default,
  ``MODELDB_MAX_PARAM_BYTES``) is refused: store it as an artifact instead.
* Metric values must be real numbers. NaN and ±inf are accepted and stored as
  they are; the named queries that rank runs skip non-finite values. bool-like
  and bytes-like values are never metrics; steps are integers, never rounded.
* Names (param keys, metric names, tag keys, and ``start_run``'s name, project
  and experiment) are 1–250 characters, checked at the call.
* An ended run refuses ``log_*``, ``set_tag`` and ``annotate``.
* ``init()`` while other threads log: ``Run._emit`` sends a call that finds the
  old emitter closed to the new one (see there).
"""
from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
import traceback
from itertools import count
from collections.abc import Mapping  # not typing.Mapping: its isinstance is several times slower
from typing import Any, Callable

from modeldb.core.config import Settings
from modeldb.core.events import (as_metric_value, envelope, producer_info, python_framework, shown,
                                 typed_param, uuid7)
from modeldb.core.exceptions import TrackingError, TransportError
from modeldb.producers.batching import MAX_BYTES, MAX_POINTS, NO_LINK
from modeldb.producers.checks import MAX_NAME, _check_name, _check_tags, _integer, _optional_text, _text, _user
from modeldb.producers.emitter import Emitter
from modeldb.producers.factory import make_transport
from modeldb.producers.spill import SpillLog

ENDED = ("FINISHED", "FAILED", "KILLED")

_lock = threading.Lock()
_settings: Settings | None = None
_emitter: Emitter | None = None
_forked = False  # this process is a forked child of one that tracked: its emitters write through
_active: contextvars.ContextVar["Run | None"] = contextvars.ContextVar("modeldb_active_run", default=None)


def _after_fork_in_child() -> None:
    """A forked child (multiprocessing, some joblib backends) must not reuse the parent's emitter:
    its thread did not survive the fork. The child builds its own on first use, and that emitter
    closes (drains and writes) when the child leaves normally, ``multiprocessing``'s ``os._exit`` included.

    A child can be killed by SIGTERM at any time (``Pool.terminate()``, which leaving ``with Pool(...)``
    calls), which runs no exit hook. So a child's emitter writes through: each ``log_*`` hands its event
    to the transport before it returns (on the file log it is then written; on Kafka it is in the
    client's queue, see the README)."""
    global _emitter, _lock, _forked
    _lock = threading.Lock()
    _forked = True
    if _emitter is not None:
        _emitter.abandon()
    _emitter = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def init(project: str | None = None, experiment: str | None = None, **overrides: Any) -> Settings:
    """Configure tracking for this process. Arguments win over ``MODELDB_*`` variables."""
    global _settings, _emitter
    settings = Settings.load(project=project, experiment=experiment, **overrides)
    with _lock:
        old = _emitter
        _settings, _emitter = settings, None
    # A thread logging meanwhile holds either the old emitter, which drains everything it
    # accepted before closing, or finds it closed and goes to the new one (``Run._emit``).
    if old is not None:
        old.close()
    return settings


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.load()
        return _settings


def emitter() -> Emitter:
    global _emitter
    current = settings()
    with _lock:
        if _emitter is None:
            _emitter = Emitter(
                lambda cb: make_transport(current, cb),
                SpillLog(current.spill_path),
                current.exit_flush_timeout_s,
                write_through=_forked,
            )
        return _emitter


_before_flush: list[Callable[[float], None]] = []


def before_flush(hook: Callable[[float], None]) -> None:
    """Trackers that build events off the user's thread register a hook that hands them over first."""
    if hook not in _before_flush:
        _before_flush.append(hook)


def _hand_over(timeout: float) -> float:
    """Let trackers hand over the events they build off-thread; returns the time left."""
    deadline = time.monotonic() + timeout
    for hook in list(_before_flush):
        hook(max(0.0, deadline - time.monotonic()))
    return max(0.0, deadline - time.monotonic())


def flush(timeout: float = 30.0) -> int:
    """Block until every event logged so far is durable or delivered. Returns how many are still pending."""
    left = _hand_over(timeout)
    return emitter().flush(left) if _emitter is not None else 0


def active_run() -> "Run | None":
    return _active.get()


_running: list["Run"] = []  # every run started and not yet ended in this process, oldest first


def latest_run() -> "Run | None":
    """The most recently started run that is still running, whichever thread started it.

    Trackers use it in threads that do not see the starting thread's active run (a pool worker).
    """
    running = _running
    return running[-1] if running else None


def start_run(name: str | None = None, *, parent: "Run | str | None" = None, branch_seq: int | None = None,
              tags: Mapping[str, str] | None = None, project: str | None = None,
              experiment: str | None = None) -> "Run":
    """Start a run; use it as a context manager. ``parent`` branches this run off another.

    Every argument is checked here (``TrackingError`` naming it), so a bad one never reaches
    the event log as an event that does not fit the schema."""
    run = Run(name=name, parent=parent, branch_seq=branch_seq, tags=tags, project=project, experiment=experiment)
    run._start()
    return run


class Run:
    """One run: a sequence of actions. Not thread-safe to *start*; logging from threads is fine."""

    def __init__(self, name: str | None = None, parent: "Run | str | None" = None, branch_seq: int | None = None,
                 tags: Mapping[str, str] | None = None, project: str | None = None, experiment: str | None = None):
        cfg = settings()
        self.run_id = uuid7()
        self.project = cfg.project if project is None else _check_name("project", project)
        self.experiment = cfg.experiment if experiment is None else _check_name("experiment", experiment)
        self.name = (f"{os.path.splitext(os.path.basename(sys.argv[0] or 'python'))[0] or 'run'}-{self.run_id[-6:]}"
                     if name is None else _check_name("run", name))
        self.parent_run_id = parent.run_id if isinstance(parent, Run) else parent
        if self.parent_run_id is not None and not isinstance(self.parent_run_id, str):
            raise TrackingError(f"parent must be a Run or a run id string, got {shown(parent)}")
        self.branch_seq = None if branch_seq is None else _integer("branch_seq", branch_seq)
        self.tags = _check_tags(tags)
        self.status: str | None = None
        self._seq = count()
        self._started = 0.0
        self._token: contextvars.Token | None = None
        framework, version = python_framework()
        self._producer = producer_info(framework, version).as_record()
        self._head = (self.project, self.experiment, self.run_id, self._producer)  # a point's envelope, shared
        self._max_param_bytes = cfg.max_param_bytes

    # -- lifecycle -------------------------------------------------------------
    def _start(self) -> None:
        self._started = time.perf_counter()
        self._emit("RunStarted", {
            "name": self.name, "parent_run_id": self.parent_run_id, "branch_seq": self.branch_seq,
            "user": _user(), "source": os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "",
            "tags": self.tags,
        })
        self.status = "RUNNING"
        self._token = _active.set(self)
        _running.append(self)

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        if self.status != "RUNNING":
            return
        if status not in ENDED:
            raise TrackingError(f"run status must be FINISHED, FAILED or KILLED, got {shown(status)}")
        if error is not None and not isinstance(error, str):
            raise TrackingError(f"a run's error must be a string or None, got {shown(error)}")
        self.status = status
        _hand_over(settings().exit_flush_timeout_s)  # events a tracker builds off-thread belong before the end
        self._emit("RunEnded", {"status": status, "error": error,
                                "duration_ms": (time.perf_counter() - self._started) * 1000})
        # Hand the run's events to the transport now (bounded, no delivery wait): a worker
        # process that is terminated right after its run must not take them along.
        emitter().drain(1.0)
        try:
            _running.remove(self)
        except ValueError:
            pass
        if self._token is not None:
            try:
                _active.reset(self._token)
            except ValueError:  # ended from another context
                _active.set(None)
            self._token = None

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("KILLED", "KeyboardInterrupt")
        else:
            detail = "".join(traceback.format_exception_only(exc_type, exc)).strip()
            self.end("FAILED", detail[:4000])

    # -- logging ---------------------------------------------------------------
    def _emit(self, event_type: str, payload: dict[str, Any], span: int = 1) -> None:
        # ``span``: the seqs the event takes (a batch of points: one each).
        event = envelope(event_type, payload, project=self.project, experiment=self.experiment,
                         run_id=self.run_id, seq=next(self._seq), producer=self._producer)
        for _ in range(span - 1):
            next(self._seq)
        self._send(event)

    def _send(self, event: dict[str, Any] | tuple) -> None:
        # Hot path: read the module's emitter without taking locks; build it only when missing.
        sender = _emitter if _emitter is not None and not _emitter.closed else emitter()
        try:
            sender.emit(event)  # an emitter that closes meanwhile either takes the event or refuses it
        except TransportError:
            if not sender.closed or sender is _emitter:
                raise
            emitter().emit(event)  # init() closed it before the event was taken: the new emitter takes it

    def _check_running(self) -> None:
        """The public ``log_*`` calls refuse a run that has ended: its events would follow its end."""
        if self.status in ENDED:
            raise TrackingError(f"run {self.name!r} has ended ({self.status}); start a new run to log more")

    def _param(self, key: str, value: Any) -> tuple[dict, int]:
        """A param's record and its size in bytes; refuses a bad key or a value over the limit."""
        record = typed_param(_check_name("param", key), value)
        size = len(record["value"].encode("utf-8", "replace"))
        if size > self._max_param_bytes:
            raise TrackingError(
                f"param {key!r} is {size} bytes as text; the limit is {self._max_param_bytes} "
                "(MODELDB_MAX_PARAM_BYTES). Store large values as an artifact."
            )
        return record, size + len(record["key"]) + 16

    def log_param(self, key: str, value: Any) -> None:
        self._check_running()
        self._emit("ParamLogged", {"param": self._param(key, value)[0]})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Every param checked first (a bad one logs none of them), then sent as one ``ParamsLogged``
        event, or one per ``MAX_BYTES`` of params text; a single param is a ``ParamLogged``."""
        if not isinstance(params, Mapping):
            raise TrackingError(f"log_params takes a mapping, got {type(params).__name__}")
        self._check_running()
        checked = [self._param(key, value) for key, value in params.items()]
        part: list[dict] = []
        size = 0
        for record, n in checked:
            if part and size + n > MAX_BYTES:
                self._emit_params(part)
                part, size = [], 0
            part.append(record)
            size += n
        if part:
            self._emit_params(part)

    def _emit_params(self, records: list[dict]) -> None:
        if len(records) == 1:
            self._emit("ParamLogged", {"param": records[0]})
        else:
            self._emit("ParamsLogged", {"params": records}, span=len(records))

    def log_metric(self, name: str, value: Any, step: int = 0, *, model_id: str | None = None,
                   dataframe_id: str | None = None, slice: str = "") -> None:
        self._check_running()
        if not name or type(name) is not str or len(name) > MAX_NAME:
            _check_name("metric", name)
        if type(step) is not int:
            step = _integer(f"metric {name!r}: step", step)
        if not -(1 << 63) <= step < (1 << 63):
            raise TrackingError(f"metric {name!r}: step {shown(step)} does not fit in 64 bits")
        number = as_metric_value(name, value)
        if not (_optional_text(model_id) and _optional_text(dataframe_id) and type(slice) is str):
            raise TrackingError(f"metric {name!r}: model_id and dataframe_id must be strings or None, "
                                f"and slice a string; got {shown(model_id)}, {shown(dataframe_id)}, {shown(slice)}")
        # A bare point (batching.Point): its envelope and event id are made in the emitter's thread,
        # once per batch. Its ts is taken now.
        link = NO_LINK if model_id is None and dataframe_id is None and not slice else (
            model_id, dataframe_id, slice, False)
        self._send((self._head, next(self._seq), time.time_ns() // 1000, name, number, step, link))

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        if not isinstance(metrics, Mapping):
            raise TrackingError(f"log_metrics takes a mapping, got {type(metrics).__name__}")
        self._check_running()
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        self._check_running()
        self._emit("TagSet", {"key": _check_name("tag", key), "value": _text("tag", key, value)})

    def annotate(self, text: str, target_id: str | None = None) -> None:
        self._check_running()
        if not isinstance(text, str) or not text.strip():
            raise TrackingError("an annotation needs non-empty text")
        if not _optional_text(target_id):
            raise TrackingError(f"an annotation's target_id must be a string or None, got {shown(target_id)}")
        self._emit("Annotated", {"text": text, "target_id": target_id, "author": _user()})

    def log_curve(self, name: str, values: Any, *, model_id: str | None = None) -> None:
        """For trackers: a training curve (step i is ``values[i]``) as one event per ``MAX_POINTS``
        points, whatever the emitter's timing (``loss_curve_``, Spark's objective history…)."""
        self._check_running()
        _check_name("metric", name)
        if not _optional_text(model_id):
            raise TrackingError(f"metric {name!r}: model_id must be a string or None, got {shown(model_id)}")
        numbers = [as_metric_value(name, v) for v in values]
        links = [{"model_id": model_id, "dataframe_id": None, "slice": "", "model_changed": False}] if model_id else []
        for start in range(0, len(numbers), MAX_POINTS):
            part = numbers[start:start + MAX_POINTS]
            n = len(part)
            self._emit("MetricsLogged", {"names": [name], "links": links, "name_index": [0] * n,
                                         "link_index": [0] * n if links else [],
                                         "steps": list(range(start, start + n)), "values": part,
                                         "ts_offsets": [0] * n}, span=n)

    def emit_action(self, event_type: str, payload: dict[str, Any]) -> None:
        """For trackers: emit any action of the event contract in this run."""
        self._emit(event_type, payload)

    def __repr__(self) -> str:
        return f"Run(name={self.name!r}, run_id={self.run_id!r}, status={self.status!r})"
