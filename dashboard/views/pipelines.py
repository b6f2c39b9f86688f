"""Pipelines: a run's or a model's stages as a graph, pipelines aligned, sampled rows followed, the version tree.

Runs and models are picked by name (a model by its run's name and its role); the choice, the
search text, the followed row and the aligned runs are in the URL.
"""
from __future__ import annotations

import itertools

import streamlit as st

from modeldb.dashboard import graphs, links, stages, state, trace
from modeldb.dashboard.summary import stage_table
from modeldb.warehouse.base import quote
from modeldb.warehouse import queries as Q
from modeldb.warehouse.queries.names import run_label, unique_labels

PICKED = 500
KINDS = ["a run", "a model"]
st.title("Pipelines")
project = state.project_or_stop()

left, right = st.columns([1, 2])
links.bind("pipeline_kind", "show", KINDS[0], options=KINDS)
kind = left.radio("Show the pipeline of", KINDS, horizontal=True, key="pipeline_kind")
links.bind("pipeline_find", "find", "")
find = right.text_input("Find", key="pipeline_find", placeholder="part of a run's name, or of a model's class",
                        help=f"The {PICKED} most recent runs (or models) matching are offered below")
runs = None
with state.panel():
    named = f"run.name LIKE {quote('%' + find.strip() + '%')}" if find.strip() else ""
    runs = state.answer(Q.search_runs, project, named if kind == "a run" else "", "run.started_ts DESC", limit=PICKED)
if runs is None or runs.empty:
    st.info(f"No run in project {project!r}" + (f" has {find.strip()!r} in its name: try another part of it."
                                                 if find.strip() else " yet: start one with `modeldb.start_run()`."))
    state.stop()
labels = unique_labels({r.run_id: run_label(r.name, r.run_id) for r in runs.itertuples()})

actions = None
with state.panel():
    if kind == "a run":
        ids = list(labels)
        chosen = links.bind("pipeline_run", "run", ids[0], options=ids)
        run_id = st.selectbox("Run", ids, format_func=labels.get, key="pipeline_run", help=f"Run id: {chosen}")
        actions = state.answer(Q.run_actions, project, run_id)
        subject = labels[run_id]
    else:
        classed = f"model.operator_class LIKE {quote('%' + find.strip() + '%')}" if find.strip() else ""
        models = state.answer(Q.search_models, project, classed, "model.created_ts DESC", limit=PICKED)
        if models.empty:
            st.info("No model in this project" + (f" has {find.strip()!r} in its class: try another part of it."
                                                  if find.strip() else " yet: fit one with autolog switched on."))
            state.stop()
        names = state.answer(Q.model_names, project, tuple(models["model_id"]))
        unique = unique_labels(dict(zip(names["model_id"], names["label"])))
        classes = dict(zip(models["model_id"], models["operator_class"]))
        mlabels = {i: f"{unique.get(i, '…' + i[-8:])} · {classes[i]}" for i in models["model_id"]}
        ids = list(mlabels)
        chosen = links.bind("pipeline_model", "model", ids[0], options=ids)
        model_id = st.selectbox("Model", ids, format_func=mlabels.get, key="pipeline_model",
                                help=f"Model id: {chosen}")
        actions = state.answer(Q.model_actions, project, model_id)
        run_id = str(actions["run_id"].iloc[0]) if len(actions) else ""
        subject = mlabels[model_id]

if actions is None or actions.empty:
    st.info("No pipeline actions were tracked here (a run with only params and metrics has none). Fit, transform "
            "or predict with `modeldb.sklearn.autolog()` on to record a pipeline's stages.")
    state.stop()


with state.panel(f"Stages of {subject}", caption="data → operator → data, left to right; wheel to zoom, drag to "
                                                 "pan, double-click to reset, click a stage for its details"):
    ids = set(itertools.chain(*actions["input_dataframe_ids"], *actions["output_dataframe_ids"]))
    frames = state.answer(Q.dataframes, project, tuple(sorted(ids)))
    stages.panel(actions, frames)
    st.dataframe(stage_table(actions, frames), hide_index=True, width="stretch")

def align_panel() -> None:
    candidates = [r for r in labels if r != run_id]
    links.bind("align_runs", "align", [], kind="list", options=candidates)
    others = st.multiselect("Compare with runs", candidates, format_func=labels.get, max_selections=3,
                            key="align_runs")
    if not others:
        st.caption("Pick one or more runs to line up against this one.")
        return
    this = actions if kind == "a run" else state.answer(Q.run_actions, project, run_id)
    pipelines = {labels.get(run_id, subject): this}
    for other in others:
        pipelines[labels[other]] = state.answer(Q.run_actions, project, other)
    aligned = Q.align(pipelines)
    names = list(pipelines)
    flags = [c for c in aligned.columns if c.endswith(" differ")]

    def highlight(row):
        bad = any(row[f] for f in flags)
        return ["background-color: #ffe3b3" if bad and c in names + ["differences"] else "" for c in row.index]

    differing = int(aligned[flags].any(axis=1).sum()) if len(aligned) else 0
    st.caption(f"{differing} of {len(aligned)} stage positions differ")
    st.dataframe(aligned.style.apply(highlight, axis=1), hide_index=True, width="stretch")


def version_tree_panel() -> None:
    if run_id:
        tree = state.answer(Q.version_tree, project, run_id)
        if len(tree) > 1:
            st.graphviz_chart(graphs.version_tree(tree))
        st.dataframe(tree, hide_index=True, width="stretch")


def _titled(caption: str, draw) -> None:
    with state.panel(caption=caption):
        draw()


# Only the open tab computes and draws (the others would cost queries and drawing on every rerun).
BELOW = {
    "Follow a data item": lambda: trace.panel(actions, frames),
    "Align pipelines": lambda: _titled("stage by stage; differing operators, params or columns are highlighted",
                                       align_panel),
    "Version tree": lambda: _titled("the run's root, its branches, and this run highlighted", version_tree_panel),
}


links.bind("pipelines_tab", "tab", next(iter(BELOW)), options=list(BELOW))
for tab, draw in zip(st.tabs(list(BELOW), on_change="rerun", key="pipelines_tab"), BELOW.values()):
    if tab.open:
        with tab:
            draw()
