"""The dashboard's views in a real browser, as a user goes through them.

Each view is opened, one interaction is performed on it (search, select, align, chart, query),
what is on screen is checked, and a screenshot is saved under ``test-artifacts/dashboard/``.
The dashboard and its projects are in ``conftest.py``; the waits and picks in ``kit.py``.
"""
from __future__ import annotations

import re
import time

import modeldb
from modeldb.devtools.demo_project import BAD_COLUMN
from tests.integration.browser.kit import (CURVE_STEPS, HEX_ID, SPIKE_STEP, choose, eventually, open_models, open_view,
                                           selected, settled, shot, table)


def test_overview_search_and_open_a_project(page, served):
    base, project, names, *_ = served
    page.goto(base)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    settled(page)
    page.get_by_text(f"{project} · ", exact=False).first.wait_for()
    search = page.get_by_label("Search projects")
    search.fill(project[-6:])
    search.press("Enter")
    settled(page)
    page.get_by_text("1 of 2 projects").wait_for()  # the churn project and the long curve's
    eventually(page, lambda: "q=" in page.url, what="the search in the URL")
    shot(page, "overview")
    page.get_by_role("link", name=f"{project} · ", exact=False).first.click()
    page.get_by_role("heading", name="Models", exact=True).wait_for()
    assert "/models" in page.url and f"project={project}" in page.url


def test_pipelines_select_a_run_and_align_it(page, served):
    base, project, *_ = served
    open_view(page, base, "pipelines", project, "Pipelines")
    choose(page, "stSelectbox", "Run", "logreg-without-charges")
    page.get_by_role("heading", name="Stages of logreg-without-charges", exact=False).wait_for()
    page.locator('[data-testid="stVegaLiteChart"] svg text').filter(has_text="data …").first.wait_for()
    page.get_by_role("tab", name="Align pipelines").click()  # only the open tab is drawn
    settled(page)
    eventually(page, lambda: "tab=Align" in page.url, what="the open tab in the link")
    choose(page, "stMultiSelect", "Compare with runs", "logreg-baseline")
    page.keyboard.press("Escape")  # close the picker before the screenshot
    page.get_by_text("stage positions differ").wait_for()
    eventually(page, lambda: "align=" in page.url, what="the aligned runs in the link (by id)")
    shot(page, "pipelines")


def test_models_build_a_chart(page, served):
    base, project, *_ = served
    page.goto(f"{base}/models?project={project}")
    page.get_by_role("heading", name=f"Models of {project}").wait_for()
    settled(page)
    page.get_by_text("models match").first.wait_for()
    choose(page, "stSelectbox", "x", "params.clf__C")
    choose(page, "stSelectbox", "Chart", "bar")
    choose(page, "stSelectbox", "Aggregate", "mean")
    page.get_by_text("models in 2 groups", exact=False).wait_for()  # C = 0.01 and C = 1.0, averaged on the server
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    assert chart.locator("canvas, svg").count() >= 1
    shot(page, "models")


def test_lineage_search(page, served):
    base, project, *_ = served
    open_view(page, base, "lineage", project, "Lineage")
    needle = page.get_by_label("Column name")
    needle.fill(BAD_COLUMN)
    needle.press("Enter")
    settled(page)
    page.get_by_text(f"models used column '{BAD_COLUMN}'").wait_for()
    shot(page, "lineage")


def test_sql_query_and_a_refused_drop(page, served):
    base, project, *_ = served
    open_view(page, base, "sql", project, "SQL")
    page.get_by_role("button", name="Run").click()
    settled(page)
    page.get_by_text("rows", exact=False).first.wait_for()
    page.get_by_role("button", name="Download CSV").wait_for()
    shot(page, "sql")
    query = page.get_by_label("Query")
    query.fill("DROP TABLE modeldb.models")
    query.press("Control+Enter")
    settled(page)
    page.get_by_text("nothing was changed").wait_for()


