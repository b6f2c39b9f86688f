"""Models: one table of a project's models, a chart builder, parallel coordinates, metric histories,
a two-model comparison and the best model on a slice."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import charts, state
from modeldb.dashboard.summary import lower_is_better, main_metric, params_by_interest, table_order
from modeldb.warehouse import queries as Q

st.title("Models")
with state.panel():
    project = state.choose_project(list(state.answer("PROJECTS")["project"]))
if not project:
    st.info("No projects yet: track a run first.")
    st.stop()

keys = metrics = None
with state.panel():
    keys = state.answer("model_keys", project, top_level=st.session_state.get("models_top_only", True))
    metrics = state.answer("PROJECT_METRICS", project=project)
if keys is None or keys.empty:
    st.info(f"Project {project!r} has no models with params or metrics yet.")
    st.stop()
metric_fields = list(keys.loc[keys["kind"] == "metric", "field"])
param_fields, varying = params_by_interest(keys)
attributes = ["model.operator_class", "model.features", "model.size_bytes", "model.created_ts"]
headline = main_metric(metrics)
headline_field = f"metrics.{headline}" if headline else (metric_fields[0] if metric_fields else "")
every_field = attributes + metric_fields + param_fields

picked: list[str] = []
page_ids: list[str] = []
labels: dict[str, str] = {}
where = ""
with state.panel(f"Models of {project}", caption="Filter with AND / OR on params., metrics. and model. "
                 "(e.g. `params.clf__C > 0.1 OR model.operator_class LIKE '%Forest%'`); sorted and paged on the server"):
    left, right = st.columns([3, 2])
    typed = left.text_input("Filter", key="models_where", placeholder="metrics.accuracy_score > 0.8 AND params.C >= 1")
    top_only = left.checkbox("Top-level models only (hide pipeline stages and a search's parts)", value=True,
                             key="models_top_only")
    where = " AND ".join(p for p in ((f"({typed})" if typed.strip() else ""),
                                     "model.parent_model_id = ''" if top_only else "") if p)
    default_order = f"{headline_field} {'ASC' if headline and lower_is_better(headline) else 'DESC'}" if headline_field else ""
    order_by = right.text_input("Sort by", value=default_order, key="models_order")
    chosen = st.multiselect("Columns", metric_fields + param_fields,
                            default=(metric_fields[:4] + varying[:4]), key="models_columns")
    c1, c2, c3 = st.columns([1, 1, 3])
    size = c1.selectbox("Rows per page", [10, 25, 50, 100, 250, 1000], index=2, key="models_page_size")
    total = state.answer("count_matches", "model", project, where)
    pages = max(1, -(-total // size))
    page = c2.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="models_page")
    c3.caption(f"{total:,} models match · page {page} of {pages:,}")
    table = state.answer("search_models", project, where, order_by, chosen, limit=int(size), offset=int((page - 1) * size))
    st.dataframe(table, hide_index=True, width="stretch", key="models_table", column_order=table_order(table, chosen))
    page_ids = list(table["model_id"]) if len(table) else []
    labels = {m.model_id: f"{m.operator_class} · …{m.model_id[-8:]}" for m in table.itertuples()} if len(table) else {}
    picked = st.multiselect("Selected models (for histories and comparison)", page_ids, default=page_ids[:3],
                            format_func=lambda i: labels.get(i, i), key="models_selected")

# Only the open tab computes its answer (the others would cost a query each on every rerun).
chart_tab, parallel_tab, history_tab, compare_tab, slice_tab = st.tabs(
    ["Chart builder", "Parallel coordinates", "Metric histories", "Compare two", "Best on a slice"],
    default="Chart builder", on_change="rerun", key="models_tab")

if chart_tab.open:
    with chart_tab, state.panel(caption="The paper's Tableau-like view: any field against any other, aggregated on the server"):
        options = every_field
        c = st.columns(4)
        default_x = (varying or param_fields or options)[0]
        x = c[0].selectbox("x", options, index=options.index(default_x), key="chart_x")
        y = c[1].selectbox("y", options, index=options.index(headline_field) if headline_field in options else 0,
                           key="chart_y")
        kind = c[2].selectbox("Chart", ["scatter", "line", "bar", "box"], key="chart_kind")
        agg = c[3].selectbox("Aggregate", ["none", "mean", "median", "min", "max", "count", "std"], key="chart_agg")
        c = st.columns(3)
        color = c[0].selectbox("Color", ["(none)"] + options, key="chart_color")
        size_field = c[1].selectbox("Size", ["(none)"] + options, key="chart_size")
        facet = c[2].selectbox("Facet", ["(none)"] + options, key="chart_facet")
        pick = lambda v: "" if v == "(none)" else v  # noqa: E731
        frame, count = state.answer("chart_data", project, x, y, color=pick(color), size="" if agg != "none" else pick(size_field),
                                    facet=pick(facet), agg="" if agg == "none" else agg, where=where)
        if frame.empty:
            st.info(f"No model has both {x} and {y}" + (f" among those matching the filter" if where else "") + ".")
        else:
            st.altair_chart(charts.builder(frame, kind, x, y, agg), key="chart_builder",
                            width="content" if pick(facet) else "stretch")
            st.caption(f"{count:,} models in {len(frame):,} groups" if agg != "none" else
                       f"{len(frame):,} models drawn, of {count:,} that match" + (" (a stable hash sample)"
                                                                                 if count > len(frame) else ""))

if parallel_tab.open:
    with parallel_tab, state.panel(caption="Each line is a model; each axis runs from its lowest value (bottom) to its highest (top)"):
        numeric = metric_fields + param_fields
        dims = st.multiselect("Axes", numeric, default=(varying[:4] + [headline_field]) if headline_field else numeric[:4],
                              max_selections=12, key="parallel_axes")
        if dims:
            frame, count = state.answer("sample_fields", project, tuple(dims), where=where, limit=2000)
            figure = charts.parallel(frame, dims, headline_field if headline_field in dims else dims[-1])
            if figure is None:
                st.info("None of the chosen axes has values for these models.")
            else:
                st.altair_chart(figure, key="parallel_chart", width="stretch")
                st.caption(f"{len(frame):,} models with every axis drawn, of {count:,} that match")

if history_tab.open:
    with history_tab, state.panel(caption="Downsampled on the server to at most 200 points per model"):
        every_key = state.answer("model_keys", project)  # histories often belong to a pipeline's final estimator
        stepped = list(every_key.loc[(every_key["kind"] == "metric") & (every_key["max_step"] > 0), "key"])
        if not stepped:
            st.info("No metric in this project has steps (loss curves, staged scores) yet.")
        else:
            default = next((m for m in ("loss", "loss_curve", "validation_score", "train_score") if m in stepped), stepped[0])
            metric = st.selectbox("Metric", stepped, index=stepped.index(default), key="history_metric")
            histories = state.answer("metric_histories", project, metric, tuple(picked)) if picked else None
            if histories is None or histories.empty:
                having = state.answer("search_models", project, f"isNotNull(metrics.`{metric}`)", "", [], limit=5)
                st.caption(f"None of the selected models has a history of {metric}; showing {len(having)} that do.")
                labels.update({m.model_id: f"{m.operator_class} · …{m.model_id[-8:]}" for m in having.itertuples()})
                histories = state.answer("metric_histories", project, metric, tuple(having["model_id"]))
            histories["model"] = histories["model_id"].map(lambda i: labels.get(i, i[-8:]))
            st.altair_chart(charts.histories(histories, metric), key="history_chart", width="stretch")

if compare_tab.open:
    with compare_tab, state.panel(caption="Params, stages, features, metrics and data; differences highlighted"):
        if len(page_ids) < 2:
            st.info("A comparison needs two models on the page.")
        else:
            a_col, b_col = st.columns(2)
            first = picked[0] if picked else page_ids[0]
            second = picked[1] if len(picked) > 1 else next(i for i in page_ids if i != first)
            a = a_col.selectbox("Model A", page_ids, index=page_ids.index(first), format_func=labels.get, key="compare_a")
            b = b_col.selectbox("Model B", page_ids, index=page_ids.index(second), format_func=labels.get, key="compare_b")
            for part, frame in state.answer("compare_models", project, a, b).items():
                differing = int(frame["differs"].sum()) if len(frame) else 0
                st.markdown(f"**{part}** · {differing} of {len(frame)} differ")
                st.dataframe(charts.highlight_differences(frame), hide_index=True, width="stretch")

if slice_tab.open:
    with slice_tab, state.panel(caption="Models ranked on the prediction rows that match a predicate"):
        columns = state.answer("slice_columns", project)
        if not columns:
            st.info("No prediction rows were captured in this project (predict or score on labelled data to capture them).")
        else:
            st.caption("Slice columns: " + ", ".join(f"`{c}`" for c in columns))
            c1, c2 = st.columns([3, 1])
            predicate = c1.text_input("Predicate", value="1", key="slice_predicate",
                                      help="A ClickHouse expression over the slice columns, e.g. country = 'US' AND age > 40")
            slice_metric = c2.selectbox("Metric", ["accuracy", "error_rate", "rmse", "mae"], key="slice_metric")
            ranked = state.answer("best_on_slice", project, predicate or "1", slice_metric)
            if ranked.empty:
                st.info("No model has prediction rows matching this predicate.")
            else:
                st.dataframe(ranked, hide_index=True, width="stretch")
