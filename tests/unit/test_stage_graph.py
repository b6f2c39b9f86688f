"""The stage graph's layout (pure): left to right, nested stages folded until unfolded, labels, a click's stage."""
from __future__ import annotations

import pandas as pd

from modeldb.dashboard import graphs, stage_graph


def _actions():
    """A pipeline fit (a column transformer of two steps, then a classifier), then a predict: as autolog tracks it."""
    rows = [
        # action_id, action, operator, parent, stage, inputs, outputs, in cols, out cols
        ("ss", "fit_transform", "StandardScaler", "ct", 0, ["num"], ["num_scaled"], ["age"], ["age"]),
        ("oh", "fit_transform", "OneHotEncoder", "ct", 1, ["cat"], ["cat_coded"], ["plan"], ["plan_a", "plan_b"]),
        ("ct", "fit_transform", "ColumnTransformer", "pipe", 0, ["X", "y"], ["Xt"], ["age", "plan"],
         ["age", "plan_a", "plan_b"]),
        ("lr", "fit", "LogisticRegression", "pipe", 1, ["Xt", "y"], [], ["age", "plan_a", "plan_b"], []),
        ("pipe", "fit", "Pipeline", "", -1, ["X", "y"], [], ["age", "plan"], []),
        ("pred", "predict", "Pipeline", "", -1, ["X_test"], ["p"], ["age", "plan"], ["prediction"]),
    ]
    return pd.DataFrame([{
        "action_id": a, "seq": i, "action": act, "operator_class": op, "model_id": "m" + a, "parent_action_id": parent,
        "stage_index": stage, "input_dataframe_ids": ins, "output_dataframe_ids": outs, "input_columns": icols,
        "output_columns": ocols, "params": {"C": "1.0"} if a == "lr" else {}, "duration_ms": 10.0 * (i + 1),
        "run_id": "r"} for i, (a, act, op, parent, stage, ins, outs, icols, ocols) in enumerate(rows)])


def _frames():
    ids = ["X", "y", "num", "cat", "num_scaled", "cat_coded", "Xt", "X_test", "p"]
    return pd.DataFrame({"dataframe_id": ids, "n_rows": [100] * len(ids), "n_columns": [2] * len(ids)})


def _stages(layout):
    return {n.key for n in layout.stages()}


def test_folded_by_default_a_pipeline_is_one_node_with_its_hidden_stages_counted():
    layout = stage_graph.layout(_actions(), _frames())
    assert _stages(layout) == {"pipe", "pred"}
    fit = layout.node("a:pipe")
    assert fit.lines == ("5. fit", "Pipeline", "50.0 ms · +4 stages") and fit.folded == 4
    assert not layout.groups
    assert {n.key for n in layout.nodes if n.kind == "data"} == {"X", "y", "X_test", "p"}  # inner data hidden
    assert layout.node("d:X").label == "data …X\n100 × 2"


def test_the_graph_runs_left_to_right_with_the_data():
    layout = stage_graph.layout(_actions(), _frames(), ["pipe", "ct"])
    for edge in layout.edges:
        source, target = layout.node(edge.source), layout.node(edge.target)
        assert source.x + source.width < target.x, edge  # every edge points right
    assert layout.node("d:Xt").column > layout.node("a:ss").column
    assert layout.node("a:lr").x > layout.node("d:Xt").x > layout.node("a:oh").x


def test_unfolding_draws_the_stages_in_a_frame_and_bridges_data_no_stage_touched():
    once = stage_graph.layout(_actions(), _frames(), ["pipe"])
    assert _stages(once) == {"ct", "lr", "pred"}  # the column transformer is still folded
    assert [g.key for g in once.groups] == ["pipe"]
    twice = stage_graph.layout(_actions(), _frames(), ["pipe", "ct"])
    assert _stages(twice) == {"ss", "oh", "lr", "pred"}
    frames = {g.key: g for g in twice.groups}
    assert frames["ct"].label == "3. fit_transform ColumnTransformer"
    outer, inner = frames["pipe"], frames["ct"]
    assert outer.x <= inner.x and outer.y < inner.y and inner.x2 <= outer.x2 and inner.y2 <= outer.y2
    for node in twice.stages():  # each shown stage inside its frames, other stages outside
        inside = outer.x <= node.x and node.x + node.width <= outer.x2 and outer.y <= node.y <= outer.y2
        assert inside == (node.key != "pred"), node
    # the column transformer's concatenated output is written by neither step: dashed edges keep the flow
    bridged = {(e.source, e.target) for e in twice.edges if e.bridged}
    assert {("a:ss", "d:Xt"), ("a:oh", "d:Xt"), ("d:X", "a:ss"), ("d:X", "a:oh")} <= bridged


