"""The dashboard in a real browser: `modeldb dashboard` on a free port, Debian's Chromium driven by Playwright.

The project is tracked in this process to a fresh embedded home (file log); the dashboard
process owns that home's chDB warehouse and materializes the log itself, as a user's would.
Each view is opened, one interaction is performed on it (search, select, align, chart, query),
what is on screen is checked, and a screenshot is saved under ``test-artifacts/dashboard/``.

A second project holds one run with a long loss curve (``CURVE_STEPS`` points, 1,000,000 unless
``MODELDB_CURVE_STEPS`` says otherwise), logged with ``run.log_metric`` in a loop and materialized
by the dashboard's own process, as a user's would be.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import modeldb
from modeldb.devtools.demo_project import BAD_COLUMN, train
from modeldb.devtools.services import free_port
from tests.integration.conftest import MODELDB, cli_env, unique

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
# What Chromium needs on these machines: no sandbox as root, and no background calls to Google's hosts.
CURVE_STEPS = int(os.environ.get("MODELDB_CURVE_STEPS", "1000000"))
SPIKE_STEP = CURVE_STEPS * 2 // 3 + 7  # one step far above its neighbours: downsampling must keep it
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    home = tmp_path_factory.mktemp("browser_home")
    project = unique("churn")
    modeldb.init(project=project, home=home)
    names = train(1, lambda _: None)
    long_project = _log_long_curve(home)
    port = free_port()
    log = open(home / "dashboard.log", "wb")
    proc = subprocess.Popen([MODELDB, "dashboard", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env=cli_env(MODELDB_HOME=str(home)))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        assert proc.poll() is None, (home / "dashboard.log").read_text()
        assert time.monotonic() < deadline, "the dashboard did not start in 60 s"
        time.sleep(0.3)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield base, project, names, home, long_project
    proc.terminate()
    proc.wait(20)
    log.close()


def _log_long_curve(home: Path) -> str:
    """A run that fits a small model and logs a loss curve of CURVE_STEPS points, one spike in it."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import modeldb.sklearn

    project = unique("long")
    modeldb.init(project=project, home=home)
    modeldb.sklearn.autolog()
    started = time.perf_counter()
    with modeldb.start_run(name="long-curve") as run:
        X = np.arange(40, dtype=float).reshape(20, 2)
        LogisticRegression().fit(X, np.arange(20) % 2)
        for step in range(CURVE_STEPS):
            run.log_metric("loss", 1.0 / (1.0 + step / 1000.0) + (5.0 if step == SPIKE_STEP else 0.0), step=step)
    modeldb.sklearn.disable()
    modeldb.flush()
    print(f"logged {CURVE_STEPS:,} curve points in {time.perf_counter() - started:.1f} s")
    return project


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                              env={"HOME": str(served[3])})
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _settled(page) -> None:
    """Streamlit has finished its rerun: no 'running' indicator, and no exception box on the page."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def _choose(page, widget: str, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox or multiselect labelled ``label``, by typing it as a user would.

    A rerun that lands between the click and the typing re-renders the box and drops the typed
    text (the list then shows only its first options), so a pick that does not appear is retried.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wanted = page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}( · .*)?$")).first
    for _ in range(3):
        _settled(page)
        box = page.locator(f'[data-testid="{widget}"]').filter(has=page.get_by_text(label, exact=True)).first
        box.locator("input").click()
        page.keyboard.type(option)
        try:
            wanted.click(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"could not pick {option!r} in {label!r}")
    _settled(page)


def _shot(page, name: str) -> None:
    """The whole view: Streamlit scrolls inside the page, so the window is made tall for the picture."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2000})
    page.wait_for_timeout(800)  # charts re-layout to the new height
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def test_overview_search_and_open_a_project(page, served):
    base, project, names, *_ = served
    page.goto(base)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    _settled(page)
    page.get_by_text(f"{project} · ", exact=False).first.wait_for()
    search = page.get_by_label("Search projects")
    search.fill(project[-6:])
    search.press("Enter")
    _settled(page)
    page.get_by_text("1 of 2 projects").wait_for()  # the churn project and the long curve's
    _eventually(page, lambda: "q=" in page.url, what="the search in the URL")
    _shot(page, "overview")
    page.get_by_role("link", name=f"{project} · ", exact=False).first.click()
    page.get_by_role("heading", name="Models", exact=True).wait_for()
    assert "/models" in page.url and f"project={project}" in page.url


