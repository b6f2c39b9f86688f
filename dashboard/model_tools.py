"""The models view's tools, one function per tab: each draws only when its tab is open."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from modeldb.dashboard import charts, links, state
from modeldb.warehouse import queries as Q
from modeldb.warehouse.queries.curves import MAX_SERIES
from modeldb.warehouse.queries.names import run_label

BINS = 20
AGGREGATES = ["none", "mean", "median", "min", "max", "count", "std"]
HISTORY_METRICS = ("loss", "loss_curve", "validation_score", "train_score")
CURVE_BUCKETS = 500  # at most 2 × 500 points per series
NAMED_POINTS = 2_000  # a bigger chart sample keeps ids in its tooltips: naming 5,000 models costs ~0.25 s at 100,000


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
    top_level: bool = True
    page_ids: list[str] = field(default_factory=list)
    picked: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # model id -> run name › role (unique on the page)
    classes: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)

    @property
    def every_field(self) -> list[str]:
        attributes = ["model.operator_class", "model.features", "model.size_bytes", "model.created_ts"]
        return attributes + self.metric_fields + self.param_fields

    def label(self, model_id: str) -> str:
        """A model in a picker: its name, then its class."""
        name = self.labels.get(model_id, f"…{model_id[-8:]}")
        return f"{name} · {self.classes[model_id]}" if self.classes.get(model_id) else name


def _none(value: str) -> str:
    return "" if value == "(none)" else value


def _field(prefix: str, key: str) -> str:
    return prefix + (key if key.isidentifier() else f"`{key}`")


def chart_defaults(m: Models, options: list[str]) -> tuple[str, str]:
    """(x, y): the main metric against the param that varies most among the models that have it."""
    y = m.headline_field if m.headline_field in options else (m.metric_fields or options)[0]
    x = ""
    if y.startswith("metrics."):
        metric = y.split(".", 1)[1].strip("`")
        varying = state.answer(Q.varying_params, m.project, metric, top_level=m.top_level)
        x = next((f for f in (_field("params.", k) for k in varying["key"]) if f in options), "")
    return x or (m.varying or m.param_fields or options)[0], y


def chart_builder(m: Models) -> None:
    options = m.every_field
    default_x, default_y = chart_defaults(m, options)
    with_none = ["(none)"] + options
    c = st.columns(4)
    links.bind("chart_x", "x", default_x, options=options)
    x = c[0].selectbox("x", options, key="chart_x")
    links.bind("chart_y", "y", default_y, options=options)
    y = c[1].selectbox("y", options, key="chart_y")
    links.bind("chart_kind", "chart", charts.KINDS[0], options=charts.KINDS)
    kind = c[2].selectbox("Chart", list(charts.KINDS), key="chart_kind")
    links.bind("chart_agg", "agg", "none", options=AGGREGATES)
    agg = c[3].selectbox("Aggregate", AGGREGATES, key="chart_agg")
    c = st.columns(3)
    links.bind("chart_color", "color", "(none)", options=with_none)
    color = _none(c[0].selectbox("Color", with_none, key="chart_color"))
    links.bind("chart_size", "size_by", "(none)", options=with_none)
    size = _none(c[1].selectbox("Size", with_none, key="chart_size"))
    links.bind("chart_facet", "facet", "(none)", options=with_none)
    facet = _none(c[2].selectbox("Facet", with_none, key="chart_facet"))
    distinct = dict(zip(m.keys["field"], m.keys["distinct_values"]))
    bins = BINS if agg != "none" and distinct.get(x, 0) > BINS else 0  # a swept C: bins, not 100,000 bars
    frame, count = state.answer(Q.chart_data, m.project, x, y, color=color, size="" if agg != "none" else size,
                                facet=facet, agg="" if agg == "none" else agg, where=m.where, bins=bins)
    if frame.empty:
        st.info(f"No model has both {x} and {y}" + (" among those matching the filter" if m.where else "")
                + ". Pick another x or y" + (", or loosen the filter" if m.where else "") + ".")
        return
    if "id" in frame and len(frame) <= NAMED_POINTS:  # each point's name in its tooltip
        names = state.answer(Q.model_names, m.project, tuple(frame["id"]))
        frame = frame.assign(model=frame["id"].map(dict(zip(names["model_id"], names["label"]))).fillna(frame["id"]))
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


SMOOTHING = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99]
CURVE_AXES = ["step", "time"]


def _curve_choices(m: Models) -> tuple[str, list[str], dict[str, str], float, str, bool] | None:
    """The curves' controls: (metric, runs, run names, smoothing, x axis, log scale); None when nothing has a history."""
    run_keys = state.answer(Q.model_keys, m.project, entity="run")
    stepped = list(run_keys.loc[(run_keys["kind"] == "metric") & (run_keys["max_step"] > 0), "key"])
    if not stepped:
        st.info("No metric in this project has a history yet. Log one step by step "
                "(`run.log_metric('loss', value, step=i)`), or fit an estimator that records a curve "
                "(gradient boosting, an MLP) with autolog on.")
        return None
    c = st.columns([2, 4])
    links.bind("curve_metric", "metric", next((n for n in HISTORY_METRICS if n in stepped), stepped[0]),
               options=stepped)
    metric = c[0].selectbox("Metric", stepped, key="curve_metric")
    having = state.answer(Q.runs_with_metric, m.project, metric)
    names = {r.run_id: run_label(r.name, r.run_id) for r in having.itertuples()}
    from_models = [m.runs[i] for i in m.picked if m.runs.get(i) in names]
    links.bind("curve_runs", "runs", list(dict.fromkeys(from_models)) or list(names)[:5], kind="list",
               options=list(names))
    runs = c[1].multiselect("Runs", list(names), key="curve_runs", max_selections=MAX_SERIES, format_func=names.get,
                            help="Runs with this metric; the default is the runs of the selected models")
    c = st.columns([2, 2, 1, 2])
    links.bind("curve_smooth", "smooth", "0", options=[f"{w:g}" for w in SMOOTHING])
    smoothing = float(c[0].select_slider("Smoothing", [f"{w:g}" for w in SMOOTHING], key="curve_smooth",
                                         help="An exponential moving average over the drawn points (0: none)"))
    links.bind("curve_x", "xaxis", "step", options=CURVE_AXES)
    x = c[1].radio("x axis", CURVE_AXES, key="curve_x", horizontal=True)
    links.bind("curve_log", "log", False, kind="bool")
    log = c[2].toggle("Log scale", key="curve_log")
    return metric, runs, names, smoothing, x, log


