"""Run a callback right after a module is imported, instead of importing it early.

A tracker that imported a library's submodules at ``autolog()`` to patch them would import them
at a moment the user did not choose. Imports have effects: scikit-learn's pull in ``rich``, whose
import draws from Python's ``random``, so a script that seeds ``random`` and then calls
``autolog()`` would draw other numbers than without it. ``after_import`` patches a module that is
loaded already at once, and one that is not when the user's own code imports it: a finder first
on ``sys.meta_path`` wraps that module's loader so the callback runs once its body has run, before
the importing statement binds any name from it.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from typing import Any, Callable


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, callback: Callable[[Any], None]):
        self._inner, self._callback = inner, callback

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        self._callback(module)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package… as the real loader has them
        return getattr(self._inner, name)


class Watcher(importlib.abc.MetaPathFinder):
    """Calls ``callback(module)`` after each watched module is imported; ``close`` stops watching."""

    def __init__(self) -> None:
        self._pending: dict[str, Callable[[Any], None]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def after_import(self, name: str, callback: Callable[[Any], None]) -> None:
        module = sys.modules.get(name)
        if module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False) is False:
            callback(module)
            return
        with self._lock:
            self._pending[name] = callback
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        callback = self._pending.get(fullname)
        if callback is None or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None:
            return None
        with self._lock:
            self._pending.pop(fullname, None)
        spec.loader = _Loader(spec.loader, callback)
        return spec

    def close(self) -> None:
        with self._lock:
            self._pending.clear()
            if self in sys.meta_path:
                sys.meta_path.remove(self)
