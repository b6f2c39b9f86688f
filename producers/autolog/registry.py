"""Remember what was recorded about live objects (a dataset, a fitted model), by identity.

An entry dies with its object, so a tracker never keeps a user's data alive, and a new
object that reuses a dead one's ``id`` is never mistaken for it.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any


class Registry:
    """Maps live objects (by identity) to what was recorded about them; entries die with the object."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref, Any]] = {}
        self._lock = threading.Lock()

    def get(self, obj: Any) -> Any:
        entry = self._items.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        return entry[1]

    def put(self, obj: Any, value: Any) -> None:
        key = id(obj)
        try:
            ref = weakref.ref(obj, lambda _r, k=key: self._drop(k, _r))
        except TypeError:  # lists, tuples: not weak-referenceable, observed afresh each time
            return
        with self._lock:
            self._items[key] = (ref, value)

    def _drop(self, key: int, ref: weakref.ref) -> None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry[0] is ref:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
