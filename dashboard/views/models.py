"""Models: one table of a project's models, filtered, sorted and paged on the server, and the tools below it
(chart builder, parallel coordinates, metric histories, a two-model comparison, the best model on a slice)."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import state
from modeldb.dashboard.model_tools import TOOLS, Models
from modeldb.dashboard.summary import lower_is_better, main_metric, params_by_interest, table_order
from modeldb.warehouse import queries as Q

st.title("Models")
project = state.project_or_stop()

keys = metrics = None
with state.panel():
    keys = state.answer(Q.model_keys, project, top_level=st.session_state.get("models_top_only", True))
    metrics = state.answer(Q.PROJECT_METRICS, project=project)
if keys is None or keys.empty:
    st.info(f"Project {project!r} has no models with params or metrics yet.")
    st.stop()
param_fields, varying = params_by_interest(keys)
metric_fields = list(keys.loc[keys["kind"] == "metric", "field"])
headline = main_metric(metrics)
m = Models(project, keys, metric_fields, param_fields, varying,
           f"metrics.{headline}" if headline else (metric_fields[0] if metric_fields else ""))

with state.panel(f"Models of {project}", caption="Filter with AND / OR on params., metrics. and model. (e.g. "
                 "`params.clf__C > 0.1 OR model.operator_class LIKE '%Forest%'`); sorted and paged on the server"):
    left, right = st.columns([3, 2])
    typed = left.text_input("Filter", key="models_where", placeholder="metrics.accuracy_score > 0.8 AND params.C >= 1")
    top_only = left.checkbox("Top-level models only (hide pipeline stages and a search's parts)", value=True,
                             key="models_top_only")
    m.where = " AND ".join(p for p in (f"({typed})" if typed.strip() else "",
                                       "model.parent_model_id = ''" if top_only else "") if p)
    direction = "ASC" if headline and lower_is_better(headline) else "DESC"
    order_by = right.text_input("Sort by", value=f"{m.headline_field} {direction}" if m.headline_field else "",
                                key="models_order")
    chosen = st.multiselect("Columns", metric_fields + param_fields, default=metric_fields[:4] + varying[:4],
                            key="models_columns")
    c1, c2, c3 = st.columns([1, 1, 3])
    size = c1.selectbox("Rows per page", [10, 25, 50, 100, 250, 1000], index=2, key="models_page_size")
    total = state.answer(Q.count_matches, "model", project, m.where)
    pages = max(1, -(-total // size))
    page = c2.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="models_page")
    c3.caption(f"{total:,} models match · page {page} of {pages:,}")
    table = state.answer(Q.search_models, project, m.where, order_by, chosen, limit=int(size),
                         offset=int((page - 1) * size))
    st.dataframe(table, hide_index=True, width="stretch", key="models_table", column_order=table_order(table, chosen))
    m.page_ids = list(table["model_id"]) if len(table) else []
    m.labels = {r.model_id: f"{r.operator_class} · …{r.model_id[-8:]}" for r in table.itertuples()}
    m.picked = st.multiselect("Selected models (for histories and comparison)", m.page_ids,
                              default=m.page_ids[:3], format_func=lambda i: m.labels.get(i, i), key="models_selected")

# Only the open tab computes its answer (the others would cost queries on every rerun).
tabs = st.tabs(list(TOOLS), default="Chart builder", on_change="rerun", key="models_tab")
for tab, (caption, draw) in zip(tabs, TOOLS.values()):
    if tab.open:
        with tab, state.panel(caption=caption):
            draw(m)
