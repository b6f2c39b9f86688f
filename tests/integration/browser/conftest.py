"""One dashboard for every browser test: `modeldb dashboard` on a free port, Debian's Chromium driven by Playwright.

The churn project (its scikit-learn and Spark ML runs) is tracked in this process to a fresh
embedded home (file log); the dashboard process owns that home's chDB warehouse and materializes
the log itself, as a user's would. A second project holds one run with a long loss curve
(``CURVE_STEPS`` points, 1,000,000 unless ``MODELDB_CURVE_STEPS`` says otherwise), logged with
``run.log_metric`` in a loop.

The dashboard, the browser and the projects are made once for the whole session and shared by
the test files here; each test opens its own page.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import modeldb
from modeldb.devtools.demo_project import train
from tests.integration.browser.kit import (CHROMIUM, CURVE_STEPS, FLAGS, SHOTS, SPIKE_STEP, start_dashboard,
                                          stop_dashboard)
from tests.integration.conftest import unique


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    home = tmp_path_factory.mktemp("browser_home")
    project = unique("churn")
    modeldb.init(project=project, home=home)
    names = train(1, lambda _: None, spark=True)
    long_project = _log_long_curve(home)
    proc, base = start_dashboard(home)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield base, project, names, home, long_project
    stop_dashboard(proc, home / "dashboard.log")


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


@pytest.fixture(scope="session")
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
