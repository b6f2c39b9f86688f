"""Runs logged by an MLflow client through ``modeldb server`` answer in the dashboard, in Chromium.

The pinned MLflow client logs a small experiment into ``modeldb server`` on a fresh embedded home;
the server then stops (it owned the home's chDB), ``modeldb dashboard`` opens the same home, and
the SQL page and the overview must show exactly what the client logged. The page comes from the
session's Chromium (``page``, conftest.py): one Playwright per process.
"""
from __future__ import annotations

import subprocess

import pytest

from tests.integration.browser.kit import open_view, settled, shot, start_dashboard, stop_dashboard, table
from tests.integration.conftest import MODELDB, cli_env, unique
from tests.integration.mlflow_kit import build_mlflow_venv, serve, stop

pytestmark = pytest.mark.integration
RUNS = {"ridge-a": ("0.1", 0.52), "ridge-b": ("1.0", 0.48), "ridge-c": ("10.0", 0.61)}
CLIENT = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment(sys.argv[2])
runs = {runs!r}
for name, (alpha, rmse) in runs.items():
    with mlflow.start_run(run_name=name):
        mlflow.log_param("alpha", alpha)
        for step in range(3):
            mlflow.log_metric("rmse", rmse + (2 - step) / 10, step=step)
        mlflow.set_tag("source", "mlflow-client")
"""


@pytest.fixture(scope="module")
def mlflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("mlflow_browser")
    experiment = unique("mlflow")
    server, url = serve([MODELDB, "server"], cli_env(MODELDB_HOME=str(home), MODELDB_TESTING="1"), home / "server.log")
    try:
        ran = subprocess.run([build_mlflow_venv(), "-c", CLIENT.format(runs=RUNS), url, experiment],
                             capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, ran.stderr[-3000:]
    finally:
        stop(server)
    return home, experiment


@pytest.fixture(scope="module")
def dashboard(mlflow_home):
    home, experiment = mlflow_home
    proc, base = start_dashboard(home)
    yield base, experiment
    stop_dashboard(proc, home / "dashboard.log")


def test_mlflow_runs_answer_in_the_dashboards_sql_page_and_overview(dashboard, page):
    base, experiment = dashboard
    open_view(page, base, "sql", experiment, "SQL")
    query = page.get_by_label("Query")
    query.fill(f"SELECT name, params['alpha'] AS alpha, metrics['rmse'] AS rmse, tags['source'] AS source, "
               f"status FROM current_runs WHERE project = '{experiment}' ORDER BY name")
    query.press("Control+Enter")
    settled(page)
    page.get_by_role("button", name="Run").click()
    settled(page)
    page.get_by_text("3 rows", exact=False).first.wait_for()
    headers, cells = table(page)
    rows = [cells[i:i + len(headers)] for i in range(0, len(cells), len(headers))]
    got = {row[headers.index("name")]: (row[headers.index("alpha")], float(row[headers.index("rmse")]),
                                        row[headers.index("source")], row[headers.index("status")])
           for row in rows}
    assert got == {name: (alpha, pytest.approx(rmse), "mlflow-client", "FINISHED")
                   for name, (alpha, rmse) in RUNS.items()}
    shot(page, "sql-mlflow-runs")
    open_view(page, base, "overview", experiment, "Projects", exact=False)
    page.get_by_text(experiment).first.wait_for(state="attached")  # a cell of the projects grid (drawn on a canvas)
