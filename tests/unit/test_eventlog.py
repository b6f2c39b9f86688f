import multiprocessing
import os

from modeldb.core.eventlog import EventLogWriter, frame, read_records


def _writer(path, worker, n):
    w = EventLogWriter(path)
    for i in range(0, n, 50):
        w.append(b"".join(frame(f"{worker}:{j};".encode() * 20) for j in range(i, min(n, i + 50))))
    w.sync()
    w.close()


def test_many_writer_processes_never_interleave(tmp_path):
    path = tmp_path / "events.log"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 2000)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    records = list(read_records(path, max_records=10**9))
    assert all(r.error is None for r in records)
    assert len(records) == 8000
    per_worker = {}
    for r in records:
        first = r.payload.split(b";")[0]
        assert r.payload == (first + b";") * 20  # never torn or interleaved
        worker, j = first.split(b":")
        per_worker.setdefault(worker, []).append(int(j))
    # every writer's records are complete and in the order it wrote them
    assert per_worker == {str(w).encode(): list(range(2000)) for w in range(4)}


def test_corruption_is_reported_and_reading_resumes(tmp_path):
    path = tmp_path / "events.log"
    w = EventLogWriter(path)
    w.append(frame(b"first"))
    w.close()
    with open(path, "ab") as fh:
        fh.write(b"\x00garbage bytes from a crash\x00")
    w = EventLogWriter(path)
    w.append(frame(b"second"))
    w.close()
    records = list(read_records(path))
    assert [r.payload for r in records if r.error is None] == [b"first", b"second"]
    bad = [r for r in records if r.error]
    assert len(bad) == 1 and b"garbage" in bad[0].payload and "corrupt" in bad[0].error


def test_checksum_mismatch_is_caught(tmp_path):
    path = tmp_path / "events.log"
    data = bytearray(frame(b"payload-one") + frame(b"payload-two"))
    data[14] ^= 0xFF  # flip a byte inside the first payload
    path.write_bytes(bytes(data))
    records = list(read_records(path))
    assert records[0].error and records[1].payload == b"payload-two"


def test_incomplete_tail_waits_and_offsets_resume(tmp_path):
    path = tmp_path / "events.log"
    whole = frame(b"one") + frame(b"two")
    path.write_bytes(whole[:-2])  # a writer is half-way through "two"
    records = list(read_records(path))
    assert [r.payload for r in records] == [b"one"]
    with open(path, "ab") as fh:
        fh.write(whole[-2:])
    rest = list(read_records(path, records[-1].next_offset))
    assert [r.payload for r in rest] == [b"two"]
    assert rest[-1].next_offset == os.path.getsize(path)
