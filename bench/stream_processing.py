"""Stream-processing benchmark: throughput per worker, log-to-queryable latency, rebuild rate.

Prints figures, never asserts them. Starts its own Kafka and ClickHouse on
free loopback ports. Every rate comes with baselines measured in the same run:

- a consumer that only reads the topic (what Kafka itself can hand one process);
- decode + materialize in process, without Kafka or ClickHouse.

The events are the shape of a real project: per run, a start, 20 params,
a 100-step loss curve, 10 final metrics and an end (133 logged events). As
the client sends them, the 20 params are one ``ParamsLogged`` and the 110
metric points one batch, so 4 events on the topic; with ``--unbatched``, 133,
as a v3 client sends them. Rates are in records/s, logged events/s and metric points/s.

    .venv/bin/python bench/stream_processing.py [--runs 2500] [--latency-samples 200] [--engines confluent,faust]
        [--unbatched]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from foundation import MODELDB, pct  # bench/ is on sys.path when run as a script

import modeldb
from modeldb.core import codec
from modeldb.devtools import services
from modeldb.core.config import Settings
from modeldb.core.events import envelope, producer_info, typed_param
from modeldb.producers.batching import batch_event
from modeldb.stream_processors.current import CurrentState
from modeldb.stream_processors.materializer import COLUMNS, STATE_TABLES, decode_and_validate, materialize
from modeldb.stream_processors.topics import ensure_topics
from modeldb.warehouse.factory import connect


BATCH_ENV: dict[str, str] = {}  # MODELDB_BATCH_* for the workers, from --batch-size / --batch-seconds


def start_worker(root: Path, settings: Settings, group: str, engine: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
    env.update(MODELDB_HOME=str(root), MODELDB_TRANSPORT=settings.transport, MODELDB_WAREHOUSE=settings.warehouse,
               MODELDB_CONSUMER_GROUP=group, MODELDB_PROCESSOR_ENGINE=engine, **BATCH_ENV)
    log = open(root / f"{group}.log", "ab")
    try:
        return subprocess.Popen([MODELDB, "process"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    finally:
        log.close()


def project_events(runs: int, batched: bool = True) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: each run's events in order, keyed by run id; with ``batched``, a run's 20
    params in one ParamsLogged event (as ``log_params`` sends them) and its 110 metric points in one
    MetricsLogged event, as the emitter sends the calls a script makes in a row."""
    producer = producer_info().as_record()
    out = []
    for r in range(runs):
        run_id = uuid.uuid4().hex
        seq = iter(range(1_000))
        points: list[dict] = []

        def event(kind: str, payload: dict) -> None:
            built = envelope(kind, payload, project="bench", experiment="e", run_id=run_id, seq=next(seq),
                             producer=producer)
            if batched and kind == "MetricLogged":
                points.append(built)
                return
            if points:
                sent = batch_event(points)
                sent.pop("_points", None)
                out.append((run_id.encode(), codec.encode(sent)))
                points.clear()
            out.append((run_id.encode(), codec.encode(built)))

        event("RunStarted", {"name": f"run-{r}", "parent_run_id": None, "branch_seq": None, "user": "bench",
                             "source": "bench.py", "tags": {}})
        params = [typed_param(f"p{p}", (r * 7 + p) % 13 / 10) for p in range(20)]
        if batched:
            event("ParamsLogged", {"params": params})
            for _ in range(len(params) - 1):
                next(seq)  # a seq per param
        else:
            for param in params:
                event("ParamLogged", {"param": param})
        for step in range(100):
            event("MetricLogged", {"name": "loss", "value": 1 / (step + 1) + r / 1e4, "step": step, "model_id": None,
                                   "dataframe_id": None, "slice": ""})
        for m in range(10):
            event("MetricLogged", {"name": f"m{m}", "value": (r * 31 + m) % 100 / 100, "step": 0, "model_id": None,
                                   "dataframe_id": None, "slice": ""})
        event("RunEnded", {"status": "FINISHED", "error": None, "duration_ms": 1.0})
    return out


def publish(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4",
                         "queue.buffering.max.messages": 1_000_000, "log_level": 3})
    for key, value in events:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0