def _series_names(m: Models, series: Any, names: dict[str, str]) -> dict[tuple[str, str], str]:
    """(run, model) -> a series' name: its run's, or, where one run has several, each model's label."""
    out = {(r, i): names.get(r, r) for r, i in zip(series["run_id"], series["model_id"])}
    counts = series["run_id"].value_counts()
    split = series[series["run_id"].isin(counts[counts > 1].index)]
    if len(split):  # one run, several models (a search's candidates)
        models = state.answer(Q.model_names, m.project, tuple(split["model_id"]))
        named = dict(zip(models["model_id"], models["label"]))
        out.update({(r, i): named.get(i, f"{names.get(r, r)} › …{i[-6:]}")
                    for r, i in zip(split["run_id"], split["model_id"])})
    return out


def curves(m: Models) -> None:
    """The selected runs' histories of one metric, overlaid, downsampled on the server (min and max per bucket)."""
    choices = _curve_choices(m)
    if choices is None:
        return
    metric, runs, names, smoothing, x, log = choices
    if not runs:
        st.info("Pick one or more runs above to draw their curves.")
        return
    points, series = state.answer(Q.curves, m.project, metric, tuple(runs), x=x, buckets=CURVE_BUCKETS)
    if points.empty:
        st.info(f"None of these runs has a finite value of {metric}: pick other runs or another metric.")
        return
    labels = _series_names(m, series, names)
    points = points.assign(series=[labels[k] for k in zip(points["run_id"], points["model_id"])])
    shown = points[points["value"] > 0] if log else points
    st.altair_chart(charts.curves(shown, metric, x=x, log=log, smoothing=smoothing), key="curve_chart",
                    width="stretch")
    for row in series.itertuples():
        drawn = points[(points["run_id"] == row.run_id) & (points["model_id"] == row.model_id)]
        high = drawn.loc[drawn["value"].idxmax()]
        where = f"; highest {high['value']:.6g} at step {int(high['x']):,}" if x == "step" else ""
        how = (f"downsampled: the lowest and highest point of each of {row.buckets:,} buckets, shaded"
               if row.downsampled else "every point")
        st.caption(f"**{labels[(row.run_id, row.model_id)]}**: {int(row.points):,} points, {int(row.drawn):,} drawn "
                   f"({how}){where}")
    if len(shown) < len(points):
        st.caption(f"{len(points) - len(shown):,} points at or below zero are left out of the log scale.")


