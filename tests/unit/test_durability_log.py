"""Damaged frames in the file log and in spill files: found, kept with a reason, counted; nothing after them lost."""
from __future__ import annotations

import json
import struct
import threading

import pytest

from modeldb.core.eventlog import EventLogWriter, frame, read_records
from modeldb.producers.spill import SpillBusy, SpillLog, replay


def _payloads(n, tag="e"):
    return [f"{tag}-{i:03d}".encode() * 3 for i in range(n)]


def _set_length(data: bytearray, at: int, length: int) -> None:
    struct.pack_into(">I", data, at + 4, length)


def test_a_flipped_bit_in_a_mid_log_length_holds_nothing_back(tmp_path):
    path = tmp_path / "events.log"
    values = _payloads(30)
    data = bytearray(b"".join(frame(v) for v in values))
    at = sum(len(frame(v)) for v in values[:10])  # the 11th frame
    data[at + 5] ^= 0x10  # one bit of its length: now ~1 MiB, far past the end of this log
    path.write_bytes(bytes(data))
    records = list(read_records(path, max_records=10**6))
    good = [r.payload for r in records if r.error is None]
    bad = [r for r in records if r.error]
    assert good == values[:10] + values[11:]
    assert len(bad) == 1 and bad[0].offset == at and bad[0].payload == bytes(data[at:at + len(frame(values[10]))])
    assert records[-1].next_offset == len(data)


def test_a_short_length_inside_the_log_resyncs_on_the_next_valid_frame(tmp_path):
    path = tmp_path / "events.log"
    values = _payloads(5)
    data = bytearray(b"".join(frame(v) for v in values))
    at = len(frame(values[0]))
    _set_length(data, at, 3)  # too short: the checksum fails
    path.write_bytes(bytes(data))
    records = list(read_records(path))
    assert [r.payload for r in records if r.error is None] == [values[0]] + values[2:]
    assert sum(1 for r in records if r.error) == 1


def test_a_damaged_last_frame_waits_then_becomes_a_letter_when_more_arrives(tmp_path):
    path = tmp_path / "events.log"
    values = _payloads(3)
    data = bytearray(b"".join(frame(v) for v in values))
    at = len(frame(values[0])) + len(frame(values[1]))
    _set_length(data, at, 10_000)
    path.write_bytes(bytes(data))
    assert [r.payload for r in read_records(path)] == values[:2]  # undecidable yet: maybe a write in progress
    w = EventLogWriter(path)
    w.append(frame(b"later"))
    w.close()
    records = list(read_records(path))
    assert [r.payload for r in records if r.error is None] == values[:2] + [b"later"]
    assert [r.offset for r in records if r.error] == [at]


def test_a_marker_inside_garbage_does_not_hide_what_follows(tmp_path):
    path = tmp_path / "events.log"
    junk = b"MDBF" + struct.pack(">II", 5, 0) + b"xxxxx" + b"MDBF\xff"
    path.write_bytes(frame(b"a") + junk + frame(b"b") + frame(b"c"))
    records = list(read_records(path, window=16))  # a tiny window: markers straddle it
    assert [r.payload for r in records if r.error is None] == [b"a", b"b", b"c"]
    assert b"".join(r.payload for r in records if r.error) == junk


def test_a_failed_append_leaves_no_torn_frame(tmp_path, monkeypatch):
    import os

    path = tmp_path / "events.log"
    w = EventLogWriter(path)
    w.append(frame(b"whole"))
    real = os.write
    calls = []

    def short_then_full(fd, view):
        calls.append(1)
        if len(calls) == 1:
            return real(fd, bytes(view[:7]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(OSError):
        w.append(frame(b"torn") + frame(b"also"))
    monkeypatch.setattr(os, "write", real)
    w.append(frame(b"retried"))
    w.close()
    records = list(read_records(path))
    assert [r.payload for r in records] == [b"whole", b"retried"] and all(r.error is None for r in records)


def _spill_with_damage(tmp_path, damage_last=False):
    spill = SpillLog(tmp_path / "spill" / "events.log")
    values = _payloads(22)
    spill.append(values)
    data = bytearray(spill.path.read_bytes())
    index = 21 if damage_last else 7
    at = sum(len(frame(v)) for v in values[:index])
    _set_length(data, at, 50_000)  # a valid magic, a bogus length
    spill.path.write_bytes(bytes(data))
    return spill, values, index


@pytest.mark.parametrize("damage_last", [False, True])
def test_replay_keeps_damaged_spill_bytes_and_sends_every_intact_frame(tmp_path, damage_last):
    spill, values, index = _spill_with_damage(tmp_path, damage_last)
    got = []
    result = replay(spill, lambda chunk: got.extend(chunk) or [])
    assert got == values[:index] + values[index + 1:]
    assert result.sent == 21 and result.corrupt == 1 and result.failed == 0
    kept = [json.loads(line) for line in spill.damaged_path.read_text().splitlines()]
    assert len(kept) == 1 and kept[0]["size"] == len(frame(values[index])) and "corrupt" in kept[0]["reason"]
    assert result.corrupt_bytes == kept[0]["size"]
    assert not list(spill.path.parent.glob("replaying-*.log"))  # everything sent or kept: the file goes


def test_replay_keeps_the_file_when_damaged_bytes_cannot_be_kept(tmp_path, monkeypatch):
    spill, values, index = _spill_with_damage(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill, "keep_damaged", full)
    result = replay(spill, lambda chunk: [])
    assert result.kept_files == 1 and len(list(spill.path.parent.glob("replaying-*.log"))) == 1


def test_a_second_replay_at_once_is_refused_and_nothing_is_sent_twice(tmp_path):
    spill = SpillLog(tmp_path / "spill" / "events.log")
    spill.append(_payloads(50))
    inside, release = threading.Event(), threading.Event()
    sent = []

    def slow_send(chunk):
        inside.set()
        release.wait(10)
        sent.extend(chunk)
        return []

    first = threading.Thread(target=replay, args=(spill, slow_send))
    first.start()
    assert inside.wait(10)
    with pytest.raises(SpillBusy, match="another `modeldb replay` is running"):
        replay(SpillLog(spill.path), lambda chunk: sent.extend(chunk) or [])
    release.set()
    first.join(10)
    assert sorted(sent) == sorted(_payloads(50))
    assert SpillLog(spill.path).pending_count() == 0


def test_status_reports_a_stalled_file_log(tmp_path):
    from modeldb.stream_processors.status import _file_log_stall

    path = tmp_path / "events.log"
    values = _payloads(3)
    data = bytearray(b"".join(frame(v) for v in values))
    at = len(frame(values[0])) + len(frame(values[1]))
    _set_length(data, at, 10_000)  # the last frame's length runs past the end: held back
    path.write_bytes(bytes(data))
    status = {"problems": []}
    _file_log_stall(path, at, status)
    assert status["stalled_at"] == at and "stalled at offset" in status["problems"][0]
    with open(path, "ab") as fh:
        fh.write(frame(b"later"))
    status = {"problems": []}
    _file_log_stall(path, at, status)  # now decidable: damage pending for the dead letters
    assert "damaged byte(s)" in status["problems"][0]
    status = {"problems": []}
    _file_log_stall(path, 0, status)  # readable, merely not materialized yet
    assert status["problems"] == []
