"""Where a dashboard view's first load goes on the server: its script run, and the warehouse's part of it.

Each view's page script runs headless through Streamlit's ``AppTest`` (no browser, no websocket)
against the same warehouse, with the read-only warehouse's reads timed. What a browser load
takes beyond the blank page and this script run is Streamlit's own work: the websocket session,
sending the elements, and the frontend drawing them. ``dashboard_views.py`` prints these next
to its browser figures.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def script_times(warehouse_uri: str, home: Path, paths: dict[str, str], repeats: int,
                 wait_s: float) -> dict[str, tuple[float, float, int]]:
    """View -> medians of (script seconds, warehouse seconds, statements) over ``repeats`` runs after a
    warm-up; ``wait_s`` between runs lets the dashboard's shared answers expire, as in the browser bench."""
    os.environ.update(MODELDB_WAREHOUSE=warehouse_uri, MODELDB_HOME=str(home))
    from streamlit.testing.v1 import AppTest

    from modeldb.dashboard import state

    spent = {"seconds": 0.0, "statements": 0}
    read = state.ReadOnlyWarehouse._read

    def timed(self, run, sql, params):
        started = time.perf_counter()
        try:
            return read(self, run, sql, params)
        finally:
            spent["seconds"] += time.perf_counter() - started
            spent["statements"] += 1

    state.ReadOnlyWarehouse._read = timed
    out = {}
    try:
        for name, path in paths.items():
            url = urlsplit(path)
            page = f"views/{url.path or 'overview'}.py"
            runs = []
            for attempt in range(repeats + 1):
                app = AppTest.from_file(str(APP), default_timeout=120)
                for key, value in parse_qsl(url.query):
                    app.query_params[key] = value
                app.switch_page(page)
                spent.update(seconds=0.0, statements=0)
                started = time.perf_counter()
                app.run()
                if app.exception:
                    raise SystemExit(f"{name}: the page failed headless: {app.exception[0].value}")
                if attempt:
                    runs.append((time.perf_counter() - started, spent["seconds"], spent["statements"]))
                time.sleep(wait_s)
            out[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2])
    finally:
        state.ReadOnlyWarehouse._read = read
    return out
