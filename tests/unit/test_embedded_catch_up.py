"""The one embedded catch-up (``modeldb.embedded``): when it runs, what it reports, and the dashboard's keeper."""
from __future__ import annotations

import contextlib
import time

import pytest

from modeldb import embedded
from modeldb.core.config import Settings
from modeldb.stream_processors.local import LocalRunner, Stats


class FakeRunner:
    def __init__(self, batches=(), backlog=0, fail=0):
        self.batches = list(batches)
        self.backlog = backlog
        self.fail = fail
        self.calls = 0

    def backlog_bytes(self):
        return self.backlog

    def catch_up(self, progress=None):
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("disk full")
        total = Stats()
        while self.batches:
            stats = Stats(events=self.batches.pop(0), batches=1)
            total.add(stats)
            if progress is not None:
                progress(stats)
        return total


@pytest.fixture
def runner(monkeypatch):
    made = {}

    def install(fake):
        made["runner"] = fake
        monkeypatch.setattr(LocalRunner, "from_settings", classmethod(lambda cls, settings, warehouse: fake))
        return fake

    return install


def test_only_the_file_log_with_chdb_is_embedded(tmp_path):
    assert embedded.is_embedded(Settings.load(env={}, home=tmp_path))
    assert not embedded.is_embedded(Settings.load(env={}, home=tmp_path, warehouse="clickhouse://127.0.0.1:9000/x"))
    assert not embedded.is_embedded(Settings.load(env={}, home=tmp_path, transport="kafka://127.0.0.1:9092/t"))


def test_catch_up_returns_the_runners_figures_and_reports_through_progress(tmp_path, runner):
    settings = Settings.load(env={}, home=tmp_path)
    runner(FakeRunner([3, 4]))
    assert embedded.catch_up(settings, object()).events == 7

    runner(FakeRunner([5, 6], backlog=2_000_000))
    seen, batches = [], []

    @contextlib.contextmanager
    def progress(backlog):
        seen.append(backlog)
        yield lambda stats: batches.append(stats.events)

    stats = embedded.catch_up(settings, object(), progress)
    assert (stats.events, stats.batches, seen, batches) == (11, 2, [2_000_000], [5, 6])


def test_a_progress_may_decline_to_report(tmp_path, runner):
    runner(FakeRunner([1]))

    @contextlib.contextmanager
    def silent(backlog):
        yield None

    assert embedded.catch_up(Settings.load(env={}, home=tmp_path), object(), silent).events == 1


def _wait(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_keeper_catches_up_first_then_keeps_going_and_survives_an_error(tmp_path, runner):
    fake = runner(FakeRunner([2]))
    keeper = embedded.Keeper.start(Settings.load(env={}, home=tmp_path), object(), interval_s=0.01)
    try:
        assert fake.calls >= 1 and not fake.batches  # the first catch-up ran before start returned
        assert keeper.events == 0  # ... and is not counted as background work
        fake.fail = 1
        assert _wait(lambda: keeper.error == "RuntimeError: disk full" or fake.fail == 0)
        fake.batches.append(5)
        assert _wait(lambda: keeper.events == 5)
        assert keeper.error == "" and keeper.last_batch > 0
    finally:
        keeper.stop()
    calls = fake.calls
    time.sleep(0.05)
    assert fake.calls <= calls + 1  # stopped
