"""The dashboard in a real browser: `modeldb dashboard` on a free port, Debian's Chromium driven by Playwright.

The project is tracked in this process to a fresh embedded home (file log); the dashboard
process owns that home's chDB warehouse and materializes the log itself, as a user's would.
Each view is opened, one interaction is performed on it (search, select, align, chart, query),
what is on screen is checked, and a screenshot is saved under ``test-artifacts/dashboard/``.
"""
from __future__ import annotations

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
    yield base, project, names, home
    proc.terminate()
    proc.wait(20)
    log.close()


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
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_overview_search_and_open_a_project(page, served):
    base, project, names, _ = served
    page.goto(base)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    _settled(page)
    page.get_by_text(f"{project} · ", exact=False).first.wait_for()
    search = page.get_by_label("Search projects")
    search.fill(project[-6:])
    search.press("Enter")
    _settled(page)
    page.get_by_text("1 of 1 projects").wait_for()
    _shot(page, "overview")
    page.get_by_role("link", name=f"{project} · ", exact=False).first.click()
    page.get_by_role("heading", name="Models", exact=True).wait_for()
    assert "/models" in page.url and f"project={project}" in page.url


def test_pipelines_select_a_run_and_align_it(page, served):
    base, project, _, _ = served
    page.goto(f"{base}/pipelines?project={project}")
    page.get_by_role("heading", name="Pipelines", exact=True).wait_for()
    _settled(page)
    _choose(page, "stSelectbox", "Run", "logreg-without-charges")
    page.get_by_role("heading", name="Stages of logreg-without-charges", exact=False).wait_for()
    assert page.locator('[data-testid="stGraphVizChart"] svg').count() >= 1
    _choose(page, "stMultiSelect", "Compare with runs", "logreg-baseline")
    page.keyboard.press("Escape")  # close the picker before the screenshot
    page.get_by_text("stage positions differ").wait_for()
    _shot(page, "pipelines")


def test_models_build_a_chart(page, served):
    base, project, _, _ = served
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
    base, project, _, _ = served
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
    base, project, _, _ = served
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
    base, project, names, home = served
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
