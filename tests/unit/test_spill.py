"""Spill and replay with the real file transport as the destination."""
from modeldb.core.eventlog import read_records
from modeldb.producers.file import FileTransport
from modeldb.producers.spill import SpillLog, replay


def test_replay_delivers_everything_and_keeps_what_fails(tmp_path):
    spill = SpillLog(tmp_path / "spill" / "events.log")
    spill.append([f"event-{i}".encode() for i in range(100)])
    assert spill.pending_count() == 100
    target = FileTransport(tmp_path / "out.log", lambda *a: None)

    def send(values):
        for v in values:
            target.publish(b"", v)
        target.flush(1)
        return [v for v in values if v.endswith(b"7")]  # pretend these were refused

    result = replay(spill, send, batch=30)
    assert result.sent == 90 and result.failed == 10
    delivered = [r.payload for r in read_records(tmp_path / "out.log", max_records=10**6)]
    assert len(delivered) == 100
    assert sorted(r.payload for r in read_records(spill.path)) == sorted(
        f"event-{i}".encode() for i in range(100) if i % 10 == 7)


def test_a_crashed_replay_is_picked_up_next_time(tmp_path):
    spill = SpillLog(tmp_path / "spill" / "events.log")
    spill.append([b"a", b"b"])
    claimed = spill.claim()  # a replay that died after claiming
    assert len(claimed) == 1 and not spill.path.exists()
    spill.append([b"c"])
    got = []
    result = replay(spill, lambda values: got.extend(values) or [])
    assert sorted(got) == [b"a", b"b", b"c"] and result.files == 2
    assert spill.pending_count() == 0
