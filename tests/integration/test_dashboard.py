"""Every dashboard page under Streamlit's AppTest, on a project tracked through the real pipeline.

The project is the demo's customer-churn story (pipelines, a grid search, boosting with a loss
history, predictions with slices, a branched run), tracked by autolog and materialized on both
paths: file log → chDB, and Kafka → `modeldb process` → ClickHouse server. The dashboard reads
it through its own connection, opened from the environment as `modeldb dashboard` does.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import modeldb
from modeldb.core.config import Settings
from modeldb.dashboard import state
from modeldb.devtools.demo_project import BAD_COLUMN, train
from modeldb.warehouse import queries as Q
from tests.integration.conftest import unique

APP = str(Path(state.__file__).with_name("app.py"))
PATHS = {"file+chdb": "embedded_pipeline", "kafka+clickhouse": "kafka_pipeline"}


def _use(monkeypatch, settings) -> None:
    """Point the dashboard at these settings, as `modeldb dashboard` does through the environment."""
    for name in list(os.environ):
        if name.startswith("MODELDB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MODELDB_HOME", str(settings.home))
    monkeypatch.setenv("MODELDB_TRANSPORT", settings.transport)
    monkeypatch.setenv("MODELDB_WAREHOUSE", settings.warehouse)
    _release()


def _release() -> None:
    state.release()


@pytest.fixture(scope="module", params=list(PATHS))
def churn(request):
    """The customer-churn project on one path; the tests only read it."""
    pipeline = request.getfixturevalue(PATHS[request.param])
    project = unique("dash")
    pipeline.init(project)
    names = train(1, lambda _: None)
    pipeline.settle()
    return pipeline, project, names


@pytest.fixture
def app(churn, monkeypatch):
    pipeline, project, _ = churn
    _use(monkeypatch, pipeline.settings)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["project"] = project
    yield at
    _release()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _open(at: AppTest, page: str) -> AppTest:
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py")
        at.run()
    _clean(at)
    return at


def test_overview_lists_the_project_with_its_best_model_and_links_into_it(app, churn):
    pipeline, project, names = churn
    at = _open(app, "overview")
    table = at.dataframe[0].value
    row = table[table["project"] == project].iloc[0]
    assert row["runs"] == len(names) and row["models"] > 10
    assert row["main_metric"] == "accuracy" and 0.7 < row["best_value"] <= 1
    assert len(row["activity"]) >= 2 and sum(row["activity"]) >= len(names)
    assert row["held_by"].endswith(" · Pipeline") and row["held_by"].split(" · ")[0] in names  # a name, not an id
    links = [link for link in at.get("page_link") if project in link.proto.label]
    assert links and links[0].proto.page.endswith("models")  # the link opens the project's models
    at.text_input(key="project_search").input("no-such-project-anywhere").run()
    assert any(c.value.startswith("0 of") for c in at.caption)


def test_pipelines_show_stages_trace_rows_align_and_the_version_tree(app, churn):
    pipeline, project, _ = churn
    at = _open(app, "pipelines")
    runs = {o: o for o in at.selectbox(key="pipeline_run").options}
    baseline = Q.search_runs(pipeline.warehouse, project, where="run.name = 'logreg-baseline'").run_id[0]
    branch = Q.search_runs(pipeline.warehouse, project, where="run.name = 'logreg-without-charges'").run_id[0]
    assert len(runs) == len(churn[2])
    at.selectbox(key="pipeline_run").set_value(branch).run()
    _clean(at)
    assert any("Stages of logreg-without-charges" in s.value for s in at.subheader)
    assert len(at.get("vega_lite_chart")) >= 1  # the stages graph (Altair: zoom, pan, click)
    stages = at.dataframe[0].value
    assert {"Pipeline", "ColumnTransformer", "StandardScaler", "OneHotEncoder", "LogisticRegression"} <= set(
        stages["operator"])
    fit = stages[(stages["operator"] == "Pipeline") & (stages["action"] == "fit")].iloc[0]
    assert BAD_COLUMN not in fit["input columns"] and "support_calls" in fit["input columns"]
    assert fit["rows in"].startswith("4,500")

    # one sampled data item, followed through the stages by its key
    key = at.selectbox(key="trace_key").value
    trace = at.dataframe[1].value
    assert len(trace) >= 2 and trace["stage"].nunique() >= 2, trace

    # aligned against the baseline: the prep stage differs (one column fewer), the classifier does not
    at.session_state["pipelines_tab"] = "Align pipelines"
    at.run()
    at.multiselect(key="align_runs").select(baseline).run()
    _clean(at)
    assert len(at.dataframe) == 2  # only the open tab draws: the stage table, then the aligned one
    aligned = at.dataframe[1].value
    assert aligned["columns differ"].any() and "differences" in aligned.columns

    # the version tree: the baseline is the root, this run its branch
    at.session_state["pipelines_tab"] = "Version tree"
    at.run()
    _clean(at)
    assert len(at.dataframe) == 2
    tree = at.dataframe[1].value
    assert list(tree["name"]) == ["logreg-baseline", "logreg-without-charges"]
    assert tree.set_index("name").loc["logreg-without-charges", "depth"] == 1

    # a model's pipeline
    at.radio(key="pipeline_kind").set_value("a model").run()
    _clean(at)
    assert any(s.value.startswith("Stages of") for s in at.subheader)

    # finding a run among many by its name, and a model by its class
    at.radio(key="pipeline_kind").set_value("a run")
    at.text_input(key="pipeline_find").input("without").run()
    found = at.selectbox(key="pipeline_run").options
    assert found == ["logreg-without-charges"]  # runs by name
    at.radio(key="pipeline_kind").set_value("a model")
    at.text_input(key="pipeline_find").input("GridSearch").run()
    _clean(at)
    assert len(at.selectbox(key="pipeline_model").options) == 1
    assert key is not None


def test_models_table_filters_sorts_and_pages_on_the_server(app, churn):
    pipeline, project, _ = churn
    at = _open(app, "models")
    table = at.dataframe[0].value
    total = Q.count_matches(pipeline.warehouse, "model", project, "model.parent_model_id = ''")
    assert len(table) == min(total, 50)
    scores = table["metrics.accuracy"].dropna().tolist()
    assert scores == sorted(scores, reverse=True)  # sorted by the headline metric, best first

    at.text_input(key="models_where").input(
        "model.operator_class = 'GridSearchCV' OR metrics.accuracy_score >= 0.8").run()
    _clean(at)
    table = at.dataframe[0].value
    assert len(table) and all((c == "GridSearchCV") or (a >= 0.8) for c, a in
                              zip(table["operator_class"], table["metrics.accuracy"].fillna(0)))
    at.selectbox(key="models_page_size").set_value(10)
    at.text_input(key="models_where").input("").run()
    at.checkbox(key="models_top_only").uncheck().run()
    everything = Q.count_matches(pipeline.warehouse, "model", project)
    assert any(f"{everything:,} models match" in c.value for c in at.caption)
    at.number_input(key="models_page").set_value(2).run()
    _clean(at)
    assert everything > 10 and len(at.dataframe[0].value) == min(10, everything - 10)

    at.text_input(key="models_where").input("params.clf__C >").run()  # a broken filter: a message, not a traceback
    assert not at.exception and any("cannot use" in w.value for w in at.warning)


def test_models_charts_histories_comparison_and_slices(app, churn):
    at = _open(app, "models")
    at.selectbox(key="chart_x").set_value("params.clf__C")
    at.selectbox(key="chart_kind").set_value("bar")
    at.selectbox(key="chart_agg").set_value("mean").run()
    _clean(at)
    assert len(at.get("vega_lite_chart")) == 1  # only the open tab computes
    at.selectbox(key="chart_color").set_value("model.operator_class")
    at.selectbox(key="chart_facet").set_value("params.clf")
    at.selectbox(key="chart_kind").set_value("box")
    at.selectbox(key="chart_agg").set_value("none").run()
    _clean(at)

    at.session_state["models_tab"] = "Parallel coordinates"
    at.run()
    _clean(at)
    assert at.get("vega_lite_chart") and any("models with every axis drawn" in c.value for c in at.caption)

    at.session_state["models_tab"] = "Curves"
    at.run()
    _clean(at)
    assert at.selectbox(key="curve_metric").value in ("validation_score", "train_score")
    assert at.get("vega_lite_chart") and any(c.value.startswith("**boosting**: 57 points") for c in at.caption)

    at.session_state["models_tab"] = "Compare runs"
    at.run()
    _clean(at)
    assert any(" rows differ" in c.value for c in at.caption)

    at.session_state["models_tab"] = "Compare two"
    at.run()
    _clean(at)
    parts = [m.value for m in at.markdown if m.value.startswith("**") and " differ" in m.value]
    assert [p.split("**")[1] for p in parts] == ["model", "params", "stages", "features", "metrics", "data"]

    at.session_state["models_tab"] = "Best on a slice"
    at.run()
    at.text_input(key="slice_predicate").input("country = 'US' AND plan = 'pro'").run()
    _clean(at)
    ranked = at.dataframe[-1].value
    assert len(ranked) >= 3 and ranked["rows"].max() < 1500  # the slice, not all 1,500 test rows
    at.text_input(key="slice_predicate").input("no_such_column = 1").run()  # refused before it runs, naming why
    assert not at.exception and any("a column the stored predictions do not have" in w.value for w in at.warning)


def test_models_are_shown_by_name_and_role_with_ids_one_switch_away(app, churn):
    pipeline, project, names = churn
    at = _open(app, "models")
    table = at.dataframe[0].value
    assert set(table["model"]) <= set(names) and set(table["role"]) == {"whole"}
    shown = list(at.dataframe[0].proto.column_order)
    assert shown[:3] == ["model", "role", "operator_class"] and "model_id" not in shown and "run_id" not in shown
    at.checkbox(key="models_top_only").uncheck().run()
    _clean(at)
    every = at.dataframe[0].value.set_index("model")
    assert every.loc["forest-grid › best", "role"] == "best of GridSearchCV"
    assert every.loc["logreg-baseline › clf", "role"] == "stage clf"
    assert every.loc["logreg-baseline › clf", "operator_class"] == "LogisticRegression"
    assert every.loc["logreg-baseline › prep › num", "operator_class"] == "StandardScaler"
    options = at.multiselect(key="models_selected").options  # pickers show names and classes too
    assert options and all(o.split(" · ")[0] in set(every.index) and " · " in o for o in options), options

    at.toggle(key="models_ids").set_value(True).run()
    assert list(at.dataframe[0].proto.column_order)[:2] == ["model", "model_id"]


def test_a_models_link_restores_filter_columns_tab_and_selection(churn, monkeypatch):
    pipeline, project, _ = churn
    _use(monkeypatch, pipeline.settings)
    wh = pipeline.warehouse
    ids = list(Q.search_models(wh, project, "model.operator_class = 'Pipeline' AND model.parent_model_id = ''",
                               "metrics.accuracy_score DESC", limit=2)["model_id"])
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in {"project": project, "where": "model.operator_class = 'Pipeline'", "cols": "params.clf__C",
                        "tab": "Compare runs", "differing": "1", "sel": ids, "ids": "1"}.items():
        at.query_params[name] = value
    at.switch_page("views/models.py")  # the link opens the models page itself
    at.run()
    _clean(at)
    assert at.text_input(key="models_where").value == "model.operator_class = 'Pipeline'"
    assert at.multiselect(key="models_columns").value == ["params.clf__C"]
    assert at.multiselect(key="models_selected").value == ids and at.toggle(key="models_ids").value
    assert at.toggle(key="compare_only_differing").value
    compared = at.dataframe[-1].value
    assert len(compared) and compared.columns[0] == "item" and "params.clf__C" in set(compared["item"])
    _release()


def test_a_link_into_a_project_keeps_it_past_the_projects_page(app, churn):
    """The Projects page draws no project picker; the link's project must survive it, even when
    another project would come first."""
    pipeline, project, _ = churn
    other = "aaa_" + unique("first")  # sorts before every other project
    pipeline.init(other)
    with modeldb.start_run(name="elsewhere") as run:
        run.log_metric("acc", 0.5)
    pipeline.settle()
    pipeline.init(project)
    at = _open(app, "pipelines")
    assert at.selectbox(key="project_picker").value == project
    assert at.query_params["project"] == [project] or at.query_params["project"] == project


def test_lineage_finds_every_model_that_used_a_column_or_a_dataset(app, churn):
    pipeline, project, _ = churn
    at = _open(app, "lineage")
    at.text_input(key="lineage_needle").input(BAD_COLUMN).run()
    _clean(at)
    found = at.dataframe[0].value
    expected = Q.MODELS_USING_COLUMN.frame(pipeline.warehouse, project=project, column=BAD_COLUMN)
    assert set(found["model_id"]) == set(expected["model_id"]) and len(found) > 5
    assert all(BAD_COLUMN in p for p in found["paths"])
    fingerprint = pipeline.warehouse.query(
        f"SELECT fingerprint FROM `{pipeline.warehouse.database}`.dataframes WHERE project = %(p)s "
        "AND n_rows = 4500 AND n_columns = 7 LIMIT 1", {"p": project}).scalar()  # the training split
    at.radio(key="lineage_kind").set_value("dataset fingerprint")
    at.text_input(key="lineage_needle").input(fingerprint[:12]).run()
    _clean(at)
    assert len(at.dataframe[0].value) >= 1


def test_sql_page_answers_charts_and_bounds_huge_results(app, churn):
    pipeline, project, _ = churn
    db = pipeline.warehouse.database
    at = _open(app, "sql")
    at.text_area(key="sql_text").input(
        f"SELECT operator_class, count() AS models FROM {db}.models WHERE project = '{project}' "
        "GROUP BY operator_class ORDER BY models DESC")
    at.button(key="sql_run").click().run()
    _clean(at)
    answer = at.dataframe[0].value
    assert "Pipeline" in set(answer["operator_class"])
    assert at.get("download_button") and at.selectbox(key="sql_chart_y").value == "models"
    at.text_area(key="sql_text").input("SELECT number FROM system.numbers LIMIT 25000 -- a comment").run()
    assert any("larger than 10,000 rows" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 10_000
    at.text_area(key="sql_text").input("SELEC nonsense").run()
    assert not at.exception and any("could not answer" in e.value for e in at.error)


@pytest.mark.parametrize("statement", ["DROP TABLE {db}.models", "INSERT INTO {db}.tags (project, run_id, key, value) "
                                       "VALUES ('x', 'y', 'k', 'v')", "TRUNCATE TABLE {db}.metrics",
                                       "ALTER TABLE {db}.models DELETE WHERE 1"])
def test_writes_typed_into_the_sql_page_are_refused_and_change_nothing(app, churn, statement):
    pipeline, project, _ = churn
    wh = pipeline.warehouse
    db = wh.database
    before = {t: wh.query(f"SELECT count() FROM `{db}`.{t}").scalar() for t in ("models", "tags", "metrics")}
    at = _open(app, "sql")
    at.text_area(key="sql_text").input(statement.format(db=db))
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert any("Refused" in e.value and "nothing was changed" in e.value for e in at.error), \
        [e.value for e in at.error]
    after = {t: wh.query(f"SELECT count() FROM `{db}`.{t}").scalar() for t in ("models", "tags", "metrics")}
    assert after == before


def test_the_dashboards_connection_cannot_write(app, churn):
    from modeldb.core.exceptions import ReadOnlyError

    _open(app, "overview")
    wh = state.connection().warehouse
    db = churn[0].warehouse.database
    with pytest.raises(ReadOnlyError):
        wh.execute(f"DROP TABLE {db}.models")
    with pytest.raises(ReadOnlyError):
        wh.insert("tags", ["project", "run_id", "key", "value"], [["x", "y", "k", "v"]])
    with pytest.raises(ReadOnlyError, match="nothing was changed"):
        wh.query(f"INSERT INTO {db}.tags (project) VALUES ('x')", readonly=False)  # asking nicely does not help
    assert wh.query(f"SELECT count() FROM {db}.models").scalar() > 0


@pytest.mark.parametrize("page, tab, panels", [("overview", "", 1), ("pipelines", "", 1),
                                              ("pipelines", "Version tree", 2), ("models", "", 2)])
def test_every_panel_can_show_its_sql(app, page, tab, panels):
    at = _open(app, page)
    if tab:  # a panel in a tab runs (and shows) its SQL only while its tab is open
        at.session_state[f"{page}_tab"] = tab
        at.run()
        _clean(at)
    shown = [e for e in at.expander if e.label.startswith("SQL (")]
    assert len(shown) >= panels
    assert all(code.language == "sql" and "SELECT" in code.value for code in at.code)


def test_an_empty_warehouse_and_an_unreachable_one_get_messages(monkeypatch, clickhouse, tmp_path):
    settings = Settings.load(
        env={}, home=tmp_path, warehouse=clickhouse.warehouse_uri(unique("empty")))
    _use(monkeypatch, settings)
    for page in ("overview", "pipelines", "models", "lineage"):
        at = AppTest.from_file(APP, default_timeout=60)
        _open(at, page)
        assert any("No projects yet" in i.value for i in at.info), page

    from modeldb.devtools.services import free_port

    monkeypatch.setenv("MODELDB_WAREHOUSE", f"clickhouse://default@127.0.0.1:{free_port()}/modeldb")
    _release()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("Cannot reach the warehouse" in e.value for e in at.error)
    _release()


def test_losing_the_warehouse_mid_session_is_a_message(monkeypatch, tmp_path):
    """A ClickHouse server of its own, stopped while the dashboard is open."""
    from modeldb.devtools.services import start_clickhouse

    server = start_clickhouse(tmp_path / "clickhouse")
    try:
        settings = Settings.load(env={}, home=tmp_path,
                                 warehouse=server.warehouse_uri(unique("lost")))
        _use(monkeypatch, settings)
        at = AppTest.from_file(APP, default_timeout=60)
        _open(at, "overview")
        assert any("No projects yet" in i.value for i in at.info)
    finally:
        server.stop()
    state._answer.clear()  # no shared answer to fall back on: the page must ask the (stopped) server
    at.run()
    assert not at.exception
    assert any("Lost the connection to the warehouse" in e.value for e in at.error), [e.value for e in at.error]
    _release()


def test_embedded_new_runs_appear_without_a_restart(embedded_pipeline, monkeypatch):
    """The dashboard owns chDB and materializes the file log in the background."""
    project = unique("live")
    embedded_pipeline.init(project)
    with modeldb.start_run(name="first") as run:
        run.log_metric("accuracy", 0.5)
    embedded_pipeline.settle()
    _use(monkeypatch, embedded_pipeline.settings)
    at = AppTest.from_file(APP, default_timeout=60)
    _open(at, "overview")
    table = at.dataframe[0].value
    assert table.set_index("project").loc[project, "runs"] == 1

    embedded_pipeline.init(project)
    with modeldb.start_run(name="second") as run:
        run.log_metric("accuracy", 0.6)
    modeldb.flush()  # to the file log only: the dashboard's thread materializes it
    deadline = time.monotonic() + 20
    runs = 1
    while runs < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        runs = at.dataframe[0].value.set_index("project").loc[project, "runs"]
    assert runs == 2, "the new run did not appear within 20 s"
    _release()