def test_pipelines_select_a_run_and_align_it(page, served):
    base, project, *_ = served
    page.goto(f"{base}/pipelines?project={project}")
    page.get_by_role("heading", name="Pipelines", exact=True).wait_for()
    _settled(page)
    _choose(page, "stSelectbox", "Run", "logreg-without-charges")
    page.get_by_role("heading", name="Stages of logreg-without-charges", exact=False).wait_for()
    assert page.locator('[data-testid="stGraphVizChart"] svg').count() >= 1
    _choose(page, "stMultiSelect", "Compare with runs", "logreg-baseline")
    page.keyboard.press("Escape")  # close the picker before the screenshot
    page.get_by_text("stage positions differ").wait_for()
    _eventually(page, lambda: "align=" in page.url, what="the aligned runs in the link (by id)")
    _shot(page, "pipelines")


def test_models_build_a_chart(page, served):
    base, project, *_ = served
    page.goto(f"{base}/models?project={project}")
    page.get_by_role("heading", name=f"Models of {project}").wait_for()
    _settled(page)
    page.get_by_text("models match").first.wait_for()
    _choose(page, "stSelectbox", "x", "params.clf__C")
    _choose(page, "stSelectbox", "Chart", "bar")
    _choose(page, "stSelectbox", "Aggregate", "mean")
    page.get_by_text("models in 2 groups", exact=False).wait_for()  # C = 0.01 and C = 1.0, averaged on the server
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    assert chart.locator("canvas, svg").count() >= 1
    _shot(page, "models")


def test_lineage_search(page, served):
    base, project, *_ = served
    page.goto(f"{base}/lineage?project={project}")
    page.get_by_role("heading", name="Lineage", exact=True).wait_for()
    _settled(page)
    needle = page.get_by_label("Column name")
    needle.fill(BAD_COLUMN)
    needle.press("Enter")
    _settled(page)
    page.get_by_text(f"models used column '{BAD_COLUMN}'").wait_for()
    _shot(page, "lineage")


def test_sql_query_and_a_refused_drop(page, served):
    base, project, *_ = served
    page.goto(f"{base}/sql?project={project}")
    page.get_by_role("heading", name="SQL", exact=True).wait_for()
    _settled(page)
    page.get_by_role("button", name="Run").click()
    _settled(page)
    page.get_by_text("rows", exact=False).first.wait_for()
    page.get_by_role("button", name="Download CSV").wait_for()
    _shot(page, "sql")
    query = page.get_by_label("Query")
    query.fill("DROP TABLE modeldb.models")
    query.press("Control+Enter")
    _settled(page)
    page.get_by_text("nothing was changed").wait_for()


def test_a_new_run_appears_without_a_restart(page, served):
    base, project, names, home, _ = served
    modeldb.init(project=project, home=home)
    with modeldb.start_run(name="added-while-open") as run:
        run.log_metric("accuracy_score", 0.5)
    modeldb.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.goto(f"{base}/pipelines?project={project}")
        page.get_by_role("heading", name="Pipelines", exact=True).wait_for()
        _settled(page)
        page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Run", exact=True)).first.click()
        if page.get_by_role("option", name="added-while-open", exact=False).count():
            return
        time.sleep(1)
    raise AssertionError("the run logged while the dashboard was open did not appear within 30 s")


HEX_ID = re.compile(r"[0-9a-f]{32}")


