"""The dashboard at scale: each view's first load and one interaction, in a real browser, on 100,000 models.

The project is the one ``warehouse_scale.py`` builds through the real pipeline (producers → Kafka →
``modeldb process`` → ClickHouse): 100,000 runs, each with one model, 20 params, 10 metrics and a
100-step loss curve. The server's data directory is kept under ``~/.cache/modeldb/dashboard-scale``,
so only the first run pays the ~20-minute build. Then ``modeldb dashboard`` is started against that
server on a free port, and Debian's Chromium (driven by Playwright) opens each view and performs one
interaction, timed until the view's answer is on screen. Each load waits out the dashboard's
short answer cache, so every load asks the warehouse. A blank Streamlit page, loaded the same
way, is the baseline. Then each view's script runs headless (``dashboard_script.py``), so the
first load splits into the blank page, the script (and the warehouse's part of it) and what
Streamlit itself adds. Prints figures; asserts nothing.

    .venv/bin/python bench/dashboard_views.py [--runs 100000] [--repeats 3] [--build-only]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from modeldb.devtools import services

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_script import script_times  # noqa: E402
from warehouse_scale import PROJECT, build  # noqa: E402

from modeldb.dashboard.state import ANSWER_TTL_S  # noqa: E402

CACHE = services.cache_dir() / "dashboard-scale"


def warehouse_server(args: argparse.Namespace) -> services.Service:
    """A ClickHouse server holding the scale project: built once, then reused from the cache."""
    marker = CACHE / f"built-{args.runs}"
    if marker.exists():
        return upgraded(services.start_clickhouse(CACHE / "clickhouse"))
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    home = Path(tempfile.mkdtemp(prefix="modeldb-dashboard-scale-"))
    kafka = services.start_kafka(home / "kafka")
    clickhouse = services.start_clickhouse(CACHE / "clickhouse")
    try:
        print(f"building {args.runs:,} runs through Kafka (once; cached in {CACHE})…", file=sys.stderr)
        built = build(argparse.Namespace(runs=args.runs, producers=2, workers=2), kafka, clickhouse, home)
        print(f"built {built['events']:,} events in {built['seconds']:.0f}s", file=sys.stderr)
    except BaseException:
        clickhouse.stop()
        raise
    finally:
        kafka.stop()
        shutil.rmtree(home, ignore_errors=True)
    marker.write_text(str(time.time()))
    return clickhouse


def upgraded(clickhouse: services.Service) -> services.Service:
    """The cached warehouse at this code's schema: a build from before the current-state tables is migrated
    in place (0007 fills run_state and model_state from the events), here and not in the first page load."""
    from modeldb.core.config import Settings
    from modeldb.warehouse.factory import connect

    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="modeldb-dashboard-migrate-") as home:
            connect(Settings.load(env={}, home=Path(home),
                                  warehouse=clickhouse.warehouse_uri("scale"))).close()
    except BaseException:
        clickhouse.stop()
        raise
    print(f"warehouse migrated to this code's schema in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return clickhouse


FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _healthy(port: int, what: str, timeout: float = 60) -> str:
    """The base URL of a Streamlit server on ``port`` once its health check answers."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                return base
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not start in {timeout:.0f} s")


def serve(clickhouse: services.Service, home: Path) -> tuple[subprocess.Popen, str]:
    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
    env.update(MODELDB_HOME=str(home), MODELDB_WAREHOUSE=clickhouse.warehouse_uri("scale"))
    proc = subprocess.Popen([str(Path(sys.executable).with_name("modeldb")), "dashboard", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(home / "dashboard.log", "wb"))
    try:
        return proc, _healthy(port, "the dashboard")
    except SystemExit:
        raise SystemExit(f"the dashboard did not start: {(home / 'dashboard.log').read_text()[-2000:]}") from None


def settled(page) -> None:
    page.wait_for_timeout(150)  # let a rerun begin before waiting for it to end
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def choose(page, label: str, option: str | None = None) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    box.locator("input").click()
    if option is None:  # the next option
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
    else:
        page.keyboard.type(option)
        page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}( · .*)?$")).first.click()


def fill(page, label: str, text: str) -> None:
    box = page.get_by_label(label)
    box.fill(text)
    box.press("Enter")


# view -> (path, what shows the answer, the interaction, what shows its answer)
VIEWS = {
    "overview": ("", lambda p: p.get_by_text(f"{PROJECT} · 100,000 models", exact=False).first,
                 lambda p: fill(p, "Search projects", PROJECT), lambda p: p.get_by_text("1 of 1 projects")),
    "pipelines (select a run)": (
        f"pipelines?project={PROJECT}", lambda p: p.get_by_role("heading", name="Stages of", exact=False),
        lambda p: choose(p, "Run"), lambda p: p.get_by_role("heading", name="Stages of", exact=False)),
    "models (filter the table)": (
        f"models?project={PROJECT}", lambda p: p.get_by_text("models match", exact=False).first,
        lambda p: fill(p, "Filter", "metrics.accuracy > 0.9 AND params.C < 1"),
        lambda p: p.get_by_text("models match", exact=False).first),
    "models (chart: mean accuracy by C)": (  # x by the link: the default x is whichever param varies most
        f"models?project={PROJECT}&x=params.C", lambda p: p.locator('[data-testid="stVegaLiteChart"]').first,
        lambda p: choose(p, "Aggregate", "mean"), lambda p: p.get_by_text("equal bins", exact=False)),
    "lineage (column used by every model)": (
        f"lineage?project={PROJECT}", lambda p: p.get_by_label("Column name"),
        lambda p: fill(p, "Column name", "raw_3"), lambda p: p.get_by_text("models used column", exact=False)),
    "sql (run the example)": (
        f"sql?project={PROJECT}", lambda p: p.get_by_role("button", name="Run"),
        lambda p: p.get_by_role("button", name="Run").click(), lambda p: p.get_by_text("Download CSV")),
}


