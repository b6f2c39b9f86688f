"""The scikit-learn tracker: turns estimator method calls into pipeline actions.

One ``Tracker`` is active while autolog is on. Patched methods call
``Tracker.call``; everything it does is guarded so that a failure inside the
tracker is logged once and training goes on with the user's own result.

Nesting rules (a thread-local stack of calls):

* a call inside ``Pipeline``, ``ColumnTransformer`` or ``FeatureUnion`` on one
  of their stages is tracked as a stage: ``parent_action_id`` and
  ``stage_index`` link it to the composite's action;
* any other call made from inside a tracked call (``score`` calling
  ``predict``, a search fitting candidates, a meta-estimator fitting its inner
  estimators) is not tracked again: the outer action already covers it.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from modeldb.core.events import uuid7
from modeldb.producers import tracking
from modeldb.producers.artifacts import PART_FORMAT, ArtifactStore
from modeldb.producers.autolog import lineage, safety
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.autolog.lifecycle import Switch, TrackerBase
from modeldb.producers.autolog.registry import Registry
from modeldb.producers.sklearn import evaluation, model_selection, params, snapshots, usage
from modeldb.producers.sklearn import lineage as names
from modeldb.producers.sklearn.calls import Call, ModelInfo, Options, emit_operator
from modeldb.producers.sklearn.data import DataInfo, kind_of, n_rows_of
from modeldb.producers.sklearn.observe import Observer

FITS = ("fit", "fit_transform", "fit_predict")
TRANSFORMS = ("transform", "fit_transform")
PREDICTS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "fit_predict")
WITH_Y = ("fit", "fit_transform", "fit_predict", "score")
COMPOSITES = ("Pipeline", "ColumnTransformer", "FeatureUnion")


@dataclass
class _Pending:
    call: Call
    run: Any
    x_info: DataInfo | None
    y_info: DataInfo | None
    parent: Call | None
    stage_index: int | None
    started: float = field(default_factory=time.perf_counter)


class Tracker(TrackerBase):
    def __init__(self, options: Options):
        super().__init__(options, "sklearn")
        self.observer = Observer()
        self.models = Registry()
        self.predictions = Registry()
        self._store: ArtifactStore | None = None
        self.changed_models: set[str] = set()  # changed since their snapshot, which could not be renewed

    # -- state -----------------------------------------------------------------
    def busy(self) -> bool:
        return bool(getattr(self._local, "stack", None))

    def store(self) -> ArtifactStore:
        if self._store is None:
            self._store = ArtifactStore.from_settings(tracking.settings())
        return self._store

    # -- runs ------------------------------------------------------------------
    def run(self, first_operator: str = "") -> Any:
        """The active run; in a thread that does not see it (a pool worker), the latest running one; else automatic."""
        for run in (tracking.active_run(), tracking.latest_run()):
            if run is not None and run.status == "RUNNING":
                return run
        with self._run_lock:
            if self._auto_run is None or self._auto_run.status != "RUNNING":
                script = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0] or "notebook"
                name = self.options.run_name or f"{script}-{first_operator or 'sklearn'}"
                self.start_auto_run(tracking.Run(name=name, experiment=self.options.experiment,
                                                 tags={"modeldb.autolog": "sklearn"}))
            return self._auto_run

    # -- estimator methods -------------------------------------------------------
    def call(self, original: Callable, est: Any, method: str, args: tuple, kwargs: dict) -> Any:
        """The hook of every patched estimator method (``patching``): track one call around ``original``.

        A tracker error before ``original`` runs leaves the call untracked (``untracked``); one after
        it keeps the user's result. The safe-patch primitive decides which is which.
        """
        stack = self.stack()
        parent = stack[-1] if stack else None
        if parent is not None and not parent.allows(est):
            return original(est, *args, **kwargs)
        if method == "partial_fit":  # not an action (it runs in loops); the model's state changes in place
            result = original(est, *args, **kwargs)
            snapshots.changed_in_place(self.models, est)
            return result
        pending = self._begin(est, method, args, kwargs, parent)
        stack.append(pending.call)
        try:
            result = original(est, *args, **kwargs)
        finally:
            stack.pop()
        self._finish(pending, est, method, args, kwargs, result)
        return result

    def untracked(self, original: Callable, est: Any, method: str, args: tuple, kwargs: dict) -> Any:
        """Run ``original`` as a call the tracker could not follow: its inner calls are not tracked either."""
        stack = self.stack()
        stack.append(Call(est, method, composite=False, tracked=False))
        try:
            return original(est, *args, **kwargs)
        finally:
            stack.pop()

    def _begin(self, est: Any, method: str, args: tuple, kwargs: dict, parent: Call | None) -> _Pending:
        cls = type(est).__name__
        run = self.run(cls)
        x = _arg(args, kwargs, 0, ("X", "raw_documents"))
        y = _arg(args, kwargs, 1, ("y", "Y")) if method in WITH_Y else None
        x_info = self.observe(x, run, source="X")
        y_info = self.observe(y, run, source="y")
        model_id = uuid7() if method in FITS else self.model_id(est, run)
        stage_index = None
        if parent is not None:
            stage_index = _stage_position(parent.obj, est, parent.stages)
            parent.stages += 1
        call = Call(est, method, composite=cls in COMPOSITES, action_id=uuid7(), model_id=model_id)
        return _Pending(call, run, x_info, y_info, parent, stage_index)

    def observe(self, obj: Any, run: Any, **kwargs: Any) -> DataInfo | None:
        if obj is None or kind_of(obj) is None:
            return None
        names = ["text"] if isinstance(obj, (list, tuple)) and isinstance(obj[0], str) else None
        return self.observer.observe(obj, run, names=names, **kwargs)

    def model_id(self, est: Any, run: Any = None) -> str | None:
        """The model an estimator's predict/transform/score belongs to; a search answers with its winner.

        With ``run``: the model's current state, newly snapshotted if a part changed since (``snapshots``).
        """
        best = getattr(est, "best_estimator_", None) if hasattr(est, "cv_results_") else None
        target = best
        info = self.models.get(best) if best is not None else None
        if info is None:
            target, info = est, self.models.get(est)
        if info is not None and run is not None:
            info = snapshots.current(self, run, target, info)
        return info.model_id if info is not None else None

    def _finish(self, p: _Pending, est: Any, method: str, args: tuple, kwargs: dict, result: Any) -> None:
        call, run, x_info = p.call, p.run, p.x_info
        duration_ms = (time.perf_counter() - p.started) * 1000
        input_columns = list(x_info.columns) if x_info else []
        outputs: list[str] = []
        output_columns: list[str] = []
        column_edges: list[dict[str, str]] = []
        observable = kind_of(result) is not None and not isinstance(result, tuple)  # (mean, std) tuples: not data
        if method in TRANSFORMS and observable:
            width = _width(result)
            output_columns = names.output_names(est, result, input_columns, width)
            output_columns, derivation = _derivation(est, input_columns, output_columns)
            column_edges = lineage.edges(derivation)
            keys = x_info.keys if x_info and x_info.n_rows == n_rows_of(result) else None
            out_info = self.observer.observe(result, run, keys=keys, names=output_columns,
                                             provenance=lineage.provenance(x_info, derivation),
                                             source=f"{type(est).__name__}.{method}")
            outputs = [out_info.dataframe_id] if out_info else []
        elif method in PREDICTS and observable:
            output_columns = _prediction_names(est, method, result)
            keys = x_info.keys if x_info and x_info.n_rows == n_rows_of(result) else None
            out_info = self.observer.observe(result, run, keys=keys, names=output_columns,
                                             source=f"{type(est).__name__}.{method}")
            outputs = [out_info.dataframe_id] if out_info else []
            if call.model_id is not None:
                evaluation.remember_prediction(self, call.model_id, x_info, method, result, args, kwargs)
        inputs = [i.dataframe_id for i in (x_info, p.y_info) if i is not None]
        fitted = method in FITS
        emit_operator(run, est, call.action_id, method, call.model_id, with_params=fitted, inputs=inputs,
                      outputs=outputs, input_columns=input_columns, output_columns=output_columns,
                      column_edges=column_edges, parent_action_id=p.parent.action_id if p.parent else None,
                      stage_index=p.stage_index, duration_ms=duration_ms)
        if method == "score" and call.model_id is not None:
            evaluation.log_score(self, run, call.model_id, x_info, result)
        if fitted:
            info = ModelInfo(call.model_id, x_info)
            self.models.put(est, info)
            parent_model = p.parent.model_id if p.parent is not None else None
            self.store_model(run, est, call.model_id, call.action_id, x_info, parent_model, part_of=parent_model)
            if p.parent is not None:
                p.parent.parts.append((est, call.model_id))
            model_selection.after_fit(self, run, est, call, x_info)
            self.link_parts(run, est, call.model_id, call.parts)
            snapshots.seal(self.models, info, call.parts)
            evaluation.remember_labels(self, call.model_id, x_info, est)

    def store_model(self, run: Any, est: Any, model_id: str, action_id: str | None, x_info: DataInfo | None,
                    parent_model_id: str | None, part_of: str | None = None, training_metrics: bool = True) -> bool:
        """Index a fitted model; pickle it unless it is a part (a stage, a search's winner) of ``part_of``.

        A part is stored once, inside its whole: ``link_parts`` records where, when the whole is done.
        ``training_metrics=False`` (a new snapshot of a changed model, ``snapshots``): index it only if
        it could be pickled, and log no training metrics again. False when it was not indexed.
        """
        features = list(x_info.columns) if x_info else []
        uri, fmt, size = "", "", -1
        if self.options.log_models:
            try:
                store = self.store()
                if part_of is None:
                    stored = store.put_model(model_id, est, {
                        "operator_class": type(est).__name__, "operator_module": type(est).__module__,
                        "run_id": run.run_id, "project": run.project})
                    uri, fmt, size = stored.uri, stored.format, stored.size_bytes
                else:
                    uri, fmt = store.part_uri(part_of, model_id), PART_FORMAT
            except Exception as exc:  # noqa: BLE001 - an unpicklable model is still indexed
                self.warn(f"storing {type(est).__name__}", exc)
                if not training_metrics:
                    return False
        run.emit_action("ModelStored", bounded("ModelStored", {
            "model_id": model_id, "operator_class": type(est).__name__, "uri": uri, "format": fmt,
            "size_bytes": size, "train_dataframe_id": x_info.dataframe_id if x_info else None,
            "feature_names": features[:lineage.MAX_EDGES], "internals": params.internals(est, features),
            "operator_module": type(est).__module__, "action_id": action_id, "parent_model_id": parent_model_id,
            "column_lineage": _model_lineage(est, x_info),
        }))
        if not training_metrics:
            return True
        for name, value in params.training_scores(est):
            if name != "best_score":  # searches log it against their best model
                run.log_metric(name, value, model_id=model_id, dataframe_id=x_info.dataframe_id if x_info else None)
        for name, values in params.training_curves(est):
            run.log_curve(name, values, model_id=model_id)
        return True

    def link_parts(self, run: Any, whole: Any, whole_id: str, parts: list[tuple[Any, str]]) -> None:
        """Record where each fitted part sits inside its stored whole; pickle any part not found there."""
        if not self.options.log_models or not parts:
            return
        store = self.store()
        for part, part_id in parts:
            try:
                locator = _locate(whole, part)
                if locator is not None:
                    store.put_part(part_id, whole_id, locator)
                else:  # a composite that cloned its stage: keep the stage loadable on its own
                    store.put_model(part_id, part, {"operator_class": type(part).__name__,
                                                    "run_id": run.run_id, "project": run.project})
            except Exception as exc:  # noqa: BLE001 - one part that cannot be stored must not stop the others
                safety.tracker_error(self, f"storing {type(part).__name__}", exc)


def _locate(whole: Any, part: Any) -> list[list[Any]] | None:
    """Where ``part`` is inside ``whole``: [[attribute, index]] (index None for a plain attribute)."""
    if getattr(whole, "best_estimator_", None) is part:
        return [["best_estimator_", None]]
    for attr in ("steps", "transformers_", "transformer_list"):
        try:
            entries = getattr(whole, attr, None)
        except Exception:  # noqa: BLE001 - fitted-attribute properties may raise
            continue
        for i, entry in enumerate(entries or ()):
            if isinstance(entry, (tuple, list)) and len(entry) >= 2 and entry[1] is part:
                return [[attr, i]]
    return None


def _derivation(est: Any, input_columns: list[str],
                output_columns: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The output columns and each one's inputs: followed through a composite's fitted parts (``usage``,
    which also names the outputs the composite cannot name itself), else by name."""
    if usage.is_composite(est):
        followed = usage.transform(est, usage.columns(input_columns), len(output_columns))
        if followed is not None and len(followed) == len(output_columns):
            stem = type(est).__name__.lower()
            if output_columns == [f"{stem}{i}" for i in range(len(output_columns))] \
                    and len({name for name, _, _ in followed}) == len(followed):
                output_columns = [name for name, _, _ in followed]
            return output_columns, {name: sorted(sources) for name, (_, sources, _) in zip(output_columns, followed)}
    return output_columns, lineage.derive(input_columns, output_columns)


def _model_lineage(est: Any, x_info: DataInfo | None) -> list[dict[str, str]]:
    """A model's (source column → feature) edges: a composite's only for the columns it uses."""
    used = usage.model_lineage(est, x_info)
    return used if used is not None else lineage.model_lineage(x_info)


def _arg(args: tuple, kwargs: dict, position: int, names: tuple[str, ...]) -> Any:
    if len(args) > position:
        return args[position]
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return None


def _width(result: Any) -> int:
    shape = getattr(result, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(shape[1])
    return 1


def _stage_position(composite: Any, est: Any, calls_so_far: int) -> int:
    for attr in ("steps", "transformer_list"):
        for i, step in enumerate(getattr(composite, attr, None) or ()):
            if len(step) >= 2 and step[1] is est:
                return i
    return calls_so_far


def _prediction_names(est: Any, method: str, result: Any) -> list[str]:
    width = _width(result)
    if method in ("predict", "fit_predict") or width == 1:
        return ["prediction"] if method in ("predict", "fit_predict") else [method]
    classes = getattr(est, "classes_", None)
    if classes is not None and len(classes) == width:
        prefix = "proba" if "proba" in method else "decision"
        return [f"{prefix}_{c}" for c in classes]
    return [f"{method}{i}" for i in range(width)]


SWITCH = Switch()  # the scikit-learn tracker that is on, if any; the patches read SWITCH._current


def current() -> Tracker | None:
    return SWITCH.current()
