"""The batch pipeline every runner drives, without services: the order of its steps and the commit rule."""
from __future__ import annotations

import pytest

from modeldb.core import codec
from modeldb.core.exceptions import TransportError, WarehouseError
from modeldb.stream_processors.deadletter import FileDeadLetters
from modeldb.stream_processors.pipeline import BatchPipeline, Raw, within_bytes
from modeldb.stream_processors.sink import WarehouseSink
from modeldb.warehouse.base import Result
from tests.unit.events_factory import event


class Recorder:
    """A warehouse, a dead-letter store and a commit in one, recording the order of the calls."""

    database = "db"

    def __init__(self, fail_insert: bool = False, fail_letters: bool = False):
        self.calls: list[tuple] = []
        self.fail_insert, self.fail_letters = fail_insert, fail_letters

    def query(self, sql, params=None, *, readonly=True):  # the current state reads back runs it has not seen: none
        return Result([], [], [])

    def insert(self, table, columns, rows):
        if self.fail_insert:
            raise WarehouseError("insert refused")
        self.calls.append(("insert", table, len(rows)))

    def insert_columns(self, table, columns, data):
        self.insert(table, columns, list(zip(*data.lists())))

    def write(self, letters):
        if self.fail_letters:
            raise TransportError("broker down")
        self.calls.append(("letters", [item.reason for item in letters]))

    def commit(self, ends):
        self.calls.append(("commit", dict(ends)))


def _records() -> list[Raw]:
    good = codec.encode(event("MetricLogged"))
    return [Raw(good, "t", 0, 10, 11, b"k"), Raw(b"junk", "t", 1, 5, 6, b"k2"),
            Raw(b"", "t", 0, 11, 19, None, "broken frame"), Raw(codec.encode(event("TagSet")), "t", 1, 6, 7)]


def _pipeline(recorder: Recorder, **options) -> BatchPipeline:
    return BatchPipeline(WarehouseSink(recorder), recorder.commit, recorder, **options)


def test_rows_then_dead_letters_then_the_commit_of_every_partitions_end():
    recorder = Recorder()
    batch = _pipeline(recorder).process(_records())
    kinds = [call[0] for call in recorder.calls]
    assert kinds[-2:] == ["letters", "commit"] and set(kinds[:-2]) == {"insert"}
    assert recorder.calls[0][1] == "events_raw"
    assert recorder.calls[-1][1] == {("t", 0): 19, ("t", 1): 7}
    reasons = recorder.calls[-2][1]
    assert len(reasons) == 2 and reasons[1] == "broken frame" and "shorter than" in reasons[0]
    assert batch.events == 2 and batch.written > 0 and len(batch.letters) == 2
    assert (batch.letters[0].partition, batch.letters[0].offset, batch.letters[0].key) == (1, 5, b"k2")


@pytest.mark.parametrize("failure", ["fail_insert", "fail_letters"])
def test_nothing_is_committed_when_a_write_fails(failure):
    recorder = Recorder(**{failure: True})
    with pytest.raises((WarehouseError, TransportError)):
        _pipeline(recorder).process(_records())
    assert not [call for call in recorder.calls if call[0] == "commit"]


def test_an_empty_fetch_commits_nothing_and_a_rebuild_only_counts_letters():
    recorder = Recorder()
    assert _pipeline(recorder).process([]).empty and recorder.calls == []
    counting = BatchPipeline(WarehouseSink(recorder), recorder.commit, None, tables=frozenset({"tags"}))
    batch = counting.process(_records())
    assert len(batch.letters) == 2 and not [call for call in recorder.calls if call[0] == "letters"]
    assert {call[1] for call in recorder.calls if call[0] == "insert"} == {"tags"}


def test_the_fault_pause_sits_between_the_write_and_the_commit(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr("time.sleep", lambda seconds: recorder.calls.append(("pause", seconds)))
    _pipeline(recorder, fault_pause_s=2.5).process(_records())
    kinds = [call[0] for call in recorder.calls]
    assert kinds[-3:] == ["letters", "pause", "commit"] and ("pause", 2.5) in recorder.calls


def test_file_dead_letters_keep_their_json_line_format(tmp_path):
    store = FileDeadLetters(tmp_path / "deadletter.jsonl")
    batch = BatchPipeline(WarehouseSink(Recorder()), lambda ends: None, store).process(_records())
    lines = store.read()
    assert [item["reason"] for item in lines] == [item.reason for item in batch.letters]
    assert set(lines[0]) == {"ts", "reason", "source", "partition", "offset", "size", "original_b64"}
    assert (lines[1]["source"], lines[1]["partition"], lines[1]["offset"], lines[1]["size"]) == ("t", 0, 11, 0)


def test_big_input_is_written_in_parts_of_at_most_max_bytes_each_committed_in_order():
    """A record can be a batch of thousands of points: ``process`` bounds what one write holds."""
    recorder = Recorder()
    points = codec.encode(event("MetricsLogged"))
    records = [Raw(points, "t", 0, i, i + 1) for i in range(10)]
    batch = _pipeline(recorder, max_bytes=3 * len(points)).process(records)
    commits = [call[1] for call in recorder.calls if call[0] == "commit"]
    assert commits == [{("t", 0): 3}, {("t", 0): 6}, {("t", 0): 9}, {("t", 0): 10}]
    assert (batch.events, batch.ends) == (10, {("t", 0): 10})
    assert sum(n for kind, table, n in (c for c in recorder.calls if c[0] == "insert") if table == "metrics") == 30
    assert within_bytes([5, 5, 5], 9) == 1 and within_bytes([50], 9) == 1 and within_bytes([3, 3, 3], 9) == 3
