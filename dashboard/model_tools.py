"""The models view's tools, one function per tab: each draws only when its tab is open."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from modeldb.dashboard import charts, state
from modeldb.warehouse import queries as Q

BINS = 20
AGGREGATES = ["none", "mean", "median", "min", "max", "count", "std"]
HISTORY_METRICS = ("loss", "loss_curve", "validation_score", "train_score")


@dataclass
class Models:
    """What the table above the tools settled: the project, its fields, the filter and the chosen models."""
    project: str
    keys: Any
    metric_fields: list[str]
    param_fields: list[str]
    varying: list[str]
    headline_field: str
    where: str = ""
    page_ids: list[str] = field(default_factory=list)
    picked: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def every_field(self) -> list[str]:
        attributes = ["model.operator_class", "model.features", "model.size_bytes", "model.created_ts"]
        return attributes + self.metric_fields + self.param_fields


def _none(value: str) -> str:
    return "" if value == "(none)" else value


def chart_builder(m: Models) -> None:
    options = m.every_field
    c = st.columns(4)
    default_x = (m.varying or m.param_fields or options)[0]
    x = c[0].selectbox("x", options, index=options.index(default_x), key="chart_x")
    y = c[1].selectbox("y", options, key="chart_y",
                       index=options.index(m.headline_field) if m.headline_field in options else 0)
    kind = c[2].selectbox("Chart", list(charts.KINDS), key="chart_kind")
    agg = c[3].selectbox("Aggregate", AGGREGATES, key="chart_agg")
    c = st.columns(3)
    color = _none(c[0].selectbox("Color", ["(none)"] + options, key="chart_color"))
    size = _none(c[1].selectbox("Size", ["(none)"] + options, key="chart_size"))
    facet = _none(c[2].selectbox("Facet", ["(none)"] + options, key="chart_facet"))
    distinct = dict(zip(m.keys["field"], m.keys["distinct_values"]))
    bins = BINS if agg != "none" and distinct.get(x, 0) > BINS else 0  # a swept C: bins, not 100,000 bars
    frame, count = state.answer(Q.chart_data, m.project, x, y, color=color, size="" if agg != "none" else size,
                                facet=facet, agg="" if agg == "none" else agg, where=m.where, bins=bins)
    if frame.empty:
        st.info(f"No model has both {x} and {y}" + (" among those matching the filter" if m.where else "") + ".")
        return
    st.altair_chart(charts.builder(frame, kind, x, y, agg), key="chart_builder",
                    width="content" if facet else "stretch")
    if agg != "none":
        st.caption(f"{count:,} models in {len(frame):,} groups" + (f" ({x} in {bins} equal bins)" if bins else ""))
    else:
        sampled = " (a stable hash sample)" if count > len(frame) else ""
        st.caption(f"{len(frame):,} models drawn, of {count:,} that match{sampled}")


def parallel_coordinates(m: Models) -> None:
    numeric = m.metric_fields + m.param_fields
    default = (m.varying[:4] + [m.headline_field]) if m.headline_field else numeric[:4]
    dims = st.multiselect("Axes", numeric, default=default, max_selections=12, key="parallel_axes")
    if not dims:
        return
    frame, count = state.answer(Q.sample_fields, m.project, tuple(dims), where=m.where, limit=2000)
    figure = charts.parallel(frame, dims, m.headline_field if m.headline_field in dims else dims[-1])
    if figure is None:
        st.info("None of the chosen axes has values for these models.")
        return
    st.altair_chart(figure, key="parallel_chart", width="stretch")
    st.caption(f"{len(frame):,} models with every axis drawn, of {count:,} that match")


def metric_histories(m: Models) -> None:
    every_key = state.answer(Q.model_keys, m.project)  # histories often belong to a pipeline's final estimator
    stepped = list(every_key.loc[(every_key["kind"] == "metric") & (every_key["max_step"] > 0), "key"])
    if not stepped:
        st.info("No metric in this project has steps (loss curves, staged scores) yet.")
        return
    default = next((name for name in HISTORY_METRICS if name in stepped), stepped[0])
    metric = st.selectbox("Metric", stepped, index=stepped.index(default), key="history_metric")
    labels = dict(m.labels)
    histories = state.answer(Q.metric_histories, m.project, metric, tuple(m.picked)) if m.picked else None
    if histories is None or histories.empty:
        having = state.answer(Q.search_models, m.project, f"isNotNull(metrics.`{metric}`)", "", [], limit=5)
        st.caption(f"None of the selected models has a history of {metric}; showing {len(having)} that do.")
        labels.update({row.model_id: f"{row.operator_class} · …{row.model_id[-8:]}" for row in having.itertuples()})
        histories = state.answer(Q.metric_histories, m.project, metric, tuple(having["model_id"]))
    histories["model"] = histories["model_id"].map(lambda i: labels.get(i, i[-8:]))
    st.altair_chart(charts.histories(histories, metric), key="history_chart", width="stretch")


def compare_two(m: Models) -> None:
    if len(m.page_ids) < 2:
        st.info("A comparison needs two models on the page.")
        return
    first = m.picked[0] if m.picked else m.page_ids[0]
    second = m.picked[1] if len(m.picked) > 1 else next(i for i in m.page_ids if i != first)
    left, right = st.columns(2)
    a = left.selectbox("Model A", m.page_ids, index=m.page_ids.index(first), format_func=m.labels.get,
                       key="compare_a")
    b = right.selectbox("Model B", m.page_ids, index=m.page_ids.index(second), format_func=m.labels.get,
                        key="compare_b")
    for part, frame in state.answer(Q.compare_models, m.project, a, b).items():
        differing = int(frame["differs"].sum()) if len(frame) else 0
        st.markdown(f"**{part}** · {differing} of {len(frame)} differ")
        st.dataframe(charts.highlight_differences(frame), hide_index=True, width="stretch")


def best_on_slice(m: Models) -> None:
    columns = state.answer(Q.slice_columns, m.project)
    if not columns:
        st.info("No prediction rows were captured in this project (predict or score on labelled data to capture them).")
        return
    st.caption("Slice columns: " + ", ".join(f"`{c}`" for c in columns))
    left, right = st.columns([3, 1])
    predicate = left.text_input("Predicate", value="1", key="slice_predicate",
                                help="Comparisons of slice columns (=, !=, <, >, IN, BETWEEN, LIKE, IS NULL) joined by AND, OR, NOT, e.g. country = 'US' AND age > 40")
    metric = right.selectbox("Metric", ["accuracy", "error_rate", "rmse", "mae"], key="slice_metric")
    ranked = state.answer(Q.best_on_slice, m.project, predicate or "1", metric)
    if ranked.empty:
        st.info("No model has prediction rows matching this predicate.")
    else:
        st.dataframe(ranked, hide_index=True, width="stretch")


TOOLS = {  # tab -> (what it shows, how it draws)
    "Chart builder": ("The paper's Tableau-like view: any field against any other, aggregated on the server",
                      chart_builder),
    "Parallel coordinates": ("Each line is a model; each axis runs from its lowest value (bottom) to its highest "
                             "(top)", parallel_coordinates),
    "Metric histories": ("Downsampled on the server to at most 200 points per model", metric_histories),
    "Compare two": ("Params, stages, features, metrics and data; differences highlighted", compare_two),
    "Best on a slice": ("Models ranked on the prediction rows that match a predicate", best_on_slice),
}
