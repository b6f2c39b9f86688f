"""A full disk: logging never raises, events wait in memory up to a bound, the loss is said once, exactly.

The disk fills for real in a child process: either a file-size limit (RLIMIT_FSIZE with SIGXFSZ
ignored, so writes get EFBIG; runs anywhere, no privileges) or a 64 KiB tmpfs (needs root).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from modeldb.core import codec
from modeldb.core.eventlog import read_records

TOTAL = 10_000
CHILD = textwrap.dedent("""
    import resource, signal, sys
    home, limit = sys.argv[1], int(sys.argv[2])
    import modeldb
    from modeldb.producers import file, tracking
    file.MAX_PENDING_BYTES = 96 * 1024   # the in-memory bound, small for the test
    modeldb.init(project="full", home=home, testing=True)
    tracking.emitter()                   # the log and the spill folder exist before the limit
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    with modeldb.start_run(name="full") as run:
        for step in range(%d):
            run.log_metric("loss", 1.0, step=step)
    pending = modeldb.flush(5)
    print("flush", pending, "lost", tracking.emitter().lost, flush=True)
""" % (TOTAL - 2))


def _stored(home):
    """Logged events kept, each once: a batch of metric points counts its points."""
    kept = {}
    for path in (home / "events.log", home / "spill" / "events.log"):
        for r in read_records(path, max_records=10**9):
            if r.error is None:
                e = codec.decode(r.payload)
                kept[e["event_id"]] = len(e["payload"]["values"]) if e["event_type"] == "MetricsLogged" else 1
    return sum(kept.values())


def _run_child(home, limit):
    return subprocess.run([sys.executable, "-c", CHILD, str(home), str(limit)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MODELDB_TESTING": "1"})


def _assert_said_once_and_exact(home, proc):
    assert proc.returncode == 0, proc.stderr[-2000:]  # log_* and flush never raised
    flush = re.search(r"flush (\d+) lost (\d+)", proc.stdout)
    assert flush, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "ModelDB" in line]
    assert len(lines) <= 4, lines  # the onset, the spill, the first loss, and the count at exit
    final = [line for line in lines if re.search(r"\d+ event\(s\) lost in this process", line)]
    assert len(final) == 1, lines
    lost = int(re.search(r"(\d+) event\(s\) lost", final[0]).group(1))
    assert lost > 0 and _stored(home) + lost == TOTAL  # the count is exact: stored + lost = logged


def test_a_file_size_limit_stands_in_for_a_full_disk(tmp_path):
    proc = _run_child(tmp_path, 64 * 1024)
    _assert_said_once_and_exact(tmp_path, proc)


def test_a_full_tmpfs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                             text=True)
    # make test runs as root (it installs Debian packages), so the mount must work: never a silent skip.
    assert mounted.returncode == 0, f"cannot mount a 64 KiB tmpfs (make test runs as root): {mounted.stderr.strip()}"
    try:
        proc = _run_child(mnt, 0)
        _assert_said_once_and_exact(mnt, proc)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
