"""Altair (Vega-Lite) figures for the pages, built from query answers (pure functions, tested without Streamlit).

Vega-Lite rather than Plotly: on these machines a page with a Plotly figure took about a second
longer to show than the same page with a Vega-Lite one (bench/dashboard_views.py measures pages).
"""
from __future__ import annotations

from typing import Any

import altair as alt

alt.data_transformers.disable_max_rows()  # the queries bound the rows (samples of at most a few thousand)

KINDS = ("scatter", "line", "bar", "box")


def _label(field: str) -> str:
    return field.split(".", 1)[-1].strip("`")


def _numeric(frame: Any, column: str) -> bool:
    return column in frame and frame[column].dtype.kind in "fiu"


def builder(frame: Any, kind: str, x: str, y: str, agg: str = "none") -> Any:
    """The chart builder's figure: ``frame`` has x, y and optionally color, size, facet (and n when aggregated)."""
    if kind not in KINDS:
        raise ValueError(f"chart must be one of {', '.join(KINDS)}, got {kind!r}")
    y_title = f"{agg} of {_label(y)}" if agg not in ("", "none") else _label(y)
    continuous = _numeric(frame, "x") and kind in ("scatter", "line")
    encoding: dict[str, Any] = {
        "x": alt.X("x", type="quantitative" if continuous else "ordinal", title=_label(x),
                   scale=alt.Scale(zero=False) if continuous else alt.Undefined),
        "y": alt.Y("y", type="quantitative", title=y_title, scale=alt.Scale(zero=kind == "bar")),
        "tooltip": [c for c in ("model", "id", "x", "y", "color", "size", "n") if c in frame],
    }
    if "color" in frame:
        encoding["color"] = alt.Color("color", type="quantitative" if _numeric(frame, "color") else "nominal",
                                      title="color")
        if kind == "bar":
            encoding["xOffset"] = alt.XOffset("color", type="nominal")
    if kind == "scatter" and _numeric(frame, "size"):
        encoding["size"] = alt.Size("size", type="quantitative", title="size")
    mark = {"scatter": lambda c: c.mark_circle(opacity=0.7), "line": lambda c: c.mark_line(point=True),
            "bar": lambda c: c.mark_bar(), "box": lambda c: c.mark_boxplot(extent="min-max")}[kind]
    data = frame.assign(facet=frame["facet"].astype(str)) if "facet" in frame else frame
    chart = mark(alt.Chart(data)).encode(**encoding)
    if "facet" in frame:
        return chart.properties(width=260, height=220).facet(facet=alt.Facet("facet:N", title=None), columns=3)
    return chart.properties(height=420)


