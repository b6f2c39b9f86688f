"""The Spark ML tracker: turns pyspark.ml calls into pipeline actions.

Nesting rules (a thread-local stack of calls, as in the scikit-learn tracker):

* the stages a ``Pipeline.fit`` or ``PipelineModel.transform`` runs are
  tracked as its stages (``parent_action_id``, ``stage_index``);
* any other call made inside a tracked call is not tracked again: the inner
  fits of a ``CrossValidator`` are its candidates, recorded with their fold
  scores, and its evaluator calls are those scores.

The patches reach the tracker through the safe-patch primitive (``autolog.safety``):
an error inside the tracker is logged once and the user's own result is returned. The
Spark jobs that read data (statistics, samples, prediction rows) run on a background
thread, off the user's. This module holds the state and the entry points; ``observing``
describes the data and ``actions`` records what a fit, transform or evaluate did.
"""
from __future__ import annotations

import os
import random
import sys
import time
from typing import Any, Callable

from modeldb.core.events import producer_info, uuid7
from modeldb.producers import tracking
from modeldb.producers.autolog.lifecycle import Switch, TrackerBase
from modeldb.producers.autolog.registry import Registry
from modeldb.producers.spark import stages, stopping
from modeldb.producers.spark.actions import Actions
from modeldb.producers.spark.calls import COMPOSITES, SEARCH_MODELS, Call, Options
from modeldb.producers.spark.models import SparkModelStore
from modeldb.producers.spark.observing import Observing
from modeldb.producers.spark.scored import Scored
from modeldb.producers.spark.storing import Storing

IDLE_S = 1.0  # the background jobs start once the user's Spark jobs have paused this long…
MAX_YIELD_S = 60.0  # …or after this long, so a busy application still gets its events


