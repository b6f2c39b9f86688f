"""The Spark ML tracker: turns pyspark.ml calls into pipeline actions.

Nesting rules (a thread-local stack of calls, as in the scikit-learn tracker):

* the stages a ``Pipeline.fit`` or ``PipelineModel.transform`` runs are
  tracked as its stages (``parent_action_id``, ``stage_index``);
* any other call made inside a tracked call is not tracked again: the inner
  fits of a ``CrossValidator`` are its candidates, recorded with their fold
  scores, and its evaluator calls are those scores.

Everything is guarded: an error inside the tracker is logged once and the
user's own result is returned. The Spark jobs that read data (statistics,
samples, prediction rows) run on a background thread, off the user's.
"""
from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

from modeldb.core.events import producer_info, uuid7
from modeldb.producers import tracking
from modeldb.producers.autolog import Switch, TrackerBase
from modeldb.producers.sklearn import lineage
from modeldb.producers.sklearn.bounds import bounded
from modeldb.producers.sklearn.data import Registry
from modeldb.producers.spark import frames, params
from modeldb.producers.spark.frames import FrameInfo

SEARCHES = ("CrossValidator", "TrainValidationSplit")
SEARCH_MODELS = ("CrossValidatorModel", "TrainValidationSplitModel")
# Calls whose inner calls on the driver thread are tracked too: a pipeline's stages, and a search's refit of
# the best model (its candidates run in pool threads, where tracking is suppressed).
COMPOSITES = ("Pipeline", "PipelineModel") + SEARCHES
INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol")
IDLE_S = 1.0  # the background jobs start once the user's Spark jobs have paused this long…
MAX_YIELD_S = 60.0  # …or after this long, so a busy application still gets its events
SKIPPED_PARAMS = ("estimatorParamMaps",)


@dataclass
class Options:
    experiment: str | None = None
    log_models: bool = True
    count_rows: bool = True
    column_stats: bool = True
    sample_rows: int = frames.SAMPLE_KEYS
    key_column: str | None = None
    slice_columns: tuple[str, ...] | None = None
    max_prediction_rows: int = 100_000
    log_predictions: bool = True
    executor_predictions: bool = True
    run_name: str | None = None


@dataclass
class Call:
    obj: Any
    method: str
    composite: bool = False
    action_id: str = ""
    model_id: str | None = None
    tracked: bool = True
    parts: list = field(default_factory=list)  # (stage index, fitted stage, model id)
    folds: list = field(default_factory=list)  # a search's [fold][candidate] -> metric

    def allows(self, obj: Any) -> bool:
        return self.composite and obj is not self.obj


@dataclass
class ModelInfo:
    model_id: str
    features: FrameInfo | None
    stage_index: int | None = None


@dataclass
class Output:
    """A tracked model's output frame: what an evaluator scoring it is linked to."""
    model_id: str
    info: FrameInfo
    prediction_col: str


