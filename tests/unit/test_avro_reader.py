"""The compiled reader must return exactly what fastavro returns, or hand the record back to fastavro."""
import io
import math
import random
import re

import fastavro
import pytest

from modeldb.core import codec
from modeldb.core.avro_reader import Unusual, compile_reader
from modeldb.core.events import EVENT_TYPES, typed_param
from modeldb.core.exceptions import DecodeError
from tests.unit.events_factory import RELEASED_TYPES, event


def fastavro_bytes(schema, datum):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), datum)
    return buf.getvalue()


def fastavro_read(schema, body):
    return fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(schema), None)


def same(a, b):
    """Equal, with NaN equal to NaN and key order compared too."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def current_reader():
    return compile_reader(codec._without_logical_types(codec.expanded_event_schema()))


def via_fastavro(data):
    return fastavro.schemaless_reader(io.BytesIO(data[codec.HEADER_LEN:]), codec.event_schema(), None)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_matches_fastavro(event_type):
    data = codec.encode(event(event_type))
    assert same(current_reader()(data, codec.HEADER_LEN), via_fastavro(data))
    assert same(codec.decode(data), via_fastavro(data))


@pytest.mark.parametrize("value", [0.0, -0.0, 1e308, -1e-308, math.inf, -math.inf, math.nan])
def test_non_finite_and_extreme_doubles(value):
    datum = event("MetricLogged", value=value, step=2**40, model_id="m" * 200, dataframe_id="é✓", slice="x = 'ü'")
    data = codec.encode(datum)
    decoded = codec.decode(data)
    assert same(decoded, via_fastavro(data))
    assert math.copysign(1, decoded["payload"]["value"]) == math.copysign(1, value) or math.isnan(value)


def test_nulls_and_set_optionals_in_nested_records():
    params = [typed_param("a", None), typed_param("b", 2), typed_param("c", "x"), typed_param("d", True)]
    for datum in (event("SearchCompleted", best_model_id=None, candidates=[
                      {"index": i, "params": params, "mean_score": None if i else 0.5, "std_score": math.nan,
                       "rank": None, "fold_scores": []} for i in range(70)]),
                  event("PredictionsLogged", rows=[{"key": str(i), "prediction": "p", "prediction_num": None,
                                                    "label": None, "label_num": None,
                                                    "slice_values": {f"k{j}": "v" for j in range(i % 3)}}
                                                   for i in range(200)]),
                  event("RunStarted", parent_run_id=None, branch_seq=None, tags={}),
                  event("RunStarted", branch_seq=-(2**63), tags={f"t{i}": "v" * i for i in range(100)})):
        data = codec.encode(datum)
        assert same(current_reader()(data, codec.HEADER_LEN), via_fastavro(data))


def test_released_v1_records_still_go_through_fastavro_resolution():
    released = codec.released_schemas()["v1"]
    for event_type in RELEASED_TYPES["v1"]:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, released, event(event_type))
        data = codec.MARKER + codec.schema_fingerprint(released) + buf.getvalue()
        expected = fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), released, codec.event_schema())
        assert same(codec.decode(data), expected)


def test_every_avro_type_against_fastavro():
    schema = {"type": "record", "name": "R", "namespace": "t", "fields": [
        {"name": "s", "type": "string"},
        {"name": "by", "type": "bytes"},
        {"name": "d", "type": "double"},
        {"name": "f", "type": "float"},
        {"name": "i", "type": "int"},
        {"name": "m", "type": {"type": "map", "values": "long"}},
        {"name": "a", "type": {"type": "array", "items": ["null", "string"]}},
        {"name": "u", "type": ["null", "long", "string", {"type": "record", "name": "In", "fields": [
            {"name": "x", "type": "long"}]}]},
        {"name": "again", "type": ["null", "In"]},
        {"name": "b", "type": "boolean"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X", "Y"]}},
        {"name": "fx", "type": {"type": "fixed", "name": "F", "size": 3}},
        {"name": "nested", "type": {"type": "array", "items": {"type": "map", "values": {"type": "array",
                                                                                         "items": "double"}}}},
    ]}
    read = compile_reader(schema)
    for u in (None, 5, "text", {"x": -3}):
        datum = {"s": "ü" * 70, "by": b"\x00\xff", "d": -1.5, "f": 0.25, "i": -(2**31), "m": {"k": 2**62, "": -1},
                 "a": ["a", None] * 40, "u": u, "again": {"x": 1}, "b": True, "e": "Y", "fx": b"abc",
                 "nested": [{"n": [1.0, math.inf]}, {}]}
        body = fastavro_bytes(schema, datum)
        assert same(read(body, 0), fastavro_read(schema, body))


@pytest.mark.parametrize("value", [0, 1, -1, 63, 64, -65, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1])
def test_longs(value):
    schema = {"type": "record", "name": "L", "fields": [{"name": "v", "type": "long"}]}
    assert compile_reader(schema)(fastavro_bytes(schema, {"v": value}), 0) == {"v": value}


@pytest.mark.parametrize("body, why", [
    (b"\x02", "truncated"),                                  # a string of length 1 with no byte
    (b"\x01", "negative length"),
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "too wide"),
    (b"\x02\xff", "invalid utf-8"),
])
def test_unusual_bodies_are_refused_not_guessed(body, why):
    schema = {"type": "record", "name": "S", "fields": [{"name": "s", "type": "string"}]}
    with pytest.raises((Unusual, IndexError, UnicodeDecodeError)):
        compile_reader(schema)(body, 0)


def test_unusual_unions_booleans_and_blocks_are_refused():
    schema = {"type": "record", "name": "U", "fields": [
        {"name": "o", "type": ["null", "long"]}, {"name": "b", "type": "boolean"},
        {"name": "a", "type": {"type": "array", "items": "long"}}]}
    read = compile_reader(schema)
    assert read(b"\x02\x04\x01\x02\x06\x00", 0) == {"o": 2, "b": True, "a": [3]}
    for body in (b"\x04\x04\x01\x00", b"\x00\x02\x00", b"\x00\x01\x01\x02\x06\x00"):
        with pytest.raises(Unusual):
            read(body, 0)


def test_corrupt_records_fail_with_the_same_reason_as_before():
    data = codec.encode(event("MetricLogged"))
    rng = random.Random(7)
    for _ in range(300):
        cut = data[:rng.randrange(codec.HEADER_LEN, len(data))]
        flipped = bytearray(data)
        flipped[rng.randrange(codec.HEADER_LEN, len(data))] = rng.randrange(256)
        for corrupt in (cut, bytes(flipped)):
            try:
                expected = via_fastavro(corrupt)
            except Exception as exc:
                with pytest.raises(DecodeError) as got:
                    codec.decode(corrupt)
                addresses = re.compile(r"0x[0-9a-f]+")  # fastavro names its BytesIO object
                assert addresses.sub("", str(got.value)).endswith(addresses.sub("", f"{type(exc).__name__}: {exc}"))
                assert "does not decode" in str(got.value)
            else:
                assert same(codec.decode(corrupt), expected)


def test_a_body_with_trailing_bytes_reads_like_fastavro():
    data = codec.encode(event("TagSet")) + b"\x00junk"
    assert same(codec.decode(data), via_fastavro(data))


def test_non_bytes_input_decodes_too():
    data = codec.encode(event("ParamLogged"))
    assert same(codec.decode(bytearray(data)), codec.decode(data))
    assert same(codec.decode(memoryview(data)), codec.decode(data))


def test_blocks_of_longs_ints_and_doubles_read_at_once_like_fastavro():
    """A batch's columns take the block paths (numpy varints, one unpack of doubles): equal to fastavro
    on every value, and refused (for fastavro to decide) on anything odd."""
    schema = {"type": "record", "name": "B", "fields": [
        {"name": "l", "type": {"type": "array", "items": "long"}},
        {"name": "i", "type": {"type": "array", "items": "int"}},
        {"name": "d", "type": {"type": "array", "items": "double"}}]}
    read = compile_reader(schema)
    rng = random.Random(11)
    edges = [0, 1, -1, 63, 64, -65, 127, 128, 2**31 - 1, -(2**31), 2**62, -(2**63), 2**63 - 1]
    for n in (16, 17, 100, 5000):
        datum = {"l": [rng.choice(edges + [rng.randrange(-2**63, 2**63)]) for _ in range(n)],
                 "i": [rng.randrange(-2**31, 2**31) for _ in range(n)],
                 "d": [rng.choice([rng.random(), math.nan, -math.inf, 0.0]) for _ in range(n)]}
        body = fastavro_bytes(schema, datum)
        assert same(read(body, 0), fastavro_read(schema, body))
    body = fastavro_bytes(schema, {"l": list(range(40)), "i": list(range(40)), "d": [0.5] * 40})
    for cut in range(1, len(body) - 1, 7):  # truncated anywhere: never a guess
        with pytest.raises(Exception):
            read(body[:cut], 0)
    too_wide_int = fastavro_bytes({"type": "array", "items": "long"}, [2**31] * 20)
    with pytest.raises(Unusual, match="int outside 32 bits"):
        compile_reader({"type": "array", "items": "int"})(too_wide_int, 0)
