import io
import struct

import fastavro
import fastavro.schema
import pytest

from modeldb.core import codec
from modeldb.core.events import EVENT_TYPES
from modeldb.core.exceptions import DecodeError
from tests.unit.events_factory import event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_round_trips(event_type):
    original = event(event_type)
    data = codec.encode(original)
    assert data[:2] == b"\xc3\x01"
    decoded = codec.decode(data)
    assert decoded["event_type"] == event_type
    assert decoded["payload"] == original["payload"][1]
    assert decoded["ts"] == original["ts"] and decoded["seq"] == original["seq"]


def test_fingerprint_is_the_avro_crc64_of_the_canonical_form():
    schema = codec.event_schema()
    expected = fastavro.schema.fingerprint(fastavro.schema.to_parsing_canonical_form(schema), "CRC-64-AVRO")
    assert codec.schema_fingerprint(schema).hex() == expected
    # Avro's reference value for the schema "null" (Java: SchemaNormalization.parsingFingerprint64,
    # 0x63DD24E7CC258F8A), written little-endian on the wire: fastavro's hex is already in wire order.
    assert codec.schema_fingerprint("null") == struct.pack("<Q", 0x63DD24E7CC258F8A)


# Computed by the hand-written CRC-64-AVRO table this codec used before it delegated to fastavro:
# records already on topics and in logs carry these bytes, so they must never change.
RELEASED_FINGERPRINTS = {"v1": "1ea14a488f49694f", "v2": "8876798194378df1", "v3": "b205fb291fa24396",
                         "v4": "5f313cfd3a1b61d4", "v5": "47f8fc507c943bef"}


def test_fingerprints_of_released_schemas_are_unchanged():
    assert {name: codec.schema_fingerprint(s).hex() for name, s in codec.released_schemas().items()} \
        == RELEASED_FINGERPRINTS
    assert codec.current_header() == bytes.fromhex("c301" + RELEASED_FINGERPRINTS["v5"])
    assert codec.encode(event("MetricLogged"))[:10] == codec.current_header()


def test_bad_marker_is_a_decode_error_with_reason():
    data = codec.encode(event("TagSet"))
    with pytest.raises(DecodeError, match="bad single-object marker"):
        codec.decode(b"\x00\x01" + data[2:])


def test_unknown_fingerprint_is_named():
    data = codec.encode(event("TagSet"))
    with pytest.raises(DecodeError, match="unknown schema fingerprint ffffffffffffffff"):
        codec.decode(data[:2] + b"\xff" * 8 + data[10:])


def test_truncated_record_and_garbage_body():
    data = codec.encode(event("MetricLogged"))
    with pytest.raises(DecodeError, match="shorter than the 10-byte"):
        codec.decode(data[:5])
    with pytest.raises(DecodeError, match="does not decode"):
        codec.decode(data[:10] + b"\xff" * 3)


def test_old_writer_schema_is_read_into_the_current_one():
    # A v1 record encoded with the released schema decodes with today's reader.
    released = codec.released_schemas()["v1"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, released, event("MetricLogged"))
    data = codec.MARKER + codec.schema_fingerprint(released) + buf.getvalue()
    assert codec.decode(data)["payload"]["name"] == "loss"