class Tracker(TrackerBase):
    def __init__(self, options: Options):
        super().__init__(options, "spark")
        self.frames = Registry()
        self.models = Registry()
        self.outputs = Registry()
        self._tagged: set[str] = set()
        self._logged: set[tuple[str, str]] = set()
        self._store: Any = None
        self.features: dict[str, tuple[list[str], list[dict[str, str]]]] = {}  # model id -> features, lineage
        self.executor_rows_sent = 0  # prediction rows the executors sent to Kafka (read from an accumulator)
        self.hurry = False  # set while someone waits for the background jobs

    # -- state -------------------------------------------------------------------
    def suppressed(self) -> bool:
        return getattr(self._local, "suppressed", False)

    def describe(self, exc: BaseException) -> str:
        return str(exc).splitlines()[0] if str(exc) else ""  # a Py4J error's first line, not the Java trace

    def store(self, spark: Any) -> Any:
        if self._store is None:
            from modeldb.producers.spark.models import SparkModelStore

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
                    "modeldb.autolog": "spark", **_app_tags(sc)})
                run._producer = producer_info("pyspark", spark.version).as_record()
                self._tagged.add(run.run_id)
                self.start_auto_run(run)
            return self._auto_run

    def _tag(self, run: Any, spark: Any) -> None:
        if run.run_id not in self._tagged:
            self._tagged.add(run.run_id)
            for key, value in _app_tags(spark.sparkContext).items():
                run.set_tag(key, value)

    # -- the patched entry points --------------------------------------------------------
    def call(self, obj: Any, method: str, original: Callable, args: tuple, kwargs: dict) -> Any:
        stack = self.stack()
        parent = stack[-1] if stack else None
        dataset = args[0] if args else kwargs.get("dataset")
        if self.suppressed() or (parent is not None and not parent.allows(obj)) or dataset is None \
                or _is_param_list(args, kwargs):
            return original(obj, *args, **kwargs)
        try:
            pending = self._begin(obj, method, dataset, parent)
        except Exception as exc:  # noqa: BLE001 - never break user code
            self.warn(f"{type(obj).__name__}.{method}", exc)
            pending = None
        stack.append(pending["call"] if pending else Call(obj, method, tracked=False))
        try:
            result = original(obj, *args, **kwargs)
        finally:
            stack.pop()
        if pending is not None:
            try:
                handler = {"fit": self._finish_fit, "transform": self._finish_transform,
                           "evaluate": self._finish_evaluate}[method]
                handler(pending, obj, args, kwargs, result)
            except Exception as exc:  # noqa: BLE001 - never break user code
                self.warn(f"{type(obj).__name__}.{method}", exc)
        return result

    def _begin(self, obj: Any, method: str, dataset: Any, parent: Call | None) -> dict[str, Any]:
        spark = dataset.sparkSession
        run = self.run(spark, type(obj).__name__)
        x_info = self.observe(dataset, run, "input")
        cls = type(obj).__name__
        model_id = uuid7() if method == "fit" else self.model_id(obj)
        call = Call(obj, method, composite=cls in COMPOSITES, action_id=uuid7(), model_id=model_id)
        stage_index = _stage_index(parent, obj, self) if parent is not None else None
        return {"call": call, "run": run, "x": x_info, "parent": parent, "stage_index": stage_index,
                "started": time.perf_counter(), "spark": spark, "dataset": dataset}

    def model_id(self, obj: Any) -> str | None:
        """The model a transform belongs to; a search's model answers with its best model (as for scikit-learn)."""
        best = getattr(obj, "bestModel", None) if type(obj).__name__ in SEARCH_MODELS else None
        info = self.models.get(best) if best is not None else None
        if info is None:
            info = self.models.get(obj)
        return info.model_id if info is not None else None

    # -- data --------------------------------------------------------------------------------
    def observe(self, df: Any, run: Any, source: str) -> FrameInfo:
        """The FrameInfo of ``df``, a new source frame unless this run produced or saw it already."""
        known = self.frames.get(df)
        if known is not None and known.run_id == run.run_id:
            return known
        columns = frames.schema_columns(df)
        key_column = self.options.key_column if self.options.key_column in dict(columns) else None
        info = FrameInfo(uuid7(), run.run_id, "", [n for n, _ in columns],
                         [n for n, t in columns if t in frames.ATOMIC], key_column,
                         provenance=known.provenance if known else None, slots=frames.vector_slots(df))
        self.frames.put(df, info)
        self._submit_observation(df, run, info, source, parent=None, step=None)
        return info

    def derive(self, df: Any, run: Any, parent: FrameInfo, step: tuple, provenance: dict | None,
               source: str, stage: Any = None) -> FrameInfo:
        """A frame made from ``parent`` by a tracked stage or split: same row keys, lineage extended."""
        columns = frames.schema_columns(df)
        names = [n for n, _ in columns]
        root = parent.root
        info = FrameInfo(uuid7(), run.run_id, "", names, root.key_columns, root.key_column,
                         provenance=provenance if provenance is not None else parent.provenance,
                         slots=frames.vector_slots(df), categorical=list(parent.categorical), source=root)
        if not frames.has_key(root, names):  # a stage dropped source columns: rows can no longer be followed
            info.source = None
            info.key_columns, info.key_column = [n for n, t in columns if t in frames.ATOMIC], None
        self.frames.put(df, info)
        self._submit_observation(df, run, info, source, parent=parent, step=step, stage=stage)
        return info

    def _submit_observation(self, df: Any, run: Any, info: FrameInfo, source: str, parent: FrameInfo | None,
                            step: tuple | None, stage: Any = None) -> None:
        """Queue the Spark jobs that describe ``df``; the event is emitted when they are done."""
        options = self.options
        split = step is not None and step[0] == "randomSplit"

        def job() -> None:
            _describe(df, f"modeldb: observing {source}")
            columns = frames.schema_columns(df)
            following = options.sample_rows > 0 and frames.has_key(info.root, info.columns)
            counted: dict[str, Any] = {"n_rows": -1, "content": None, "present": set()}
            stats: dict[str, Any] = {}
            if parent is None:
                if options.count_rows:
                    counted = frames.count_job(df, info)
                if options.column_stats:
                    stats, _ = frames.stats_job(df, columns, info, counted["n_rows"])
                info.n_rows = counted["n_rows"]
            elif split:
                info.n_rows = self._count_split_side(df, info, parent, step, following, counted)
            else:
                info.n_rows = parent.n_rows  # Spark ML stages keep the rows
            info.fingerprint, method = self._fingerprint(df, info, parent, step, counted, columns)
            if following:
                self._sample(df, info, parent, split, counted["present"], stage)
            shown = (info.candidates or [])[:options.sample_rows]
            for name in info.columns:
                st = stats.get(name)
                if st and dict(columns).get(name) == "string" and (st["distinct_approx"] or 0) <= \
                        frames.CATEGORICAL_MAX_DISTINCT and name not in info.categorical:
                    info.categorical.append(name)
            run.emit_action("DataFrameObserved", bounded("DataFrameObserved", {
                "dataframe_id": info.dataframe_id, "fingerprint": info.fingerprint, "fingerprint_method": method,
                "source": source, "n_rows": info.n_rows, "n_columns": len(columns),
                "columns": [{"name": n, "type": t, "stats": stats.get(n)} for n, t in columns[:frames.MAX_COLUMNS]],
                "sample_keys": [str(k) for k, _ in shown], "sample_rows_json": frames.rows_json(df.columns, shown),
            }))

        self.deferred.submit(self._guarded(job, f"observing {source}"))

    def _count_split_side(self, df: Any, info: FrameInfo, parent: FrameInfo, step: tuple, following: bool,
                          counted: dict[str, Any]) -> int:
        """A split side is counted (and its share of the parent's sample found) in one job, when the parent
        has at most ``EXACT_SPLIT_ROWS`` rows; above that its count is estimated from the weights, because
        counting a side means re-running randomSplit's sort over the whole parent."""
        if not self.options.count_rows or parent.n_rows < 0:
            return -1
        if parent.n_rows <= frames.EXACT_SPLIT_ROWS:
            candidates = [k for k, _ in parent.candidates or []] if following else []
            counted.update(frames.count_job(df, info, candidates=candidates))
            return counted["n_rows"]
        weights, index = step[1], step[3]
        info.candidates = []
        return int(round(parent.n_rows * weights[index] / (sum(weights) or 1.0)))

    @staticmethod
    def _fingerprint(df: Any, info: FrameInfo, parent: FrameInfo | None, step: tuple | None, counted: dict,
                     columns: list[tuple[str, str]]) -> tuple[str, str]:
        if parent is not None:  # a FrameInfo in the step (a model's training data) counts by its fingerprint
            resolved = [part.fingerprint if isinstance(part, FrameInfo) else part for part in step or ()]
            return frames.digest(parent.fingerprint, resolved), "derived"
        files = frames.input_file_status(df)
        if files:
            return frames.digest(frames.plan_text(df), files), "files"
        if counted["content"] is not None:
            return frames.digest(columns, counted["content"]), "content"
        return frames.digest(frames.plan_text(df)), "plan"

    def _sample(self, df: Any, info: FrameInfo, parent: FrameInfo | None, split: bool, present: set,
                stage: Any) -> None:
        """The rows this frame shows: a source's smallest keys; a split side's share of them; a stage's
        output computed from its input's sample rows (a tiny local DataFrame), never from the data."""
        spark = df.sparkSession
        if parent is None:
            info.candidates = frames.sample_candidates(df, info, info.n_rows)
        elif split:
            if info.candidates is None:  # counted exactly: the parent's sampled rows that landed here
                info.candidates = [c for c in parent.candidates or [] if c[0] in present]
        elif stage is not None and parent.sample_df is not None:
            out = stage.transform(parent.sample_df)  # this thread's calls are not tracked
            info.candidates = frames.collect_keyed(out, info)
            info.sample_df = frames.small_frame(spark, out.schema, info.candidates) if info.candidates else None
            return
        shown = (info.candidates or [])[:self.options.sample_rows]
        info.sample_df = frames.small_frame(spark, df.schema, shown) if shown else None

    def _guarded(self, job: Callable[[], None], what: str) -> Callable[[], None]:
        def run() -> None:
            self._local.suppressed = True  # the tracker's own pyspark.ml calls (a stage on a sample) are not tracked
            try:
                self._yield_to_user()
                job()
            except Exception as exc:  # noqa: BLE001 - a failed statistics job must not stop the others
                self.warn(what, exc)
        return run

    def _yield_to_user(self) -> None:
        """Let the user's Spark jobs go first: start when the cluster has run none for ``IDLE_S``.

        The tracker's jobs would otherwise take task slots from training. It waits at most
        ``MAX_YIELD_S`` per job, and not at all while someone waits for it (flush, disable, exit).
        """
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:
            return
        status = sc.statusTracker()
        deadline = time.monotonic() + MAX_YIELD_S
        quiet_since = None
        while not self.hurry and time.monotonic() < deadline:
            if status.getActiveJobsIds():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= IDLE_S:
                return
            time.sleep(0.03)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for the background jobs, which then run without yielding to the user's."""
        self.hurry = True
        try:
            return super().drain(timeout)
        finally:
            self.hurry = False

    # -- fit ------------------------------------------------------------------------------------
    def _finish_fit(self, p: dict, est: Any, args: tuple, kwargs: dict, model: Any) -> None:
        from modeldb.producers.spark import search

        call, run, x_info, parent = p["call"], p["run"], p["x"], p["parent"]
        extra = args[1] if len(args) > 1 else kwargs.get("params")
        effective = est.copy(extra) if isinstance(extra, dict) and extra else est
        inputs = _declared_inputs(effective, x_info.columns, with_label=True)
        self.emit_operator(run, effective, call, "fit", [x_info.dataframe_id], [], inputs, [], [], p)
        features, edges = self._features_of(model, x_info, call)
        self.models.put(model, ModelInfo(call.model_id, x_info, p["stage_index"]))
        whole = parent.model_id if parent is not None else None
        self.store_model(run, model, call.model_id, call.action_id, x_info, features, edges, part_of=whole,
                         spark=p["spark"])
        if parent is not None:
            parent.parts.append((p["stage_index"], model, call.model_id))
        if type(est).__name__ in SEARCHES:
            search.after_fit(self, run, est, model, call, x_info)
        self.link_parts(model, call.model_id, call.parts, p["spark"])

    def _features_of(self, model: Any, x_info: FrameInfo, call: Call) -> tuple[list[str], list[dict[str, str]]]:
        """A model's features and (source column -> feature, path) lineage.

        A pipeline or a search answers with its final model's, traced back to the source columns it used.
        """
        inner = [(i if i is not None else -1, part_id) for i, _, part_id in call.parts if part_id in self.features]
        if call.composite and inner:
            features, edges = self.features[max(inner)[1]]
            sources = list(dict.fromkeys(e["src"] for e in edges)) if edges else features
            self.features[call.model_id] = (sources, edges)
            return sources, edges
        features = _feature_names(model, x_info)
        edges = _model_lineage(model, x_info, features)
        self.features[call.model_id] = (features, edges)
        return features, edges

    def store_model(self, run: Any, model: Any, model_id: str, action_id: str | None, x_info: FrameInfo | None,
                    features: list[str], edges: list[dict[str, str]], part_of: str | None, spark: Any) -> None:
        """Index a fitted model. A whole model is written by Spark ML's writer on the background thread
        (its ``ModelStored`` follows); a part (a stage, a search's best model) points into its whole."""
        from modeldb.producers.spark.models import SPARK_FORMAT, SPARK_PART

        event = {
            "model_id": model_id, "operator_class": type(model).__name__, "uri": "", "format": "",
            "size_bytes": -1, "train_dataframe_id": x_info.dataframe_id if x_info else None,
            "feature_names": features[:lineage.MAX_EDGES], "internals": params.internals(model, features),
            "operator_module": type(model).__module__, "action_id": action_id, "parent_model_id": part_of,
            "column_lineage": edges,
        }
        for step, value in enumerate(params.objective_history(model)):
            run.log_metric("objective", value, step, model_id=model_id)
        if not self.options.log_models:
            run.emit_action("ModelStored", bounded("ModelStored", event))
        elif part_of is not None:
            event.update(uri=self.store(spark).part_uri(part_of, model_id), format=SPARK_PART)
            run.emit_action("ModelStored", bounded("ModelStored", event))
        else:
            def write() -> None:
                try:
                    uri, size = self.store(spark).put_model(model_id, model, {
                        "operator_class": type(model).__name__, "run_id": run.run_id, "project": run.project})
                    event.update(uri=uri, format=SPARK_FORMAT, size_bytes=size)
                except Exception as exc:  # noqa: BLE001 - a model Spark cannot write is still indexed
                    self.warn(f"storing {type(model).__name__}", exc)
                run.emit_action("ModelStored", bounded("ModelStored", event))

            self.deferred.submit(self._guarded(write, f"storing {type(model).__name__}"))

    def link_parts(self, whole: Any, whole_id: str, parts: list, spark: Any) -> None:
        """Record where each part sits in its whole, once the whole is written (next on the background thread)."""
        if self.options.log_models and parts:
            job = self._guarded(lambda: self._link_parts(whole, whole_id, parts, spark), "storing parts")
            self.deferred.submit(job)

    def _link_parts(self, whole: Any, whole_id: str, parts: list, spark: Any) -> None:
        stages = getattr(whole, "stages", None)
        for index, part, part_id in parts:
            try:
                if getattr(whole, "bestModel", None) is part:
                    locator = [["bestModel", None]]
                elif isinstance(stages, list) and index is not None and index < len(stages) and stages[index] is part:
                    locator = [["stages", index]]
                else:
                    continue
                self.store(spark).put_part(part_id, whole_id, locator)
            except Exception as exc:  # noqa: BLE001 - never break user code
                self.warn(f"storing {type(part).__name__}", exc)

    # -- transform -----------------------------------------------------------------------------
    def _finish_transform(self, p: dict, obj: Any, args: tuple, kwargs: dict, out: Any) -> None:
        call, run, x_info = p["call"], p["run"], p["x"]
        inputs = _declared_inputs(obj, x_info.columns, with_label=False)
        known = set(x_info.columns)
        outputs = [c for c in out.columns if c not in known]
        composed = self.frames.get(out) if call.composite else None
        if composed is not None:  # a pipeline's output: each column from the source columns its stages used
            derivation = {c: list(dict.fromkeys(o for o, _ in composed.sources(c))) for c in outputs}
        else:
            derivation = _derivation(obj, inputs, outputs, frames.vector_slots(out))
        extra = args[1] if len(args) > 1 else kwargs.get("params")
        fitted = self.models.get(obj)  # a model's output depends on what it was fitted on, not on its random id
        step = ("transform", type(obj).__name__, fitted.features if fitted is not None else None,
                [(r["key"], r["value"]) for r in params.flat_params(obj)],
                sorted((getattr(k, "name", str(k)), str(v)) for k, v in (extra or {}).items())
                if isinstance(extra, dict) else [])
        provenance = dict(x_info.provenance or {})
        provenance.update(lineage.provenance(x_info, derivation))
        out_info = composed
        if out_info is None:
            out_info = self.derive(out, run, x_info, step, provenance, f"{type(obj).__name__}.transform",
                                   stage=obj.copy(extra) if isinstance(extra, dict) and extra else obj)
        self.emit_operator(run, obj, call, "transform", [x_info.dataframe_id], [out_info.dataframe_id], inputs,
                           outputs, lineage.edges(derivation), p, with_params=False)
        prediction_col = _prediction_col(obj, out.columns)
        if call.model_id is not None and prediction_col is not None:
            self.outputs.put(out, Output(call.model_id, out_info, prediction_col))

    # -- evaluate -------------------------------------------------------------------------------
    def _finish_evaluate(self, p: dict, evaluator: Any, args: tuple, kwargs: dict, value: Any) -> None:
        from modeldb.producers.spark import slices

        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        run, dataset = p["run"], p["dataset"]
        output = self.outputs.get(dataset)
        model_id = output.model_id if output else None
        info = output.info if output else p["x"]
        name = _metric_name(evaluator)
        run.log_metric(name, float(value), model_id=model_id, dataframe_id=info.dataframe_id)
        if output is not None and self.options.log_predictions and (model_id, info.dataframe_id) not in self._logged:
            self._logged.add((model_id, info.dataframe_id))
            slices.log_predictions(self, run, evaluator, dataset, output, p["spark"])

    # -- events ---------------------------------------------------------------------------------
    def emit_operator(self, run: Any, obj: Any, call: Call, action: str, inputs: list[str], outputs: list[str],
                      input_columns: list[str], output_columns: list[str], edges: list[dict[str, str]],
                      p: dict, with_params: bool = True) -> None:
        parent = p["parent"]
        records = [r for r in params.flat_params(obj) if r["key"] not in SKIPPED_PARAMS] if with_params else []
        run.emit_action("OperatorApplied", bounded("OperatorApplied", {
            "action_id": call.action_id, "action": action, "operator_class": type(obj).__name__,
            "operator_module": type(obj).__module__, "model_id": call.model_id, "params": records,
            "input_dataframe_ids": inputs, "output_dataframe_ids": outputs,
            "input_columns": input_columns[:lineage.MAX_EDGES], "output_columns": output_columns[:lineage.MAX_EDGES],
            "column_edges": edges, "parent_action_id": parent.action_id if parent is not None else None,
            "stage_index": p["stage_index"], "duration_ms": (time.perf_counter() - p["started"]) * 1000,
        }))

    # -- randomSplit --------------------------------------------------------------------------------
    def random_split(self, df: Any, original: Callable, weights: Any, seed: Any, args: tuple,
                     kwargs: dict) -> Any:
        if self.suppressed() or self.stack() or args or kwargs:
            return original(df, weights, seed, *args, **kwargs)
        if seed is None:  # what pyspark does, made visible so the split can be recorded
            seed = random.randint(0, sys.maxsize)
        children = original(df, weights, seed)
        try:
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
        except Exception as exc:  # noqa: BLE001 - never break user code
            self.warn("randomSplit", exc)
        return children


