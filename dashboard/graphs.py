"""Pictures of pipelines and version trees.

``stage_chart`` draws a ``stage_graph.Layout`` as an interactive Vega-Lite chart (zoom, pan, a
stage picked by a click); ``version_tree`` is Graphviz (DOT) for ``st.graphviz_chart``, where a
static picture is enough.
"""
from __future__ import annotations

from typing import Any

from modeldb.dashboard import stage_graph

STAGE_PARAM = "stage"  # the chart's point selection: Streamlit reports it under this name
STAGE_FILL, NESTED_FILL, DATA_FILL, GROUP_FILL = "#ffe3b3", "#fff4e0", "#eef3fb", "#fafafa"
EDGE_COLOR, STROKE_COLOR, PICKED_COLOR = "#9a9a9a", "#8a8a8a", "#d9480f"
MARGIN_PX = 24
VIEW_MAX_PX = 880  # wider graphs open at 1:1 on their left part (labels stay legible) and pan to the rest


def stage_chart(layout: stage_graph.Layout, chosen: str = "") -> Any:
    """The stages, left to right, as an Altair chart: wheel to zoom, drag to pan, click a stage to pick it.

    The chart is as wide as the graph at 1:1 (draw it with ``width="content"``), up to
    ``VIEW_MAX_PX``; a wider graph opens on its left part. Positions are the layout's pixels, on
    quantitative scales bound to the view (``bind="scales"``), so zooming moves and spreads the
    boxes while labels keep their font size. The point selection
    ``STAGE_PARAM`` projects on ``key`` (the action id): Streamlit returns
    ``{"stage": [{"key": …}]}``. It lives on an invisible top layer of stage boxes and frame
    headers, so a click on a label picks the stage under it. ``chosen`` is the selection's initial
    value (a link's stage); pass the same value on every rerun, or the chart is redrawn and the
    zoom lost.
    """
    import altair as alt

    nodes, edges, groups, hits = _tables(layout)
    return _layers(alt, layout, nodes, edges, groups, hits, chosen)


def _tables(layout: stage_graph.Layout) -> tuple[Any, Any, Any, Any]:
    """The layout as the chart's data: nodes, edges, frames (groups), and the click targets (stages, frame headers)."""
    import pandas as pd

    nodes = pd.DataFrame([{"id": n.id, "kind": n.kind, "key": n.key if n.kind == "stage" else "",
                           "label": n.label, "x": n.x, "x2": n.x + n.width, "y": n.y, "y2": n.y + n.height,
                           "cx": n.x + n.width / 2, "top": n.y + stage_graph.PAD_PX / 2 + 1,
                           "fill": DATA_FILL if n.kind == "data" else NESTED_FILL if n.nested else STAGE_FILL,
                           "title": n.lines[0] + " " + n.lines[1] if n.kind == "stage" else n.lines[0]}
                          for n in layout.nodes])
    at = {n.id: n for n in layout.nodes}
    edges = pd.DataFrame([{"x": at[e.source].x + at[e.source].width, "y": at[e.source].y + at[e.source].height / 2,
                           "x2": at[e.target].x, "y2": at[e.target].y + at[e.target].height / 2,
                           "dash": "bridged" if e.bridged else "read or written"} for e in layout.edges],
                         columns=["x", "y", "x2", "y2", "dash"])
    groups = pd.DataFrame([{"key": g.key, "label": g.label, "x": g.x, "x2": g.x2, "y": g.y, "y2": g.y2,
                            "lx": g.x + stage_graph.PAD_PX / 2, "ly": g.y + stage_graph.GROUP_HEADER_PX / 2 + 2,
                            "hy2": g.y + stage_graph.GROUP_HEADER_PX, "title": g.label} for g in layout.groups],
                          columns=["key", "label", "x", "x2", "y", "y2", "lx", "ly", "hy2", "title"])
    hits = pd.concat([nodes[nodes["kind"] == "stage"][["key", "x", "x2", "y", "y2", "title"]],
                      groups.rename(columns={"y2": "_", "hy2": "y2"})[["key", "x", "x2", "y", "y2", "title"]]],
                     ignore_index=True)
    return nodes, edges, groups, hits


