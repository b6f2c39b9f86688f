"""Nothing tracked is lost when Spark stops: the tracker's pending Spark work is done first.

``SparkContext.stop`` is patched (``SparkSession.stop`` and leaving ``with SparkSession…``
call it); before the stop goes on, the tracker drains its background jobs, waiting at most
``stop_timeout`` seconds (``autolog(stop_timeout=…)``). The interpreter's exit drains them too,
within the same bound. The JVM is still up at that point, so models are written, frames
observed and prediction rows sent.

When the work can no longer be done (the bound ran out, the JVM died, the user killed it), a
job falls back to what needs no Spark: the ``ModelStored`` row and every action still go out,
a model whose files were not written gets no ``uri`` and an ``Annotated`` event on its id that
says why, a part is linked only into a whole that was written, and a frame is recorded with
its schema alone. ``Losses`` gathers what was not stored, and the user sees it in one warning.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

AFTER_STOP_S = 10.0  # what is left after a stop needs no Spark: recorded quickly, without it

KINDS = {"model": "files of {n} model(s)", "part": "links of {n} part(s) into their whole",
         "frame": "statistics and samples of {n} dataframe(s)", "predictions": "prediction rows of {n} evaluation(s)"}


def spark_gone(sc: Any, stop_reason: str | None) -> str | None:
    """Why Spark work can no longer be done on ``sc`` (stopped, or its JVM gone); None while it can."""
    if sc is None or getattr(sc, "_jsc", None) is None:
        return stop_reason or "the SparkContext was stopped"
    try:
        stopped = bool(sc._jsc.sc().isStopped())
    except Exception as exc:  # noqa: BLE001 - py4j cannot reach the JVM: it died or was killed
        return f"the Spark driver's JVM is gone ({type(exc).__name__})"
    return (stop_reason or "the SparkContext was stopped") if stopped else None


class Losses:
    """What the tracker could not store because Spark was gone, reported in one warning per batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, list[str]] = {}
        self._reason = ""

    def add(self, kind: str, what: str, reason: str) -> None:
        with self._lock:
            self._items.setdefault(kind, []).append(what)
            self._reason = self._reason or reason

    def report(self, log: logging.Logger) -> str | None:
        """Log what was lost since the last report, as one warning; returns its text."""
        with self._lock:
            items, reason = self._items, self._reason
            self._items, self._reason = {}, ""
        if not items:
            return None
        parts = []
        for kind, whats in items.items():
            shown = ", ".join(sorted(set(whats))[:5]) + (", …" if len(set(whats)) > 5 else "")
            parts.append(f"{KINDS[kind].format(n=len(whats))} ({shown})")
        text = (f"modeldb: Spark could no longer run the tracker's work ({reason}); not stored: "
                f"{'; '.join(parts)}. Every action, model row and metric was recorded; each model without "
                "files carries an annotation saying why.")
        log.warning(text)
        return text
