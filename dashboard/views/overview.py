"""Projects: every project with its counts, best model, last activity and an activity sparkline."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.dashboard.summary import project_overview
from modeldb.warehouse import queries as Q

st.title("Projects")
with state.panel(caption="Every project: its counts, the best model on its main metric, and its activity"):
    overview = project_overview(state.answer(Q.PROJECTS), state.answer(Q.PROJECT_BEST),
                                state.answer(Q.PROJECT_ACTIVITY))
    holders = tuple(sorted({m for m in overview["best_model"] if m}))
    if holders:  # the best models by name: one read for every project
        names = state.answer(Q.model_names, tuple(overview["project"]), holders)
        labels = {r.model_id: f"{r.label} · {r.operator_class}" for r in names.itertuples()}
        overview["held_by"] = [labels.get(m, held) for m, held in zip(overview["best_model"], overview["held_by"])]
    if overview.empty:
        st.info("No projects yet. Track a run (`modeldb.sklearn.autolog()`, then fit something), or run "
                "`make demo`; new runs appear here within a few seconds.")
        state.stop()
    links.bind("project_search", "q", "")
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
            "held_by": st.column_config.TextColumn(
                "held by", help="The model with the best value of the main metric: its run's name and its role"),
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
