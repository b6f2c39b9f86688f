"""Plotly figures for the pages, built from query answers (pure functions, tested without Streamlit)."""
from __future__ import annotations

from typing import Any

import plotly.express as px


def _label(field: str) -> str:
    return field.split(".", 1)[-1].strip("`")


def builder(frame: Any, kind: str, x: str, y: str, agg: str = "none") -> Any:
    """The chart builder's figure: ``frame`` has x, y and optionally color, size, facet (and n when aggregated)."""
    if kind not in ("scatter", "line", "bar", "box"):
        raise ValueError(f"chart must be scatter, line, bar or box, got {kind!r}")
    y_title = f"{agg} of {_label(y)}" if agg not in ("", "none") else _label(y)
    common: dict[str, Any] = {"x": "x", "y": "y", "labels": {"x": _label(x), "y": y_title}}
    if "color" in frame:
        common["color"] = "color"
        if frame["color"].dtype.kind not in "fiu":
            frame = frame.assign(color=frame["color"].astype(str))
    if "facet" in frame:
        common["facet_col"] = "facet"
        common["facet_col_wrap"] = 4
        frame = frame.assign(facet=frame["facet"].astype(str))
    if kind == "scatter":
        if "size" in frame and frame["size"].dtype.kind in "fiu":
            common["size"] = frame["size"].fillna(0).clip(lower=0)
        figure = px.scatter(frame, hover_data=[c for c in ("id", "n") if c in frame], **common)
    elif kind == "line":
        figure = px.line(frame, markers=True, **common)
    elif kind == "bar":
        figure = px.bar(frame, barmode="group", **common)
    else:
        figure = px.box(frame, points="outliers", **common)
    if frame["x"].dtype.kind not in "fiu":
        figure.update_xaxes(type="category")
    figure.update_layout(margin={"t": 30, "b": 10}, height=460)
    return figure


def parallel(frame: Any, fields: list[str], color: str) -> Any | None:
    """Parallel coordinates: numeric fields as they are, text fields (a classifier, a penalty) as labelled categories.

    None when there is nothing to draw. Lines are colored by ``color`` when it is numeric.
    """
    import plotly.graph_objects as go

    dimensions = []
    for field in fields:
        if field not in frame or frame[field].isna().all():
            continue
        values = frame[field]
        if values.dtype.kind in "fiu":
            dimensions.append({"label": _label(field), "values": values})
        else:
            categories = sorted(values.dropna().astype(str).unique())
            codes = {c: i for i, c in enumerate(categories)}
            dimensions.append({"label": _label(field), "values": values.astype(str).map(codes),
                               "tickvals": list(range(len(categories))), "ticktext": categories})
    if not dimensions:
        return None
    line: dict[str, Any] = {}
    if color in frame and frame[color].dtype.kind in "fiu":
        line = {"color": frame[color], "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": _label(color)}}}
    figure = go.Figure(go.Parcoords(line=line, dimensions=dimensions))
    figure.update_layout(margin={"t": 50, "b": 20, "l": 60, "r": 60}, height=460)
    return figure


def histories(frame: Any, metric: str) -> Any:
    figure = px.line(frame, x="step", y="value", color="model", labels={"value": metric})
    figure.update_layout(margin={"t": 30, "b": 10}, height=420)
    return figure


def highlight_differences(frame: Any) -> Any:
    """A side-by-side comparison with the differing rows shaded."""
    shown = frame.astype({"a": str, "b": str}) if len(frame) else frame

    def shade(row: Any) -> list[str]:
        return ["background-color: #ffe3b3" if row["differs"] else "" for _ in row.index]

    return shown.style.apply(shade, axis=1)
