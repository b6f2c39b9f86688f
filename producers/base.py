"""The transport contract: a transport only moves bytes.

Encoding, keys, batching, retries and spill-to-disk live once, above the
transports, in ``modeldb.producers.emitter``. A transport reports every record
it could not deliver through ``on_undeliverable`` — it never drops one
silently — and the emitter spills those to the local log.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

Undeliverable = Callable[[bytes, bytes, str], None]
"""Called with (key, value, reason) for a record the transport gave up on."""


@runtime_checkable
class Transport(Protocol):
    #: printable, credential-free description, e.g. ``kafka://127.0.0.1:9092/modeldb.events``
    description: str

    def publish(self, key: bytes, value: bytes) -> None:
        """Queue one encoded event. Must not block on the network."""

    def poll(self) -> None:
        """Make progress: write buffered data, serve delivery reports."""

    def flush(self, timeout: float) -> int:
        """Make everything queued durable or delivered. Returns the count still pending."""

    def close(self, timeout: float) -> None:
        """Flush, then hand anything still pending to ``on_undeliverable`` and release resources."""