def test_a_stage_unfolded_under_a_folded_parent_stays_hidden():
    layout = stage_graph.layout(_actions(), _frames(), ["ct"])
    assert _stages(layout) == {"pipe", "pred"} and not layout.groups


def test_labels_are_legible_and_boxes_fit_them():
    layout = stage_graph.layout(_actions(), _frames(), ["pipe", "ct"])
    assert stage_graph.FONT_PX >= 12
    for node in layout.nodes:
        assert node.width >= max(len(line) for line in node.lines) * stage_graph.CHAR_PX
    by_column: dict[int, list] = {}
    for node in layout.nodes:
        by_column.setdefault(node.column, []).append(node)
    for nodes in by_column.values():  # no two boxes in a column overlap
        nodes.sort(key=lambda n: n.y)
        assert all(a.y + a.height < b.y for a, b in zip(nodes, nodes[1:]))
    long = _actions().assign(operator_class=["X" * 80] * 6)
    assert all(len(line) <= stage_graph.MAX_LABEL_CHARS for n in stage_graph.layout(long, _frames()).nodes
               for line in n.lines)


def test_fold_options_name_what_unfolds():
    assert stage_graph.fold_options(_actions()) == {"ct": "3. fit_transform ColumnTransformer (+2 stages)",
                                                    "pipe": "5. fit Pipeline (+4 stages)"}


def test_a_selection_maps_to_a_stage_and_its_details():
    assert stage_graph.picked({"stage": [{"key": "lr"}]}) == "lr"
    assert stage_graph.picked({"stage": []}) is None and stage_graph.picked(None) is None
    assert stage_graph.picked({"zoom": {"x": [0, 1]}}) is None
    details = stage_graph.stage_details(_actions(), _frames(), "lr")
    assert details["title"] == "4. fit LogisticRegression" and details["duration"] == "40.0 ms"
    assert details["params"] == {"C": "1.0"} and details["input_columns"] == ["age", "plan_a", "plan_b"]
    assert details["input_shapes"] == "100 × 2, 100 × 2" and details["nested"]
    assert stage_graph.stage_details(_actions(), _frames(), "pipe")["stages"] == 4  # as its node says
    assert stage_graph.stage_details(_actions(), _frames(), "gone") is None


def test_the_chart_selects_stages_by_action_id_and_zooms():
    layout = stage_graph.layout(_actions(), _frames(), ["pipe"])
    spec = graphs.stage_chart(layout, chosen="lr")
    params = {p["name"]: p for layer in spec["layer"] for p in layer.get("params", [])}
    assert params[graphs.STAGE_PARAM]["select"]["fields"] == ["key"]
    assert params[graphs.STAGE_PARAM]["value"] == [{"key": "lr"}]
    assert params["zoom"]["bind"] == "scales"
    texts = [v["label"] for layer in spec["layer"] for v in layer["data"]["values"] if "label" in v]
    assert "4. fit\nLogisticRegression\n40.0 ms" in texts and "5. fit Pipeline" in texts
    assert graphs.stage_chart(layout) == graphs.stage_chart(layout)  # stable across reruns


def test_the_chart_is_valid_vega_lite():
    import altair as alt

    layout = stage_graph.layout(_actions(), _frames(), ["pipe"])
    alt.LayerChart.from_dict(graphs.stage_chart(layout, chosen="lr"))  # validates against the pinned schema