def _layers(alt: Any, layout: stage_graph.Layout, nodes: Any, edges: Any, groups: Any, hits: Any, chosen: str) -> Any:
    shown = min(max(layout.width, 1.0), VIEW_MAX_PX)
    x_scale = alt.Scale(domain=[-MARGIN_PX, shown + MARGIN_PX], nice=False, zero=False)
    y_scale = alt.Scale(domain=[-MARGIN_PX, layout.height + MARGIN_PX], nice=False, zero=False, reverse=True)
    x = alt.X("x:Q", scale=x_scale, axis=None)
    y = alt.Y("y:Q", scale=y_scale, axis=None)
    pick = alt.selection_point(name=STAGE_PARAM, fields=["key"], on="click", clear=False, toggle=False,
                               value=[{"key": chosen}] if chosen else None)
    zoom = alt.selection_interval(name="zoom", bind="scales")

    frames = alt.Chart(groups).mark_rect(fill=GROUP_FILL, stroke=STROKE_COLOR, strokeDash=[4, 3],
                                         cornerRadius=8).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q",
        strokeWidth=alt.condition(pick, alt.value(2.5), alt.value(1), empty=False))
    frame_labels = alt.Chart(groups).mark_text(align="left", baseline="middle", fontSize=stage_graph.FONT_PX,
                                               fontWeight="bold", color="#444").encode(
        x=alt.X("lx:Q", scale=x_scale, axis=None), y=alt.Y("ly:Q", scale=y_scale, axis=None), text="label:N")
    lines = alt.Chart(edges).mark_rule(color=EDGE_COLOR, strokeWidth=1.4).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q",
        strokeDash=alt.StrokeDash("dash:N", scale=alt.Scale(domain=["read or written", "bridged"],
                                                            range=[[1, 0], [5, 4]]), legend=None))
    heads = alt.Chart(edges).mark_point(shape="triangle-right", size=40, filled=True, color=EDGE_COLOR,
                                        opacity=1).encode(
        x=alt.X("x2:Q", scale=x_scale, axis=None), y=alt.Y("y2:Q", scale=y_scale, axis=None))
    boxes = alt.Chart(nodes).mark_rect(cornerRadius=6, stroke=STROKE_COLOR).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", fill=alt.Fill("fill:N", scale=None),
        stroke=alt.condition(pick, alt.value(PICKED_COLOR), alt.value(STROKE_COLOR), empty=False),
        strokeWidth=alt.condition(pick, alt.value(3), alt.value(1), empty=False))
    labels = alt.Chart(nodes).mark_text(lineBreak="\n", align="center", baseline="top",
                                        fontSize=stage_graph.FONT_PX, lineHeight=stage_graph.LINE_PX,
                                        color="#222").encode(
        x=alt.X("cx:Q", scale=x_scale, axis=None), y=alt.Y("top:Q", scale=y_scale, axis=None), text="label:N")
    targets = alt.Chart(hits, name="stage_targets").mark_rect(opacity=0.001, fill="#ffffff", cursor="pointer").encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", tooltip=alt.Tooltip("title:N", title="stage")).add_params(pick, zoom)
    return alt.layer(frames, frame_labels, lines, heads, boxes, labels, targets).properties(
        width=int(shown + 2 * MARGIN_PX), height=int(layout.height + 2 * MARGIN_PX),
        usermeta={"embedOptions": {"renderer": "svg"}}).configure_view(stroke=None)


def _q(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short_id(value: str) -> str:
    return value[-8:] if value else "?"


def version_tree(tree: Any) -> str:
    """A run's version tree: parent → branch, the chosen run highlighted."""
    lines = ["digraph versions {", "rankdir=TB;", 'node [shape=box, style="rounded,filled", fontname="Helvetica", '
             'fontsize=10];']
    for row in tree.itertuples():
        color = "#ffe3b3" if row.selected else "#eef3fb"
        label = _q(f"{row.name or _short_id(row.run_id)}" + "\n" + str(row.status))
        lines.append(f'{_q(row.run_id)} [fillcolor={_q(color)}, label={label}];')
        if row.parent_run_id and row.parent_run_id in set(tree["run_id"]):
            lines.append(f"{_q(row.parent_run_id)} -> {_q(row.run_id)};")
    lines.append("}")
    return "\n".join(lines)
