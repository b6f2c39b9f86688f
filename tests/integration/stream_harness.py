"""A stream under test: one topic, one warehouse database, real `modeldb process` workers and loaders.

Every fault test counts the events in (decoded from the topic itself) and the
rows out (in the warehouse), and compares the answers with values the loader
computed without the warehouse (``tests.integration.loadgen``).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from modeldb.core import codec
from modeldb.devtools import services
from modeldb.core.config import Settings
from modeldb.core.exceptions import ModelDBError
from modeldb.warehouse import queries as Q
from modeldb.warehouse.factory import connect
from tests.integration import loadgen
from tests.integration.state_check import assert_state_matches_events
from tests.integration.conftest import MODELDB, cli_env, unique

REPO = Path(__file__).resolve().parents[2]


class Services:
    """A Kafka broker and a ClickHouse server of a test module's own, so tests may stop and restart them."""

    def __init__(self, root: Path):
        self.kafka = services.start_kafka(root / "kafka")
        self.clickhouse = services.start_clickhouse(root / "clickhouse")

    def restart(self, name: str) -> None:
        setattr(self, name, services.restart(getattr(self, name)))

    def stop(self) -> None:
        for service in (self.kafka, self.clickhouse):
            service.stop()


class Stream:
    def __init__(self, home: Path, svc: Services, engine: str = "confluent", partitions: int = 4,
                 bootstrap: str | None = None):
        self.home, self.svc, self.engine = home, svc, engine
        self.topic, self.group, self.database = unique("events"), unique("group"), unique("db")
        self.bootstrap = bootstrap or f"127.0.0.1:{svc.kafka.port}"
        self.settings = Settings.load(env={}, home=home, transport=f"kafka://{self.bootstrap}/{self.topic}",
                                      warehouse=svc.clickhouse.warehouse_uri(self.database),
                                      consumer_group=self.group)
        connect(self.settings).close()  # create and migrate once, before workers race to
        from modeldb.stream_processors.topics import ensure_topics

        ensure_topics(self.settings, partitions=partitions)
        self.workers: dict[str, subprocess.Popen] = {}
        self.loaders: list[tuple[subprocess.Popen, Path]] = []

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(MODELDB_HOME=str(self.home), MODELDB_TRANSPORT=self.settings.transport,
                       MODELDB_WAREHOUSE=self.settings.warehouse, MODELDB_CONSUMER_GROUP=self.group,
                       MODELDB_BATCH_SECONDS="0.2", MODELDB_PROCESSOR_ENGINE=self.engine, **extra)

    # -- workers -------------------------------------------------------------------------------

    def start_worker(self, name: str, **extra: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "ab")
        proc = subprocess.Popen([MODELDB, "process"], stdout=log, stderr=subprocess.STDOUT, cwd=self.home,
                                env=self.env(**extra))
        log.close()
        self.workers[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, name: str, text: str, timeout: float = 90, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log(name).count(text) >= count:
                return
            assert self.workers[name].poll() is None, f"{name} died:\n{self.log(name)[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"{name} never logged {text!r}:\n{self.log(name)[-3000:]}")

    def stop_worker(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        proc = self.workers.pop(name)
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    # -- load ----------------------------------------------------------------------------------

    def load(self, project: str, runs: int, steps: int, pause_s: float = 0.0, bootstrap: str | None = None,
             first: int = 0, until_stopped: bool = False) -> subprocess.Popen:
        """Start a loader process (its own home, so its spill file is its own) logging runs ``first``…

        ``until_stopped``: an open-ended load, at least ``runs`` runs and on until ``stop_loads``."""
        home = self.home / unique("loader")
        home.mkdir()
        transport = f"kafka://{bootstrap or self.bootstrap}/{self.topic}"
        until = ["--until", str(home / "stop")] if until_stopped else []
        proc = subprocess.Popen([sys.executable, "-m", "tests.integration.loadgen", project, str(runs), str(steps),
                                 str(pause_s), str(first), *until], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=cli_env(MODELDB_HOME=str(home), MODELDB_TRANSPORT=transport))
        self.loaders.append((proc, home))
        return proc

    def stop_loads(self) -> None:
        """Tell every open-ended loader to stop after the run it is logging (a fixed load ignores this)."""
        for _, home in self.loaders:
            (home / "stop").touch()

    def finish_loads(self, timeout: float = 180) -> int:
        """Stop open-ended loaders, wait for every loader, send whatever one spilled to disk with
        `modeldb replay`; returns how many runs the loaders logged, all told."""
        self.stop_loads()
        runs = 0
        for proc, home in self.loaders:
            stdout, stderr = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, stderr[-3000:]
            report = json.loads(stdout.strip().splitlines()[-1])
            runs += report["runs"]
            if report["undelivered"]:
                replay = subprocess.run([MODELDB, "replay"], capture_output=True, text=True, timeout=120,
                                        env=cli_env(MODELDB_HOME=str(home), MODELDB_TRANSPORT=self.settings.transport))
                assert replay.returncode == 0, replay.stderr
        self.loaders.clear()
        return runs

    # -- offsets and answers ---------------------------------------------------------------------

    def lag(self) -> int:
        """Events on the topic not yet committed by the group (-1 while that cannot be told)."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group, "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            parts = [TopicPartition(self.topic, p) for p in meta.partitions]
            total = 0
            for tp in consumer.committed(parts, timeout=10):
                total += consumer.get_watermark_offsets(tp, timeout=10)[1] - max(tp.offset, 0)
            return total
        except KafkaException:
            return -1
        finally:
            consumer.close()

    def committed(self) -> dict[int, int] | None:
        """The group's committed offset of every partition (-1 where none yet); None while that cannot be told."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group, "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            parts = [TopicPartition(self.topic, p) for p in sorted(meta.partitions)]
            return {tp.partition: max(tp.offset, -1) for tp in consumer.committed(parts, timeout=10)}
        except KafkaException:
            return None
        finally:
            consumer.close()

    def settle(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.workers.items():
                assert proc.poll() is None, f"{name} died:\n{self.log(name)[-3000:]}"
            if self.lag() == 0:
                return
            time.sleep(0.5)
        logs = "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in self.workers)
        raise AssertionError(f"still lagging ({self.lag()}) after {timeout}s:\n{logs}")

    def topic_events(self) -> tuple[set[str], int]:
        """Event ids of every decodable record on the topic, and the number of undecodable ones."""
        carried, bad = self.topic_records()
        return set(carried), bad

    def topic_records(self) -> tuple[dict[str, int], int]:
        """Every decodable record on the topic, as event id → the metric points it carries (a
        ``MetricLogged`` one, a ``MetricsLogged`` batch its length, any other event none), and the
        number of undecodable records."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": unique("count"),
                             "enable.auto.commit": False})
        carried, bad = {}, 0
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            ends = {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                    for p in meta.partitions}
            consumer.assign([TopicPartition(self.topic, p, -2) for p, end in ends.items() if end])
            left = {p for p, end in ends.items() if end}
            while left:
                msg = consumer.poll(10)
                assert msg is not None, f"topic read stalled with partitions {left} left"
                if msg.error():
                    continue
                try:
                    event = codec.decode(msg.value())
                except ModelDBError:
                    bad += 1
                else:
                    kind = event["event_type"]
                    carried[event["event_id"]] = (1 if kind == "MetricLogged" else
                                                  len(event["payload"]["steps"]) if kind == "MetricsLogged" else 0)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    left.discard(msg.partition())
        finally:
            consumer.close()
        return carried, bad

    def warehouse(self, database: str | None = None):
        return connect(self.settings, database=database, migrate=False)

    def answers(self, project: str, database: str | None = None) -> dict:
        """What a user would ask: runs with their params and final metric, best runs, a loss curve."""
        wh = self.warehouse(database)
        try:
            runs = Q.search_runs(wh, project, order_by="run.name", columns=["params.C", "params.i", "metrics.acc"],
                                 limit=10_000)
            best = Q.BEST_RUNS.frame(wh, project=project, metric="acc", limit=10)
            first = runs["run_id"].iloc[0] if len(runs) else ""
            curve = Q.METRIC_HISTORY.frame(wh, project=project, metric="loss", run_id=first)
            return {"runs": runs.drop(columns=["run_id"]).to_dict("records"),
                    "best": best[["name", "value"]].to_dict("records"),
                    "curve": curve.to_dict("records")}
        finally:
            wh.close()

    def check_raw(self, project: str, expected: int, points: int | None = None) -> dict:
        """Every decodable event on the topic is in the warehouse, and no other; returns the figures.

        ``expected`` distinct events on the topic; or, given ``points``, ``expected`` events besides the
        metric ones and exactly ``points`` metric points in those, however the emitter batched them."""
        carried, bad = self.topic_records()
        ids = set(carried)
        if points is None:
            assert len(ids) == expected, f"{len(ids)} distinct events on the topic, expected {expected}"
        else:
            others, carrying = sum(1 for n in carried.values() if not n), sum(carried.values())
            assert others == expected, f"{others} distinct events besides metric points on the topic, not {expected}"
            assert carrying == points, f"{carrying} metric points on the topic, expected {points}"
        wh = self.warehouse()
        try:
            distinct, raw = wh.query(f"SELECT uniqExact(event_id), count() FROM `{self.database}`.events_raw").rows[0]
            stored = {r[0] for r in wh.query(f"SELECT DISTINCT event_id FROM `{self.database}`.events_raw").rows}
        finally:
            wh.close()
        assert stored == ids, f"{len(ids - stored)} event(s) lost, {len(stored - ids)} unexpected"
        return {"events": len(ids), "distinct": int(distinct), "raw_rows": int(raw), "poison": bad}

    def check(self, project: str, runs: int, steps: int) -> dict:
        """Nothing lost, nothing doubled in an answer; returns the raw figures for further checks."""
        figures = self.check_raw(project, runs * loadgen.OTHER_RECORDS_PER_RUN,
                                 points=runs * loadgen.points_per_run(steps))
        wh = self.warehouse()
        try:
            points = wh.query(f"SELECT count() FROM (SELECT run_id, name, step FROM `{self.database}`.metrics "
                              "WHERE project = %(p)s GROUP BY run_id, name, step)", {"p": project}).scalar()
        finally:
            wh.close()
        assert points == runs * (steps + 1)
        got = self.answers(project)
        expected_runs = [{"name": f"run-{i:04d}", "params.C": str(loadgen.c_of(i)), "params.i": str(i),
                          "metrics.acc": loadgen.acc(i)} for i in range(runs)]
        shown = [{k: r[k] for k in ("name", "params.C", "params.i", "metrics.acc")} for r in got["runs"]]
        assert shown == expected_runs, [(a, b) for a, b in zip(shown, expected_runs) if a != b][:3]
        assert [round(r["value"], 6) for r in got["best"]] == sorted((loadgen.acc(i) for i in range(runs)),
                                                                     reverse=True)[:10]
        assert [round(r["value"], 6) for r in got["curve"]] == [loadgen.loss(0, s) for s in range(steps)]
        wh = self.warehouse()
        try:  # the current-state rows merged at ingest against the state folded from the events
            assert assert_state_matches_events(wh, self.database, project) == runs
        finally:
            wh.close()
        return figures

    def close(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        for proc, _ in self.loaders:
            proc.kill()