def blank_app(home: Path) -> tuple[subprocess.Popen, str]:
    """The baseline: a Streamlit page with one heading, served and loaded the same way."""
    script = home / "blank.py"
    script.write_text("import streamlit as st\nst.title('Blank')\n")
    port = services.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, _healthy(port, "the baseline Streamlit page")


def _load(context, url: str, loaded) -> tuple[Any, float]:
    page = context.new_page()
    page.set_default_timeout(120_000)
    started = time.perf_counter()
    page.goto(url)
    loaded(page).wait_for()
    settled(page)
    return page, time.perf_counter() - started


def _main_thread_s(cdp) -> float:
    """The page's renderer main thread: seconds it spent running tasks (script, style, layout, paint) so far."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def _idle(page) -> None:
    """Wait until the page's main thread is idle: a chart's drawing, which goes on after the answer shows, is done."""
    page.evaluate("() => new Promise(done => requestIdleCallback(() => done(), {timeout: 5000}))")


def time_views(base: str, blank: str, repeats: int, shots: Path) -> dict[str, tuple[float, float, float]]:
    """Per view, medians of: the first load (a new tab in a browser that has Streamlit's assets cached), the
    interaction until its answer shows, and the browser's main-thread time that the interaction cost.

    Wall times on a shared 2-core machine swing by a few tenths of a second between runs; the
    main-thread time (Chromium's ``TaskDuration``, through the DevTools protocol) is what the
    page's own work costs, and much steadier: compare versions by it.
    """
    from playwright.sync_api import sync_playwright

    out: dict[str, tuple[float, float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        loads = []
        for attempt in range(repeats + 1):
            page, seconds = _load(context, blank, lambda p: p.get_by_role("heading", name="Blank"))
            page.close()
            loads.append(seconds)
        out["baseline: a blank Streamlit page"] = (statistics.median(loads[1:]), float("nan"), float("nan"))
        for name, (path, loaded, act, answered) in VIEWS.items():
            loads, actions, busy = [], [], []
            for attempt in range(repeats + 1):  # the first attempt warms caches and is not counted
                time.sleep(ANSWER_TTL_S + 1)  # the dashboard's shared answers expire: every load asks the warehouse
                page, load = _load(context, f"{base}/{path}", loaded)
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                _idle(page)
                before = _main_thread_s(cdp)
                started = time.perf_counter()
                act(page)
                settled(page)
                answered(page).wait_for()
                action = time.perf_counter() - started
                _idle(page)
                if attempt:
                    loads.append(load)
                    actions.append(action)
                    busy.append(_main_thread_s(cdp) - before)
                if attempt == repeats:  # tall enough to show a whole view
                    page.set_viewport_size({"width": 1440, "height": 1900})
                    page.wait_for_timeout(1500)
                    page.screenshot(path=str(shots / f"{name.split()[0]}-scale.png"))
                page.close()
            out[name] = (statistics.median(loads), statistics.median(actions), statistics.median(busy))
            print(f"  {name}: first load {out[name][0]:.2f} s, interaction {out[name][1]:.2f} s "
                  f"(main thread {out[name][2]:.2f} s)", file=sys.stderr)
        browser.close()
    return out


def main() -> None:
    import logging

    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)  # readiness polling, not errors
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    clickhouse = warehouse_server(args)
    home = Path(tempfile.mkdtemp(prefix="modeldb-dashboard-bench-"))
    shots = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        if args.build_only:
            return
        proc, base = serve(clickhouse, home)
        baseline, blank = blank_app(home)
        try:
            print(f"timing each view in Chromium against {base} ({args.runs:,} models)…", file=sys.stderr)
            figures = time_views(base, blank, args.repeats, shots)
        finally:
            for server in (proc, baseline):
                server.terminate()
                server.wait(20)
        print("timing each view's script headless (Streamlit AppTest, no browser)…", file=sys.stderr)
        scripts = script_times(clickhouse.warehouse_uri("scale"), home, {n: v[0] for n, v in VIEWS.items()},
                               args.repeats, ANSWER_TTL_S + 1)
    finally:
        clickhouse.stop()
        shutil.rmtree(home, ignore_errors=True)
    floor = figures.pop("baseline: a blank Streamlit page")[0]
    print(f"\nbaseline: a blank Streamlit page loads in {floor:.2f} s here (median of {args.repeats})")
    print("first load = the blank page + the view's script (warehouse reads and the rest) + Streamlit's own work")
    print(f"{'view':<40} {'first load s':>13} {'× blank':>8} {'script s':>9} {'warehouse s':>12} {'reads':>6} "
          f"{'Streamlit s':>12} {'interaction s':>14} {'main thread s':>14}")
    for name, (load, action, busy) in figures.items():
        script, warehouse, reads = scripts[name]
        print(f"{name:<40} {load:>13.2f} {load / floor:>8.1f} {script:>9.2f} {warehouse:>12.2f} {reads:>6} "
              f"{load - floor - script:>12.2f} {action:>14.2f} {busy:>14.2f}")
    print(f"screenshots: {shots}/*-scale.png")


if __name__ == "__main__":
    main()
