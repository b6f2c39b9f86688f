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
import logging
import threading
import time
from collections import deque
from typing import Any

from modeldb import codec
from modeldb.exceptions import TransportError
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
        self._thread = threading.Thread(target=self._run, name="modeldb-emitter", daemon=True)
        self._thread.start()
        atexit.register(self.close)

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
        if not self._warned:
            self._warned = True
            log.warning("ModelDB: %s; spilling events to %s (send them later with `modeldb replay`)",
                        reason, self._spill.path)
        self._spill.append([value])

    def _drain_once(self) -> int:
        n = 0
        queue, transport = self._queue, self.transport
        with self._lock:
            while queue and n < DRAIN_BATCH:
                event = queue.popleft()
                try:
                    value = codec.encode(event)
                except Exception as exc:  # a bug or a bad value: never kill the thread
                    log.error("ModelDB: could not encode a %s event: %s", event.get("event_type"), exc)
                    continue
                try:
                    transport.publish(event["run_id"].encode(), value)
                except TransportError as exc:
                    self._undeliverable(event["run_id"].encode(), value, str(exc))
                n += 1
            self.encoded += n
            try:
                transport.poll()
            except TransportError as exc:
                log.error("ModelDB: %s", exc)
        return n

    def _run(self) -> None:
        while True:
            self._wake.wait(0.2)
            self._wake.clear()
            while self._drain_once():
                pass
            if not self._queue:
                self._idle.set()
            if self._closed and not self._queue:
                return

    # -- control ---------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every emitted event is handed to the transport and flushed. Returns pending count."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._queue and time.monotonic() < deadline:
            self._idle.wait(0.05)
            self._wake.set()
        with self._lock:
            pending = self.transport.flush(max(0.0, deadline - time.monotonic()))
        return pending + len(self._queue)

    def abandon(self) -> None:
        """Forget this emitter in a forked child: the parent still owns its queue and transport."""
        self._closed = True
        self._queue = deque()
        atexit.unregister(self.close)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(self._exit_timeout)
        with self._lock:
            while self._queue:  # the thread timed out: encode and spill the rest here
                event = self._queue.popleft()
                self._spill.append([codec.encode(event)])
            self.transport.close(self._exit_timeout)
        atexit.unregister(self.close)
