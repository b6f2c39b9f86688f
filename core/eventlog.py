"""The file event log: append-only frames of Avro single-object records.

Frame layout (big-endian)::

    b"MDBF" | length: u32 | crc32(payload): u32 | payload (single-object Avro)

Invariants:

* Many processes may append at once. Each append takes an exclusive ``flock``
  and issues whole frames with ``O_APPEND``, so frames never interleave.
* An append is durable once ``flush()`` has returned (it fsyncs).
* A reader trusts a frame only when its CRC holds. After damage (a bad marker,
  a bad checksum, or a length that runs past a later valid frame) it
  resynchronises on the next frame whose marker and CRC hold, and reports the
  skipped bytes as one corrupt record, so they reach the dead letters with a
  reason instead of vanishing, and nothing after them is held back.
* A frame that runs past the end with no valid frame after it is not an error
  yet: a writer may be half-way through it, so the reader stops there and tries
  again later (``modeldb status`` reports it if it stays).
* A failed append (a full disk) truncates what it wrote, so the log never holds a
  torn frame of its own making.

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
from typing import Any, Iterator

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
        done = 0
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
                done += written
        except OSError:
            # A full disk (ENOSPC, EFBIG) mid-append: take back what this call wrote, under the
            # lock, so the log holds whole frames only and the caller may retry all of ``data``.
            if done:
                os.ftruncate(fd, os.fstat(fd).st_size - done)
            raise
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

    The file is read ``window`` bytes at a time, so a log of any size streams. Every
    decision is made by checksums: a frame that fails its CRC, or whose length runs past
    the end while a whole, valid frame follows it, is damage (reported as a corrupt record
    reaching up to that next valid frame). Only a frame with nothing valid after it is
    taken for a write in progress, and waited for.
    """
    path = Path(path)
    if not path.exists():
        return
    count = 0
    with open(path, "rb") as fh:
        win = _Window(fh, os.fstat(fh.fileno()).st_size, window)
        while count < max_records and offset < win.size:
            kind, end, payload = _frame_at(win, offset)
            if kind == "ok":
                yield Record(offset, end, payload)
            else:
                end = _resync(win, offset + 1)
                if kind == "short" and (end is None or not _frame_at(win, end)[0] == "ok"):
                    return  # a frame still being written (or damage not decidable until more arrives)
                end = win.size if end is None else end
                if end <= offset:
                    return
                yield Record(offset, end, win.get(offset, end - offset), _REASON[kind])
            count += 1
            offset = end


_REASON = {"bad": "corrupt frame: bad marker, length or checksum",
           "short": "corrupt frame: its length runs past a later valid frame"}


class _Window:
    """Random access to the first ``size`` bytes of a file through one cached window."""

    def __init__(self, fh: Any, size: int, window: int):
        self.fh, self.size, self.window = fh, size, window
        self.base, self.data = 0, b""

    def get(self, pos: int, n: int) -> bytes:
        end = min(pos + n, self.size)
        if not (self.base <= pos and end <= self.base + len(self.data)):
            self.fh.seek(pos)
            self.data = self.fh.read(min(max(self.window, end - pos), self.size - pos))
            self.base = pos
        return self.data[pos - self.base:end - self.base]

    def find(self, needle: bytes, pos: int) -> int:
        """The first position of ``needle`` at or after ``pos``, or -1."""
        while pos < self.size:
            chunk = self.get(pos, self.window)
            hit = chunk.find(needle)
            if hit != -1:
                return pos + hit
            if len(chunk) < self.window:
                return -1
            pos += len(chunk) - len(needle) + 1
        return -1


def _frame_at(win: _Window, pos: int) -> tuple[str, int, bytes]:
    """("ok", end, payload) for a whole valid frame; ("short", …) for one that may still be
    growing (a valid header whose frame runs past the end); ("bad", …) otherwise."""
    header = win.get(pos, HEADER.size)
    if len(header) < HEADER.size:
        return ("short" if MAGIC.startswith(header[:4]) else "bad"), 0, b""
    magic, length, crc = HEADER.unpack(header)
    if magic != MAGIC or length > MAX_FRAME:
        return "bad", 0, b""
    end = pos + HEADER.size + length
    if end > win.size:
        return "short", 0, b""
    payload = win.get(pos + HEADER.size, length)
    return ("ok" if zlib.crc32(payload) == crc else "bad"), end, payload


def _resync(win: _Window, pos: int) -> int | None:
    """Where reading can go on after damage at ``pos - 1``: the next whole valid frame, else the
    first marker that may be a frame still being written, else None (damage to the end)."""
    maybe = None
    while True:
        pos = win.find(MAGIC, pos)
        if pos == -1:
            return maybe
        kind = _frame_at(win, pos)[0]
        if kind == "ok":
            return pos
        if kind == "short" and maybe is None:
            maybe = pos
        pos += 1
