"""What every page shares: one read-only connection, the chosen project, and panels that show their SQL.

The dashboard reads only through ``warehouse/queries``, over a ``ReadOnlyWarehouse``: every
statement runs with the backend's read-only guard (the server's ``readonly`` setting, or chDB's
parser check), ``execute`` and ``insert`` are refused, and each statement is recorded so the panel
that ran it can show it. On the embedded default this process owns the chDB warehouse, and
``modeldb.embedded.Keeper`` keeps materializing new events from the file log in the background.
Pages name the queries they ask directly (``state.answer(Q.search_runs, project, …)``).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import streamlit as st

from modeldb import embedded
from modeldb.dashboard import links
from modeldb.core.config import Settings
from modeldb.core.exceptions import (ModelDBError, ReadOnlyError, WarehouseError, WarehouseLocked,
                                     WarehouseUnavailable)
from modeldb.warehouse.base import Result, Warehouse, bind
from modeldb.warehouse.queries import PROJECTS, FilterError, NamedQuery

log = logging.getLogger("modeldb.dashboard")
_recording = threading.local()
_started: list[embedded.Keeper] = []


class ReadOnlyWarehouse:
    """A warehouse the pages can only read: queries run read-only, and each one is recorded."""

    def __init__(self, inner: Warehouse):
        self._inner = inner
        self.database = inner.database
        self.description = inner.description
        self.capabilities = inner.capabilities

    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, readonly: bool = True) -> Result:
        return self._read(lambda: self._inner.query(sql, params, readonly=True), sql, params)

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._read(lambda: self._inner.frame(sql, params), sql, params)

    def _read(self, run: Any, sql: str, params: Mapping[str, Any] | None) -> Any:
        statements = getattr(_recording, "statements", None)
        if statements is not None:
            statements.append(bind(sql, params).strip())
        try:
            return run()
        except ReadOnlyError as exc:
            reason = str(exc).split(";")[0].split(" (use ")[0]
            raise ReadOnlyError(f"{reason}. The dashboard only reads; nothing was changed.", exc.code) from None

    def execute(self, sql: str) -> None:
        raise ReadOnlyError("refused: the dashboard only reads the warehouse", 164)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise ReadOnlyError("refused: the dashboard only reads the warehouse", 164)

    def insert_columns(self, table: str, columns: Sequence[str], data: Any) -> None:
        raise ReadOnlyError("refused: the dashboard only reads the warehouse", 164)

    def close(self) -> None:
        """The connection belongs to the dashboard process, not to a page."""


@dataclass
class Connection:
    warehouse: ReadOnlyWarehouse
    settings: Settings
    keeper: embedded.Keeper | None  # on the embedded default: materializes new events in the background


@st.cache_resource(show_spinner="Opening the warehouse…")
def connection() -> Connection:
    """The process's one connection (a failure is not cached, so a reload retries)."""
    from modeldb.warehouse.factory import connect

    settings = Settings.load()
    inner = connect(settings)
    keeper = None
    if embedded.is_embedded(settings):
        keeper = embedded.Keeper.start(settings, inner)
        _started.append(keeper)
    return Connection(ReadOnlyWarehouse(inner), settings, keeper)


ANSWER_TTL_S = 5.0  # how stale a shared answer may be: new runs still appear within a few seconds


Query = NamedQuery | Callable[..., Any]
"""A ``warehouse/queries`` question: a ``NamedQuery``, or a function taking the warehouse first."""


@st.cache_data(ttl=ANSWER_TTL_S, max_entries=2000, show_spinner=False)
def _answer(_target: Query, name: str, args: tuple, kwargs: dict, where: str) -> tuple[Any, list[str]]:
    """A query's answer and the SQL it ran, shared by every session for a few seconds.

    ``name`` keys the cache for ``_target`` (streamlit does not hash arguments starting with ``_``);
    ``where`` keys the warehouse.
    """
    statements: list[str] = []
    outer = getattr(_recording, "statements", None)
    _recording.statements = statements
    try:
        wh = connection().warehouse
        result = _target.frame(wh, *args, **kwargs) if isinstance(_target, NamedQuery) else _target(wh, *args, **kwargs)
    finally:
        _recording.statements = outer
    return result, statements