def test_a_new_run_appears_without_a_restart(page, served):
    base, project, names, home, _ = served
    modeldb.init(project=project, home=home)
    with modeldb.start_run(name="added-while-open") as run:
        run.log_metric("accuracy_score", 0.5)
    modeldb.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        open_view(page, base, "pipelines", project, "Pipelines")
        page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Run", exact=True)).first.click()
        if page.get_by_role("option", name="added-while-open", exact=False).count():
            return
        time.sleep(1)
    raise AssertionError("the run logged while the dashboard was open did not appear within 30 s")


def test_names_everywhere_and_ids_only_on_request(page, served):
    base, project, *_ = served
    open_models(page, base, project)
    headers, cells = table(page)
    assert headers[:3] == ["model", "role", "class"], headers
    assert not {"model_id", "run_id", "parent_model_id"} & set(headers), headers  # ids are off by default
    assert {"logreg-baseline", "logreg-C0.01", "boosting", "logreg-without-charges"} <= set(cells), cells
    assert "whole" in cells and not any(HEX_ID.search(c) for c in cells)
    chips = page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.get_by_text("Selected models", exact=False)).first.inner_text()
    assert "logreg-without-charges · Pipeline" in chips and not re.search(r"…[0-9a-f]{6}", chips), chips

    # every model, stages and a search's refit included: each by its run's name and its role
    page.get_by_text("Top-level models only", exact=False).click()
    settled(page)
    eventually(page, lambda: "best of GridSearchCV" in table(page)[1], what="the search's best model by its role")
    headers, cells = table(page)
    assert "forest-grid › best" in cells and any(c.startswith("stage ") for c in cells), cells

    # the ids, one switch away
    page.get_by_text("Show ids", exact=True).click()
    settled(page)
    eventually(page, lambda: "model_id" in table(page)[0], what="the model_id column")
    headers, cells = table(page)
    assert headers[:2] == ["model", "model_id"] and any(HEX_ID.fullmatch(c) for c in cells)
    eventually(page, lambda: "ids=1" in page.url, what="the ids switch in the URL")
    shot(page, "models-names")

    # the Projects table: the best model held by a name, not an id
    page.goto(base)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    settled(page)
    headers, cells = table(page)
    held = cells[headers.index("held by")::len(headers)] if "held by" in headers else []
    assert held and all(" · " in h and not HEX_ID.search(h) for h in held if h), (headers, cells)


def test_a_link_restores_the_view_and_back_goes_back(page, browser, served):
    base, project, *_ = served
    open_models(page, base, project)
    where = page.get_by_label("Filter")
    where.fill("model.operator_class = 'Pipeline'")
    where.press("Enter")
    settled(page)
    page.get_by_text("4 models match").wait_for()
    choose(page, "stSelectbox", "x", "params.clf")
    choose(page, "stSelectbox", "Chart", "box")
    eventually(page, lambda: "chart=box" in page.url, what="the chart in the URL")
    link = page.url
    assert "where=" in link and "x=params.clf" in link, link

    # a colleague opens the link in a browser of their own
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    other = context.new_page()
    other.set_default_timeout(60_000)
    other.goto(link)
    other.get_by_role("heading", name=f"Models of {project}").wait_for()
    settled(other)
    eventually(other, lambda: other.get_by_label("Filter").input_value() == "model.operator_class = 'Pipeline'",
                what="the filter restored from the link")
    other.get_by_text("4 models match").wait_for()
    assert selected(other, "x") == "params.clf" and selected(other, "Chart") == "box"
    other.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    shot(other, "models-link")
    context.close()

    # each change is one step back in the browser's history
    choose(page, "stSelectbox", "Chart", "bar")
    eventually(page, lambda: "chart=bar" in page.url, what="the new chart in the URL")
    page.go_back()
    eventually(page, lambda: "chart=box" in page.url, what="Back to the box chart's URL")
    settled(page)
    eventually(page, lambda: selected(page, "Chart") == "box", what="Back restores the box chart")
    assert selected(page, "x") == "params.clf"


