"""The file event log: append-only frames of Avro single-object records.

Frame layout (big-endian)::

    b"MDBF" | length: u32 | crc32(payload): u32 | payload (single-object Avro)

Invariants:

* Many processes may append at once. Each append takes an exclusive ``flock``
  and issues whole frames with ``O_APPEND``, so frames never interleave.
* An append is durable once ``flush()`` has returned (it fsyncs).
* A reader never trusts a frame whose CRC fails. It resynchronises on the
  next ``MDBF`` marker and reports the skipped bytes as a corrupt record, so
  they reach the dead letters with a reason instead of vanishing.
* An incomplete frame at the end of the file is not an error: a writer may be
  half-way through it, so the reader stops there and tries again later.

The log is shared by the producers (writing) and the local runner (reading),
which never import each other, so it lives in the core package.
"""
from __future__ import annotations

import fcntl
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

MAGIC = b"MDBF"
HEADER = struct.Struct(">4sII")
MAX_FRAME = 64 * 1024 * 1024


def frame(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


class EventLogWriter:
    """Appends frames to one log file; safe with many writer processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def append(self, data: bytes) -> None:
        """Append already-framed bytes as one locked write."""
        if not data:
            return
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class Record:
    offset: int
    next_offset: int
    payload: bytes
    error: str | None = None  # set for corrupt bytes; payload then holds them raw


def read_records(path: Path, offset: int = 0, max_records: int = 100_000,
                 window: int = 8 * 1024 * 1024) -> Iterator[Record]:
    """Yield records from ``offset``; stop at the end, after ``max_records``, or at an incomplete frame.

    The file is read ``window`` bytes at a time, so a log of any size streams.
    """
    path = Path(path)
    if not path.exists():
        return
    count = 0
    with open(path, "rb") as fh:
        while count < max_records:
            fh.seek(offset)
            data = fh.read(window)
            if not data:
                return
            progressed = False
            for record in _parse(data, offset, len(data) < window, max_records - count):
                yield record
                count += 1
                offset = record.next_offset
                progressed = True
            if not progressed:
                big = _big_frame(fh, data, offset)
                if big is None:
                    return  # an incomplete frame at the end: a writer is mid-append
                yield big
                count += 1
                offset = big.next_offset


def _parse(data: bytes, base: int, at_eof: bool, limit: int) -> Iterator[Record]:
    pos, count, n = 0, 0, len(data)
    while pos + HEADER.size <= n and count < limit:
        magic, length, crc = HEADER.unpack_from(data, pos)
        if magic == MAGIC and length <= MAX_FRAME:
            end = pos + HEADER.size + length
            if end > n:
                return  # incomplete here; the caller reads on from this offset
            payload = data[pos + HEADER.size:end]
            if zlib.crc32(payload) == crc:
                yield Record(base + pos, base + end, payload)
                pos, count = end, count + 1
                continue
        # Corrupt: skip to the next marker and report what was skipped.
        nxt = data.find(MAGIC, pos + 1)
        if nxt == -1:
            # Writers only ever append whole frames that start with the marker,
            # so bytes here without one are damage, not a write in progress.
            # Keep the last 3 bytes when the window was cut: a marker may straddle it.
            stop = n if at_eof else max(pos + 1, n - len(MAGIC) + 1)
            yield Record(base + pos, base + stop, data[pos:stop], "corrupt frame: bad marker or checksum")
            return
        yield Record(base + pos, base + nxt, data[pos:nxt], "corrupt frame: bad marker or checksum")
        pos, count = nxt, count + 1


def _big_frame(fh, data: bytes, offset: int) -> Record | None:
    """A whole frame larger than the read window, or None if it is not all there yet."""
    if len(data) < HEADER.size:
        return None
    magic, length, crc = HEADER.unpack_from(data, 0)
    if magic != MAGIC or length > MAX_FRAME:
        return None
    fh.seek(offset + HEADER.size)
    payload = fh.read(length)
    if len(payload) < length:
        return None
    end = offset + HEADER.size + length
    if zlib.crc32(payload) == crc:
        return Record(offset, end, payload)
    return Record(offset, end, payload, "corrupt frame: checksum mismatch")
