"""Each view's state in the URL's query parameters: a link reproduces the view, and Back goes back.

A page binds a widget with ``bind(key, param, default, …)`` just before drawing it (with
``key=key`` and no value, index or default of its own). The widget's value comes from the URL
when the URL changed from outside since this session last wrote it (a link opened, the
browser's Back or Forward button), and otherwise stays the user's. After every run, ``publish``
writes the values of the widgets drawn in that run to the URL in one update, leaving out values
at their defaults: Streamlit pushes one browser-history entry per update, so each change a user
makes is one step Back. (Streamlit replaces, not pushes, the entry while it replays a Back, so
going back does not grow the history.)

Values are ids and option names, never labels: a link keeps working when a run is renamed.
A value the page cannot show (a run that is gone, a page past the end) falls back to the default.
"""
from __future__ import annotations

from typing import Any, Iterable

import streamlit as st

_SEEN = "_links_seen"  # the parameters this session last wrote or restored
_EXTERNAL = "_links_external"  # this run's URL came from outside (a link, Back, Forward)
_BOUND = "_links_bound"  # this run's bindings: param -> (key, default, kind, always)
KINDS = ("str", "list", "int", "bool")
CARRIED = ("project",)


def _current() -> dict[str, list[str]]:
    return {name: list(st.query_params.get_all(name)) for name in st.query_params}


def begin() -> None:
    """Before a page runs: note whether the URL is new to this session."""
    st.session_state[_EXTERNAL] = st.session_state.get(_SEEN) != _current()
    st.session_state[_BOUND] = {}


def url_changed() -> bool:
    """Whether this run's URL came from outside (a link opened, Back or Forward)."""
    return bool(st.session_state.get(_EXTERNAL, True))


def _decode(values: list[str], kind: str) -> Any:
    if kind == "list":
        return [v for v in values if v != ""]
    text = values[-1]
    if kind == "int":
        return int(text)
    if kind == "bool":
        return text.lower() in ("1", "true", "yes", "on")
    return text


def _encode(value: Any, kind: str) -> list[str]:
    if kind == "list":
        return [str(v) for v in value] or [""]  # "?sel=": chosen to be empty, not left at the default
    if kind == "bool":
        return ["1" if value else "0"]
    return [str(value)]


def _valid(value: Any, kind: str, default: Any, options: Iterable[Any] | None, bounds: tuple[int, int] | None) -> Any:
    allowed = None if options is None else list(options)
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return default
        value = list(dict.fromkeys(value))
        return [v for v in value if v in allowed] if allowed is not None else value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return default
        if bounds:
            value = min(max(value, bounds[0]), bounds[1])
    if kind == "bool" and not isinstance(value, bool):
        return default
    if kind == "str" and not isinstance(value, str):
        return default
    if allowed is not None and value not in allowed:
        return default
    return value


def bind(key: str, param: str, default: Any, *, kind: str = "str", options: Iterable[Any] | None = None,
         bounds: tuple[int, int] | None = None, always: bool = False) -> Any:
    """Seed the widget ``key`` (drawn next) from the URL parameter ``param`` or its own state; its value.

    ``options``: the values the widget can take (others fall back to ``default``); ``bounds``:
    an int's range; ``always``: keep the parameter in the URL even at its default (the project).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    url = st.query_params.get_all(param)
    if url_changed() or key not in st.session_state:
        try:
            value = _decode(url, kind) if url else default
        except ValueError:
            value = default
    else:
        value = st.session_state[key]
    value = _valid(value, kind, default, options, bounds)
    st.session_state[key] = value
    st.session_state.setdefault(_BOUND, {})[param] = (key, default, kind, always)
    return value


def publish() -> None:
    """After a run: the drawn widgets' values into the URL, in one update (one history entry)."""
    bound = st.session_state.get(_BOUND)
    if bound is None:
        return
    current = _current()
    # The project goes along to pages that do not draw its picker (the Projects page), so a link
    # into a project keeps it when the user moves on from there.
    wanted: dict[str, list[str]] = {p: current[p] for p in CARRIED if p in current and p not in bound}
    for param, (key, default, kind, always) in bound.items():
        value = st.session_state.get(key, default)
        if always or value != default:
            wanted[param] = _encode(value, kind)
    if wanted != current:
        st.query_params.from_dict(wanted)
    st.session_state[_SEEN] = wanted
