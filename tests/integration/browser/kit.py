"""What the browser tests share: Chromium's flags, where screenshots go, and the waits and picks a user makes.

Streamlit reruns the page after each interaction, so every step waits for the rerun to settle
(``settled``) and checks that no exception box is on screen. Waits go through Playwright, so
they hold however slow the machine is; no step sleeps for a fixed time to let the app catch up.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import warnings
from pathlib import Path

from modeldb.devtools.services.process import serve_http, tail
from tests.integration.conftest import MODELDB, cli_env

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
# What Chromium needs on these machines: no sandbox as root, and no background calls to Google's hosts.
CURVE_STEPS = int(os.environ.get("MODELDB_CURVE_STEPS", "1000000"))
SPIKE_STEP = CURVE_STEPS * 2 // 3 + 7  # one step far above its neighbours: downsampling must keep it
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


STOP_S = 30  # a bound on the dashboard's exit after SIGTERM, never waited out when it exits


def start_dashboard(home: Path) -> tuple[subprocess.Popen, str]:
    """``modeldb dashboard`` on a free port over ``home``, returned once Streamlit's health check answers.

    Python's faulthandler is on in it, so that a dashboard that will not stop can be asked where
    its threads are (``stop_dashboard``).
    """
    env = cli_env(MODELDB_HOME=str(home), PYTHONFAULTHANDLER="1")
    return serve_http([MODELDB, "dashboard"], env, home / "dashboard.log", 180, health="/_stcore/health")


def stop_dashboard(proc: subprocess.Popen, log: Path) -> None:
    """SIGTERM, as Ctrl-C would; a dashboard still up after STOP_S gets SIGABRT, which makes faulthandler
    write every thread's stack to its log, and the stacks are reported as a warning: Streamlit's own
    shutdown is known to hang at times (streamlit/streamlit#2975), and this names where."""
    proc.terminate()
    try:
        proc.wait(STOP_S)
        return
    except subprocess.TimeoutExpired:
        pass
    os.kill(proc.pid, signal.SIGABRT)
    try:
        proc.wait(STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    warnings.warn(f"the dashboard did not stop {STOP_S} s after SIGTERM; its threads:\n{tail(log, 80)}", stacklevel=2)


def settled(page) -> None:
    """Streamlit has finished its rerun: no 'running' indicator, and no exception box on the page."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def choose(page, widget: str, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox or multiselect labelled ``label``, by typing it as a user would.

    A rerun that lands between the click and the typing re-renders the box and drops the typed
    text (the list then shows only its first options), so a pick that does not appear is retried.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wanted = page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}( · .*)?$")).first
    for _ in range(3):
        settled(page)
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
    settled(page)


def shot(page, name: str) -> None:
    """The whole view: Streamlit scrolls inside the page, so the window is made tall for the picture."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2000})
    page.wait_for_timeout(800)  # charts re-layout to the new height
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


HEX_ID = re.compile(r"[0-9a-f]{32}")


def table(page, index: int = 0) -> tuple[list[str], list[str]]:
    """A table's header and cell texts, as the grid renders them for screen readers (the rows in view)."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.locator("table").wait_for(state="attached")
    return grid.locator("th").all_inner_texts(), grid.locator("td").all_inner_texts()


def selected(page, label: str) -> str:
    """What the selectbox labelled ``label`` shows."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    return box.locator("input").input_value().strip()


def eventually(page, check, timeout: float = 30.0, what: str = "") -> None:
    """Wait for ``check()``; Playwright's waits (not ``time.sleep``) let it take in the page's events (its URL)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        page.wait_for_timeout(250)


def open_view(page, base: str, view: str, project: str, heading: str, query: str = "", exact: bool = True) -> None:
    """Open a view of ``project`` and wait until its heading is drawn and its first run has settled."""
    page.goto(f"{base}/{view}?project={project}{query}")
    page.get_by_role("heading", name=heading, exact=exact).wait_for()
    settled(page)


def open_models(page, base: str, project: str, query: str = "") -> None:
    open_view(page, base, "models", project, f"Models of {project}", query, exact=False)
