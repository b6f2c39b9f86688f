"""Every schema change must keep older events readable (backward compatibility)."""
import copy
import io
import json

import fastavro
import pytest

from modeldb.core import codec
from modeldb.core.schema_compat import problems
from tests.unit.events_factory import RELEASED_TYPES, event


def current():
    return codec.expanded_event_schema()


def released():
    from importlib import resources

    folder = resources.files("modeldb.schemas") / "released"
    return {p.name: json.loads(p.read_text()) for p in folder.iterdir() if p.name.endswith(".json")}


def test_there_is_a_released_schema():
    assert "v1.json" in released()


@pytest.mark.parametrize("version", sorted(released()))
def test_current_schema_reads_every_released_schema(version):
    assert problems(released()[version], current()) == []


# Each released schema with the event types it knows (a release cannot write a type that came later).
@pytest.mark.parametrize("version, event_type", [(v, t) for v in sorted(released())
                                                 for t in RELEASED_TYPES[v.removesuffix(".json")]])
def test_released_records_decode_with_current_reader(version, event_type):
    writer = fastavro.parse_schema(codec._without_logical_types(released()[version]))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, event(event_type))
    record = fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), writer, codec.event_schema())
    assert record["event_type"] == event_type


def _payload(schema, name):
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    return next(b for b in payload["type"] if isinstance(b, dict) and b["name"].endswith(name))


def test_a_new_field_without_default_is_caught():
    reader = copy.deepcopy(current())
    _payload(reader, "MetricLogged")["fields"].append({"name": "unit", "type": "string"})
    found = problems(released()["v1.json"], reader)
    assert any("unit" in p and "no default" in p for p in found)


def test_a_new_field_with_default_is_fine():
    reader = copy.deepcopy(current())
    _payload(reader, "MetricLogged")["fields"].append({"name": "unit", "type": "string", "default": ""})
    assert problems(released()["v1.json"], reader) == []


def test_a_removed_union_branch_and_a_narrowed_type_are_caught():
    reader = copy.deepcopy(current())
    payload = next(f for f in reader["fields"] if f["name"] == "payload")
    payload["type"] = [b for b in payload["type"] if not (isinstance(b, dict) and b["name"].endswith("TagSet"))]
    narrowed = copy.deepcopy(current())
    next(f for f in narrowed["fields"] if f["name"] == "seq")["type"] = "int"
    assert any("no branch" in p for p in problems(released()["v1.json"], reader))
    assert any("long cannot be read as int" in p for p in problems(released()["v1.json"], narrowed))


def test_the_current_schema_is_released_under_its_version():
    """A schema change bumps ``codec.SCHEMA_VERSION`` and snapshots ``released/v<N>.json``."""
    assert released().get(f"v{codec.SCHEMA_VERSION}.json") == current()
