"""What the public logging calls accept: names, integers, tags; each refusal is a ``TrackingError``
that names the value. Also the OS user a run records."""
from __future__ import annotations

import functools
import getpass
import operator
from collections.abc import Mapping  # not typing.Mapping: its isinstance is several times slower
from typing import Any

from modeldb.core.events import is_bool_like, shown
from modeldb.core.exceptions import TrackingError

MAX_NAME = 250


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise TrackingError(f"{kind} name must be a non-empty string, got {shown(name)}")
    if len(name) > MAX_NAME:
        raise TrackingError(f"{kind} name {name[:40]!r}… is {len(name)} characters; the limit is {MAX_NAME}")
    return name


def _integer(what: str, value: Any) -> int:
    """An integral value: ``int`` or a numpy integer, never a bool, a float (``1.7``, ``3.0``, inf) or text."""
    if is_bool_like(value):
        raise TrackingError(f"{what} must be an integer, got {shown(value)}")
    try:
        return operator.index(value)
    except Exception:  # TypeError, or the value's own __index__ failing
        raise TrackingError(f"{what} must be an integer, got {shown(value)}") from None


def _optional_text(value: Any) -> bool:
    return value is None or type(value) is str


def _text(kind: str, key: Any, value: Any) -> str:
    """A tag value as text (``str(value)``); a value whose ``str`` fails is refused, naming the key."""
    try:
        return value if type(value) is str else str(value)
    except Exception as exc:  # user code
        raise TrackingError(f"{kind} {key!r}: its value cannot be turned into text ({type(exc).__name__})") from None


def _check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TrackingError(f"tags must be a mapping, got {type(tags).__name__}")
    return {_check_name("tag", _text("tag", k, k)): _text("tag", k, v) for k, v in tags.items()}


@functools.lru_cache(maxsize=1)
def _user() -> str:
    """The OS user, looked up once per process (``getpass`` reads the password database)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
