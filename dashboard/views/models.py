"""Models: one table of a project's models, filtered, sorted and paged on the server, and the tools below it
(chart builder, parallel coordinates, curves, comparisons, the best model on a slice).

Models are shown by name: the run's name and the model's role in it (``logreg-baseline › clf``);
ids are one switch away. The filter, sort, columns, page, selection and open tool are in the URL.
"""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.dashboard.model_tools import TOOLS, Models
from modeldb.dashboard.summary import (lower_is_better, main_metric, metric_help, params_by_interest, table_order,
                                       with_names, with_times)
from modeldb.warehouse import queries as Q
from modeldb.warehouse.queries.names import unique_labels

PAGE_SIZES = [10, 25, 50, 100, 250, 1000]
st.title("Models")
project = state.project_or_stop()

keys = metrics = None
with state.panel():
    links.bind("models_top_only", "top", True, kind="bool")
    keys = state.answer(Q.model_keys, project, top_level=st.session_state["models_top_only"])
    metrics = state.answer(Q.PROJECT_METRICS, project=project)
if keys is None or keys.empty:
    st.info(f"Project {project!r} has no models with params or metrics yet. Fit a model with "
            "`modeldb.sklearn.autolog()` (or `modeldb.spark.autolog()`) switched on, or log params and metrics in a "
            "run; it appears here within a few seconds.")
    with state.panel("Curves", caption="Runs' metric histories, even without a model"):
        TOOLS["Curves"][1](Models(project, keys, [], [], [], ""))
    state.stop()
param_fields, varying = params_by_interest(keys)
metric_fields = list(keys.loc[keys["kind"] == "metric", "field"])
headline = main_metric(metrics)
m = Models(project, keys, metric_fields, param_fields, varying,
           f"metrics.{headline}" if headline else (metric_fields[0] if metric_fields else ""))

with state.panel(f"Models of {project}", caption="Filter with AND / OR on params., metrics. and model. (e.g. "
                 "`params.clf__C > 0.1 OR model.operator_class LIKE '%Forest%'`); sorted and paged on the server"):
    left, right = st.columns([3, 2])
    links.bind("models_where", "where", "")
    typed = left.text_input("Filter", key="models_where", placeholder="metrics.accuracy > 0.8 AND params.C >= 1")
    top_only = left.checkbox("Top-level models only (hide pipeline stages and a search's parts)",
                             key="models_top_only")
    m.top_level = top_only
    m.where = " AND ".join(p for p in (f"({typed})" if typed.strip() else "",
                                       "model.parent_model_id = ''" if top_only else "") if p)
    direction = "ASC" if headline and lower_is_better(headline) else "DESC"
    links.bind("models_order", "sort", f"{m.headline_field} {direction}" if m.headline_field else "")
    order_by = right.text_input("Sort by", key="models_order")
    links.bind("models_columns", "cols", metric_fields[:4] + varying[:4], kind="list",
               options=metric_fields + param_fields)
    chosen = st.multiselect("Columns", metric_fields + param_fields, key="models_columns")
    c1, c2, c3, c4 = st.columns([1, 1, 1, 3])
    links.bind("models_page_size", "size", 50, kind="int", options=PAGE_SIZES)
    size = c1.selectbox("Rows per page", PAGE_SIZES, key="models_page_size")
    total = state.answer(Q.count_matches, "model", project, m.where)
    pages = max(1, -(-total // size))
    links.bind("models_page", "page", 1, kind="int", bounds=(1, pages))
    page = c2.number_input("Page", min_value=1, max_value=pages, step=1, key="models_page")
    links.bind("models_ids", "ids", False, kind="bool")
    show_ids = c3.toggle("Show ids", key="models_ids", help="Add the model, run, parent and training-data ids")
    c4.caption(f"{total:,} models match · page {page} of {pages:,}")
    table = state.answer(Q.search_models, project, m.where, order_by, chosen, limit=int(size),
                         offset=int((page - 1) * size))
    names = state.answer(Q.model_names, project, tuple(table["model_id"]))
    table = with_times(with_names(table, names))
    if table.empty:
        st.info("No model matches this filter: loosen it, or untick “Top-level models only” to include stages.")
    st.dataframe(table, hide_index=True, width="stretch", key="models_table",
                 column_order=table_order(table, chosen, show_ids), column_config={
                     "model": st.column_config.TextColumn(
                         "model", help="The run's name and the model's role in it: the whole model, a stage "
                         "(by its name in the pipeline) or a search's best model. “Show ids” adds the ids."),
                     "operator_class": st.column_config.TextColumn("class"),
                     "created_ts": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm:ss",
                                                                   help="When the model was fitted (UTC)"),
                     **{field: st.column_config.NumberColumn(field, help=text)
                        for field, text in metric_help(keys).items() if field in table.columns}})
    m.page_ids = list(table["model_id"]) if len(table) else []
    m.labels = unique_labels(dict(zip(table["model_id"], table["model"])))
    m.classes = dict(zip(table["model_id"], table["operator_class"]))
    m.runs = dict(zip(table["model_id"], table["run_id"]))
    picked = links.bind("models_selected", "sel", m.page_ids[:3], kind="list", options=m.page_ids)
    m.picked = st.multiselect(
        "Selected models (for curves and comparisons)", m.page_ids, format_func=m.label, key="models_selected",
        help="Ids of the selected models: " + (", ".join(picked) if picked else "none"))

# Only the open tab computes its answer (the others would cost queries on every rerun).
links.bind("models_tab", "tab", next(iter(TOOLS)), options=list(TOOLS))
tabs = st.tabs(list(TOOLS), on_change="rerun", key="models_tab")
for tab, (caption, draw) in zip(tabs, TOOLS.values()):
    if tab.open:
        with tab, state.panel(caption=caption):
            draw(m)
