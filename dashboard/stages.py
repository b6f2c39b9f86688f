"""The pipelines view's stage graph: nested stages folded, a stage picked by a click, its details below."""
from __future__ import annotations

from typing import Any

import streamlit as st

from modeldb.dashboard import graphs, links, stage_graph


def _pick_stage() -> None:
    """A click on the graph: its stage becomes the chosen one (a click beside the stages keeps it)."""
    chosen = stage_graph.picked(st.session_state.get("stage_graph", {}).get("selection"), graphs.STAGE_PARAM)
    if chosen:
        st.session_state["pipeline_stage"] = chosen


def _unfold(action_id: str) -> None:
    st.session_state["stage_unfold"] = [*st.session_state.get("stage_unfold", []), action_id]


def panel(actions: Any, frames: Any) -> None:
    """The stage graph (nested stages folded), the unfold picker, and the chosen stage's details."""
    options = stage_graph.fold_options(actions)
    links.bind("stage_unfold", "unfold", [], kind="list", options=list(options))
    unfolded = st.multiselect("Unfold", list(options), format_func=options.get, key="stage_unfold",
                              placeholder="a pipeline or a search, to see its stages",
                              help="Stages that ran inside another (a pipeline's steps, a search's refit) are folded "
                                   "into it; unfold it to draw them inside its frame")
    ids = list(actions["action_id"])
    stage = links.bind("pipeline_stage", "stage", "", options=["", *ids])
    # The chart's spec must stay the same across reruns, or Streamlit redraws it and the zoom is lost:
    # its initial selection (a link's stage) is fixed until the pipeline or the folding changes.
    drawn = (ids[0], len(ids), tuple(unfolded))
    first = st.session_state.get("_stage_graph_drawn")
    if links.url_changed() or first is None or first[0] != drawn:
        first = st.session_state["_stage_graph_drawn"] = (drawn, stage)
    layout = stage_graph.layout(actions, frames, unfolded)
    st.vega_lite_chart(spec=graphs.stage_chart(layout, first[1]), on_select=_pick_stage,
                       selection_mode=graphs.STAGE_PARAM,
                       key="stage_graph", width="content")
    details = stage_graph.stage_details(actions, frames, stage) if stage else None
    if details is None:
        st.caption("Click a stage for its params, its input and output columns and its duration.")
        return
    st.markdown(f"**{details['title']}** · {details['duration']}"
                + (" · nested" if details["nested"] else ""))
    left, middle, right = st.columns([2, 1, 1])
    params = details["params"]
    left.caption(f"{len(params)} params")
    if params:
        left.dataframe({"param": list(params), "value": [str(v) for v in params.values()]}, hide_index=True,
                       width="stretch", height=min(36 + 35 * len(params), 300))
    for column, side in ((middle, "input"), (right, "output")):
        names = details[f"{side}_columns"]
        shapes = details[f"{side}_shapes"]
        column.caption(f"{side.capitalize()} columns ({len(names)})" + (f" · {shapes}" if shapes else ""))
        column.markdown(", ".join(f"`{n}`" for n in names) if names else "—")
    if details["stages"] and stage not in unfolded:
        st.button(f"Unfold its {stage_graph.stages_text(details['stages'])}", on_click=_unfold, args=(stage,))
