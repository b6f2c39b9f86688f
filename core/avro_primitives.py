"""The Avro primitives the compiled readers call: zigzag varints, one at a time and many at once.

Anything unusual (a truncated body, a varint wider than 64 bits, an int outside 32 bits, a negative length)
raises ``Unusual``; the codec then decodes the record with fastavro, which gives its own answer or error.
"""
from __future__ import annotations


class Unusual(Exception):
    """The body is not plain, well-formed data for this schema: let fastavro decide."""


def long_at(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint starting at ``pos``; unrolled, since timestamps take 8 bytes in every event.

    The repeated steps are deliberate: a loop would add an iteration per byte on the reader's hottest path.
    """
    b = data[pos]
    n = b & 0x7F
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 1
    b = data[pos + 1]
    n |= (b & 0x7F) << 7
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 2
    b = data[pos + 2]
    n |= (b & 0x7F) << 14
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 3
    b = data[pos + 3]
    n |= (b & 0x7F) << 21
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 4
    shift = 28
    pos += 4
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise Unusual("varint longer than 10 bytes")
    if n >> 64:
        raise Unusual("varint wider than 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def count_at(data: bytes, pos: int) -> tuple[int, int]:
    """A length or block count: never negative here (negative block counts go to fastavro)."""
    n, pos = long_at(data, pos)
    if n < 0:
        raise Unusual("negative length or block count")
    return n, pos


_ONE_BYTE = [(b >> 1) ^ -(b & 1) for b in range(0x80)]  # a one-byte zigzag varint's value


def varints_at(data: bytes, pos: int, count: int, bits: int) -> tuple[list[int], int]:
    """``count`` zigzag varints at once (a batch's steps, offsets and indexes), with numpy: about a
    tenth of the cost of reading them one by one. Anything odd raises ``Unusual``, as one by one."""
    head = data[pos:pos + count]
    if len(head) == count and max(head) < 0x80:  # all one byte (a batch's name indexes): no numpy at all
        return list(map(_ONE_BYTE.__getitem__, head)), pos + count
    import numpy as np

    window = np.frombuffer(data, np.uint8, max(0, min(len(data) - pos, 10 * count)), pos)
    ends = np.flatnonzero(window < 128)[:count]
    if len(ends) < count:
        raise Unusual("truncated varints")
    stop = int(ends[-1]) + 1
    starts = np.empty(count, np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends + 1 - starts
    if lengths.max() > 10 or (lengths.max() == 10 and window[ends[lengths == 10]].max() > 1):
        raise Unusual("varint wider than 64 bits")
    shift = (np.arange(stop, dtype=np.int64) - np.repeat(starts, lengths)).astype(np.uint64) * np.uint64(7)
    raw = np.add.reduceat((window[:stop].astype(np.uint64) & np.uint64(0x7F)) << shift, starts)
    values = (raw >> np.uint64(1)).astype(np.int64) ^ -(raw & np.uint64(1)).astype(np.int64)
    if bits == 32 and (values.min() < -0x80000000 or values.max() > 0x7FFFFFFF):
        raise Unusual("int outside 32 bits")
    return values.tolist(), pos + stop


def int_at(data: bytes, pos: int) -> tuple[int, int]:
    n, pos = long_at(data, pos)
    if not -0x80000000 <= n <= 0x7FFFFFFF:
        raise Unusual("int outside 32 bits")
    return n, pos
