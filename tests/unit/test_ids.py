"""Event ids (``core.events.uuid7``): unique, time-ordered, and never shared with a forked child."""
from __future__ import annotations

import os
import uuid

from modeldb.core.events import uuid7


def test_ids_are_uuid7s_unique_and_in_order_even_past_4096_in_a_millisecond():
    ids = [uuid7() for _ in range(50_000)]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and len(ids[0]) == 32


def test_a_forked_child_never_hands_out_its_parents_random_bytes():
    uuid7()  # the parent has random bytes buffered now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "".join(uuid7() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    child = {data[i:i + 32].decode()[16:] for i in range(0, len(data), 32)}
    parent = {uuid7()[16:] for _ in range(100)}  # the random half of each id
    assert len(child) == 100 and not child & parent
