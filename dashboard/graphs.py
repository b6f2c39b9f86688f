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


def stage_chart(layout: stage_graph.Layout, chosen: str = "") -> dict[str, Any]:
    """The stages, left to right, as a Vega-Lite spec: wheel to zoom, drag to pan, click a stage to pick it.

    Draw it with ``st.vega_lite_chart(spec=…, width="content")``. The chart is as wide as the graph
    at 1:1, up to ``VIEW_MAX_PX``; a wider graph opens on its left part. Positions are the
    layout's pixels, on quantitative scales bound to the view (``bind: scales``), so zooming moves
    and spreads the boxes while labels keep their font size. The point selection ``STAGE_PARAM``
    projects on ``key`` (the action id): Streamlit returns ``{"stage": [{"key": …}]}``. It lives
    on an invisible top layer of stage boxes and frame headers, so a click on a label picks the
    stage under it. ``chosen`` is the selection's initial value (a link's stage); pass the same
    value on every rerun, or the chart is redrawn and the zoom lost.

    A plain dict, not an Altair chart: building and validating the Altair objects cost about
    0.2 s per rerun, more than the whole graph is worth.
    """
    nodes, edges, groups, hits = _tables(layout)
    shown = min(max(layout.width, 1.0), VIEW_MAX_PX)
    x_scale = {"domain": [-MARGIN_PX, shown + MARGIN_PX], "nice": False, "zero": False}
    y_scale = {"domain": [-MARGIN_PX, layout.height + MARGIN_PX], "nice": False, "zero": False, "reverse": True}

    def at(x: str, y: str, ends: bool = True) -> dict[str, Any]:
        placed = {"x": {"field": x, "type": "quantitative", "scale": x_scale, "axis": None},
                  "y": {"field": y, "type": "quantitative", "scale": y_scale, "axis": None}}
        return {**placed, "x2": {"field": "x2"}, "y2": {"field": "y2"}} if ends else placed

    def picked(on: Any, off: Any) -> dict[str, Any]:
        return {"condition": {"param": STAGE_PARAM, "value": on, "empty": False}, "value": off}

    text = {"type": "text", "fontSize": stage_graph.FONT_PX}
    layers = [
        ({"type": "rect", "fill": GROUP_FILL, "stroke": STROKE_COLOR, "strokeDash": [4, 3], "cornerRadius": 8},
         groups, {**at("x", "y"), "strokeWidth": picked(2.5, 1)}),
        ({**text, "align": "left", "baseline": "middle", "fontWeight": "bold", "color": "#444"},
         groups, {**at("lx", "ly", ends=False), "text": {"field": "label", "type": "nominal"}}),
        ({"type": "rule", "color": EDGE_COLOR, "strokeWidth": 1.4}, edges,
         {**at("x", "y"), "strokeDash": {"field": "dash", "type": "nominal", "legend": None, "scale": {
             "domain": ["read or written", "bridged"], "range": [[1, 0], [5, 4]]}}}),
        ({"type": "point", "shape": "triangle-right", "size": 40, "filled": True, "color": EDGE_COLOR, "opacity": 1},
         edges, at("x2", "y2", ends=False)),
        ({"type": "rect", "cornerRadius": 6, "stroke": STROKE_COLOR}, nodes,
         {**at("x", "y"), "fill": {"field": "fill", "type": "nominal", "scale": None},
          "stroke": picked(PICKED_COLOR, STROKE_COLOR), "strokeWidth": picked(3, 1)}),
        ({**text, "align": "center", "baseline": "top", "color": "#222", "lineBreak": "\n",
          "lineHeight": stage_graph.LINE_PX}, nodes, {**at("cx", "top", ends=False),
                                                     "text": {"field": "label", "type": "nominal"}}),
    ]
    spec_layers: list[dict[str, Any]] = [{"mark": mark, "data": {"values": rows}, "encoding": encoding}
                                         for mark, rows, encoding in layers]
    spec_layers.append({"name": "stage_targets", "data": {"values": hits},
                        "mark": {"type": "rect", "opacity": 0.001, "fill": "#ffffff", "cursor": "pointer"},
                        "encoding": {**at("x", "y"), "tooltip": {"field": "title", "type": "nominal", "title": "stage"}},
                        "params": [
                            {"name": STAGE_PARAM, "select": {"type": "point", "fields": ["key"], "on": "click",
                                                             "clear": False, "toggle": False},
                             **({"value": [{"key": chosen}]} if chosen else {})},
                            {"name": "zoom", "select": {"type": "interval"}, "bind": "scales"}]})
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "layer": spec_layers,
            "width": int(shown + 2 * MARGIN_PX), "height": int(layout.height + 2 * MARGIN_PX),
            "config": {"view": {"stroke": None}}, "usermeta": {"embedOptions": {"renderer": "svg"}}}


def _tables(layout: stage_graph.Layout) -> tuple[list, list, list, list]:
    """The layout as the chart's rows: nodes, edges, frames (groups), and the click targets (stages, frame headers)."""
    nodes = [{"id": n.id, "kind": n.kind, "key": n.key if n.kind == "stage" else "", "label": n.label,
              "x": n.x, "x2": n.x + n.width, "y": n.y, "y2": n.y + n.height, "cx": n.x + n.width / 2,
              "top": n.y + stage_graph.PAD_PX / 2 + 1,
              "fill": DATA_FILL if n.kind == "data" else NESTED_FILL if n.nested else STAGE_FILL,
              "title": n.lines[0] + " " + n.lines[1] if n.kind == "stage" else n.lines[0]} for n in layout.nodes]
    at = {n.id: n for n in layout.nodes}
    edges = [{"x": at[e.source].x + at[e.source].width, "y": at[e.source].y + at[e.source].height / 2,
              "x2": at[e.target].x, "y2": at[e.target].y + at[e.target].height / 2,
              "dash": "bridged" if e.bridged else "read or written"} for e in layout.edges]
    groups = [{"key": g.key, "label": g.label, "x": g.x, "x2": g.x2, "y": g.y, "y2": g.y2,
               "lx": g.x + stage_graph.PAD_PX / 2, "ly": g.y + stage_graph.GROUP_HEADER_PX / 2 + 2}
              for g in layout.groups]
    hits = [{"key": n["key"], "x": n["x"], "x2": n["x2"], "y": n["y"], "y2": n["y2"], "title": n["title"]}
            for n in nodes if n["kind"] == "stage"]
    hits += [{"key": g.key, "x": g.x, "x2": g.x2, "y": g.y, "y2": g.y + stage_graph.GROUP_HEADER_PX, "title": g.label}
             for g in layout.groups]
    return nodes, edges, groups, hits


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
