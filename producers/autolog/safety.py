"""The one safe-patch primitive: tell the user's errors from the tracker's.

Every patched entry point (a scikit-learn or pyspark.ml method, a function such as
``train_test_split``, a task handed to a thread pool) is built by ``safe_patch``. The
wrapper hands its hook a ``Call``: the only way to run the original, exactly once.

* An exception raised by the original is the user's: it leaves the wrapper as the very
  same object, with its traceback, whatever the hook was doing around it.
* Any other exception is the tracker's. ``tracker_error`` logs it once per site and kind
  (``LogisticRegression.fit`` / ``KeyError``) and training goes on: the wrapper returns
  the original's result, or, when the hook failed before running it, runs the original
  (through ``untracked``, if given) and returns that.
* Under the test suite (``Settings.testing``, ``MODELDB_TESTING=1``) a tracker error is
  raised instead, so that a tracker bug fails a test rather than a log line nobody reads;
  when the user's error was unwinding at the time, it is the tracker error's ``__cause__``.
* A hook cannot swallow the user's error: if the original raised, the wrapper re-raises
  that error whatever the hook returned.

Background work (``guarded``) follows the same rule: a failing job is logged once; under
the test suite it is kept, and the next ``drain()`` raises it (see ``deferred``).
``KeyboardInterrupt`` and ``SystemExit`` are never caught.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Protocol


class Reporter(Protocol):
    """What a tracker offers the primitive: a warning logged once per site and kind."""

    def warn(self, what: str, exc: BaseException) -> None: ...


def testing() -> bool:
    """Whether tracker errors raise (the test suite): ``Settings.testing``, read where settings are read."""
    from modeldb.producers import tracking

    return tracking.settings().testing


def tracker_error(tracker: Reporter, site: str, exc: BaseException, cause: BaseException | None = None) -> None:
    """The one place a tracker error goes: raised under the test suite, else logged once and dropped."""
    if testing():
        raise exc from cause
    tracker.warn(site, exc)


def _site(site: Callable[..., str] | str, *args: Any, **kwargs: Any) -> str:
    """Where a tracker error is reported; naming it never fails."""
    if not callable(site):
        return site
    try:
        return site(*args, **kwargs)
    except Exception:
        return getattr(site, "__qualname__", "a patched call")


class Call:
    """The original of one patched call, run at most once; remembers what it did."""

    __slots__ = ("_original", "called", "result", "error")

    def __init__(self, original: Callable):
        self._original = original
        self.called = False
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.called:
            raise RuntimeError("modeldb: a patch ran the original twice")
        self.called = True
        try:
            self.result = self._original(*args, **kwargs)
        except BaseException as exc:
            self.error = exc
            raise
        return self.result


Hook = Callable[..., Any]  # hook(tracker, call, *args, **kwargs) -> the result to return


def safe_patch(original: Callable, hook: Hook, *, current: Callable[[], Any], site: Callable[..., str] | str,
               skip: Callable[..., bool] | None = None, untracked: Callable[..., Any] | None = None) -> Callable:
    """A stand-in for ``original`` that runs ``hook(tracker, call, *args, **kwargs)`` while a tracker is on.

    current: the tracker that is on, or None (then the original is called straight through).
    site: where a tracker error is reported; a callable gets the call's arguments (``Pipeline.fit``).
    skip(tracker, caller_frame, *args, **kwargs): call straight through (scikit-learn's own calls).
    untracked(tracker, *args, **kwargs): what runs the original when the hook failed before it did.
    """

    def passes_through(tracker: Any, caller: Any, *args: Any, **kwargs: Any) -> bool:
        if skip is None:
            return False
        try:
            return skip(tracker, caller, *args, **kwargs)
        except Exception as exc:  # deciding is tracking work too: a failure means "do not track this call"
            tracker_error(tracker, _site(site, *args, **kwargs), exc)
            return True

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        tracker = current()
        if tracker is None or passes_through(tracker, sys._getframe(1), *args, **kwargs):
            return original(*args, **kwargs)
        call = Call(original)
        try:
            result = hook(tracker, call, *args, **kwargs)
        except Exception as exc:
            if call.error is exc:
                raise  # the user's own error, unchanged
            tracker_error(tracker, _site(site, *args, **kwargs), exc, call.error)
        else:
            if call.error is not None:  # the hook caught the user's error: it still leaves, unchanged
                raise call.error
            return result
        if call.called:
            if call.error is not None:  # the tracker failed after the original raised: the user's error wins
                raise call.error
            return call.result
        if untracked is not None:
            return untracked(tracker, *args, **kwargs)
        return original(*args, **kwargs)

    patched.__modeldb_original__ = original  # type: ignore[attr-defined]
    return patched


def guarded(tracker: Reporter, job: Callable[[], None], site: str) -> Callable[[], None]:
    """A background job whose failure is a tracker error (logged once; raised under the test suite)."""

    def run() -> None:
        try:
            job()
        except Exception as exc:
            tracker_error(tracker, site, exc)

    return run
