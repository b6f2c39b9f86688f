"""The pipelines view's drill-down: one sampled data item followed through a pipeline's stages.

The trackers sample a few rows per dataframe and keep each row's key through every transform
and split, so one data item can be read across the pipeline. The panel shows, for the chosen
row, what each stage added to it (derived columns, vector slots by name, the prediction and the
probability) next to its source values; or, on request, the row as each stage output it.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.dashboard.summary import drilldown_caption, drilldown_rows, trace_rows
from modeldb.warehouse import queries as Q
from modeldb.warehouse.queries.pipelines import row_drilldown, trace_keys

VIEWS = ["what each stage adds", "the row at every stage"]
ROW_PX, SHOWN_ROWS = 35, 45  # Streamlit's grid row height; rows shown before the grid scrolls


def panel(actions: Any, frames: Any) -> None:
    with state.panel("Follow a data item through the stages",
                     caption="the sampled rows carry their key through every transform and split"):
        trace = Q.sample_trace(actions, frames)
        if trace.empty:
            st.info("No sampled rows were recorded for these stages (samples are taken when autolog sees a "
                    "DataFrame with a row index).")
            return
        keys = trace_keys(trace)  # the rows followed furthest first: the default reaches the prediction
        left, right = st.columns([1, 2])
        links.bind("trace_key", "row", keys[0], options=keys)
        key = left.selectbox("Row key", keys, key="trace_key",
                             help="A sampled row, by the key the trackers gave it (its index, position or hash)")
        links.bind("trace_view", "rowview", VIEWS[0], options=VIEWS)
        view = right.radio("Show", VIEWS, horizontal=True, key="trace_view")
        if view == VIEWS[0]:
            drill = row_drilldown(trace, key)
            st.caption(drilldown_caption(drill))
            rows = drilldown_rows(drill)  # tall enough to read a row's whole way without scrolling the grid
            st.dataframe(rows, hide_index=True, width="stretch", height=ROW_PX * (min(len(rows), SHOWN_ROWS) + 1) + 3)
        else:
            st.dataframe(trace_rows(trace[trace["row_key"].astype(str) == key]), hide_index=True, width="stretch")
