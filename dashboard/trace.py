"""The pipelines view's drill-down: one sampled data item followed through a pipeline's stages."""
from __future__ import annotations

from typing import Any

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.dashboard.summary import trace_rows
from modeldb.warehouse import queries as Q


def panel(actions: Any, frames: Any) -> None:
    with state.panel("Follow a data item through the stages",
                     caption="the sampled rows carry their key through every transform and split"):
        trace = Q.sample_trace(actions, frames)
        if trace.empty:
            st.info("No sampled rows were recorded for these stages (samples are taken when autolog sees a "
                    "DataFrame with a row index).")
            return
        keys = [str(k) for k in sorted(trace["row_key"].unique(), key=lambda k: (len(str(k)), str(k)))]
        links.bind("trace_key", "row", keys[0], options=keys)
        key = st.selectbox("Row key", keys, key="trace_key")
        st.dataframe(trace_rows(trace[trace["row_key"].astype(str) == key]), hide_index=True, width="stretch")