def test_the_default_chart_shows_something_and_empty_states_say_what_next(page, served):
    base, project, *_ = served
    open_models(page, base, project)
    assert selected(page, "y") == "metrics.accuracy"  # the project's main metric, by its canonical name
    assert selected(page, "x") == "params.clf__C"  # the param that varies most among the models having it
    page.get_by_text("models drawn, of", exact=False).wait_for()
    assert page.get_by_text("No model has both", exact=False).count() == 0
    page.locator('[data-testid="stVegaLiteChart"]').first.locator("canvas, svg").first.wait_for()
    shot(page, "models-default-chart")

    open_models(page, base, project, "&tab=Compare+runs&sel=")  # nothing selected
    page.get_by_text("Select two or more models above", exact=False).wait_for()
    open_view(page, base, "lineage", project, "Lineage", "&column=no_such_column_anywhere")
    page.get_by_text("Check the spelling", exact=False).wait_for()


def test_compare_runs_lines_up_every_param_and_metric(page, served):
    base, project, *_ = served
    open_models(page, base, project, "&tab=Compare+runs&where=params.clf__C+%3E+0")  # the three logistic regressions
    summary = page.get_by_text(re.compile(r"3 models · \d+ of \d+ rows differ")).first
    summary.wait_for()
    headers, cells = table(page, 1)
    assert headers[0] == "item" and {"logreg-without-charges", "logreg-C0.01", "logreg-baseline"} <= set(headers)
    assert "params.clf__C" in cells and "params.clf__max_iter" in cells
    differing, total = map(int, re.search(r"(\d+) of (\d+) rows", summary.inner_text()).groups())
    assert 0 < differing < total
    page.get_by_text("Only the rows that differ", exact=True).click()
    settled(page)
    page.get_by_text("(only those are shown)", exact=False).wait_for()
    eventually(page, lambda: "params.clf__max_iter" not in table(page, 1)[1], what="equal rows hidden")
    headers, cells = table(page, 1)
    assert "params.clf__C" in cells and "metrics.accuracy" in cells  # C and the scores differ
    eventually(page, lambda: "differing=1" in page.url, what="the toggle in the URL")
    shot(page, "models-compare")


def test_a_long_curve_is_drawn_with_bounded_points_and_keeps_its_spike(page, served):
    base, *_, long_project = served
    want = re.compile(rf"long-curve: {CURVE_STEPS:,} points, ([\d,]+) drawn \(downsampled")
    caption = page.get_by_text(want).first
    deadline = time.monotonic() + max(180.0, CURVE_STEPS / 2_000)  # the dashboard materializes the curve itself
    while True:
        open_models(page, base, long_project, "&tab=Curves")
        if caption.count():
            break
        assert time.monotonic() < deadline, "the long curve was not materialized in time"
        page.wait_for_timeout(2000)
    text = caption.inner_text()
    drawn = int(want.search(text).group(1).replace(",", ""))
    assert 500 <= drawn <= 1_000, text  # the lowest and highest of each of 500 buckets, however long the curve
    assert re.search(rf"highest 5\.\d+ at step {SPIKE_STEP:,}", text), text  # the one-step spike survived downsampling
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    shot(page, "models-curves")

    settled(page)
    page.get_by_text("Log scale", exact=True).click()
    settled(page)
    eventually(page, lambda: "log=1" in page.url, what="the log scale in the URL")
    page.get_by_text(want).first.wait_for()
    page.locator('[data-testid="stRadio"]').filter(has_text="x axis").get_by_text("time", exact=True).click()
    settled(page)
    eventually(page, lambda: "xaxis=time" in page.url, what="the time axis in the URL")
    page.get_by_text(want).first.wait_for()