def committed(bootstrap: str, topic: str, group: str) -> int:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        parts = [TopicPartition(topic, p) for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    except KafkaException:  # e.g. NOT_COORDINATOR while the group's coordinator is being set up
        return 0
    finally:
        consumer.close()


def raw_consume_rate(bootstrap: str, topic: str, total: int) -> float:
    """Baseline: one process reading every record, doing nothing with it."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "queued.max.messages.kbytes": 64 * 1024})
    consumer.subscribe([topic])
    seen, started = 0, None
    try:
        while seen < total:
            batch = consumer.consume(5000, timeout=1.0)
            if batch and started is None:
                started = time.perf_counter()
            seen += sum(1 for m in batch if m.error() is None)
        return total / (time.perf_counter() - started)
    finally:
        consumer.close()


def in_process_rate(events: list[tuple[bytes, bytes]], n: int = 50_000, state: bool = True) -> float:
    """Events/s of what a worker does besides I/O: decode, materialize, merge the current state
    (``state=False``: without the merge, what keeping the current-state tables costs)."""
    values = [v for _, v in events[:n]]
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        decoded = [decode_and_validate(v) for v in values]
        materialize(list(zip(decoded, values)))
        if state:
            CurrentState(None).rows(decoded)
        best = max(best, len(values) / (time.perf_counter() - t0))
    return best


def rebuild_rate(root: Path, settings: Settings, total: int, target: str,
                 tables: list[str] | None = None) -> tuple[float, str]:
    """Events/s of ``modeldb rebuild`` into ``target``, a new database (``tables``: only those), and its last line."""
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDB_")}
    env.update(MODELDB_HOME=str(root), MODELDB_TRANSPORT=settings.transport, MODELDB_WAREHOUSE=settings.warehouse,
               **BATCH_ENV)
    only = [arg for table in tables or () for arg in ("--table", table)]
    result = subprocess.run([MODELDB, "rebuild", "--into", target, *only], capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(result.stderr)
    return total / (time.perf_counter() - started), result.stderr.strip().splitlines()[-1]


def drain(root: Path, settings: Settings, bootstrap: str, topic: str, total: int, workers: int,
          engine: str) -> float:
    """Start ``workers`` fresh workers on a new group and database; events/s from first commit to the last."""
    group = f"g-{engine}-{workers}-{uuid.uuid4().hex[:6]}"
    db = f"tp_{engine}_{workers}_{uuid.uuid4().hex[:6]}"
    wsettings = settings.with_overrides(warehouse=f"{settings.warehouse.rsplit('/', 1)[0]}/{db}")
    connect(wsettings).close()
    procs = [start_worker(root, wsettings, group, engine) for _ in range(workers)]
    try:
        first = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            done = committed(bootstrap, topic, group)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
            if done >= total:
                return (done - first[1]) / (now - first[0]) if now > first[0] else float("nan")
            for proc in procs:
                if proc.poll() is not None:
                    raise SystemExit(f"worker exited {proc.returncode}; see {root}/{group}.log")
            time.sleep(0.25)
        raise SystemExit("timed out draining the topic")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


def latency(root: Path, settings: Settings, samples: int, engine: str) -> list[float]:
    """Seconds from a log_metric call to its row being visible to a query, with default batch settings."""
    db = f"lat_{engine}_{uuid.uuid4().hex[:6]}"
    topic = f"lat-{uuid.uuid4().hex[:6]}"
    lsettings = settings.with_overrides(warehouse=f"{settings.warehouse.rsplit('/', 1)[0]}/{db}",
                                        transport=f"{settings.transport.rsplit('/', 1)[0]}/{topic}")
    ensure_topics(lsettings, partitions=4)
    wh = connect(lsettings)
    group = f"lat-{uuid.uuid4().hex[:6]}"
    proc = start_worker(root, lsettings, group, engine)
    seen: dict[int, float] = {}
    stop = threading.Event()
    try:
        modeldb.init(project="latency", home=root / f"lat-{engine}", transport=lsettings.transport,
                     warehouse=lsettings.warehouse)
        run = modeldb.start_run(name="latency")
        modeldb.log_metric("warmup", 0.0)
        while not wh.query(f"SELECT count() FROM `{db}`.metrics").scalar():  # the worker has joined and written
            time.sleep(0.1)

        def poll() -> None:
            last = -1
            while not stop.is_set():
                rows = wh.query(f"SELECT step, ts FROM `{db}`.metrics WHERE name = 'probe' AND step > {last}").rows
                now = time.time()
                for step, ts in rows:
                    if step not in seen:
                        seen[step] = now - ts / 1e6
                        last = max(last, step)
                time.sleep(0.01)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for i in range(samples):
            modeldb.log_metric("probe", float(i), step=i)
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while len(seen) < samples and time.monotonic() < deadline:
            time.sleep(0.1)
        run.end()
    finally:
        stop.set()
        proc.terminate()
        proc.wait(30)
    return [seen[i] for i in sorted(seen)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2500)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--engines", default="confluent,faust")
    parser.add_argument("--batch-size", type=int, help="MODELDB_BATCH_SIZE for the workers (default: the setting's)")
    parser.add_argument("--batch-seconds", type=float, help="MODELDB_BATCH_SECONDS for the workers")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--unbatched", action="store_true", help="one event per metric point (schema v3 clients)")
    args = parser.parse_args()
    if args.batch_size:
        BATCH_ENV["MODELDB_BATCH_SIZE"] = str(args.batch_size)
    if args.batch_seconds:
        BATCH_ENV["MODELDB_BATCH_SECONDS"] = str(args.batch_seconds)
    engines = args.engines.split(",")
    root = Path(tempfile.mkdtemp(prefix="modeldb-stream-bench-"))
    print(f"work dir {root}")
    ch = services.start_clickhouse(root / "clickhouse")
    kafka = services.start_kafka(root / "kafka")
    bootstrap = f"127.0.0.1:{kafka.port}"
    topic = f"tp-{uuid.uuid4().hex[:6]}"
    settings = Settings.load(env={}, home=root, transport=f"kafka://{bootstrap}/{topic}",
                             warehouse=ch.warehouse_uri("bench"))
    try:
        events = project_events(args.runs, batched=not args.unbatched)
        total = len(events)
        points_per_event = args.runs * 110 / total
        logged_per_event = args.runs * 133 / total
        ensure_topics(settings, partitions=8)
        t0 = time.perf_counter()
        publish(bootstrap, topic, events)
        print(f"{total:,} events ({args.runs:,} runs) on {topic} in {time.perf_counter() - t0:.1f}s")
        rates = {"raw consume (baseline)": raw_consume_rate(bootstrap, topic, total),
                 "decode + materialize in process (baseline)": in_process_rate(events)}
        for engine in engines:
            for workers in (1, 2):
                if engine == "faust" and workers == 2:
                    continue  # one Faust worker is enough to show its ceiling
                rates[f"{engine}, {workers} worker(s), Kafka → ClickHouse"] = drain(
                    root, settings, bootstrap, topic, total, workers, engine)
        rates["modeldb rebuild (CLI, incl. start-up)"], rebuilt = rebuild_rate(
            root, settings, total, ch.warehouse_uri(f"rebuilt_{uuid.uuid4().hex[:6]}"))
        # What keeping the current-state tables costs at ingest, measured both ways in this run: the same
        # rebuild, and the in-process work, without run_state and model_state.
        stateless = [table for table in COLUMNS if table not in STATE_TABLES]
        without = {"rebuild": rebuild_rate(
            root, settings, total, ch.warehouse_uri(f"stateless_{uuid.uuid4().hex[:6]}"), stateless)[0],
                   "in process": in_process_rate(events, state=False)}
        shape = "one event per point" if args.unbatched else "each run's points batched"
        print(f"\nthroughput ({total:,} events holding {args.runs * 110:,} metric points, {shape}; 8 partitions, "
              "2 cores shared with ClickHouse and Kafka):")
        raw = rates["raw consume (baseline)"]
        ceiling = rates["decode + materialize in process (baseline)"]
        print(f"  {'':<48} {'records/s':>10}  {'logged/s':>10}  {'points/s':>10}  {'points/s/worker':>15}")
        for name, rate in rates.items():
            workers = int(name.split(', ')[1][0]) if "worker(s)" in name else 0
            per = f"{rate * points_per_event / workers:>15,.0f}" if workers else f"{'':>15}"
            print(f"  {name:<48} {rate:>10,.0f}  {rate * logged_per_event:>10,.0f}  {rate * points_per_event:>10,.0f}  {per}  "
                  f"({rate / raw:.0%} of raw consume, {rate / ceiling:.0%} of the in-process ceiling)")
        print(f"  (rebuild: {rebuilt})")
        print("\nthe current-state tables' ingest cost (records/s without them -> with them):")
        for name, with_state in (("rebuild", rates["modeldb rebuild (CLI, incl. start-up)"]), ("in process", ceiling)):
            print(f"  {name:<11} {without[name]:>10,.0f} -> {with_state:>10,.0f}  "
                  f"({with_state / without[name] - 1:+.0%}; {without[name] * logged_per_event:,.0f} -> "
                  f"{with_state * logged_per_event:,.0f} logged events/s)")
        if args.skip_latency:
            return
        print(f"\nlog_metric → queryable, default batch settings (batch_seconds={settings.batch_seconds}, "
              f"batch_size={settings.batch_size}), {args.latency_samples} samples at 20/s:")
        for engine in engines:
            got = latency(root, settings, args.latency_samples, engine)
            print(f"  {engine:<9} p50 {statistics.median(got) * 1000:6.0f} ms   p99 {pct(got, 99) * 1000:6.0f} ms   "
                  f"max {max(got) * 1000:6.0f} ms   ({len(got)}/{args.latency_samples} seen)")
    finally:
        modeldb.init(home=root / "after")
        kafka.stop()
        ch.stop()


if __name__ == "__main__":
    sys.exit(main())