def parallel(frame: Any, fields: list[str], color: str) -> Any | None:
    """Parallel coordinates: one line per model across the chosen fields, each axis scaled to its own range.

    Text fields (a classifier, a penalty) become evenly spaced categories. The bottom of an axis
    is its lowest value and the top its highest, both written at the axis. None when there is
    nothing to draw.
    """
    import pandas as pd

    axes, ticks = [], []
    for field in fields:
        if field not in frame or frame[field].isna().all():
            continue
        label = _label(field)
        values = frame[field]
        if _numeric(frame, field):
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) / (high - low) if high > low else values * 0 + 0.5
            ticks += [(label, 0.0, f"{low:.4g}"), (label, 1.0, f"{high:.4g}")]
        else:
            categories = sorted(values.dropna().astype(str).unique())
            step = 1 / max(1, len(categories) - 1)
            codes = {c: (i * step if len(categories) > 1 else 0.5) for i, c in enumerate(categories)}
            scaled = values.astype(str).map(codes)
            ticks += [(label, codes[c], c) for c in categories[:12]]
        axes.append(pd.DataFrame({"model": frame["id"] if "id" in frame else frame.index, "axis": label,
                                  "position": scaled, "value": values.astype(str),
                                  "color": frame[color] if _numeric(frame, color) else 0.0}))
    if not axes:
        return None
    long = pd.concat(axes, ignore_index=True)
    order = list(dict.fromkeys(long["axis"]))
    x = alt.X("axis:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, domain=False, ticks=False))
    lines = alt.Chart(long).mark_line(opacity=0.35, strokeWidth=1).encode(
        x=x, y=alt.Y("position:Q", axis=None, scale=alt.Scale(domain=[0, 1])), detail="model:N",
        color=alt.Color("color:Q", title=_label(color), scale=alt.Scale(scheme="viridis")),
        tooltip=["axis:N", "value:N"])
    rules = alt.Chart(pd.DataFrame({"axis": order})).mark_rule(color="#999").encode(x=x)
    labels = alt.Chart(pd.DataFrame(ticks, columns=["axis", "position", "text"])).mark_text(
        align="left", dx=4, fontSize=10, color="#444").encode(x=x, y=alt.Y("position:Q"), text="text:N")
    return (lines + rules + labels).properties(height=420)


def histories(frame: Any, metric: str) -> Any:
    return alt.Chart(frame).mark_line().encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", title="model"), tooltip=["model:N", "step:Q", "value:Q"]).properties(height=400)


def smooth(values: Any, weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start (0: none)."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {weight!r}")
    out, last, debias = [], 0.0, 0.0
    for value in values:
        last = last * weight + (1 - weight) * float(value)
        debias = debias * weight + (1 - weight)
        out.append(last / debias if debias else float(value))
    return out


def downsampled_spans(points: Any) -> Any:
    """Per series, the x ranges whose buckets held more points than were drawn (contiguous buckets merged)."""
    import pandas as pd

    spans = []
    for series, group in points[points["n"] > 2].groupby("series", sort=False):
        buckets = group.groupby("bucket")["x"].agg(["min", "max"]).sort_index()
        start = previous = None
        for bucket, row in buckets.iterrows():
            if start is not None and bucket == previous[0] + 1:
                previous = (bucket, row["max"])
                continue
            if start is not None:
                spans.append((series, start, previous[1]))
            start, previous = row["min"], (bucket, row["max"])
        if start is not None:
            spans.append((series, start, previous[1]))
    return pd.DataFrame(spans, columns=["series", "start", "end"])


def curves(points: Any, metric: str, *, x: str = "step", log: bool = False, smoothing: float = 0.0) -> Any:
    """The selected runs' curves overlaid: ``points`` has series, x, value, n, bucket (from ``Q.curves``).

    With smoothing, the smoothed line is drawn over a faint raw one. Where a series was downsampled
    (a bucket kept its lowest and highest of more points), a light band spans that x range.
    """
    data = points.copy()
    x_type = "temporal" if x == "time" else "quantitative"
    x_title = "time" if x == "time" else "step"
    if x == "time":
        import pandas as pd

        data["x"] = pd.to_datetime(data["x"], unit="us")
    y_scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    color = alt.Color("series:N", title="run")
    base = alt.Chart(data).encode(x=alt.X("x", type=x_type, title=x_title),
                                  y=alt.Y("value:Q", title=metric, scale=y_scale), color=color)
    tooltip = [alt.Tooltip("series:N", title="run"), alt.Tooltip("x", type=x_type, title=x_title),
               alt.Tooltip("value:Q", title=metric, format=".6g"), alt.Tooltip("n:Q", title="points in bucket")]
    layers = []
    spans = downsampled_spans(points)
    if len(spans):
        if x == "time":
            import pandas as pd

            spans = spans.assign(start=pd.to_datetime(spans["start"], unit="us"),
                                 end=pd.to_datetime(spans["end"], unit="us"))
        layers.append(alt.Chart(spans).mark_rect(opacity=0.07).encode(
            x=alt.X("start", type=x_type), x2="end", color=alt.Color("series:N", legend=None),
            tooltip=[alt.Tooltip("series:N", title="downsampled")]))
    if smoothing > 0:
        data["smoothed"] = 0.0
        for _, index in data.groupby("series", sort=False).groups.items():
            data.loc[index, "smoothed"] = smooth(data.loc[index, "value"], smoothing)
        layers.append(base.mark_line(opacity=0.25, strokeWidth=1))
        layers.append(alt.Chart(data).mark_line(strokeWidth=2).encode(
            x=alt.X("x", type=x_type, title=x_title), y=alt.Y("smoothed:Q", title=metric, scale=y_scale),
            color=color, tooltip=tooltip + [alt.Tooltip("smoothed:Q", format=".6g")]))
    else:
        layers.append(base.mark_line(strokeWidth=1.5).encode(tooltip=tooltip))
    return alt.layer(*layers).properties(height=420).interactive(bind_y=False)


def highlight_differences(frame: Any, columns: Any = ("a", "b")) -> Any:
    """A side-by-side comparison (``columns`` hold the values compared) with the differing rows shaded."""
    shown = frame.astype({c: str for c in columns if c in frame}) if len(frame) else frame

    def shade(row: Any) -> list[str]:
        return ["background-color: #ffe3b3" if row["differs"] else "" for _ in row.index]

    return shown.style.apply(shade, axis=1)
