"""ClickHouse's Native format, written column by column with no Python object per value.

A Native block is the format ClickHouse itself sends between servers: the number of columns and
rows, then each column whole (its name, its type, its values). Fixed-width values are their
little-endian bytes, so a numpy array's ``tobytes()`` is the column. A ``String`` is each value's
byte length as a varint, then its bytes.

This is the block that an HTTP ``INSERT … FORMAT Native`` reads (``warehouse.clickhouse_backend``).
"""
from __future__ import annotations

from typing import Sequence


def varint(n: int) -> bytes:
    """LEB128, as ClickHouse writes lengths and counts."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string(value: str) -> bytes:
    """One ``String`` value: its UTF-8 length, then its bytes."""
    data = value.encode()
    return varint(len(data)) + data


def block(columns: Sequence[tuple[str, str, list[bytes]]], rows: int) -> list[bytes]:
    """A Native block from ``(name, type, encoded values in parts)`` per column, every column ``rows``
    long, as its parts in order. They are sent as they are: joining them would copy the whole block
    once more (about 115 bytes a point, most of them the repeated ids)."""
    parts = [varint(len(columns)), varint(rows)]
    for name, type_, data in columns:
        parts += [string(name) + string(type_), *data]
    return parts