def _app_tags(sc: Any) -> dict[str, str]:
    return {"spark.app.id": str(sc.applicationId), "spark.app.name": str(sc.appName), "spark.master": str(sc.master)}


def _describe(df: Any, text: str) -> None:
    try:
        df.sparkSession.sparkContext.setLocalProperty("spark.job.description", text)
    except Exception:  # noqa: BLE001 - only a label in the Spark UI
        pass


def _is_param_list(args: tuple, kwargs: dict) -> bool:
    extra = args[1] if len(args) > 1 else kwargs.get("params")
    return isinstance(extra, (list, tuple))


def _get(obj: Any, name: str) -> Any:
    try:
        if obj.hasParam(name) and obj.isDefined(name):
            return obj.getOrDefault(name)
    except Exception:  # noqa: BLE001
        pass
    return None


def _declared_inputs(obj: Any, columns: list[str], with_label: bool) -> list[str]:
    """The columns a stage reads: its inputCol(s) or featuresCol (and labelCol when fitting); else all."""
    out: list[str] = []
    for name in INPUT_PARAMS + (("labelCol",) if with_label else ()):
        value = _get(obj, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v in columns and v not in out:
                out.append(v)
    return out or list(columns)


def _derivation(obj: Any, inputs: list[str], outputs: list[str], slots: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each new column's source columns; and each named vector slot's (``country_vec_US`` from ``country_vec``)."""
    ins, outs = _get(obj, "inputCols"), _get(obj, "outputCols")
    pairs = dict(zip(outs, ins)) if isinstance(ins, list) and isinstance(outs, list) and len(ins) == len(outs) else {}
    derivation: dict[str, list[str]] = {}
    for column in outputs:
        derivation[column] = [pairs[column]] if column in pairs and pairs[column] in inputs else list(inputs)
    named = set(inputs)
    for column in outputs:
        for slot in slots.get(column, ()):
            source = lineage._named_source(slot, named)
            if source and slot not in derivation:
                derivation[slot] = source
    return derivation


def _feature_names(model: Any, x_info: FrameInfo) -> list[str]:
    features_col = _get(params.final_model(model), "featuresCol")
    if isinstance(features_col, str) and features_col in x_info.slots:
        return list(x_info.slots[features_col])
    return _declared_inputs(model, x_info.columns, with_label=False)


def _model_lineage(model: Any, x_info: FrameInfo | None, features: list[str]) -> list[dict[str, str]]:
    if x_info is None:
        return []
    features_col = _get(params.final_model(model), "featuresCol")
    provenance = x_info.provenance or {}

    def sources(feature: str) -> tuple[tuple[str, str], ...]:
        if feature in provenance:
            return provenance[feature]
        if isinstance(features_col, str) and features_col in x_info.slots:
            return tuple((origin, f"{path} > {feature}") for origin, path in x_info.sources(features_col))
        return x_info.sources(feature)

    return lineage.model_lineage(SimpleNamespace(columns=features, sources=sources))


def _prediction_col(obj: Any, columns: list[str]) -> str | None:
    col = _get(params.final_model(obj), "predictionCol")
    return col if isinstance(col, str) and col in columns else None


def _metric_name(evaluator: Any) -> str:
    name = _get(evaluator, "metricName")
    return str(name) if name else type(evaluator).__name__


def _stage_index(parent: Call, obj: Any, tracker: Tracker) -> int | None:
    stages = getattr(parent.obj, "getStages", None)
    stages = stages() if stages is not None else getattr(parent.obj, "stages", None)
    for i, stage in enumerate(stages or ()):
        if stage is obj:
            return i
    info = tracker.models.get(obj)  # a model fitted by this pipeline, now transforming: its estimator's slot
    return info.stage_index if info is not None else None


SWITCH = Switch()  # the Spark tracker that is on, if any


def current() -> Tracker | None:
    return SWITCH.current()
