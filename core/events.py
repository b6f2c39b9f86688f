"""The event model: ids, the envelope, and typed values.

An event is a plain dict in the shape of ``schemas/modeldb.Event.avsc``; the
payload is a ``(branch_name, record)`` tuple so that fastavro writes the right
union branch without guessing. Building one must stay cheap: it runs inside
the user's training loop (the goal is well under 20 µs per ``log_metric``).
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from modeldb.core.codec import SCHEMA_VERSION
from modeldb.core.exceptions import TrackingError

EVENT_TYPES = (
    "RunStarted", "RunEnded", "DataFrameObserved", "OperatorApplied", "Split",
    "CrossValidated", "SearchCompleted", "MetricLogged", "ParamLogged", "TagSet",
    "Annotated", "ArtifactStored", "ModelStored", "PredictionsLogged", "MetricsLogged", "ParamsLogged",
)

_uuid_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Random bytes are read from the OS 4 KiB at a time: one ``os.urandom`` call per id was most of an
# id's cost (a system call), and the bytes are the same CSPRNG's. A forked child drops what it
# inherited, so parent and child never hand out the same bytes.
_RANDOM_CHUNK = 4096
_random = b""
_random_at = 0


def _random_bytes(n: int) -> bytes:
    """``n`` fresh random bytes (the caller holds ``_uuid_lock``)."""
    global _random, _random_at
    if _random_at + n > len(_random):
        _random, _random_at = os.urandom(_RANDOM_CHUNK), 0
    _random_at += n
    return _random[_random_at - n:_random_at]


def _forget_random() -> None:
    global _random, _random_at, _last_ms, _counter
    _random, _random_at, _last_ms, _counter = b"", 0, 0, 0


os.register_at_fork(after_in_child=_forget_random)


# uuid.uuid7 arrives only in Python 3.14; we support 3.11, so the RFC 9562 layout is built here.
def uuid7() -> str:
    """A time-ordered UUIDv7 (RFC 9562) as 32 hex digits, monotonic within a process."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    with _uuid_lock:
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms += 1
                _counter = 0
        else:
            _counter = _random_bytes(1)[0]  # random start, leaves room to count
        _last_ms = ms
        counter = _counter
        rand = int.from_bytes(_random_bytes(8), "big") & 0x3FFFFFFFFFFFFFFF
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    return value.to_bytes(16, "big").hex()


def now_micros() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class ProducerInfo:
    host: str
    pid: int
    library: str
    library_version: str
    framework: str | None = None
    framework_version: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "host": self.host, "pid": self.pid, "library": self.library,
            "library_version": self.library_version, "framework": self.framework,
            "framework_version": self.framework_version,
        }


def producer_info(framework: str | None = None, framework_version: str | None = None) -> ProducerInfo:
    from modeldb.core import __version__

    return ProducerInfo(_host(), os.getpid(), "modeldb", __version__, framework, framework_version)


_hostname: str | None = None


def _host() -> str:
    """The host name, asked once per process (each run records it)."""
    global _hostname
    if _hostname is None:
        _hostname = socket.gethostname()
    return _hostname


def envelope(
    event_type: str, payload: dict[str, Any], *, project: str, experiment: str, run_id: str,
    seq: int, producer: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event_id": uuid7(),
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "ts": now_micros(),
        "project": project,
        "experiment": experiment,
        "run_id": run_id,
        "seq": seq,
        "producer": producer,
        "payload": ("modeldb." + event_type, payload),
    }


BYTES_LIKE = (bytes, bytearray, memoryview)


def is_bool_like(value: Any) -> bool:
    """``bool`` and numpy's ``bool_``: one kind, one rule (a param of type bool, never a metric)."""
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"


def typed_param(key: str, value: Any) -> dict[str, Any]:
    """A param record: a type tag, canonical text, and a number where one exists.

    bool-like values (``bool``, ``numpy.bool_``) are checked before int (bool is an int in
    Python). numpy scalars count as numbers. Lists, dicts and tuples of plain values are JSON;
    bytes-like values (``bytes``, ``bytearray``, ``memoryview``) are the ``repr`` of their bytes;
    anything else is its ``repr``. An integer too large for a float, or a value whose own
    ``repr``/``float`` fails, raises ``TrackingError`` naming the key.
    """
    try:
        return _typed_param(key, value)
    except TrackingError:
        raise
    except Exception as exc:  # the value's own __repr__, __float__ or __index__ failed: user code, any type
        raise TrackingError(f"param {key!r}: its value cannot be turned into text "
                            f"({type(exc).__name__}: {exc})") from None


def _typed_param(key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {"key": key, "type": "none", "value": "", "num": None}
    if is_bool_like(value):
        return {"key": key, "type": "bool", "value": "true" if value else "false", "num": 1.0 if value else 0.0}
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        try:
            number = float(value)
        except OverflowError:
            raise TrackingError(f"param {key!r}: the integer is too large to store (beyond ±1.8e308); "
                                "log it as a string, or store it as an artifact") from None
        return {"key": key, "type": "int", "value": str(int(value)), "num": number}
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        return {"key": key, "type": "float", "value": repr(number), "num": number}
    if isinstance(value, str):
        return {"key": key, "type": "str", "value": value, "num": None}
    if isinstance(value, (list, tuple, dict)):
        try:
            return {"key": key, "type": "json", "value": json.dumps(value, sort_keys=True, default=repr), "num": None}
        except (TypeError, ValueError):
            pass
    if isinstance(value, BYTES_LIKE):
        return {"key": key, "type": "repr", "value": repr(bytes(value)), "num": None}
    return {"key": key, "type": "repr", "value": repr(value), "num": None}


def as_metric_value(name: str, value: Any) -> float:
    """Metric values are real numbers. NaN and ±inf are kept (a diverged loss is information).

    Not numbers, even when they spell one: bool-like values (``bool``, ``numpy.bool_``),
    ``str``, bytes-like values (``bytes``, ``bytearray``, ``memoryview``) and ``None``. A
    number beyond the float range (``10**400``) is refused too. Every refusal is a
    ``TrackingError`` naming the metric.
    """
    if is_bool_like(value) or isinstance(value, (str, *BYTES_LIKE)) or value is None:
        raise TrackingError(f"metric {name!r}: value {shown(value)} is not a number")
    try:
        return float(value)
    except OverflowError:
        raise TrackingError(f"metric {name!r}: value {shown(value)} is too large for a float (beyond ±1.8e308)") from None
    except Exception:  # the value's own __float__ failed (TypeError, ValueError or anything else)
        raise TrackingError(f"metric {name!r}: value {shown(value)} is not a number") from None


def shown(value: Any) -> str:
    """A value for an error message: its repr cut short, or its type when the repr fails or is huge."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"(an integer of {value.bit_length()} bits)"
    try:
        text = repr(value)
    except Exception:  # user code
        return f"(a {type(value).__name__})"
    return text if len(text) <= 80 else text[:77] + "..."


def python_framework() -> tuple[str, str]:
    return "python", sys.version.split()[0]
