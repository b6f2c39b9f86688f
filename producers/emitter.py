"""The emitter: the one place where events are encoded, batched and sent.

``emit`` only appends the event dict to an in-memory queue, so the caller —
the user's training loop — never waits on encoding, the disk or the network.
A daemon thread drains the queue, encodes with fastavro (single-object
encoding, key = run id) and hands the bytes to the transport. The metric points
a run queued together go out as one event (``batching.py``).

Nothing accepted is dropped silently: a record the transport cannot deliver
comes back through ``_undeliverable`` and is spilled to ``<home>/spill``;
``modeldb replay`` sends it later. ``close`` (registered with ``atexit``)
drains the queue, flushes with a bounded wait and spills the rest.

A full disk never raises into user code: the transport keeps records in memory
up to a bound and retries; what can be neither written nor spilled is counted
in ``lost``. The library says so once when the trouble starts, and once more at
close with the exact count lost (nothing at all if none was lost).

Forks: everything the thread needs (the compiled encoder and its imports) is
built in the calling thread before the thread starts, and a fork waits for the
batch in flight (``os.register_at_fork`` takes each emitter's lock), so a child
never inherits a half-done import or a half-written buffer.
"""
from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from modeldb.core import codec
from modeldb.core.exceptions import TransportError
from modeldb.producers.base import Transport
from modeldb.producers.batching import PointBatcher, point_event
from modeldb.producers.spill import SpillLog

log = logging.getLogger(__name__)

DRAIN_BATCH = 2000
# After a wake-up the thread lingers this long (unless a flush or a full queue hurries it), so a
# burst of log_metric calls is queued together and goes out as one event per run (``batching.py``).
LINGER_S = 0.005

_live: "weakref.WeakSet[Emitter]" = weakref.WeakSet()
_held: list[threading.Lock] = []


def _before_fork() -> None:
    """Wait (bounded) for each emitter's batch in flight, so the child copies no half-done work."""
    for emitter in list(_live):
        if emitter._lock.acquire(timeout=5.0):
            _held.append(emitter._lock)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().release()


def _after_fork_in_child() -> None:
    _held.clear()  # the child abandons these emitters (modeldb.producers.tracking) with their locks


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)


def _logged(value: bytes) -> int:
    """How many logged events a record stands for: a batch's points or params, else one (the loss
    count is exact)."""
    try:
        event = codec.decode(value)
    except Exception:  # noqa: BLE001 - a record we wrote; if it does not decode it still was one event
        return 1
    return _span(event)


def _span(event: dict) -> int:
    """The logged events a decoded event stands for."""
    kind = event["event_type"]
    if kind == "MetricsLogged":
        return len(event["payload"]["values"])
    return len(event["payload"]["params"]) if kind == "ParamsLogged" else 1