def _table(page, index: int = 0) -> tuple[list[str], list[str]]:
    """A table's header and cell texts, as the grid renders them for screen readers (the rows in view)."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.locator("table").wait_for(state="attached")
    return grid.locator("th").all_inner_texts(), grid.locator("td").all_inner_texts()


def _selected(page, label: str) -> str:
    """What the selectbox labelled ``label`` shows."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    return box.locator("input").input_value().strip()


def _eventually(page, check, timeout: float = 30.0, what: str = "") -> None:
    """Wait for ``check()``; Playwright's waits (not ``time.sleep``) let it take in the page's events (its URL)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        page.wait_for_timeout(250)


def _open_models(page, base: str, project: str, query: str = "") -> None:
    page.goto(f"{base}/models?project={project}{query}")
    page.get_by_role("heading", name=f"Models of {project}").wait_for()
    _settled(page)


def test_names_everywhere_and_ids_only_on_request(page, served):
    base, project, *_ = served
    _open_models(page, base, project)
    headers, cells = _table(page)
    assert headers[:3] == ["model", "role", "class"], headers
    assert not {"model_id", "run_id", "parent_model_id"} & set(headers), headers  # ids are off by default
    assert {"logreg-baseline", "logreg-C0.01", "boosting", "logreg-without-charges"} <= set(cells), cells
    assert "whole" in cells and not any(HEX_ID.search(c) for c in cells)
    chips = page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.get_by_text("Selected models", exact=False)).first.inner_text()
    assert "logreg-without-charges · Pipeline" in chips and not re.search(r"…[0-9a-f]{6}", chips), chips

    # every model, stages and a search's refit included: each by its run's name and its role
    page.get_by_text("Top-level models only", exact=False).click()
    _settled(page)
    _eventually(page, lambda: "best of GridSearchCV" in _table(page)[1], what="the search's best model by its role")
    headers, cells = _table(page)
    assert "forest-grid › best" in cells and any(c.startswith("stage ") for c in cells), cells

    # the ids, one switch away
    page.get_by_text("Show ids", exact=True).click()
    _settled(page)
    _eventually(page, lambda: "model_id" in _table(page)[0], what="the model_id column")
    headers, cells = _table(page)
    assert headers[:2] == ["model", "model_id"] and any(HEX_ID.fullmatch(c) for c in cells)
    _eventually(page, lambda: "ids=1" in page.url, what="the ids switch in the URL")
    _shot(page, "models-names")

    # the Projects table: the best model held by a name, not an id
    page.goto(base)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    _settled(page)
    headers, cells = _table(page)
    held = cells[headers.index("held by")::len(headers)] if "held by" in headers else []
    assert held and all(" · " in h and not HEX_ID.search(h) for h in held if h), (headers, cells)


def test_a_link_restores_the_view_and_back_goes_back(page, browser, served):
    base, project, *_ = served
    _open_models(page, base, project)
    where = page.get_by_label("Filter")
    where.fill("model.operator_class = 'Pipeline'")
    where.press("Enter")
    _settled(page)
    page.get_by_text("4 models match").wait_for()
    _choose(page, "stSelectbox", "x", "params.clf")
    _choose(page, "stSelectbox", "Chart", "box")
    _eventually(page, lambda: "chart=box" in page.url, what="the chart in the URL")
    link = page.url
    assert "where=" in link and "x=params.clf" in link, link

    # a colleague opens the link in a browser of their own
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    other = context.new_page()
    other.set_default_timeout(60_000)
    other.goto(link)
    other.get_by_role("heading", name=f"Models of {project}").wait_for()
    _settled(other)
    _eventually(other, lambda: other.get_by_label("Filter").input_value() == "model.operator_class = 'Pipeline'",
                what="the filter restored from the link")
    other.get_by_text("4 models match").wait_for()
    assert _selected(other, "x") == "params.clf" and _selected(other, "Chart") == "box"
    other.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    _shot(other, "models-link")
    context.close()

    # each change is one step back in the browser's history
    _choose(page, "stSelectbox", "Chart", "bar")
    _eventually(page, lambda: "chart=bar" in page.url, what="the new chart in the URL")
    page.go_back()
    _eventually(page, lambda: "chart=box" in page.url, what="Back to the box chart's URL")
    _settled(page)
    _eventually(page, lambda: _selected(page, "Chart") == "box", what="Back restores the box chart")
    assert _selected(page, "x") == "params.clf"


def test_the_default_chart_shows_something_and_empty_states_say_what_next(page, served):
    base, project, *_ = served
    _open_models(page, base, project)
    assert _selected(page, "y") == "metrics.accuracy_score"  # the project's main metric
    assert _selected(page, "x") == "params.clf__C"  # the param that varies most among the models having it
    page.get_by_text("models drawn, of", exact=False).wait_for()
    assert page.get_by_text("No model has both", exact=False).count() == 0
    page.locator('[data-testid="stVegaLiteChart"]').first.locator("canvas, svg").first.wait_for()
    _shot(page, "models-default-chart")

    _open_models(page, base, project, "&tab=Compare+runs&sel=")  # nothing selected
    page.get_by_text("Select two or more models above", exact=False).wait_for()
    page.goto(f"{base}/lineage?project={project}&column=no_such_column_anywhere")
    page.get_by_role("heading", name="Lineage", exact=True).wait_for()
    _settled(page)
    page.get_by_text("Check the spelling", exact=False).wait_for()


def test_compare_runs_lines_up_every_param_and_metric(page, served):
    base, project, *_ = served
    _open_models(page, base, project, "&tab=Compare+runs")
    summary = page.get_by_text(re.compile(r"3 models · \d+ of \d+ rows differ")).first
    summary.wait_for()
    headers, cells = _table(page, 1)
    assert headers[0] == "item" and {"logreg-without-charges", "logreg-C0.01", "logreg-baseline"} <= set(headers)
    assert "params.clf__C" in cells and "params.clf__max_iter" in cells
    differing, total = map(int, re.search(r"(\d+) of (\d+) rows", summary.inner_text()).groups())
    assert 0 < differing < total
    page.get_by_text("Only the rows that differ", exact=True).click()
    _settled(page)
    page.get_by_text("(only those are shown)", exact=False).wait_for()
    _eventually(page, lambda: "params.clf__max_iter" not in _table(page, 1)[1], what="equal rows hidden")
    headers, cells = _table(page, 1)
    assert "params.clf__C" in cells and "metrics.accuracy_score" in cells  # C and the scores differ
    _eventually(page, lambda: "differing=1" in page.url, what="the toggle in the URL")
    _shot(page, "models-compare")


def test_a_long_curve_is_drawn_with_bounded_points_and_keeps_its_spike(page, served):
    base, *_, long_project = served
    want = re.compile(rf"long-curve: {CURVE_STEPS:,} points, ([\d,]+) drawn \(downsampled")
    caption = page.get_by_text(want).first
    deadline = time.monotonic() + max(180.0, CURVE_STEPS / 2_000)  # the dashboard materializes the curve itself
    while True:
        _open_models(page, base, long_project, "&tab=Curves")
        if caption.count():
            break
        assert time.monotonic() < deadline, "the long curve was not materialized in time"
        page.wait_for_timeout(2000)
    text = caption.inner_text()
    drawn = int(want.search(text).group(1).replace(",", ""))
    assert 500 <= drawn <= 1_000, text  # the lowest and highest of each of 500 buckets, however long the curve
    assert re.search(rf"highest 5\.\d+ at step {SPIKE_STEP:,}", text), text  # the one-step spike survived downsampling
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    _shot(page, "models-curves")

    _settled(page)
    page.get_by_text("Log scale", exact=True).click()
    _settled(page)
    _eventually(page, lambda: "log=1" in page.url, what="the log scale in the URL")
    page.get_by_text(want).first.wait_for()
    page.locator('[data-testid="stRadio"]').filter(has_text="x axis").get_by_text("time", exact=True).click()
    _settled(page)
    _eventually(page, lambda: "xaxis=time" in page.url, what="the time axis in the URL")
    page.get_by_text(want).first.wait_for()
