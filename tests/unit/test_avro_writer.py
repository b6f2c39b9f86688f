"""The compiled writer must produce exactly what fastavro produces."""
import io
import math

import fastavro
import pytest

from modeldb.core import codec
from modeldb.core.avro_writer import AvroDataError, compile_writer
from modeldb.core.events import EVENT_TYPES
from tests.unit.events_factory import event


def fastavro_bytes(schema, datum):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), datum)
    return buf.getvalue()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_matches_fastavro_byte_for_byte(event_type):
    datum = event(event_type)
    assert codec.encode(datum)[10:] == fastavro_bytes(codec.event_schema(), datum)


@pytest.mark.parametrize("value", [0, 1, -1, 63, 64, -65, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1])
def test_longs_zigzag_like_fastavro(value):
    schema = {"type": "record", "name": "L", "fields": [{"name": "v", "type": "long"}]}
    assert compile_writer(schema)({"v": value}) == fastavro_bytes(schema, {"v": value})


def test_strings_doubles_maps_arrays_unions_and_defaults():
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "s", "type": "string"},
        {"name": "d", "type": "double"},
        {"name": "m", "type": {"type": "map", "values": "long"}},
        {"name": "a", "type": {"type": "array", "items": ["null", "string"]}},
        {"name": "u", "type": ["null", "long", "string"]},
        {"name": "b", "type": "boolean"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X", "Y"]}},
        {"name": "f", "type": {"type": "fixed", "name": "F", "size": 2}},
        {"name": "x", "type": "bytes"},
        {"name": "dflt", "type": "long", "default": 7},
    ]}
    for datum in (
        {"s": "héllo ✓", "d": -1.5e300, "m": {"a": 1, "b": -2}, "a": [None, "x"], "u": "s", "b": True, "e": "Y",
         "f": b"ab", "x": b"\x00\xff"},
        {"s": "", "d": math.inf, "m": {}, "a": [], "u": None, "b": False, "e": "X", "f": b"zz", "x": b""},
        {"s": "n", "d": 0.0, "m": {}, "a": [], "u": 5, "b": False, "e": "X", "f": b"zz", "x": b"", "dflt": 9},
    ):
        assert compile_writer(schema)(datum) == fastavro_bytes(schema, dict({"dflt": 7}, **datum))


def test_a_datum_that_does_not_fit_is_named():
    with pytest.raises(AvroDataError, match="missing field 'name'"):
        codec.encode(event("MetricLogged", name=None) | {"payload": ("modeldb.MetricLogged", {"value": 1.0})})
    with pytest.raises(AvroDataError, match="not a branch"):
        codec.encode(event("TagSet") | {"payload": ("modeldb.Nope", {})})
