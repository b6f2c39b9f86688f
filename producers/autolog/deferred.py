"""Work the tracker does off the user's thread: building large events (prediction rows).

The user's thread takes cheap copies of what it needs and submits a function;
one daemon thread runs them in order. ``drain`` waits for the queue to empty:
``modeldb.flush()``, ``disable()``, the automatic run's end and the interpreter's
exit call it (the exit waits at most ``exit_timeout`` seconds), so no submitted
work is lost at exit. While someone drains, ``hurried`` is true: a job that would
otherwise wait its turn (the Spark tracker yields to the user's own Spark jobs)
runs at once. A forked child starts its own thread.

A job that fails is logged and the next jobs run. Under the test suite
(``safety.testing()``) the failure is also kept, and the next ``drain`` raises it,
so that a tracker bug off the user's thread still fails the test that caused it.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from typing import Callable

from modeldb.producers.autolog import safety

EXIT_TIMEOUT_S = 30.0


class Deferred:
    def __init__(self, name: str = "sklearn") -> None:
        self._name = name
        self._log = logging.getLogger(f"modeldb.{name}")
        self._jobs: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition()
        self._pending = 0
        self._pid = -1
        self._failure: BaseException | None = None
        self._hurry = 0  # drains in progress
        self.exit_timeout = EXIT_TIMEOUT_S  # how long the interpreter's exit waits for the jobs
        self.gave_up = False

    @property
    def hurried(self) -> bool:
        """Whether someone waits for the jobs now (a drain): they should not wait their turn."""
        return self._hurry > 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._cond:
            if self._pid != os.getpid():  # first use, or a forked child: the thread is not there
                self._pid, self._pending = os.getpid(), len(self._jobs)
                threading.Thread(target=self._run, name=f"modeldb-{self._name}-deferred", daemon=True).start()
                # Registered after the emitter exists (a run emitted already), so it runs before its exit flush.
                atexit.register(self._drain_at_exit)
            self._jobs.append(job)
            self._pending += 1
            self._cond.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job has run; False if time ran out. Under the test suite, raise
        the first job failure since the last drain."""
        with self._cond:
            self._hurry += 1
            try:
                done = self._cond.wait_for(lambda: self._pending == 0, timeout)
            finally:
                self._hurry -= 1
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        return done

    def pending(self) -> int:
        """Jobs submitted and not yet done."""
        with self._cond:
            return self._pending

    def _drain_at_exit(self) -> None:
        if not self.drain(self.exit_timeout):
            self.gave_up = True  # the exit waited its bound: later drains during the exit do not wait again

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._jobs))
                job = self._jobs.popleft()
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - a tracker bug must not stop later jobs
                self._log.warning("modeldb: a deferred tracking job failed", exc_info=True)
                if safety.testing():
                    with self._cond:
                        self._failure = self._failure or exc
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()