class Tracker(Observing, Actions, Storing, TrackerBase):
    def __init__(self, options: Options):
        super().__init__(options, "spark")
        self.frames = Registry()
        self.models = Registry()
        self.outputs = Registry()
        self.scored = Scored()  # model outputs by their columns' expression ids, to follow reshaped frames
        self._tagged: set[str] = set()
        self._logged: set[tuple[str, str]] = set()
        self._store: Any = None
        self.features: dict[str, tuple[list[str], list[dict[str, str]]]] = {}  # model id -> features, lineage
        self.executor_rows_sent = 0  # prediction rows the executors sent to Kafka (read from an accumulator)
        self.losses = stopping.Losses()  # what Spark could no longer store (stopped, JVM gone)
        self.stop_reason: str | None = None  # set when spark.stop() went on before the work was done

    # -- state -------------------------------------------------------------------
    def suppressed(self) -> bool:
        return getattr(self._local, "suppressed", False)

    def describe(self, exc: BaseException) -> str:
        return str(exc).splitlines()[0] if str(exc) else ""  # a Py4J error's first line, not the Java trace

    def store(self, spark: Any) -> Any:
        if self._store is None or (spark is not None and self._store.spark is not spark):  # a new session
            self._store = SparkModelStore(tracking.settings().artifacts, spark)
        return self._store

    # -- runs: one per Spark application ---------------------------------------------
    def run(self, spark: Any, first: str = "") -> Any:
        for run in (tracking.active_run(), tracking.latest_run()):
            if run is not None and run.status == "RUNNING":
                self._tag(run, spark)
                return run
        with self._run_lock:
            if self._auto_run is None or self._auto_run.status != "RUNNING":
                sc = spark.sparkContext
                script = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0] or "notebook"
                name = self.options.run_name or f"{script}-{first or 'spark'}-{sc.applicationId}"
                run = tracking.Run(name=name, experiment=self.options.experiment, tags={
                    "modeldb.autolog": "spark", **stages.app_tags(sc)})
                run._producer = producer_info("pyspark", spark.version).as_record()
                self._tagged.add(run.run_id)
                self.start_auto_run(run)
            return self._auto_run

    def _tag(self, run: Any, spark: Any) -> None:
        if run.run_id not in self._tagged:
            self._tagged.add(run.run_id)
            for key, value in stages.app_tags(spark.sparkContext).items():
                run.set_tag(key, value)

    # -- the patched entry points --------------------------------------------------------
    def call(self, original: Callable, obj: Any, method: str, args: tuple, kwargs: dict) -> Any:
        """The hook of ``fit``, ``transform`` and ``evaluate`` (``patching``): track one call around ``original``.

        A tracker error before ``original`` runs leaves the call untracked (``untracked``); one after
        it keeps the user's result. The safe-patch primitive decides which is which.
        """
        stack = self.stack()
        parent = stack[-1] if stack else None
        dataset = args[0] if args else kwargs.get("dataset")
        if self.suppressed() or (parent is not None and not parent.allows(obj)) or dataset is None \
                or stages.is_param_list(args, kwargs):
            return original(obj, *args, **kwargs)
        best = getattr(obj, "bestModel", None) if method == "transform" and type(obj).__name__ in SEARCH_MODELS \
            else None
        tracked = obj if best is None else best  # a search model's transform is its best model's
        pending = self._begin(tracked, method, dataset, parent)
        stack.append(pending["call"])
        try:
            result = original(obj, *args, **kwargs)
        except Exception as exc:
            if method == "fit":
                self._failed_fit(pending, obj, exc)
            raise
        finally:
            stack.pop()
        finish = {"fit": self._finish_fit, "transform": self._finish_transform, "evaluate": self._finish_evaluate}
        finish[method](pending, tracked, args, kwargs, result)
        return result

    def untracked(self, original: Callable, obj: Any, method: str, args: tuple, kwargs: dict) -> Any:
        """Run ``original`` as a call the tracker could not follow: its inner calls are not tracked either."""
        stack = self.stack()
        stack.append(Call(obj, method, tracked=False))
        try:
            return original(obj, *args, **kwargs)
        finally:
            stack.pop()

    def _begin(self, obj: Any, method: str, dataset: Any, parent: Call | None) -> dict[str, Any]:
        spark = dataset.sparkSession
        run = self.run(spark, type(obj).__name__)
        # An evaluated frame is observed only if it turns out to be no model's output (``_finish_evaluate``):
        # a projection of one would otherwise cost a pass that recomputes the whole pipeline.
        x_info = self.observe(dataset, run, "input") if method != "evaluate" else None
        cls = type(obj).__name__
        model_id = uuid7() if method == "fit" else self.model_id(obj)
        call = Call(obj, method, composite=cls in COMPOSITES, action_id=uuid7(), model_id=model_id, run=run,
                    frame=x_info)
        stage_index = stages.stage_index(parent, obj, self) if parent is not None else None
        return {"call": call, "run": run, "x": x_info, "parent": parent, "stage_index": stage_index,
                "started": time.perf_counter(), "spark": spark, "dataset": dataset}

    def model_id(self, obj: Any) -> str | None:
        """The model a transform belongs to; a search's model answers with its best model (as for scikit-learn)."""
        best = getattr(obj, "bestModel", None) if type(obj).__name__ in SEARCH_MODELS else None
        info = self.models.get(best) if best is not None else None
        if info is None:
            info = self.models.get(obj)
        return info.model_id if info is not None else None

    # -- the background thread: after the user's Spark jobs -------------------------------
    def submit(self, job: Callable[[], None], site: str, lost: Callable[[str], None] | None = None,
               spark: Any = None) -> None:
        """Run ``job`` on the background thread once the user's jobs pause; its pyspark.ml calls (a stage
        on a sample) are the tracker's own, not tracked. When Spark can no longer do the work (stopped,
        its JVM gone), ``lost(reason)`` records what it can without Spark instead (``stopping``)."""
        self.deferred.exit_timeout = self.options.stop_timeout

        def after_the_user() -> None:
            self._local.suppressed = True
            gone = self.spark_gone(spark)
            if gone is None:
                try:
                    self._yield_to_user()
                    job()
                    return
                except Exception:
                    gone = self.spark_gone(spark)
                    if gone is None:
                        raise  # a tracker error (``guarded``), not a stopped Spark
            if lost is not None:
                lost(gone)

        super().submit(after_the_user, site)

    def spark_gone(self, spark: Any = None) -> str | None:
        from pyspark import SparkContext

        sc = spark.sparkContext if spark is not None else SparkContext._active_spark_context
        return stopping.spark_gone(sc, self.stop_reason)

    def _yield_to_user(self) -> None:
        """Let the user's Spark jobs go first: start when the cluster has run none for ``IDLE_S``.

        The tracker's jobs would otherwise take task slots from training. It waits at most
        ``MAX_YIELD_S`` per job, and not at all while someone waits for it (flush, disable, stop, exit).
        """
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        jsc = getattr(sc, "_jsc", None)
        if jsc is None or self.deferred.hurried:
            return
        status = sc.statusTracker()
        deadline = time.monotonic() + MAX_YIELD_S
        quiet_since = None
        while not self.deferred.hurried and time.monotonic() < deadline and sc._jsc is not None:
            if status.getActiveJobsIds():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= IDLE_S:
                return
            time.sleep(0.03)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the background jobs (at most ``stop_timeout`` by default), which then run without
        yielding to the user's; then say, in one warning, what Spark could no longer store."""
        try:
            if timeout is None:
                timeout = 0.0 if self.deferred.gave_up else self.options.stop_timeout
            return super().drain(timeout)
        finally:
            self.losses.report(self.log)

    def stop_context(self, call: Callable, sc: Any, *args: Any, **kwargs: Any) -> Any:
        """The hook of ``SparkContext.stop``: the tracker's pending Spark work first, then the stop."""
        if getattr(sc, "_jsc", None) is None or not self.deferred.pending():
            return call(sc, *args, **kwargs)
        done = self.drain(self.options.stop_timeout)
        if not done:
            self.stop_reason = (f"spark.stop() came before the tracker's Spark work was done; it waited "
                                f"stop_timeout={self.options.stop_timeout:g} s")
        result = call(sc, *args, **kwargs)
        if not done:
            self.drain(stopping.AFTER_STOP_S)  # what is left is recorded without Spark, quickly
        return result

    # -- randomSplit --------------------------------------------------------------------------------
    def random_split(self, call: Callable, df: Any, weights: Any, seed: Any = None, *args: Any, **kwargs: Any) -> Any:
        """The hook of ``DataFrame.randomSplit``: the split, and a ``Split`` action with its sides."""
        if self.suppressed() or self.stack() or args or kwargs:
            return call(df, weights, seed, *args, **kwargs)
        if seed is None:  # what pyspark does, made visible so the split can be recorded
            seed = random.randint(0, sys.maxsize)
        children = call(df, weights, seed)
        run = self.run(df.sparkSession, "randomSplit")
        parent = self.observe(df, run, "randomSplit input")
        total = float(sum(weights)) or 1.0
        outputs = []
        for i, child in enumerate(children):
            info = self.derive(child, run, parent, ("randomSplit", list(weights), int(seed), i), None,
                               f"randomSplit {i}")
            outputs.append(info.dataframe_id)
        run.emit_action("Split", {"method": "randomSplit", "input_dataframe_ids": [parent.dataframe_id],
                                  "weights": [float(w) / total for w in weights], "seed": int(seed),
                                  "output_dataframe_ids": outputs})
        return children


SWITCH = Switch()  # the Spark tracker that is on, if any


def current() -> Tracker | None:
    return SWITCH.current()
