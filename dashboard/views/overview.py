"""Projects: every project with its counts, best model, last activity and an activity sparkline."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import state
from modeldb.dashboard.summary import project_overview
from modeldb.warehouse import queries as Q

st.title("Projects")
with state.panel(caption="Every project: its counts, the best model on its main metric, and its activity"):
    overview = project_overview(state.answer(Q.PROJECTS), state.answer(Q.PROJECT_BEST),
                                state.answer(Q.PROJECT_ACTIVITY))
    if overview.empty:
        st.info("No projects yet. Track a run (`modeldb.sklearn.autolog()`, then fit something), or run "
                "`make demo`; new runs appear here within a few seconds.")
        st.stop()
    search = st.text_input("Search projects", placeholder="name, metric or model class…", key="project_search")
    shown = overview
    if search.strip():
        needle = search.strip().lower()
        shown = overview[overview.apply(lambda r: needle in " ".join(map(str, r.values)).lower(), axis=1)]
    st.caption(f"{len(shown)} of {len(overview)} projects")
    st.dataframe(
        shown.drop(columns=["best_model"]), hide_index=True, width="stretch",
        column_config={
            "activity": st.column_config.LineChartColumn(
                "activity", width="medium", help="runs started per hour (per day for longer projects)"),
            "best_value": st.column_config.NumberColumn("best value", format="%.4f"),
            "runs": st.column_config.NumberColumn(format="%d"),
            "models": st.column_config.NumberColumn(format="%d"),
        })
    st.markdown("**Open a project**")
    columns = st.columns(min(4, max(1, len(shown))))
    for i, row in enumerate(shown.head(40).itertuples()):
        with columns[i % len(columns)]:
            label = f"{row.project} · {row.models:,} models"
            st.page_link("views/models.py", label=label, icon=":material/arrow_forward:",
                         query_params={"project": row.project})
