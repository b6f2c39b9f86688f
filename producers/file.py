"""File transport: the embedded default. Appends to the local event log.

Limits: the log lives on one machine's disk; writers on several hosts need
Kafka. Records are durable once ``flush`` returns (fsync). Many processes may
append at once (see ``modeldb.core.eventlog``). The key is not stored: each event
carries its run id.

A full disk (ENOSPC, EFBIG) never raises from ``publish`` or ``flush``: the
records stay in memory, up to ``MAX_PENDING_BYTES``, and every ``poll`` tries
again (an append that fails takes back what it wrote, so a retry never tears or
doubles a frame). Beyond the bound, new records go to ``on_undeliverable`` (the
emitter spills them, or counts them lost). ``flush`` returns how many records
are still only in memory; ``problem`` says why.
"""
from __future__ import annotations

from pathlib import Path

from modeldb.core.eventlog import EventLogWriter, frame
from modeldb.core.exceptions import TransportError
from modeldb.producers.base import Undeliverable

BUFFER_BYTES = 256 * 1024
MAX_PENDING_BYTES = 64 * 1024 * 1024


class FileTransport:
    def __init__(self, path: Path, on_undeliverable: Undeliverable):
        self.path = Path(path)
        self.description = f"file://{self.path}"
        self._writer = EventLogWriter(self.path)
        self._buffer: list[bytes] = []
        self._size = 0
        self._on_undeliverable = on_undeliverable
        self.problem: str | None = None  # why the last append failed; None once appends work again

    def check(self) -> None:
        """Fail early, with the path in the message, if the log cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer.append(b"")
            with open(self.path, "ab"):
                pass
        except OSError as exc:
            raise TransportError(f"cannot write the event log {self.path}: {exc.strerror}") from None

    def publish(self, key: bytes, value: bytes) -> None:
        if self.problem is not None and self._size >= MAX_PENDING_BYTES:
            self.poll_quietly()
            if self.problem is not None:
                self._on_undeliverable(key, value, f"event log not writable ({self.problem}) and "
                                                   f"{MAX_PENDING_BYTES:,} bytes already waiting in memory")
                return
        self._buffer.append(frame(value))
        self._size += len(value)
        if self._size >= BUFFER_BYTES and self.problem is None:
            self.poll_quietly()

    def poll_quietly(self) -> None:
        """``poll``, keeping the records in memory on failure (``problem`` says why)."""
        try:
            self.poll()
        except TransportError:
            pass

    def poll(self) -> None:
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        try:
            self._writer.append(data)
        except OSError as exc:
            # Keep the records: the emitter retries on the next poll and spills at close.
            self.problem = exc.strerror or str(exc)
            raise TransportError(f"cannot append to the event log {self.path}: {self.problem}") from exc
        self.problem = None
        self._buffer.clear()
        self._size = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def flush(self, timeout: float) -> int:
        """Write and fsync everything; return how many records are still only in memory (a full disk)."""
        self.poll_quietly()
        if self._buffer:
            return len(self._buffer)
        try:
            self._writer.sync()
        except OSError as exc:
            self.problem = exc.strerror or str(exc)
            raise TransportError(f"cannot fsync the event log {self.path}: {self.problem}") from exc
        return 0

    def close(self, timeout: float) -> None:
        try:
            self.flush(timeout)
        except (OSError, TransportError):
            pass
        finally:
            for item in self._buffer:
                self._on_undeliverable(b"", item[12:], f"event log not writable: {self.problem}")
            self._buffer.clear()
            self._size = 0
            self._writer.close()