class Emitter:
    def __init__(self, transport_factory: Any, spill: SpillLog, exit_flush_timeout_s: float = 10.0,
                 write_through: bool = False):
        # write_through (forked children): each emit hands its event to the transport before returning,
        # so a child killed by SIGTERM (Pool.terminate) has already written what it logged to the file log.
        self.write_through = write_through
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._urgent = threading.Event()  # set by flush, drain, close and a full queue: no lingering
        self._lock = threading.Lock()
        self._spill = spill
        self._exit_timeout = exit_flush_timeout_s
        self._closed = False
        self._warned = False
        self._disk_warned = False
        self._loss_reason = ""
        self.transport: Transport = transport_factory(self._undeliverable)
        self.encoded = 0
        self.lost = 0  # logged events (points, for a batch); only ever non-zero when the spill log cannot be written
        codec.current_header(), codec._encoder()  # build the encoder (and its imports) in this thread
        _live.add(self)
        self._thread = threading.Thread(target=self._run, name="modeldb-emitter", daemon=True)
        self._thread.start()
        atexit.register(self.close)
        # multiprocessing children leave through os._exit, which skips atexit; this runs there too.
        self._finalizer = multiprocessing.util.Finalize(self, self.close, exitpriority=10)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- called from user code: must stay cheap -------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        if self._closed:
            raise TransportError("the ModelDB emitter is closed; call modeldb.init() again")
        self._queue.append(event)
        if self._closed:  # close() began while the event went in: either its last drain took it, or nobody will
            try:
                self._queue.remove(event)
            except ValueError:
                return  # taken: this emitter sends it (or spills it)
            raise TransportError("the ModelDB emitter closed while the event was logged; call modeldb.init() again")
        if self.write_through:
            self._drain_once()
            return
        n = len(self._queue)
        if n == 1:
            self._idle.clear()
            self._wake.set()
        elif n == DRAIN_BATCH:  # a full round is waiting: no lingering (said once, not on every call)
            self._urgent.set()
            self._wake.set()

    # -- background ------------------------------------------------------------
    def _undeliverable(self, key: bytes, value: bytes, reason: str) -> None:
        self._spill_many([value], reason)

    def _spill_many(self, values: list[bytes], reason: str) -> None:
        if not values:
            return
        if not self._warned:
            self._warned = True
            log.warning("ModelDB: %s; spilling events to %s (send them later with `modeldb replay`)",
                        reason, self._spill.path)
        try:
            self._spill.append(values)
        except OSError as exc:  # nowhere left to keep them: counted, and said once at close
            self._lose(sum(map(_logged, values)), f"could not spill to {self._spill.path}: {exc.strerror or exc}")

    def _lose(self, n: int, reason: str) -> None:
        if not self.lost:
            self._loss_reason = reason
            log.error("ModelDB: %s; events are being lost (the exact count is logged at exit)", reason)
        self.lost += n

    def _poll(self) -> None:
        """Let the transport make progress; say once (not per retry) when it cannot write."""
        try:
            self.transport.poll()
        except Exception as exc:  # a full disk: the transport keeps the records and is retried
            if not self._disk_warned:
                self._disk_warned = True
                log.warning("ModelDB: %s; keeping events in memory and retrying", exc)

    def _encode(self, event: dict[str, Any] | tuple) -> bytes | None:
        """Encode (a bare point gets its envelope), or record the event as unencodable (with the reason)
        next to the spill log."""
        event = point_event(event)
        try:
            return codec.encode(event)
        except Exception as exc:  # a bad value must never kill the thread or vanish
            log.error("ModelDB: could not encode a %s event: %s", event.get("event_type"), exc)
            try:
                path = self._spill.path.parent / "unencodable.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"reason": str(exc), "event": event}, default=repr) + "\n")
            except OSError as exc:
                self._lose(1, f"could not keep an unencodable event: {exc.strerror or exc}")
            return None

    def _drain_once(self) -> int:
        """One round: up to DRAIN_BATCH queued events, each run's metric points as one event."""
        n = 0
        queue, points, publish = self._queue, PointBatcher(), self._publish
        with self._lock:
            while queue and n < DRAIN_BATCH:
                event = queue.popleft()
                n += 1
                if not n & 511:  # let the user's thread have the GIL now and then: no multi-ms stall in a log call
                    time.sleep(0)
                if type(event) is tuple or event["event_type"] == "MetricLogged":  # a point (batching.py)
                    full = points.add(event)
                    if full is not None:
                        publish(full)
                    continue
                held = points.take(event["run_id"])  # the run's points first: its events keep their order
                if held is not None:
                    publish(held)
                publish(event)
            for batch in points.take_all():
                publish(batch)
            self.encoded += n
            self._poll()
        return n

    def _publish(self, event: dict[str, Any]) -> None:
        parts = event.pop("_points", None)  # a batch: if it cannot be encoded, its points go one by one
        if parts is None:
            value = self._encode(event)
            if value is None:
                return
        else:
            try:
                value = codec.encode(event)
            except Exception:  # noqa: BLE001 - each point is then encoded (or kept as unencodable) alone
                for part in parts:
                    self._publish(point_event(part))
                return
        key = event["run_id"].encode("utf-8", "replace")
        try:
            self.transport.publish(key, value)
        except Exception as exc:  # TransportError, KafkaException (message too large)…
            self._undeliverable(key, value, f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        while True:
            try:
                self._wake.wait(0.2)
                self._wake.clear()
                if self._queue and not self._closed:
                    self._urgent.wait(LINGER_S)
                while self._drain_once():
                    pass
                if not self._queue:
                    self._urgent.clear()
                    self._idle.set()
                if self._closed and not self._queue:
                    return
            except Exception:  # keep draining whatever happens; the events are still queued
                log.exception("ModelDB: emitter error")
                time.sleep(0.1)

    # -- control ---------------------------------------------------------------
    def _wait_for_queue(self, timeout: float) -> float:
        """Wake the thread until the queue is empty or time is up; return the deadline."""
        deadline = time.monotonic() + timeout
        self._urgent.set()
        self._wake.set()
        while self._queue and time.monotonic() < deadline:
            self._idle.wait(0.02)
            self._urgent.set()
            self._wake.set()
        return deadline

    def drain(self, timeout: float = 1.0) -> None:
        """Hand everything queued to the transport (without waiting for delivery)."""
        deadline = self._wait_for_queue(timeout)
        # Taking the lock waits for the batch the thread may still be publishing.
        if self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                self._poll()
            finally:
                self._lock.release()

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every emitted event is handed to the transport and flushed. Returns pending count."""
        deadline = self._wait_for_queue(timeout)
        with self._lock:
            pending = self.transport.flush(max(0.0, deadline - time.monotonic()))
        return pending + len(self._queue)

    def flush_quietly(self, timeout: float) -> None:
        """``flush`` for exit paths (a signal handler): never raises."""
        try:
            self.flush(timeout)
        except Exception as exc:  # noqa: BLE001 - reported, and close() still spills the rest
            log.error("ModelDB: %s", exc)

    def abandon(self) -> None:
        """Forget this emitter in a forked child: the parent still owns its queue and transport."""
        self._closed = True
        self._queue = deque()
        atexit.unregister(self.close)
        self._finalizer.cancel()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._urgent.set()
        self._wake.set()
        self._thread.join(self._exit_timeout)
        atexit.unregister(self.close)
        got_lock = self._lock.acquire(timeout=self._exit_timeout)
        try:
            # The thread timed out (or died): encode and spill the rest here, in one write.
            rest = []
            while self._queue:
                value = self._encode(self._queue.popleft())
                if value is not None:
                    rest.append(value)
            self._spill_many(rest, "exit before delivery")
            try:
                self.transport.close(self._exit_timeout)
            except Exception as exc:
                log.error("ModelDB: closing %s: %s", self.transport.description, exc)
        finally:
            if got_lock:
                self._lock.release()
        if self.lost:
            log.error("ModelDB: %d event(s) lost in this process (%s)", self.lost, self._loss_reason)
