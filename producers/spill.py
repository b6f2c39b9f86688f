"""Spill-to-disk for events a transport could not deliver, and their replay.

Writers append to ``<home>/spill/events.log`` (the same framed format as the
file event log), opening the file per write under ``spill/.lock``. ``replay``
takes the same lock to rename the log aside, so no writer can append to a file
that replay has already read. A replay that crashes leaves its
``replaying-*.log`` behind; the next replay picks it up first. Replaying twice
is harmless: the warehouse dedupes by event id.

Invariants:

* One replay at a time: a replay holds ``spill/.replay.lock`` from its claim to
  its last delete; a second one gets ``SpillBusy`` at once (the CLI says so in
  one line), so no file is read twice or deleted under another replay.
* A replay never deletes bytes it could not send. Damaged frames (a bad
  checksum, a bogus length) are skipped by the reader, which resynchronises on
  the next valid frame; the damaged bytes are appended, with the reason, the
  file and the offset, to ``spill/damaged.jsonl`` (fsynced) and counted. A
  claimed file is deleted only once each of its bytes was sent, spilled again
  or kept there; if keeping them fails, the file stays for the next replay.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from modeldb.core.eventlog import EventLogWriter, frame, read_records
from modeldb.core.exceptions import TransportError


class SpillBusy(TransportError):
    """Another replay holds the spill directory."""


class SpillLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0  # records spilled by this process
        self._replaying = False

    @property
    def damaged_path(self) -> Path:
        return self.path.parent / "damaged.jsonl"

    @contextmanager
    def _locked(self, name: str = ".lock", wait: bool = True) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise SpillBusy(f"another `modeldb replay` is running on {self.path.parent}; "
                                "run it again when that one has ended") from None
            yield
        finally:
            os.close(fd)

    @contextmanager
    def replaying(self) -> Iterator[None]:
        """Hold the replay lock (re-entrant on this object); ``SpillBusy`` at once if another replay has it."""
        if self._replaying:
            yield
            return
        with self._locked(".replay.lock", wait=False):
            self._replaying = True
            try:
                yield
            finally:
                self._replaying = False

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

    def keep_damaged(self, path: Path, offset: int, data: bytes, reason: str) -> None:
        """Keep damaged bytes of a spill file, with why and where they were, durably."""
        line = {"ts": time.time(), "reason": reason, "file": path.name, "offset": offset, "size": len(data),
                "original_b64": base64.b64encode(data).decode()}
        with self._locked(), open(self.damaged_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

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
    corrupt: int = 0  # damaged regions found (each kept in ``damaged.jsonl`` unless ``kept_files``)
    corrupt_bytes: int = 0
    kept_files: int = 0  # files left in place because their damaged bytes could not be kept


def replay(spill: SpillLog, send: Callable[[list[bytes]], list[bytes]],
           progress: Callable[[int], None] | None = None, batch: int = 10_000) -> ReplayResult:
    """Send every spilled record with ``send`` (which returns the records it could not deliver).

    A file is deleted only after all its records were delivered or spilled again, and its
    damaged bytes kept in ``damaged.jsonl``; raises ``SpillBusy`` if another replay runs.
    """
    result = ReplayResult()
    with spill.replaying():
        for path in spill.claim():
            result.files += 1
            _replay_file(spill, path, send, progress, batch, result)
    return result


def _replay_file(spill: SpillLog, path: Path, send: Callable[[list[bytes]], list[bytes]],
                 progress: Callable[[int], None] | None, batch: int, result: ReplayResult) -> None:
    failed: list[bytes] = []
    chunk: list[bytes] = []
    damaged: list[tuple[int, bytes, str]] = []
    end = 0

    def flush_chunk() -> None:
        failed.extend(send(chunk))
        result.sent += len(chunk)
        progress and progress(len(chunk))
        chunk.clear()

    for record in read_records(path, max_records=10**12):
        end = record.next_offset
        if record.error is not None:
            damaged.append((record.offset, record.payload, record.error))
            continue
        chunk.append(record.payload)
        if len(chunk) >= batch:
            flush_chunk()
    if chunk:
        flush_chunk()
    size = path.stat().st_size
    if end < size:  # a claimed file has no writer: a frame running past the end is damage too
        with open(path, "rb") as fh:
            fh.seek(end)
            damaged.append((end, fh.read(), "corrupt frame: its length runs past the end of the spill file"))
    spill.append(failed)  # raises (the file stays) if even that cannot be written
    result.sent -= len(failed)
    result.failed += len(failed)
    result.corrupt += len(damaged)
    result.corrupt_bytes += sum(len(data) for _, data, _ in damaged)
    try:
        for offset, data, reason in damaged:
            spill.keep_damaged(path, offset, data, reason)
    except OSError:
        result.kept_files += 1  # keep the whole file: the next replay tries again (the sent part is deduped)
        return
    path.unlink()