def compare_two(m: Models) -> None:
    if len(m.page_ids) < 2:
        st.info("A comparison needs two models on the page: loosen the filter, or untick “Top-level models only”.")
        return
    first = m.picked[0] if m.picked else m.page_ids[0]
    second = m.picked[1] if len(m.picked) > 1 else next(i for i in m.page_ids if i != first)
    left, right = st.columns(2)
    links.bind("compare_a", "a", first, options=m.page_ids)
    a = left.selectbox("Model A", m.page_ids, format_func=m.label, key="compare_a", help=f"Model id: {first}")
    links.bind("compare_b", "b", second, options=m.page_ids)
    b = right.selectbox("Model B", m.page_ids, format_func=m.label, key="compare_b", help=f"Model id: {second}")
    names = {"a": m.labels.get(a, a), "b": m.labels.get(b, b)}
    if names["a"] == names["b"]:
        names = {"a": f"A: {names['a']}", "b": f"B: {names['b']}"}
    for part, frame in state.answer(Q.compare_models, m.project, a, b).items():
        differing = int(frame["differs"].sum()) if len(frame) else 0
        st.markdown(f"**{part}** · {differing} of {len(frame)} differ")
        renamed = frame.rename(columns=names)
        st.dataframe(charts.highlight_differences(renamed, columns=list(names.values())), hide_index=True,
                     width="stretch")


def compare_many(m: Models) -> None:
    """Every param and metric of the selected models side by side, one column per model."""
    if len(m.picked) < 2:
        st.info("Select two or more models above (“Selected models”) to line up their params and metrics.")
        return
    frame = state.answer(Q.compare_many, m.project, tuple(m.picked))
    links.bind("compare_only_differing", "differing", False, kind="bool")
    only = st.toggle("Only the rows that differ", key="compare_only_differing")
    differing = int(frame["differs"].sum()) if len(frame) else 0
    st.caption(f"{len(m.picked)} models · {differing} of {len(frame)} rows differ"
               + (" (only those are shown)" if only else " (differing rows shaded)"))
    shown = frame[frame["differs"]] if only else frame
    ids = [c for c in shown.columns if c not in ("item", "kind", "differs")]
    columns = dict(zip(ids, unique_column_names([m.labels.get(i, i) for i in ids])))
    text = shown.assign(**{i: [_cell(v) for v in shown[i]] for i in ids}).rename(columns=columns)
    st.dataframe(charts.highlight_differences(text, columns=list(columns.values())), hide_index=True,
                 width="stretch", key="compare_many_table",
                 column_config={"differs": None, "kind": None})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def unique_column_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


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
    "Chart builder": ("The paper's Tableau-like view: any field against any other, aggregated on the server; it "
                      "opens on the main metric against the param that varies most", chart_builder),
    "Parallel coordinates": ("Each line is a model; each axis runs from its lowest value (bottom) to its highest "
                             "(top)", parallel_coordinates),
    "Curves": (f"Runs' metric histories overlaid, downsampled on the server to at most {2 * CURVE_BUCKETS:,} points per run "
               "(the lowest and highest of each bucket, so spikes stay)", curves),
    "Compare runs": ("Every param and metric of the selected models, one column each", compare_many),
    "Compare two": ("Params, stages, features, metrics and data; differences highlighted", compare_two),
    "Best on a slice": ("Models ranked on the prediction rows that match a predicate", best_on_slice),
}