def answer(query: Query, *args: Any, **kwargs: Any) -> Any:
    """``query`` (from ``warehouse/queries``) asked of the dashboard's warehouse, through the short shared cache.

    Reruns of a page (every widget change) and other users' sessions reuse answers younger than
    ``ANSWER_TTL_S``; the panel still shows the SQL that produced them. Errors are never cached.
    """
    result, statements = _answer(query, _name(query), args, kwargs, connection().warehouse.description)
    recording = getattr(_recording, "statements", None)
    if recording is not None:
        recording.extend(statements)
    return result


def _name(query: Query) -> str:
    """What tells one query from another in the shared cache."""
    if isinstance(query, NamedQuery):
        return f"named:{query.name}"
    return f"{query.__module__}.{query.__qualname__}"


def release() -> None:
    """Stop the background keepers and forget the connection: the next page opens a new one."""
    while _started:
        _started.pop().stop()
    connection.clear()
    _answer.clear()


def warehouse() -> ReadOnlyWarehouse:
    """The read-only warehouse, or a clear message in the page (and the page stops) if it cannot be opened."""
    try:
        return connection().warehouse
    except WarehouseLocked as exc:
        st.error(f"**The embedded warehouse is busy.** {exc}")
    except WarehouseUnavailable as exc:
        st.error(f"**Cannot reach the warehouse.** {exc}")
    except ModelDBError as exc:
        st.error(f"**Cannot open the warehouse.** {exc}")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


@contextlib.contextmanager
def panel(title: str = "", *, caption: str = "") -> Iterator[Any]:
    """A titled part of a page: errors become messages, and the SQL it ran is one click away."""
    box = st.container()
    statements: list[str] = []
    outer = getattr(_recording, "statements", None)
    _recording.statements = statements
    started = time.perf_counter()
    try:
        with box:
            if title:
                st.subheader(title)
            if caption:
                st.caption(caption)
            yield box
    except FilterError as exc:
        box.warning(str(exc))
    except ReadOnlyError as exc:
        box.error(f"**Refused.** {exc}")
    except WarehouseUnavailable as exc:
        box.error(f"**Lost the connection to the warehouse.** {exc} Reload the page once it is back.")
    except WarehouseError as exc:
        box.error(f"**The warehouse could not answer.** {_short(exc)}")
    except (ValueError, KeyError, TypeError) as exc:
        log.exception("panel %r failed", title)
        box.error(f"**Could not show this panel.** {type(exc).__name__}: {_short(exc)}")
    finally:
        _recording.statements = outer
        if outer is not None:
            outer.extend(statements)
    elapsed = (time.perf_counter() - started) * 1000
    if statements and (title or caption):  # untitled panels are pickers: their SQL is not an answer
        with box.expander(f"SQL ({len(statements)} statement{'s' * (len(statements) > 1)}, {elapsed:,.0f} ms)"):
            st.code(";\n\n".join(statements) + ";", language="sql")


def _short(exc: Exception, limit: int = 600) -> str:
    text = str(exc).split("Stack trace")[0].strip()
    return text if len(text) <= limit else text[:limit] + "…"


def choose_project(names: list[str]) -> str | None:
    """The project the pages show: from the URL (``?project=``), else the last choice, else the first."""
    if not names:
        return None
    remembered = st.session_state.get("project")
    links.bind("project_picker", "project", remembered if remembered in names else names[0], options=names,
               always=True)
    chosen = st.sidebar.selectbox("Project", names, key="project_picker")
    st.session_state["project"] = chosen
    return chosen


def stop() -> None:
    """End the page here (an empty state said what to do next), keeping its state in the URL."""
    links.publish()
    st.stop()


def project_or_stop() -> str:
    """The chosen project (sidebar picker); a page with no project to show says so and stops."""
    project = None
    with panel():
        project = choose_project(list(answer(PROJECTS)["project"]))
    if not project:
        st.info("No projects yet: track a run first (`modeldb.sklearn.autolog()`, then fit something), or run "
                "`make demo`; new runs appear here within a few seconds.")
        stop()
    return project


def sidebar_status() -> None:
    conn = connection()
    st.sidebar.caption(f"Warehouse: `{conn.warehouse.description}` (read-only)")
    if conn.keeper is not None:
        m = conn.keeper
        if m.error:
            st.sidebar.warning(f"Materializing new events failed: {m.error}")
        elif m.last_batch:
            ago = time.time() - m.last_batch
            st.sidebar.caption(f"Live: {m.events:,} new events materialized, the last {ago:,.0f} s ago")
        else:
            st.sidebar.caption("Live: new runs appear here within a few seconds")
