"""The emitter: the one place where events are encoded, batched and sent.

``emit`` only appends the event dict to an in-memory queue, so the caller —
the user's training loop — never waits on encoding, the disk or the network.
A daemon thread drains the queue, encodes with fastavro (single-object
encoding, key = run id) and hands the bytes to the transport.

Nothing accepted is dropped silently: a record the transport cannot deliver
comes back through ``_undeliverable`` and is spilled to ``<home>/spill``;
``modeldb replay`` sends it later. ``close`` (registered with ``atexit``)
drains the queue, flushes with a bounded wait and spills the rest.
"""
from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import threading
import time
from collections import deque
from typing import Any

from modeldb.core import codec
from modeldb.core.exceptions import TransportError
from modeldb.producers.base import Transport
from modeldb.producers.spill import SpillLog

log = logging.getLogger(__name__)

DRAIN_BATCH = 2000


class Emitter:
    def __init__(self, transport_factory: Any, spill: SpillLog, exit_flush_timeout_s: float = 10.0):
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._spill = spill
        self._exit_timeout = exit_flush_timeout_s
        self._closed = False
        self._warned = False
        self.transport: Transport = transport_factory(self._undeliverable)
        self.encoded = 0
        self.lost = 0  # only ever non-zero when the spill log itself cannot be written
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
        if len(self._queue) == 1 or len(self._queue) >= DRAIN_BATCH:
            self._idle.clear()
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
        except OSError as exc:  # nowhere left to keep them: say so loudly, with the count
            self.lost += len(values)
            log.error("ModelDB: could not spill %d event(s) to %s (%s); %d event(s) lost in this process",
                      len(values), self._spill.path, exc, self.lost)

    def _encode(self, event: dict[str, Any]) -> bytes | None:
        """Encode, or record the event as unencodable (with the reason) next to the spill log."""
        try:
            return codec.encode(event)
        except Exception as exc:  # a bad value must never kill the thread or vanish
            log.error("ModelDB: could not encode a %s event: %s", event.get("event_type"), exc)
            try:
                path = self._spill.path.parent / "unencodable.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"reason": str(exc), "event": event}, default=repr) + "\n")
            except OSError:
                self.lost += 1
            return None

    def _drain_once(self) -> int:
        n = 0
        queue, transport = self._queue, self.transport
        with self._lock:
            while queue and n < DRAIN_BATCH:
                event = queue.popleft()
                n += 1
                value = self._encode(event)
                if value is None:
                    continue
                key = event["run_id"].encode("utf-8", "replace")
                try:
                    transport.publish(key, value)
                except Exception as exc:  # TransportError, KafkaException (message too large)…
                    self._undeliverable(key, value, f"{type(exc).__name__}: {exc}")
            self.encoded += n
            try:
                transport.poll()
            except Exception as exc:
                log.error("ModelDB: %s", exc)
        return n

    def _run(self) -> None:
        while True:
            try:
                self._wake.wait(0.2)
                self._wake.clear()
                while self._drain_once():
                    pass
                if not self._queue:
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
        self._wake.set()
        while self._queue and time.monotonic() < deadline:
            self._idle.wait(0.02)
            self._wake.set()
        return deadline

    def drain(self, timeout: float = 1.0) -> None:
        """Hand everything queued to the transport (without waiting for delivery)."""
        deadline = self._wait_for_queue(timeout)
        # Taking the lock waits for the batch the thread may still be publishing.
        if self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                self.transport.poll()
            except Exception as exc:
                log.error("ModelDB: %s", exc)
            finally:
                self._lock.release()

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every emitted event is handed to the transport and flushed. Returns pending count."""
        deadline = self._wait_for_queue(timeout)
        with self._lock:
            pending = self.transport.flush(max(0.0, deadline - time.monotonic()))
        return pending + len(self._queue)

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
