"""What the scikit-learn and Spark trackers share: switching autolog on and off, and the tracker's lifecycle.

* ``Switch``: the one tracker that is on, and the patches that lead to it, behind a lock.
  ``turn_on`` replaces the options of a tracker that is on already; ``turn_off`` puts the
  library back and ends the automatic run. ``modeldb.flush()`` drains the current tracker.
* ``TrackerBase``: the per-thread call stack, warnings logged once, the background work
  (``Deferred``), and the automatic run that ends at ``disable()`` or process exit.
* ``Autolog``: what ``autolog()`` returns; as a context manager it turns tracking off on exit.
"""
from __future__ import annotations

import atexit
import logging
import sys
import threading
import traceback
from typing import Any, Callable

from modeldb.producers import tracking
from modeldb.producers.autolog import safety
from modeldb.producers.autolog.deferred import Deferred


class TrackerBase:
    def __init__(self, options: Any, name: str):
        self.options = options
        self.log = logging.getLogger(f"modeldb.{name}")
        self.deferred = Deferred(name)
        self._local = threading.local()
        self._auto_run: Any = None
        self._run_lock = threading.Lock()
        self._warned: set[str] = set()

    def stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def warn(self, what: str, exc: BaseException) -> None:
        key = f"{what}:{type(exc).__name__}"
        with self._run_lock:
            first = key not in self._warned
            self._warned.add(key)
        if first:
            self.log.warning("modeldb: could not track %s (%s: %s); training goes on untracked", what,
                             type(exc).__name__, self.describe(exc), exc_info=self.log.isEnabledFor(logging.DEBUG))

    def submit(self, job: Callable[[], None], site: str) -> None:
        """Run ``job`` on the background thread; its failure is a tracker error at ``site``."""
        self.deferred.submit(safety.guarded(self, job, site))

    def describe(self, exc: BaseException) -> str:
        """An exception as the warning shows it."""
        return str(exc)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the work submitted to the background thread is done."""
        return self.deferred.drain(timeout)

    def start_auto_run(self, run: Any) -> Any:
        """Start ``run`` as the automatic run (active in this context; other threads reach it through the
        tracker); it ends at ``disable()`` or when the process exits."""
        run._start()
        self._auto_run = run
        # Registered after the run (and so after the emitter): runs before the emitter's exit flush.
        atexit.register(self._end_at_exit)
        return run

    def _end_at_exit(self) -> None:
        error = uncaught_error()
        self.end_auto_run("FAILED" if error is not None else "FINISHED", error)

    def end_auto_run(self, status: str = "FINISHED", error: str | None = None) -> None:
        self.drain()
        run, self._auto_run = self._auto_run, None
        if run is not None and run.status == "RUNNING":
            run.end(status, error)
        atexit.unregister(self._end_at_exit)


def uncaught_error() -> str | None:
    """The text of the exception that ended the script, as ``Run.__exit__`` records it; None if none did.

    An uncaught exception ends a script with ``sys.last_type`` and ``sys.last_value`` set (atexit runs
    after the traceback is printed)."""
    kind = getattr(sys, "last_type", None)
    if kind is None:
        return None
    text = "".join(traceback.format_exception_only(kind, getattr(sys, "last_value", None))).strip()
    return (text or kind.__name__)[:4000]


class Switch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Any = None
        self._patches: Any = None
        self._hooked = False  # flush's hook is set by the first turn_on, never at import time

    def current(self) -> Any:
        return self._current

    def set_current(self, tracker: Any) -> None:
        self._current = tracker

    def turn_on(self, options: Any, make_tracker: Callable[[Any], Any], patch: Callable[[Any], Any]) -> None:
        """Make a tracker current (or give the current one these options); ``patch(patches or None)``
        returns the patches, applying them the first time."""
        with self._lock:
            if not self._hooked:
                tracking.before_flush(self._drain)  # modeldb.flush() waits for this tracker's background work
                self._hooked = True
            if self._current is not None:
                self._current.options = options
            else:
                self._current = make_tracker(options)
            self._patches = patch(self._patches)

    def turn_off(self, status: str = "FINISHED") -> None:
        with self._lock:
            tracker, self._current = self._current, None
            if self._patches is not None:
                self._patches.undo()
                self._patches = None
        if tracker is not None:
            tracker.end_auto_run(status)

    def _drain(self, timeout: float) -> None:
        tracker = self._current
        if tracker is not None:
            tracker.drain(timeout)


class Autolog:
    """Returned by ``autolog()``; as a context manager it turns tracking off on exit."""

    def __init__(self, options: Any, switch: Switch):
        self.options = options
        self._switch = switch

    def __enter__(self) -> "Autolog":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._switch.turn_off("FAILED" if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)
                              else "KILLED" if exc_type is not None else "FINISHED")

    def __repr__(self) -> str:
        return f"Autolog(enabled={self._switch.current() is not None}, {self.options})"
