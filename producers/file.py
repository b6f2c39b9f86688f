"""File transport: the embedded default. Appends to the local event log.

Limits: the log lives on one machine's disk; writers on several hosts need
Kafka. Records are durable once ``flush`` returns (fsync). Many processes may
append at once (see ``modeldb.core.eventlog``). The key is not stored: each event
carries its run id.
"""
from __future__ import annotations

from pathlib import Path

from modeldb.core.eventlog import EventLogWriter, frame
from modeldb.core.exceptions import TransportError
from modeldb.producers.base import Undeliverable

BUFFER_BYTES = 256 * 1024


class FileTransport:
    def __init__(self, path: Path, on_undeliverable: Undeliverable):
        self.path = Path(path)
        self.description = f"file://{self.path}"
        self._writer = EventLogWriter(self.path)
        self._buffer: list[bytes] = []
        self._size = 0
        self._on_undeliverable = on_undeliverable

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
        self._buffer.append(frame(value))
        self._size += len(value)
        if self._size >= BUFFER_BYTES:
            self.poll()

    def poll(self) -> None:
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        try:
            self._writer.append(data)
        except OSError as exc:
            # Keep the records: the emitter retries on the next poll and spills at close.
            raise TransportError(f"cannot append to the event log {self.path}: {exc.strerror}") from exc
        self._buffer.clear()
        self._size = 0

    def flush(self, timeout: float) -> int:
        self.poll()
        self._writer.sync()
        return 0

    def close(self, timeout: float) -> None:
        try:
            self.flush(timeout)
        except (OSError, TransportError) as exc:
            for item in self._buffer:
                self._on_undeliverable(b"", item[12:], f"event log not writable: {exc}")
            self._buffer.clear()
        finally:
            self._writer.close()
