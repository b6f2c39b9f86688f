"""Spill-to-disk for events a transport could not deliver, and their replay.

Writers append to ``<home>/spill/events.log`` (the same framed format as the
file event log), opening the file per write under ``spill/.lock``. ``replay``
takes the same lock to rename the log aside, so no writer can append to a file
that replay has already read. A replay that crashes leaves its
``replaying-*.log`` behind; the next replay picks it up first. Replaying twice
is harmless: the warehouse dedupes by event id.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from modeldb.core.eventlog import EventLogWriter, frame, read_records


class SpillLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0  # records spilled by this process

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def append(self, values: list[bytes]) -> None:
        if not values:
            return
        with self._locked():
            writer = EventLogWriter(self.path)
            try:
                writer.append(b"".join(frame(v) for v in values))
                writer.sync()
            finally:
                writer.close()
        self.count += len(values)

    def pending_files(self) -> list[Path]:
        return sorted(self.path.parent.glob("replaying-*.log")) + ([self.path] if self.path.exists() else [])

    def pending_count(self) -> int:
        return sum(1 for f in self.pending_files() for r in read_records(f, max_records=10**12) if r.error is None)

    def claim(self) -> list[Path]:
        """Rename the live spill log aside (under the lock) and list every file to replay."""
        with self._locked():
            if self.path.exists() and self.path.stat().st_size:
                self.path.rename(self.path.parent / f"replaying-{time.time_ns()}-{os.getpid()}.log")
        return sorted(self.path.parent.glob("replaying-*.log"))


@dataclass
class ReplayResult:
    files: int = 0
    sent: int = 0
    failed: int = 0
    corrupt: int = 0


def replay(spill: SpillLog, send: Callable[[list[bytes]], list[bytes]],
           progress: Callable[[int], None] | None = None, batch: int = 10_000) -> ReplayResult:
    """Send every spilled record with ``send`` (which returns the records it could not deliver).

    A file is deleted only after all its records were delivered; undelivered
    ones go back into the spill log, so nothing is lost if the broker is still down.
    """
    result = ReplayResult()
    for path in spill.claim():
        result.files += 1
        failed: list[bytes] = []
        chunk: list[bytes] = []
        for record in read_records(path, max_records=10**12):
            if record.error is not None:
                result.corrupt += 1
                continue
            chunk.append(record.payload)
            if len(chunk) >= batch:
                failed += send(chunk)
                result.sent += len(chunk)
                progress and progress(len(chunk))
                chunk = []
        if chunk:
            failed += send(chunk)
            result.sent += len(chunk)
            progress and progress(len(chunk))
        if failed:
            spill.append(failed)
        result.sent -= len(failed)
        result.failed += len(failed)
        path.unlink()
    return result
