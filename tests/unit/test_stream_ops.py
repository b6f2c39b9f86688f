"""Stream operations without services: structured log lines, the meter, dead-letter files, rebuild's table check."""
from __future__ import annotations

import json
import logging

import pytest

from modeldb.core import codec
from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError
from modeldb.stream_processors.deadletter import FileDeadLetters, letter, store
from modeldb.stream_processors.observe import Meter, StructuredFormatter
from modeldb.stream_processors.rebuild import check_tables
from tests.unit.events_factory import event


def _record(event_name: str, **fields) -> logging.LogRecord:
    record = logging.LogRecord("modeldb.processor", logging.WARNING, __file__, 1, event_name, (), None)
    record.event, record.fields = event_name, fields
    return record


def test_text_log_lines_are_key_value_and_quote_what_needs_it():
    line = StructuredFormatter("text").format(_record("dead_letters", count=2, first_reason="bad marker", rate=12.5))
    assert line.endswith('warning dead_letters count=2 first_reason="bad marker" rate=12.5')
    assert line[:4].isdigit() and "T" in line.split()[0]


def test_json_log_lines_carry_every_field():
    body = json.loads(StructuredFormatter("json").format(_record("progress", events=10, newest_age_s=None)))
    assert body["event"] == "progress" and body["events"] == 10 and body["newest_age_s"] is None
    assert body["level"] == "warning" and body["logger"] == "modeldb.processor"


def test_the_meter_counts_batches_and_the_newest_event():
    meter = Meter("confluent", "g", "topic")
    meter.batch(100, 2, newest_ts=5)
    meter.batch(50, 0, newest_ts=3)
    figures = meter.figures()
    assert (figures["events"], figures["dead"], figures["batches"]) == (150, 2, 2)
    assert meter.newest_ts == 5 and figures["state"] == "running"
    assert meter.tick() is True and meter.tick() is False  # one heartbeat per interval, no warehouse needed


def test_file_dead_letters_are_numbered_and_know_whether_they_decode_now(tmp_path):
    letters = FileDeadLetters(tmp_path / "deadletter.jsonl")
    good = codec.encode(event("MetricLogged"))
    letters.write([letter(b"junk", "bad marker", "events.log", 0, 10), letter(good, "old bug", "events.log", 0, 20)])
    found = list(letters.letters())
    assert [item.id for item in found] == ["1", "2"] and letters.count() == 2
    assert found[0].decoded()[0] is None and "shorter than" in found[0].decoded()[1]
    decoded, why = found[1].decoded()
    assert decoded["event_type"] == "MetricLogged" and why == ""
    assert found[1].original == good and found[1].offset == 20


def test_retried_letters_are_appended_to_the_file_log(tmp_path):
    from modeldb.core.eventlog import read_records

    settings = Settings.load(env={}, home=tmp_path)
    letters = store(settings)
    good = codec.encode(event("TagSet"))
    letters.write([letter(good, "old bug", "x", 0, 0)])
    assert letters.resend(settings, list(letters.letters())) == 1
    assert [r.payload for r in read_records(tmp_path / "events.log")] == [good]


def test_rebuild_names_unknown_tables():
    assert check_tables(None) is None and check_tables(["metrics"]) == frozenset({"metrics"})
    with pytest.raises(ConfigError, match="unknown table.*nope"):
        check_tables(["metrics", "nope"])


def test_log_format_and_fault_pause_are_validated():
    assert Settings.load(env={"MODELDB_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="MODELDB_LOG_FORMAT"):
        Settings.load(env={"MODELDB_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="MODELDB_FAULT_PAUSE_BEFORE_COMMIT_S"):
        Settings.load(env={"MODELDB_FAULT_PAUSE_BEFORE_COMMIT_S": "-1"})
