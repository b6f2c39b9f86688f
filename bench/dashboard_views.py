"""The dashboard at scale: each view's first load and one interaction, in a real browser, on 100,000 models.

The project is the one ``warehouse_scale.py`` builds through the real pipeline (producers → Kafka →
``modeldb process`` → ClickHouse): 100,000 runs, each with one model, 20 params, 10 metrics and a
100-step loss curve. The server's data directory is kept under ``~/.cache/modeldb/dashboard-scale``,
so only the first run pays the ~20-minute build. Then ``modeldb dashboard`` is started against that
server on a free port, and Debian's Chromium (driven by Playwright) opens each view and performs one
interaction, timed until the view's answer is on screen. Prints figures; asserts nothing.

    .venv/bin/python bench/dashboard_views.py [--runs 100000] [--repeats 3] [--build-only]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modeldb import services
from modeldb.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from warehouse_scale import PROJECT, build  # noqa: E402

CACHE = services.cache_dir() / "dashboard-scale"


def warehouse_server(args: argparse.Namespace) -> services.Service:
    """A ClickHouse server holding the scale project: built once, then reused from the cache."""
    marker = CACHE / f"built-{args.runs}"
    if marker.exists():
        return services.start_clickhouse(CACHE / "clickhouse")
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
    clickhouse.execute = None  # type: ignore[attr-defined]
    marker.write_text(str(time.time()))
    return clickhouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    clickhouse = warehouse_server(args)
    try:
        if args.build_only:
            return
        raise SystemExit("timing not written yet")
    finally:
        clickhouse.stop()


if __name__ == "__main__":
    main()
